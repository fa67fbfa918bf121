/* runner/cmd_status.c — runs status [RUN] [--json]: a running trainer's progress. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/file.h"
#include "manifests/canon.h"
#include "runner/cli_store.h"
#include "runner/rundir.h"
#include "store/lineage.h"

static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A data-parallel session's ranks (RUNDIR/.ranks.json, written by rank 0: see
 * runner/dp_loop.h) into st, when they belong to the session st describes (same
 * rank-0 pid): "ranks", "per_rank", "reduce_share". Advisory: a missing or stale
 * file leaves st as it is. */
static void merge_ranks(cJSON *st, const char *dir)
{
    char path[PATH_MAX + 16], *text = NULL;
    cJSON *r = NULL;
    snprintf(path, sizeof path, "%s/.ranks.json", dir);
    if (runs_file_read(&text, NULL, path) || !(r = cJSON_Parse(text)) || num(r, "pid") != num(st, "pid"))
        goto done;
    static const char *keys[] = {"ranks", "per_rank", "reduce_share"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(r, keys[i]);
        if (v)
            cJSON_AddItemToObject(st, keys[i], v);
    }
done:
    runs_error_clear();
    cJSON_Delete(r);
    free(text);
}

int cmd_status(runs_cli *cli, int argc, char **argv)
{
    static const char usage[] = "runs status [RUN] [--json]";
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\nShows step, loss, LR, tokens/s and ETA of RUN's trainer (default: the\n"
               "current run, named first; `runs switch` sets it), read from the run directory's\n"
               ".status.json, and whether a trainer is running now, and whether a stop (`runs stop`) is pending and at "
               "which step.\nA data-parallel job (mpirun) adds its rank count, each rank's tokens/s and busy share\n"
               "(forward+backward time over wall time) and the all-reduce's share of the step.\n",
               usage);
        return 0;
    }
    int json = 0;
    const char *want = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' || want)
            return runs_cli_usage("status", usage, "unexpected argument '%s'", argv[i]);
        else
            want = argv[i];
    }
    runs_store *s = NULL;
    char run[64], dir[PATH_MAX], path[PATH_MAX + 16];
    char *text = NULL;
    cJSON *st = NULL;
    int rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (want)
        snprintf(run, sizeof run, "%s", want);
    else if ((rc = runs_head_get(run, sizeof run, s)))
        goto done;
    else if (!json)
        printf("current run: %s\n", run); /* `runs switch` moves it; name it before its figures */
    if ((rc = runs_rundir_get(dir, sizeof dir, s, run)))
        goto done;
    snprintf(path, sizeof path, "%s/.status.json", dir);
    if ((rc = runs_file_read(&text, NULL, path))) {
        rc = runs_error_set(rc, "run '%s' has not trained yet (no %s)", run, path);
        goto done;
    }
    if ((rc = runs_json_parse(&st, text, path)))
        goto done;
    merge_ranks(st, dir);
    int pid = runs_trainer_pid(s, run);
    cJSON_ReplaceItemInObjectCaseSensitive(st, "running", cJSON_CreateBool(pid > 0));
    if (json) {
        char *out = runs_json_canonical(st);
        printf("%s\n", out ? out : "{}");
        free(out);
    } else {
        double eta = num(st, "eta_s");
        printf("%s: %s, step %.0f/%.0f, loss %.4f (ema %.4f), lr %.3e, |g| %.3f, %.0f tok/s", run,
               pid > 0 ? "running" : "not running", num(st, "step"), num(st, "total_steps"), num(st, "loss"),
               num(st, "loss_ema"), num(st, "lr"), num(st, "grad_norm"), num(st, "tokens_per_s"));
        if (pid > 0 && eta >= 0)
            printf(", ETA %ldm%02lds", (long)eta / 60, (long)eta % 60);
        if (pid > 0 && num(st, "stop_at") > 0)
            printf(", stop pending at step %.0f", num(st, "stop_at"));
        printf("\n");
        const cJSON *per = cJSON_GetObjectItemCaseSensitive(st, "per_rank");
        if (cJSON_IsArray(per)) {
            /* the line above is the job's figure (runlog.c counts every rank and
             * micro-batch); this one adds up what each rank measured itself, so
             * the two agree up to timing and nothing is counted twice */
            double all = 0;
            const cJSON *r;
            cJSON_ArrayForEach (r, per) {
                all += num(r, "tokens_per_s");
            }
            printf("ranks: %.0f, %.0f tok/s in all (", num(st, "ranks"), all);
            cJSON_ArrayForEach (r, per) {
                printf("%srank %.0f %.0f tok/s, busy %.0f%%", r == per->child ? "" : "; ", num(r, "rank"),
                       num(r, "tokens_per_s"), 100 * num(r, "busy"));
            }
            printf("), all-reduce %.0f%% of the step\n", 100 * num(st, "reduce_share"));
        }
    }
done:
    free(text);
    cJSON_Delete(st);
    runs_store_free(s);
    return rc ? runs_cli_fail("status") : 0;
}
