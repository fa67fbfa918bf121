/* store/refcheck.c — the checks and repairs of the ref files themselves (invariants
 * 9, 10 and 11 in store/store.c): every loose ref file and packed-refs line read byte
 * for byte, compared with the ref journal (store/reflog.c, which says what a valid ref
 * file holds and why libgit2's reading is not enough), and put back from it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/lineage.h"

#define ZERO_OID "0000000000000000000000000000000000000000"

/* ---- checking every ref ---- */

typedef struct {
    runs_store *s;
    runs_ref_cb cb;
    void *ctx;
    runs_ref_state *v;
    size_t n, cap;
    int rc;
    /* keep only the files whose bytes are damaged: without deep, nothing else can be
     * a problem, and a state per ref was most of a listing's ref check at 100k refs
     * (1.4 KB each, zeroed) */
    int damaged_only;
} scan;

static int add_state(scan *sc, const char *ref, const char *bytes, long len)
{
    if (sc->damaged_only && len >= 0) {
        char token[RUNS_REF_TOKEN];
        runs__ref_token(token, ref, bytes, (size_t)len);
        if (strcmp(token, "damaged") != 0)
            return 0;
    }
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 64;
        runs_ref_state *nv = realloc(sc->v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory checking refs");
        sc->v = nv;
        sc->cap = nc;
    }
    runs_ref_state *r = &sc->v[sc->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->ref, sizeof r->ref, "%s", ref);
    r->exists = len >= 0;
    if (len >= 0) {
        runs__ref_token(r->token, ref, bytes, (size_t)len);
        runs__ref_escape(r->raw, sizeof r->raw, bytes, (size_t)len);
    }
    return 0;
}

void runs__ref_escape(char *out, size_t cap, const char *bytes, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 5 <= cap; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
    }
    out[k] = '\0';
}

static int scan_dir(scan *sc, const char *rel)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/lineage.git/%s", sc->s->dir, rel);
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : runs_error_sys(RUNS_EIO, "opendir", dir);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char sub[PATH_MAX], p[PATH_MAX + 256], buf[RUNS_REF_TOKEN + 8];
        struct stat st;
        long len;
        if (e->d_name[0] == '.')
            continue; /* ., .., and temp files */
        snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = scan_dir(sc, sub);
        else if (S_ISREG(st.st_mode) && (rc = runs__ref_read_bytes(buf, sizeof buf, &len, p)) == 0 && len >= 0)
            rc = add_state(sc, sub, buf, len);
    }
    closedir(d);
    return rc;
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp(((const runs_ref_state *)a)->ref, ((const runs_ref_state *)b)->ref);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The packed refs with no loose file, as if their lines were files (invariant 11): a
 * loose file wins, as for every reader. A damaged packed-refs is one problem, named
 * under "packed-refs" and never repaired by rewriting it on a guess (target_broken). */
static int add_packed(scan *sc)
{
    runs__packed_ref *v = NULL;
    size_t n = 0, nl = sc->n;
    const char **loose = NULL;
    int rc = runs__packed_refs_load(&v, &n, sc->s);
    if (rc == RUNS_ECORRUPT) {
        if ((rc = add_state(sc, "packed-refs", "", 0)) == 0) {
            runs_ref_state *r = &sc->v[sc->n - 1];
            snprintf(r->problem, sizeof r->problem, "%.500s", runs_error_message());
            r->target_broken = 1;
        }
        runs_error_clear();
        return rc;
    }
    /* a line that loaded is sound bytes: with damaged_only none would be kept */
    if (rc || n == 0 || sc->damaged_only)
        goto done;
    if (nl && !(loose = malloc(nl * sizeof *loose))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory checking refs");
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        loose[i] = sc->v[i].ref;
    if (nl > 1)
        qsort(loose, nl, sizeof *loose, cmp_name);
    /* which lines no loose file shadows: decided before adding any, since adding
     * moves sc->v, whose names loose[] points at */
    unsigned char *keep = calloc(n, 1);
    if (!keep) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory checking refs");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = v[i].name;
        keep[i] = strlen(key) < sizeof sc->v[0].ref && !(nl && bsearch(&key, loose, nl, sizeof *loose, cmp_name));
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char line[48];
        snprintf(line, sizeof line, "%s\n", v[i].hex);
        if (keep[i])
            rc = add_state(sc, v[i].name, line, 41);
    }
    free(keep);
done:
    free(loose);
    runs__packed_refs_free(v, n);
    return rc;
}

