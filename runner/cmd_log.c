/* runner/cmd_log.c — `runs log [RUN] [--graph] [--json] [--all]`.
 *
 * Besides the manifest (immutable), each node may carry a note (store/notes.h) with
 * facts measured later; its "sharpness" (from `runs sharpness`) is shown here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "manifests/canon.h"
#include "runner/cli_store.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/notes.h"

#define USAGE "runs log [RUN] [--graph] [--json] [--all]"

typedef struct {
    char id[41];
    char parent[41];
    cJSON *m;
    cJSON *note; /* the node's note, or NULL when it has none */
    int rewound; /* reachable only from a rewound tip (refs/rewound/, `runs resume --rewind`) */
} lnode;

static const char *mstr(const cJSON *m, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, k));
    return v ? v : "?";
}

/* The note's "sharpness" object when it holds a finite trace, else NULL (borrowed). */
static const cJSON *sharpness_of(const lnode *n)
{
    const cJSON *sh = n->note ? cJSON_GetObjectItemCaseSensitive(n->note, "sharpness") : NULL;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(sh, "trace");
    return cJSON_IsObject(sh) && cJSON_IsNumber(tr) && isfinite(tr->valuedouble) ? sh : NULL;
}

/* What a fork or restart changed (its manifest's changes.config), on the node's line:
 * the first three paths with their old and new values, then how many more. */
static void print_changes(const cJSON *m)
{
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(m, "changes");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(changes, "config");
    int total = cJSON_GetArraySize(cfg), shown = 0;
    const cJSON *e;
    cJSON_ArrayForEach (e, cfg) {
        if (shown == 3)
            break;
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(e, "a");
        const cJSON *bv = cJSON_GetObjectItemCaseSensitive(e, "b");
        char *a = av ? runs_json_canonical(av) : NULL;
        char *b = bv ? runs_json_canonical(bv) : NULL;
        printf("%s%s %.24s->%.24s", shown ? ", " : "  changed: ", cJSON_IsString(path) ? path->valuestring : "?",
               a ? a : "null", b ? b : "null");
        free(a);
        free(b);
        shown++;
    }
    if (total > shown)
        printf(" (+%d more; runs show)", total - shown);
}

static cJSON *json_entry(const lnode *n)
{
    cJSON *e = cJSON_CreateObject();
    const cJSON *m = n->m;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "metrics"), "loss");
    cJSON_AddStringToObject(e, "id", n->id);
    cJSON_AddStringToObject(e, "run", mstr(m, "run"));
    cJSON_AddStringToObject(e, "kind", mstr(m, "kind"));
    cJSON_AddItemToObject(e, "step", cJSON_IsNumber(step) ? cJSON_CreateNumber(step->valuedouble) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "parent", n->parent[0] ? cJSON_CreateString(n->parent) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "loss", cJSON_IsNumber(loss) ? cJSON_CreateNumber(loss->valuedouble) : cJSON_CreateNull());
    const cJSON *sh = sharpness_of(n);
    cJSON_AddItemToObject(e, "sharpness", sh ? cJSON_Duplicate(sh, 1) : cJSON_CreateNull());
    /* the held-out loss the node recorded (runner/eval.h); null where none */
    const cJSON *vl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "metrics"), "val_loss");
    cJSON_AddItemToObject(e, "val_loss", cJSON_IsNumber(vl) ? cJSON_CreateNumber(vl->valuedouble) : cJSON_CreateNull());
    if (n->rewound) /* only when true: scripts matching the contract's fields see no change */
        cJSON_AddTrueToObject(e, "rewound");
    return e;
}

/* Every user tag of the store, looked up once per command (runs_tag_map): listing the
 * refs again for each printed node made `runs log` quadratic in the nodes. */
typedef struct {
    runs_tag_ref *v;
    size_t n;
} tagmap;

