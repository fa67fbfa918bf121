/* runner/cmd_ls.c — runs ls [--all] [--sort KEY] [--json]: the run table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "runner/cli.h"
#include "runner/cli_help.h"
#include "runner/cli_store.h"
#include "runner/runtable.h"
#include "store/lineage.h"

#define USAGE "runs ls [--all] [--sort KEY] [--json]"
/* a config value wider than this is cut, so one long list cannot push the table
 * off the screen; --json has the whole value */
#define VALUE_WIDTH 24

/* Tokens for people: 950, 12.3k, 4.1M, 2.0G. */
static const char *human_count(char *buf, size_t n, double v)
{
    if (v < 1e4)
        snprintf(buf, n, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, n, "%.1fM", v / 1e6);
    else
        snprintf(buf, n, "%.1fG", v / 1e9);
    return buf;
}

/* Cell text of column c of row r into buf (cols: fixed ones, then config keys). */
enum { C_MARK, C_RUN, C_STEP, C_STATE, C_PARENT, C_FIXED_BEFORE_KEYS };
enum { T_LOSS, T_VAL, T_TOKENS, T_UPDATED, T_N };
static const char *const tail_head[T_N] = {"LOSS", "VAL_LOSS", "TOKENS", "UPDATED"};

static void config_cell(char *buf, size_t n, const cJSON *v)
{
    if (!v) {
        snprintf(buf, n, "-");
        return;
    }
    char *c = cJSON_IsString(v) ? NULL : runs_json_canonical(v);
    const char *txt = cJSON_IsString(v) ? v->valuestring : c ? c : "?";
    if (strlen(txt) > VALUE_WIDTH)
        snprintf(buf, n, "%.*s...", VALUE_WIDTH - 3, txt);
    else
        snprintf(buf, n, "%s", txt);
    free(c);
}

static void tail_cell(char *buf, size_t n, const runs_runtable_row *r, int c)
{
    switch (c) {
    case T_LOSS: r->has_loss ? snprintf(buf, n, "%.4f", r->loss_ema) : snprintf(buf, n, "-"); break;
    case T_VAL: r->has_val ? snprintf(buf, n, "%.4f", r->val_loss) : snprintf(buf, n, "-"); break;
    case T_TOKENS: human_count(buf, n, r->tokens); break;
    default:
        /* "2026-11-30T05:01:12Z" -> "2026-11-30 05:01" */
        if (strlen(r->updated) >= 16)
            snprintf(buf, n, "%.10s %.5s", r->updated, r->updated + 11);
        else
            snprintf(buf, n, "%s", r->updated[0] ? r->updated : "-");
    }
}

static int width_of(int w, const char *s)
{
    int l = (int)strlen(s);
    return l > w ? l : w;
}

static void print_table(const runs_runtable *t, const char *current)
{
    char cell[256];
    int w_run = 3, w_step = 4, w_state = 5, w_parent = 6, w_tail[T_N];
    int *w_key = calloc(t->n_keys ? t->n_keys : 1, sizeof *w_key);
    if (!w_key)
        return;
    for (int c = 0; c < T_N; c++)
        w_tail[c] = (int)strlen(tail_head[c]);
    for (size_t k = 0; k < t->n_keys; k++)
        w_key[k] = (int)strlen(t->keys[k]);
    /* widths from the contents, so the longest run name never overflows its column */
    for (size_t i = 0; i < t->n; i++) {
        const runs_runtable_row *r = &t->rows[i];
        w_run = width_of(w_run, r->run);
        snprintf(cell, sizeof cell, "%ld", r->step);
        w_step = width_of(w_step, cell);
        w_state = width_of(w_state, r->state);
        w_parent = width_of(w_parent, r->parent[0] ? r->parent : "-");
        for (size_t k = 0; k < t->n_keys; k++) {
            config_cell(cell, sizeof cell, runs_runtable_config_get(r, t->keys[k]));
            w_key[k] = width_of(w_key[k], cell);
        }
        for (int c = 0; c < T_N; c++) {
            tail_cell(cell, sizeof cell, r, c);
            w_tail[c] = width_of(w_tail[c], cell);
        }
    }
    printf("  %-*s  %*s  %-*s  %-*s", w_run, "RUN", w_step, "STEP", w_state, "STATE", w_parent, "PARENT");
    for (size_t k = 0; k < t->n_keys; k++)
        printf("  %-*s", w_key[k], t->keys[k]);
    /* the last column is not padded: no trailing blanks */
    for (int c = 0; c < T_N; c++)
        c == T_UPDATED ? printf("  %s", tail_head[c]) : printf("  %*s", w_tail[c], tail_head[c]);
    printf("\n");
    for (size_t i = 0; i < t->n; i++) {
        const runs_runtable_row *r = &t->rows[i];
        int cur = current && strcmp(r->state, "rewound") != 0 && !strcmp(r->run, current);
        printf("%c %-*s  %*ld  %-*s  %-*s", cur ? '*' : ' ', w_run, r->run, w_step, r->step, w_state, r->state,
               w_parent, r->parent[0] ? r->parent : "-");
        for (size_t k = 0; k < t->n_keys; k++) {
            config_cell(cell, sizeof cell, runs_runtable_config_get(r, t->keys[k]));
            printf("  %-*s", w_key[k], cell);
        }
        for (int c = 0; c < T_N; c++) {
            tail_cell(cell, sizeof cell, r, c);
            c == T_UPDATED ? printf("  %s", cell) : printf("  %*s", w_tail[c], cell);
        }
        printf("\n");
    }
    free(w_key);
}

