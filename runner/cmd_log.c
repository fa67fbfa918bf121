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
#include "runner/cli_help.h"
#include "manifests/canon.h"
#include "runner/cli_store.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/nodecache.h"
#include "store/notes.h"

#define USAGE "runs log [RUN] [--graph] [--json] [--all]"

typedef struct {
    char id[41];
    char parent[41];
    const runs_node_info *info; /* what the listing prints (store/nodecache.h) */
    cJSON *note;                /* the node's note, or NULL when it has none */
    int rewound;                /* reachable only from a rewound tip (refs/rewound/, `runs resume --rewind`) */
} lnode;

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

/* The note's "sharpness" object when it holds a finite trace, else NULL (borrowed). */
static const cJSON *sharpness_of(const lnode *n)
{
    const cJSON *sh = n->note ? cJSON_GetObjectItemCaseSensitive(n->note, "sharpness") : NULL;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(sh, "trace");
    return cJSON_IsObject(sh) && cJSON_IsNumber(tr) && isfinite(tr->valuedouble) ? sh : NULL;
}

static cJSON *json_entry(const lnode *n)
{
    cJSON *e = cJSON_CreateObject();
    const runs_node_info *in = n->info;
    cJSON_AddStringToObject(e, "id", n->id);
    cJSON_AddStringToObject(e, "run", or_q(in->run));
    cJSON_AddStringToObject(e, "kind", or_q(in->kind));
    cJSON_AddItemToObject(e, "step",
                          in->flags & RUNS_NODE_HAS_STEP ? cJSON_CreateNumber(in->step) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "parent", n->parent[0] ? cJSON_CreateString(n->parent) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "loss",
                          in->flags & RUNS_NODE_HAS_LOSS ? cJSON_CreateNumber(in->loss) : cJSON_CreateNull());
    const cJSON *sh = sharpness_of(n);
    cJSON_AddItemToObject(e, "sharpness", sh ? cJSON_Duplicate(sh, 1) : cJSON_CreateNull());
    /* the held-out loss the node recorded (runner/eval.h); null where none */
    cJSON_AddItemToObject(e, "val_loss",
                          in->flags & RUNS_NODE_HAS_VAL ? cJSON_CreateNumber(in->val_loss) : cJSON_CreateNull());
    if (n->rewound) /* only when true: scripts matching the contract's fields see no change */
        cJSON_AddTrueToObject(e, "rewound");
    return e;
}

/* Every user tag of the store, looked up once per command (runs_tag_map): listing the
 * refs again for each printed node made `runs log` quadratic in the nodes. */
typedef struct {
    runs_tag_ref *v;
    size_t n;
    int w_run; /* the run column's width: the longest run name listed, at least 16 */
} tagmap;

