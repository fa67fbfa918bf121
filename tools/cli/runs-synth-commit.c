/* tools/cli/runs-synth-commit.c — commits synthetic checkpoint nodes (deterministic
 * tensors) into a store, and checks restored directories against the same data.
 * Used by the store demo, the CLI tests and the crash test.
 *
 *   runs-synth-commit --store DIR --run RUN [--count N] [--from NODE] [--tensors K]
 *                     [--elems E] [--every S] [--lr X] [--kind KIND]
 *       commits N nodes to RUN, each the child of RUN's tip (or of --from NODE, or a
 *       new start node at step 0), step advancing by S; prints "ID RUN@step_N" per node.
 *       --bulk (for benchmarks of large lineages): only the first node writes tensor
 *       objects, the others reuse them (as a fork does) and carry no loss-log object,
 *       and lineage.git's objects are not fsync'd: each node costs its manifest, commit
 *       and two refs, not a durable object write per tensor. The nodes' tensors are not
 *       their own step's data, so --check/--check-store do not apply to them. At the
 *       end the run's step tags are packed (runs_refs_pack), as a session's end does.
 *   runs-synth-commit --check DIR --run RUN --step N [--tensors K] [--elems E]
 *       exit 0 when DIR (from `runs restore`) holds exactly the data of RUN@step_N.
 *   runs-synth-commit --check-store --store DIR [--tensors-of RUN=K ...]
 *       loads every ref-reachable node's three groups (verified, as a resume does) and
 *       compares them with the data it was made from; prints "N nodes ok" or the bad
 *       ones. --elems/--tensors give the default shape, RUN=K:E per-run exceptions.
 *
 * Tensor "wte" of the weights is frozen (the same bytes at every step), so nodes share
 * it and the store dedups it.
 */
#include <errno.h>
#include <git2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "runner/optparse.h"
#include "store/internal.h" /* runs__store_git */
#include "store/lineage.h"
#include "store/object.h"
#include "store/store.h"

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void gen(float *p, size_t n, const char *run, long step, int g, int k)
{
    uint64_t x = fnv(run) ^ ((uint64_t)step * 1000003ull) ^ ((uint64_t)(g * 131 + k) << 32);
    if (g == 0 && k == 0)
        x = 0x9e3779b97f4a7c15ull; /* frozen embedding: same at every node */
    x |= 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (float)((int64_t)(x >> 11) % 100000) / 100000.0f;
    }
}

static void tensor_name(char *buf, size_t n, int k)
{
    if (k == 0)
        snprintf(buf, n, "wte");
    else
        snprintf(buf, n, "h.%d.mlp.c_fc.w", k - 1);
}

/* Every node of the store, loaded through runs_node_load_group, against gen(). */
static int check_store(runs_store *s, int ntens_default, long elems_default, const char *special)
{
    char(*ids)[41] = NULL;
    size_t n = 0, bad = 0;
    int rc = runs_node_all(&ids, &n, s);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        cJSON *m = NULL;
        if ((rc = runs_node_manifest(&m, s, ids[i])) != 0) {
            fprintf(stderr, "%s: %s\n", ids[i], runs_error_message());
            bad++;
            continue;
        }
        const char *run = cJSON_GetStringValue(cJSON_GetObjectItem(m, "run"));
        long step = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "step"));
        int ntens = ntens_default;
        long elems = elems_default;
        /* special: "RUN=K:E" */
        if (special) {
            char r[64];
            int k;
            long e;
            if (sscanf(special, "%63[^=]=%d:%ld", r, &k, &e) == 3 && !strcmp(r, run)) {
                ntens = k;
                elems = e;
            }
        }
        size_t gb = (size_t)ntens * (size_t)elems * 4;
        float *got = malloc(gb), *want = malloc((size_t)elems * 4);
        for (int g = 0; g < 3; g++) {
            if (runs_node_load_group(s, m, runs_manifest_groups[g], got, gb) != 0) {
                fprintf(stderr, "%.12s %s@step_%ld %s: %s\n", ids[i], run, step, runs_manifest_groups[g],
                        runs_error_message());
                bad++;
                break;
            }
            int same = 1;
            for (int k = 0; k < ntens && same; k++) {
                gen(want, (size_t)elems, run, step, g, k);
                same = !memcmp(want, got + (size_t)k * elems, (size_t)elems * 4);
            }
            if (!same) {
                fprintf(stderr, "%.12s %s@step_%ld %s: bytes differ\n", ids[i], run, step, runs_manifest_groups[g]);
                bad++;
                break;
            }
        }
        free(got);
        free(want);
        cJSON_Delete(m);
    }
    free(ids);
    printf("%zu nodes, %zu bad\n", n, bad);
    return bad ? RUNS_ECORRUPT : 0;
}