/* --help (its "24" is VALUE_WIDTH) */
_Static_assert(VALUE_WIDTH == 24, "runs ls --help names VALUE_WIDTH");
static const runs_cli_page page = {
    "ls", USAGE,
    "One row per run: its tip step; state (running: a trainer holds the run;\n"
    "halted: the coherence gate stopped it; finished: the tip reached\n"
    "train.total_steps; stopped: anything else); the node it branched from\n"
    "(RUN@step_N, - for a run started from scratch); one column per config value\n"
    "that differs between the listed runs (values longer than 24 characters are\n"
    "cut; --json has them whole); loss EMA and held-out loss at the tip; tokens\n"
    "seen; when the tip was written (UTC). '*' marks the current run (`runs switch`).\n",
    "--json prints [{\"run\", \"step\", \"state\", \"parent\" (null for a root), \"tip\",\n"
    "\"kind\", \"loss\", \"val_loss\", \"tokens\", \"updated\", \"config\": {PATH: value}}],\n"
    "\"config\" holding the differing paths (null where a run lacks one).\n"};

int cmd_ls(runs_cli *cli, int argc, char **argv)
{
    int all = 0, json = 0;
    const char *sort = NULL;
    const runs_opt opts[] = {
        RUNS_FLAG("all", 'a', &all, "also list rewound tips (what `runs resume NODE` moved a run away from)"),
        RUNS_STR("sort", 0, &sort, "KEY",
                 "sort by a column (run, step, state, parent, loss, val_loss, tokens,\n"
                 "updated) or any config path (optimizer.lr); numbers sort as numbers,\n"
                 "missing values last; -KEY sorts descending"),
        RUNS_FLAG("json", 0, &json, "print a JSON array, one object per run"), RUNS_OPT_END};
    int npos, rc, done;
    rc = runs_cli_begin(&done, &npos, NULL, 0, &page, opts, argc, argv);
    if (done)
        return rc;
    runs_store *s = NULL;
    runs_runtable t = {0};
    cJSON *out = NULL;
    char current[64];
    int usage_rc = 0;
    if ((rc = runs_cli_open_store(cli, &s)) || (rc = runs_runtable_load(&t, s, all)))
        goto done;
    if (sort && (rc = runs_runtable_sort(&t, sort))) {
        if (rc == RUNS_EINVALID) /* the key is a command-line argument: a usage error */
            usage_rc = runs_cli_usage("ls", USAGE, "%s", runs_error_message());
        goto done;
    }
    if (json) {
        if (!(out = runs_runtable_json(&t)))
            rc = RUNS_ENOMEM;
        else
            rc = runs_cli_print_json(out);
        goto done;
    }
    if (t.n == 0) {
        printf("no runs yet; start one with `runs start --config FILE`\n");
        goto done;
    }
    int have_current = runs_head_get(current, sizeof current, s) == RUNS_OK;
    runs_error_clear();
    print_table(&t, have_current ? current : NULL);
done:
    cJSON_Delete(out);
    runs_runtable_free(&t);
    runs_store_free(s);
    if (usage_rc)
        return usage_rc;
    return rc ? runs_cli_fail("ls") : RUNS_EXIT_OK;
}