static void print_line(const char *prefix, const lnode *n, runs_store *s, const tagmap *tm)
{
    const runs_node_info *in = n->info;
    char stepbuf[32], lossbuf[32];
    snprintf(stepbuf, sizeof stepbuf, "step_%.0f", in->flags & RUNS_NODE_HAS_STEP ? in->step : -1.0);
    if (in->flags & RUNS_NODE_HAS_LOSS)
        snprintf(lossbuf, sizeof lossbuf, "loss %.4f", in->loss);
    else
        snprintf(lossbuf, sizeof lossbuf, "loss -");
    printf("%s%.10s  %-10s  %-*s %-12s %s", prefix, n->id, or_q(in->kind), tm->w_run, or_q(in->run), stepbuf, lossbuf);
    const cJSON *sh = sharpness_of(n);
    if (sh) {
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(sh, "stderr");
        printf("  sharp %.4g", cJSON_GetObjectItemCaseSensitive(sh, "trace")->valuedouble);
        if (cJSON_IsNumber(se) && isfinite(se->valuedouble))
            printf("±%.2g", se->valuedouble);
    }
    /* after the other columns, so lines without one keep their shape */
    if (in->flags & RUNS_NODE_HAS_VAL)
        printf("  val %.4f", in->val_loss);
    const runs_tag_ref *t = runs_tag_map_find(tm->v, tm->n, n->id);
    for (const runs_tag_ref *t0 = t; t && t < tm->v + tm->n && !strcmp(t->id, n->id); t++)
        printf("%s%s%s", t > t0 ? ", " : "  (tag: ", t->name,
               t + 1 == tm->v + tm->n || strcmp(t[1].id, n->id) ? ")" : "");
    if (runs_node_thinned(s, n->id))
        printf("  [thinned]");
    if (n->rewound)
        printf("  [rewound]");
    /* what a fork or restart changed (changes.config), summarised by the node cache */
    fputs(in->changes ? in->changes : "", stdout);
    putchar('\n');
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

/* --help */
static const runs_cli_page page = {"log", USAGE,
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
                                   "refs/notes/runs, the notes commits `runs sharpness` makes.\n",
                                   NULL};

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
    int done;
    rc = runs_cli_begin(&done, &npos, pos, 8, &page, opts, argc, argv);
    if (done)
        return rc;
    if (npos > 1)
        return runs_cli_usage("log", USAGE, "expected at most one RUN");
    const char *want = npos ? pos[0] : NULL;
    if (want && all)
        return runs_cli_usage("log", USAGE, "give RUN or --all, not both");
    if (graph && !want)
        all = 1;
    runs_store *s = NULL;
    runs_nodes nodes = {0};
    size_t n = 0;
    lnode *v = NULL;
    tagmap tm = {NULL, 0, 16};
    int own_tags = 0;
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    /* the nodes and what each line shows come from the node cache (store/nodecache.h),
     * which reads a manifest only for nodes it has not seen; the refs are read every time */
    if (all) {
        rc = runs_nodecache_all(&nodes, s);
    } else {
        char run[128], tip[41];
        if (want)
            snprintf(run, sizeof run, "%s", want);
        else if ((rc = runs_head_get(run, sizeof run, s)) != 0) {
            /* an empty store has no current run: nothing to list. A HEAD that names no
             * run is damage, whatever the store holds. */
            char(*any)[41] = NULL;
            size_t na = 0;
            char why[1024];
            snprintf(why, sizeof why, "%s", runs_error_message());
            if (rc == RUNS_ENOTFOUND && runs_node_all(&any, &na, s) == 0 && na == 0)
                rc = 0;
            else
                runs_error_set(rc, "%s", why); /* the walk's own messages may have replaced it */
            free(any);
            if (rc == 0 && json)
                printf("[]\n");
            goto done;
        }
        if ((rc = runs_run_tip(tip, s, run)) == 0)
            rc = runs_nodecache_lineage(&nodes, s, tip);
    }
    if (rc)
        goto done;
    n = nodes.n;
    if (n && !(v = calloc(n, sizeof *v))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing %zu nodes", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const runs_node_info *in = &nodes.v[i];
        memcpy(v[i].id, in->id, 41);
        memcpy(v[i].parent, in->parent, 41);
        v[i].info = in;
        v[i].rewound = all && (in->flags & RUNS_NODE_REWOUND);
        if (in->run && (int)strlen(in->run) > tm.w_run) /* a long name widens the column, never overflows it */
            tm.w_run = (int)strlen(in->run);
        /* A note that does not parse must not hide the lineage: show the node without it. */
        if ((in->flags & RUNS_NODE_HAS_NOTE) && runs_note_get(&v[i].note, s, in->id) != 0)
            v[i].note = NULL;
    }
    if (all) {
        tm.v = nodes.tags; /* the walk read every ref already */
        tm.n = nodes.ntags;
    } else if (!json) {
        if ((rc = runs_nodecache_tags(&tm.v, &tm.n, s)) != 0) /* user tags only: no per-step tag read */
            goto done;
        own_tags = 1;
    }
    if (json) {
        /* runs_cli_print_json's layout, one record at a time: 100k nodes never exist as
         * one cJSON tree (tens of MB of small allocations) */
        fputs("[", stdout);
        for (size_t i = 0; i < n && rc == 0; i++) {
            cJSON *e = json_entry(&v[i]);
            char *t = e ? runs_json_canonical(e) : NULL;
            cJSON_Delete(e);
            if (!t)
                rc = runs_error_code() ? runs_error_code() : runs_error_set(RUNS_ENOMEM, "out of memory printing JSON");
            else
                printf("%s\n  %s", i ? "," : "", t);
            free(t);
        }
        fputs(n ? "\n]\n" : "]\n", stdout);
    } else if (graph) {
        if ((rc = topo_order(v, n)) == 0)
            rc = print_graph(v, n, s, &tm);
    } else {
        for (size_t i = 0; i < n; i++)
            print_line("", &v[i], s, &tm);
    }
done:
    for (size_t i = 0; v && i < n; i++)
        cJSON_Delete(v[i].note);
    free(v);
    if (own_tags)
        runs_tag_map_free(tm.v, tm.n);
    runs_nodecache_free(&nodes);
    runs_store_free(s);
    return rc ? runs_cli_fail("log") : RUNS_EXIT_OK;
}