static void print_line(const char *prefix, const lnode *n, runs_store *s, const tagmap *tm)
{
    const cJSON *m = n->m;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "metrics"), "loss");
    char stepbuf[32], lossbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "step_%.0f", cJSON_IsNumber(step) ? step->valuedouble : -1.0);
    if (cJSON_IsNumber(loss))
        snprintf(lossbuf, sizeof lossbuf, "loss %.4f", loss->valuedouble);
    else
        snprintf(lossbuf, sizeof lossbuf, "loss -");
    printf("%s%.10s  %-10s  %-16s %-12s %s", prefix, n->id, mstr(m, "kind"), mstr(m, "run"), stepbuf, lossbuf);
    const cJSON *sh = sharpness_of(n);
    if (sh) {
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(sh, "stderr");
        printf("  sharp %.4g", cJSON_GetObjectItemCaseSensitive(sh, "trace")->valuedouble);
        if (cJSON_IsNumber(se) && isfinite(se->valuedouble))
            printf("±%.2g", se->valuedouble);
    }
    /* after the other columns, so lines without one keep their shape */
    const cJSON *vl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "metrics"), "val_loss");
    if (cJSON_IsNumber(vl))
        printf("  val %.4f", vl->valuedouble);
    const runs_tag_ref *t = runs_tag_map_find(tm->v, tm->n, n->id);
    for (const runs_tag_ref *t0 = t; t && t < tm->v + tm->n && !strcmp(t->id, n->id); t++)
        printf("%s%s%s", t > t0 ? ", " : "  (tag: ", t->name,
               t + 1 == tm->v + tm->n || strcmp(t[1].id, n->id) ? ")" : "");
    if (runs_node_thinned(s, n->id))
        printf("  [thinned]");
    if (n->rewound)
        printf("  [rewound]");
    print_changes(m);
    putchar('\n');
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int cmp_lnode_id(const void *a, const void *b)
{
    const lnode *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* Reorders v (children before parents, newer first) into git's --topo-order: a node
 * comes after all its children, and once a line of history is started it is followed
 * down to where another child still waits, so one run's nodes stay together instead
 * of interleaving by time across lanes. Tips start in v's order (newest first); ties
 * are broken by that order only, so the result is stable for a given lineage. */
static int topo_order(lnode *v, size_t n)
{
    lnode **byid = malloc((n ? n : 1) * sizeof *byid);
    size_t *par = malloc((n ? n : 1) * sizeof *par), *kids = calloc(n ? n : 1, sizeof *kids);
    size_t *stack = malloc((n ? n : 1) * sizeof *stack), *order = malloc((n ? n : 1) * sizeof *order);
    lnode *out = malloc((n ? n : 1) * sizeof *out);
    size_t top = 0, no = 0;
    int rc = 0;
    if (!byid || !par || !kids || !stack || !order || !out) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory ordering %zu nodes for the graph", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        byid[i] = &v[i];
    qsort(byid, n, sizeof *byid, cmp_lnode_id);
    for (size_t i = 0; i < n; i++) {
        lnode key, *kp = &key;
        memcpy(key.id, v[i].parent, 41);
        lnode **hit = v[i].parent[0] ? bsearch(&kp, byid, n, sizeof *byid, cmp_lnode_id) : NULL;
        par[i] = hit ? (size_t)(*hit - v) : n;
        if (hit)
            kids[par[i]]++;
    }
    /* pushed oldest first, so the newest tip is on top */
    for (size_t i = n; i-- > 0;)
        if (!kids[i])
            stack[top++] = i;
    while (top) {
        size_t i = stack[--top];
        order[no++] = i;
        if (par[i] < n && --kids[par[i]] == 0)
            stack[top++] = par[i];
    }
    if (no != n) { /* a cycle cannot come out of git; keep v's order rather than lose nodes */
        rc = 0;
        goto done;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = v[order[k]];
    memcpy(v, out, n * sizeof *v);
done:
    free(byid);
    free(par);
    free(kids);
    free(stack);
    free(order);
    free(out);
    return rc;
}

/* ASCII lanes, git style: nodes come children first; each lane waits for one node.
 * A node takes the leftmost lane waiting for it; other lanes waiting for it close
 * into it ("|/") after its line. */
static int print_graph(lnode *v, size_t n, runs_store *s, const tagmap *tm)
{
    char(*lanes)[41] = calloc(n + 1, sizeof *lanes);
    char *line = malloc(2 * n + 8);
    size_t nl = 0;
    if (!lanes || !line) {
        free(lanes);
        free(line);
        return runs_error_set(RUNS_ENOMEM, "out of memory drawing the graph");
    }
    for (size_t i = 0; i < n; i++) {
        size_t me = nl;
        for (size_t k = 0; k < nl; k++)
            if (!strcmp(lanes[k], v[i].id)) {
                me = k;
                break;
            }
        if (me == nl)
            memcpy(lanes[nl++], v[i].id, 41);
        size_t p = 0;
        for (size_t k = 0; k < nl; k++) {
            line[p++] = k == me ? '*' : '|';
            line[p++] = ' ';
        }
        line[p] = '\0';
        print_line(line, &v[i], s, tm);
        /* close the other lanes that waited for this node, rightmost first */
        for (size_t k = nl; k-- > me + 1;) {
            if (strcmp(lanes[k], v[i].id) != 0)
                continue;
            /* lane q sits in column 2q; lane k and those right of it move one lane
             * left, each drawn as '/' between its old and new column ("|/ / /") */
            p = 2 * nl - 1;
            memset(line, ' ', p);
            for (size_t q = 0; q < nl; q++)
                line[q < k ? 2 * q : 2 * q - 1] = q < k ? '|' : '/';
            while (p > 0 && line[p - 1] == ' ')
                p--;
            line[p] = '\0';
            printf("%s\n", line);
            memmove(lanes[k], lanes[k + 1], (nl - k - 1) * sizeof *lanes);
            nl--;
        }
        if (v[i].parent[0]) {
            memcpy(lanes[me], v[i].parent, 41);
        } else {
            memmove(lanes[me], lanes[me + 1], (nl - me - 1) * sizeof *lanes);
            nl--;
        }
    }
    free(lanes);
    free(line);
    return 0;
}

int cmd_log(runs_cli *cli, int argc, char **argv)
{
    int json = 0, graph = 0, all = 0, npos, rc;
    const char *pos[8];
    const runs_opt opts[] = {
        RUNS_FLAG("graph", 0, &graph, "draw the fork structure in ASCII (all runs unless RUN is given)"),
        RUNS_FLAG("json", 0, &json,
                  "print an array of {\"id\",\"run\",\"kind\",\"step\",\"parent\",\"loss\",\n"
                  "\"sharpness\",\"val_loss\"}, sharpness being the note's record ({\"trace\",\n"
                  "\"stderr\",\"samples\",\"eps\",...}) or null, val_loss the node's held-out\n"
                  "loss (metrics.val_loss, `runs eval`) or null"),
        RUNS_FLAG("all", 0, &all, "list every node of every run"), RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "List lineage nodes, newest first: short id, kind, run, step, loss\n"
               "(metrics.loss), sharpness (`sharp TRACE±STDERR`, where `runs sharpness` measured\n"
               "it), the held-out loss (`val LOSS`, where the node recorded one), tags,\n"
               "[thinned] where `runs gc` removed the tensors, and with --all\n"
               "[rewound] on nodes only a rewound tip keeps (`runs resume NODE --rewind`;\n"
               "\"rewound\": true in --json).\n"
               "RUN (default: the current run) shows that run's tip and all its ancestors,\n"
               "across the runs it was forked from. --graph lists children before parents\n"
               "and one run's nodes together (git's --topo-order).\n"
               "With plain git, `git --git-dir .runs/lineage.git log --graph --branches --tags\n"
               "--glob='refs/rewound/*'` shows the same nodes; --all would also walk\n"
               "refs/notes/runs, the notes commits `runs sharpness` makes.\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "log", USAGE, opts, argc, argv)))
        return rc;
    if (npos > 1)
        return runs_cli_usage("log", USAGE, "expected at most one RUN");
    const char *want = npos ? pos[0] : NULL;
    if (want && all)
        return runs_cli_usage("log", USAGE, "give RUN or --all, not both");
    if (graph && !want)
        all = 1;
    runs_store *s = NULL;
    char(*ids)[41] = NULL;
    size_t n = 0;
    lnode *v = NULL;
    char(*rew)[41] = NULL;
    size_t nrew = 0;
    tagmap tm = {NULL, 0};
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (all) {
        rc = runs_node_all(&ids, &n, s);
    } else {
        char run[128], tip[41];
        if (want)
            snprintf(run, sizeof run, "%s", want);
        else if ((rc = runs_head_get(run, sizeof run, s)) != 0) {
            /* an empty store has no current run: nothing to list */
            char(*any)[41] = NULL;
            size_t na = 0;
            if (runs_node_all(&any, &na, s) == 0 && na == 0)
                rc = 0;
            free(any);
            if (rc == 0 && json)
                printf("[]\n");
            goto done;
        }
        if ((rc = runs_run_tip(tip, s, run)) == 0)
            rc = runs_lineage(&ids, &n, s, tip);
    }
    if (rc)
        goto done;
    if (n && !(v = calloc(n, sizeof *v))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing %zu nodes", n);
        goto done;
    }
    if (all && (rc = runs_node_rewound(&rew, &nrew, s)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        memcpy(v[i].id, ids[i], 41);
        v[i].rewound = nrew && bsearch(ids[i], rew, nrew, sizeof *rew, cmp_id) != NULL;
        if ((rc = runs_node_parent(v[i].parent, s, ids[i])) != 0 || (rc = runs_node_manifest(&v[i].m, s, ids[i])) != 0)
            goto done;
        /* A note that does not parse must not hide the lineage: show the node without it. */
        if (runs_note_get(&v[i].note, s, ids[i]) != 0)
            v[i].note = NULL;
    }
    if (!json && (rc = runs_tag_map(&tm.v, &tm.n, s)) != 0)
        goto done;
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, json_entry(&v[i]));
        rc = runs_cli_print_json(arr);
        cJSON_Delete(arr);
    } else if (graph) {
        if ((rc = topo_order(v, n)) == 0)
            rc = print_graph(v, n, s, &tm);
    } else {
        for (size_t i = 0; i < n; i++)
            print_line("", &v[i], s, &tm);
    }
done:
    for (size_t i = 0; v && i < n; i++) {
        cJSON_Delete(v[i].m);
        cJSON_Delete(v[i].note);
    }
    free(v);
    free(ids);
    free(rew);
    runs_tag_map_free(tm.v, tm.n);
    runs_store_free(s);
    return rc ? runs_cli_fail("log") : RUNS_EXIT_OK;
}