/* 1 when commit id reads fine: the commit, its tree and a valid manifest.json. */
static int commit_reads(runs_store *s, const char *hex)
{
    cJSON *m = NULL;
    if (!runs_is_hex(hex, 40) || !strcmp(hex, ZERO_OID))
        return 0;
    int ok = runs_node_manifest(&m, s, hex) == 0;
    cJSON_Delete(m);
    runs_error_clear();
    return ok;
}

/* The journal's lines ordered by ref, then by position: the last move of a ref is a
 * binary search away. */
typedef struct {
    const runs_reflog_entry *log;
    size_t *ix, n;
} journal_index;

static int cmp_journal(const void *a, const void *b, void *ctx)
{
    const runs_reflog_entry *log = ctx;
    size_t i = *(const size_t *)a, k = *(const size_t *)b;
    int c = strcmp(log[i].ref, log[k].ref);
    return c ? c : (i > k) - (i < k);
}

static const runs_reflog_entry *journal_last(const journal_index *j, const char *ref)
{
    size_t lo = 0, hi = j->n;
    while (lo < hi) { /* the first line whose ref sorts after ref */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(j->log[j->ix[mid]].ref, ref) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const runs_reflog_entry *e = lo ? &j->log[j->ix[lo - 1]] : NULL;
    return e && !strcmp(e->ref, ref) ? e : NULL;
}

/* 1 when commit hex is reachable from some ref other than except, 0 when not or when
 * the walk fails (the walk's own damage is reported by the lineage checks). */
static int reachable_elsewhere(runs_store *s, const char *hex, const char *except)
{
    git_oid want, oid;
    git_revwalk *w = NULL;
    git_reference_iterator *it = NULL;
    git_reference *r = NULL;
    git_repository *repo;
    int found = 0;
    if (runs__store_git(&repo, s) != 0) {
        runs_error_clear(); /* the lineage checks report what cannot be opened */
        return 0;
    }
    if (git_oid_fromstr(&want, hex) != 0 || git_revwalk_new(&w, repo) != 0)
        return 0;
    if (git_reference_iterator_new(&it, repo) != 0)
        goto done;
    while (git_reference_next(&r, it) == 0) {
        const char *name = git_reference_name(r);
        git_object *o = NULL;
        if (strcmp(name, except) != 0 && strncmp(name, "refs/notes/", 11) != 0 &&
            git_reference_peel(&o, r, GIT_OBJECT_COMMIT) == 0)
            git_revwalk_push(w, git_object_id(o));
        git_object_free(o);
        git_reference_free(r);
        r = NULL;
    }
    while (!found && git_revwalk_next(&oid, w) == 0)
        found = git_oid_equal(&oid, &want);
done:
    git_reference_iterator_free(it);
    git_revwalk_free(w);
    return found;
}

/* A ref the journal says was created (old = no ref) but whose file is missing: the
 * writer may have died between the journal's fsync and the rename (invariant 8: a
 * crash can lose the last ref move). That is not damage when nothing was lost:
 * a per-step tag (the node stays on its run's branch and keeps its step), or a ref
 * whose node no other ref reaches and no later journal line names (its commit never
 * became a node). A lost creation
 * of any other ref (a user tag, a rewound tip) is reported: --repair puts it back. */
static int creation_never_landed(runs_store *s, const runs_reflog_entry *log, size_t nlog, const runs_reflog_entry *e)
{
    if (strcmp(e->old, ZERO_OID) != 0 || !runs_is_hex(e->new_, 40))
        return 0;
    if (runs__is_step_tag(e->ref)) /* a name runs_node_commit derives from a node already on its branch */
        return 1;
    /* a commit writes its step tag after its branch: a later move to the same node
     * means this one had landed, so its file was lost afterwards */
    for (const runs_reflog_entry *l = e + 1; l < log + nlog; l++)
        if (!strcmp(l->new_, e->new_))
            return 0;
    return !reachable_elsewhere(s, e->new_, e->ref);
}

int runs__refs_check(runs_ref_state **out, size_t *nout, runs_store *s, int deep)
{
    return runs__refs_check_known(out, nout, s, deep, NULL, 0);
}

/* As runs__refs_check_known; damaged_only keeps only the states that can be problems
 * without deep (the caller wants the first problem, not every ref). */
static int refs_check(runs_ref_state **out, size_t *nout, runs_store *s, int deep, const char (*known)[41],
                      size_t nknown, int damaged_only)
{
    scan sc = {.s = s, .damaged_only = damaged_only && !deep};
    journal_index ix = {0};
    runs_reflog_entry *log = NULL;
    size_t nlog = 0;
    char p[PATH_MAX], buf[RUNS_REF_TOKEN + 8];
    long len;
    int rc;
    *out = NULL;
    *nout = 0;
    /* Without deep (readers that do not hold the store: log, resolve) only the bytes
     * of the ref files under refs/ are checked. The journal comparisons need a still
     * store: a writer may move a ref between our reading the files and the journal.
     * gc holds the store exclusively; verify is run by hand. */
    snprintf(p, sizeof p, "%s/lineage.git/HEAD", s->dir);
    if (deep &&
        ((rc = runs__ref_read_bytes(buf, sizeof buf, &len, p)) != 0 || (rc = add_state(&sc, "HEAD", buf, len)) != 0))
        goto done;
    if ((rc = scan_dir(&sc, "refs")) != 0 || (rc = add_packed(&sc)) != 0)
        goto done;
    if (deep && (rc = runs__reflog_load(&log, &nlog, NULL, s)) != 0)
        goto done;
    /* the journal indexed by ref, and the states sorted by name (HEAD first): every
     * lookup below is a binary search, not a scan (at 100k nodes the journal has 200k
     * lines and there are 100k refs) */
    if (nlog && !(ix.ix = malloc(nlog * sizeof *ix.ix))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory checking refs");
        goto done;
    }
    ix.log = log;
    ix.n = nlog;
    for (size_t i = 0; i < nlog; i++)
        ix.ix[i] = i;
    if (nlog > 1)
        qsort_r(ix.ix, nlog, sizeof *ix.ix, cmp_journal, log);
    size_t first = deep && sc.n > 0 ? 1 : 0; /* deep: sc.v[0] is HEAD */
    if (sc.n > first + 1)
        qsort(sc.v + first, sc.n - first, sizeof *sc.v, cmp_state);
    /* refs the journal says exist but whose file is gone (appended, then sorted in) */
    size_t found = sc.n;
    for (size_t i = 0; i < nlog; i++) {
        const runs_reflog_entry *e = &log[i];
        if (journal_last(&ix, e->ref) != e || !strcmp(e->new_, ZERO_OID))
            continue;
        runs_ref_state key;
        snprintf(key.ref, sizeof key.ref, "%s", e->ref);
        int seen = !strcmp(e->ref, "HEAD")
                       ? first == 1
                       : found > first && bsearch(&key, sc.v + first, found - first, sizeof *sc.v, cmp_state);
        if (seen || creation_never_landed(s, log, nlog, e))
            continue;
        if ((rc = add_state(&sc, e->ref, NULL, -1)) != 0)
            goto done;
    }
    if (sc.n > found)
        qsort(sc.v + first, sc.n - first, sizeof *sc.v, cmp_state); /* HEAD first, then by name */
    for (size_t i = 0; i < sc.n; i++) {
        runs_ref_state *r = &sc.v[i];
        if (r->target_broken)
            continue; /* a damaged packed-refs, named by add_packed */
        const runs_reflog_entry *e = journal_last(&ix, r->ref);
        int head = !strcmp(r->ref, "HEAD");
        if (e)
            snprintf(r->journal, sizeof r->journal, "%s", e->new_);
        if (!r->exists) {
            if (head)
                snprintf(r->problem, sizeof r->problem, "HEAD: missing (expected \"ref: refs/heads/RUN\")");
            else
                snprintf(r->problem, sizeof r->problem, "%s: missing, but the ref journal says it names %.40s", r->ref,
                         e ? e->new_ : "?");
        } else if (!strcmp(r->token, "damaged")) {
            snprintf(r->problem, sizeof r->problem, "%.200s: damaged, holds \"%.120s\" (expected %s)", r->ref, r->raw,
                     head ? "\"ref: refs/heads/RUN\\n\"" : "40 lower-case hex digits and a newline");
        } else if (e && strcmp(r->token, e->new_) != 0 && strcmp(r->token, e->old) != 0) {
            /* a crash between journal and rename leaves the journal's old value */
            snprintf(r->problem, sizeof r->problem, "%.200s: holds %.80s, but the ref journal's last move set %.80s",
                     r->ref, r->token, e->new_);
        } else if (deep && !head && strncmp(r->ref, "refs/notes/", 11) != 0 &&
                   !(nknown && bsearch(r->token, known, nknown, sizeof *known, runs__cmp_id41)) &&
                   !commit_reads(s, r->token)) {
            /* notes refs name notes commits, every other ref a node */
            /* the ref's bytes are what was written: the commit is what is broken, and
             * putting the ref back would not help */
            snprintf(r->problem, sizeof r->problem, "%s: names %.12s, which is not a readable node commit", r->ref,
                     r->token);
            r->target_broken = 1;
        }
        r->damaged = r->problem[0] != '\0' && !r->target_broken;
    }
    *out = sc.v;
    *nout = sc.n;
    sc.v = NULL;
done:
    free(sc.v);
    free(ix.ix);
    free(log);
    return rc;
}

int runs__refs_check_known(runs_ref_state **out, size_t *nout, runs_store *s, int deep, const char (*known)[41],
                           size_t nknown)
{
    return refs_check(out, nout, s, deep, known, nknown, 0);
}

int runs__refs_first_damage(runs_store *s, int deep)
{
    return runs__refs_first_damage_known(s, deep, NULL, 0);
}

int runs__refs_first_damage_known(runs_store *s, int deep, const char (*known)[41], size_t nknown)
{
    runs_ref_state *v = NULL;
    size_t n = 0;
    int rc = refs_check(&v, &n, s, deep, known, nknown, 1);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (v[i].problem[0]) /* a packed-refs problem carries the hint already */
            rc = runs_error_set(RUNS_ECORRUPT, "%s%s", v[i].problem,
                                strstr(v[i].problem, "runs verify") ? "" : "; run `runs verify --all`");
    free(v);
    return rc;
}

int runs__refs_repair(runs_store *s, runs_ref_cb cb, void *ctx, size_t *repaired, size_t *unrepaired)
{
    runs_ref_state *v = NULL;
    runs_reflog_entry *log = NULL;
    size_t n = 0, nlog = 0;
    runs_lock l = {.fd = -1};
    char msg[1024];
    int rc;
    *repaired = *unrepaired = 0;
    if ((rc = runs__writer_begin(s)) != 0 || (rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        goto done;
    if ((rc = runs__refs_check(&v, &n, s, 1)) != 0 || (rc = runs__reflog_load(&log, &nlog, NULL, s)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        runs_ref_state *r = &v[i];
        int head = !strcmp(r->ref, "HEAD");
        const char *pick = NULL;
        if (!r->damaged)
            continue;
        /* the newest journalled value that is sound: a valid HEAD, a readable node */
        for (size_t k = nlog; k-- > 0 && !pick;) {
            const char *cand = log[k].new_;
            if (strcmp(log[k].ref, r->ref) != 0)
                continue;
            if (head ? !strncmp(cand, "ref:refs/heads/", 15) && runs_name_check(cand + 15, "run") == 0
                     : commit_reads(s, cand))
                pick = cand;
            runs_error_clear();
        }
        if (!pick) {
            (*unrepaired)++;
            snprintf(msg, sizeof msg, "cannot repair %s: no journalled value reads fine (%s)", r->ref, r->problem);
            if (cb)
                cb(ctx, r->ref, msg);
            continue;
        }
        char content[2 * RUNS_REF_TOKEN];
        if (head)
            snprintf(content, sizeof content, "ref: %s\n", pick + 4);
        else
            snprintf(content, sizeof content, "%s\n", pick);
        if ((rc = runs__ref_write_file(s, r->ref, content)) != 0)
            goto done;
        (*repaired)++;
        snprintf(msg, sizeof msg, "repaired %s: %s -> %s", r->ref, r->exists ? r->raw : "(missing)",
                 head ? pick + 4 : pick);
        if (cb)
            cb(ctx, r->ref, msg);
    }
done:
    runs__lock_release(&l);
    free(v);
    free(log);
    return rc;
}