static int check(const char *dir, const char *run, long step, int ntens, long elems)
{
    float *want = malloc((size_t)elems * 4), *got = malloc((size_t)elems * 4 + 4);
    int bad = 0;
    for (int g = 0; g < 3 && !bad; g++)
        for (int k = 0; k < ntens && !bad; k++) {
            char name[64], path[4200];
            tensor_name(name, sizeof name, k);
            snprintf(path, sizeof path, "%s/%s/%s.f32", dir, runs_manifest_groups[g], name);
            gen(want, (size_t)elems, run, step, g, k);
            FILE *f = fopen(path, "rb");
            size_t r = f ? fread(got, 1, (size_t)elems * 4 + 4, f) : 0;
            if (f)
                fclose(f);
            if (r != (size_t)elems * 4 || memcmp(want, got, r) != 0) {
                fprintf(stderr, "runs-synth-commit: %s differs from %s@step_%ld\n", path, run, step);
                bad = 1;
            }
        }
    free(want);
    free(got);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *store = getenv("RUNS_STORE"), *run = NULL, *from = NULL, *checkdir = NULL, *kind = NULL;
    long count = 1, elems = 4096, every = 10, step = -1, ntens_l = 4;
    int check_all = 0, help = 0, bulk = 0, npos;
    const char *special = NULL;
    double lr = 4e-4;
    const runs_opt opts[] = {
        RUNS_STR("store", 0, &store, "DIR", NULL),         RUNS_STR("run", 0, &run, "RUN", NULL),
        RUNS_INT("count", 0, &count, "N", NULL, NULL),     RUNS_STR("from", 0, &from, "NODE", NULL),
        RUNS_INT("tensors", 0, &ntens_l, "K", NULL, NULL), RUNS_INT("elems", 0, &elems, "E", NULL, NULL),
        RUNS_INT("every", 0, &every, "S", NULL, NULL),     RUNS_NUM("lr", 0, &lr, "X", NULL, NULL),
        RUNS_STR("kind", 0, &kind, "KIND", NULL),          RUNS_STR("check", 0, &checkdir, "DIR", NULL),
        RUNS_INT("step", 0, &step, "N", NULL, NULL),       RUNS_FLAG("help", 'h', &help, NULL),
        RUNS_FLAG("check-store", 0, &check_all, NULL),     RUNS_FLAG("bulk", 0, &bulk, NULL),
        RUNS_STR("special", 0, &special, "RUN=K:E", NULL), RUNS_OPT_END};
    if (runs_opts_parse(&npos, NULL, 0, opts, argc, argv)) {
        fprintf(stderr, "runs-synth-commit: %s (see --help)\n", runs_error_message());
        return 129;
    }
    if (help) {
        printf("usage: runs-synth-commit --store DIR --run RUN [--count N] [--from NODE] [--tensors K]\n"
               "                         [--elems E] [--every S] [--lr X] [--kind KIND] [--bulk]\n"
               "       runs-synth-commit --check DIR --run RUN --step N [--tensors K] [--elems E]\n"
               "       runs-synth-commit --check-store --store DIR [--tensors K] [--elems E] [--special RUN=K:E]\n");
        return 0;
    }
    /* out-of-range counts fall to the shape check below, which names the bounds */
    int ntens = ntens_l < 0 || ntens_l > 100000 ? -1 : (int)ntens_l;
    if (check_all) {
        runs_store *cs = NULL;
        int crc = runs_store_open(&cs, store ? store : ".runs");
        if (crc == 0)
            crc = check_store(cs, ntens, elems, special);
        if (crc && crc != RUNS_ECORRUPT)
            fprintf(stderr, "runs-synth-commit: %s\n", runs_error_message());
        runs_store_free(cs);
        return crc ? 1 : 0;
    }
    if (!run || ntens < 1 || ntens > 1000 || elems < 8 || elems % 8) {
        fprintf(stderr, "runs-synth-commit: need --run; --tensors 1..1000; --elems a multiple of 8\n");
        return 129;
    }
    if (checkdir)
        return check(checkdir, run, step, ntens, elems);
    if (!store) {
        fprintf(stderr, "runs-synth-commit: need --store DIR or $RUNS_STORE\n");
        return 129;
    }
    runs_store *s = NULL;
    float *buf = malloc((size_t)3 * ntens * elems * 4);
    runs_tensor *t = calloc((size_t)3 * ntens, sizeof *t);
    char(*names)[64] = calloc((size_t)ntens, sizeof *names);
    cJSON *shared = NULL; /* --bulk: the first node's tensors array */
    int rc = runs_store_open(&s, store);
    if (rc)
        goto done;
    if (bulk) {
        /* the store turns fsync on when it first opens lineage.git (runs__store_git),
         * so that happens first, or the options set here would be undone by the first
         * commit; a benchmark's scratch store needs no durability, and each commit's
         * tree and parent were just written or resolved */
        git_repository *repo;
        if ((rc = runs__store_git(&repo, s)) != 0)
            goto done;
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
        git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
    }
    char parent[41] = "";
    long cur = 0;
    const char *first_kind = "start";
    if (runs_run_tip(parent, s, run) == 0) {
        first_kind = "checkpoint";
    } else if (from) {
        if ((rc = runs_node_resolve(parent, s, from)) != 0)
            goto done;
        first_kind = "fork";
    } else {
        parent[0] = '\0';
    }
    if (parent[0]) {
        cJSON *pm = NULL;
        if ((rc = runs_node_manifest(&pm, s, parent)) != 0)
            goto done;
        cur = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(pm, "step"));
        cJSON_Delete(pm);
        if (!strcmp(first_kind, "checkpoint"))
            cur += every;
    }
    for (int k = 0; k < ntens; k++)
        tensor_name(names[k], sizeof names[k], k);
    for (long i = 0; i < count; i++) {
        for (int g = 0; g < 3; g++)
            for (int k = 0; k < ntens; k++) {
                runs_tensor *x = &t[g * ntens + k];
                float *p = buf + ((size_t)g * ntens + k) * elems;
                gen(p, (size_t)elems, run, cur, g, k);
                x->name = names[k];
                x->group = runs_manifest_groups[g];
                x->ndim = 2;
                x->shape[0] = elems / 8;
                x->shape[1] = 8;
                x->data = p;
                x->bytes = (size_t)elems * 4;
            }
        /* a loss-log segment object, as the trainer records per node */
        char log[256];
        int ll =
            snprintf(log, sizeof log, "{\"step\":%ld,\"loss\":%.4f,\"lr\":%g,\"grad_norm\":1.0,\"source\":\"synth\"}\n",
                     cur, 6.0 / (1.0 + cur * 0.01), lr);
        runs_oid lo;
        if (!shared && (rc = runs_object_put(&lo, s, log, (size_t)ll)) != 0)
            goto done;
        cJSON *m = cJSON_CreateObject();
        const char *k = kind ? kind : (i == 0 ? first_kind : "checkpoint");
        cJSON_AddStringToObject(m, "schema", "runs.manifest/1");
        cJSON_AddStringToObject(m, "kind", k);
        cJSON_AddStringToObject(m, "run", run);
        cJSON_AddNumberToObject(m, "step", (double)cur);
        cJSON_AddNumberToObject(m, "tokens", (double)cur * 2048);
        if (parent[0])
            cJSON_AddStringToObject(m, "parent", parent);
        else
            cJSON_AddNullToObject(m, "parent");
        cJSON *cfg = cJSON_AddObjectToObject(m, "config");
        cJSON *opt = cJSON_AddObjectToObject(cfg, "optimizer");
        cJSON_AddNumberToObject(opt, "lr", lr);
        cJSON *tr = cJSON_AddObjectToObject(cfg, "train");
        cJSON_AddNumberToObject(tr, "total_steps", 100000);
        cJSON_AddStringToObject(tr, "backend", "cpu");
        cJSON *o = cJSON_AddObjectToObject(m, "optimizer");
        cJSON_AddNumberToObject(o, "adam_step", (double)cur);
        cJSON *b = cJSON_AddObjectToObject(m, "bandit");
        cJSON_AddNumberToObject(b, "pulls", (double)(cur / 10));
        cJSON *met = cJSON_AddObjectToObject(m, "metrics");
        cJSON_AddNumberToObject(met, "loss", 6.0 / (1.0 + cur * 0.01));
        if (!shared)
            cJSON_AddStringToObject(m, "loss_log", lo.hex);
        cJSON_AddStringToObject(m, "backend", "synthetic");
        cJSON_AddStringToObject(m, "created", "2026-01-01T00:00:00Z");
        char id[41];
        if (shared)
            cJSON_AddItemToObject(m, "tensors", cJSON_Duplicate(shared, 1));
        rc = runs_node_commit(id, s, m, t, shared ? 0 : (size_t)3 * ntens);
        if (rc == 0 && bulk && !shared)
            shared = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "tensors"), 1);
        cJSON_Delete(m);
        if (rc)
            goto done;
        printf("%s %s@step_%ld\n", id, run, cur);
        fflush(stdout);
        memcpy(parent, id, 41);
        cur += every;
    }
    size_t packed;
    if (rc == 0 && bulk) /* as a training session's end does */
        rc = runs_refs_pack(&packed, s, run);
done:
    if (rc)
        fprintf(stderr, "runs-synth-commit: %s\n", runs_error_message());
    cJSON_Delete(shared);
    runs_store_free(s);
    free(buf);
    free(t);
    free(names);
    return rc ? 1 : 0;
}
