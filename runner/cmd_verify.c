/* runner/cmd_verify.c — `runs verify [--all] [--repair]`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/file.h"
#include "common/progress.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/rundir.h"
#include "runner/runlog.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/verify.h"

#define USAGE "runs verify [--all] [--repair]"

static void report(void *ctx, const char *subject, const char *message)
{
    fprintf(stderr, "runs verify: %s\n", message);
}

static void repaired(void *ctx, const char *subject, const char *message)
{
    printf("%s\n", message);
}

/* Each run's directory: its .loss.json, up to the run tip's step, must be the
 * lineage's loss-log segments concatenated (what fork/resume rebuild it from).
 * Lines past the tip belong to a trainer that has not checkpointed yet. Returns the
 * number of problems (reported), or a negative code when the check could not run. */
static long check_rundirs(runs_store *s, uint64_t *checked)
{
    char **runs = NULL;
    size_t nruns = 0;
    long problems = 0;
    int rc = runs_run_list(&runs, &nruns, s);
    if (rc)
        return rc;
    for (size_t i = 0; i < nruns; i++) {
        char dir[PATH_MAX], path[PATH_MAX + 16], tip[41];
        char *want = NULL, *have = NULL;
        size_t wl = 0, hl = 0;
        if (runs_rundir_get(dir, sizeof dir, s, runs[i]) != 0) {
            runs_error_clear();
            continue; /* no directory recorded (imported or synthetic runs) */
        }
        snprintf(path, sizeof path, "%s/.loss.json", dir);
        if (runs_file_read(&have, &hl, path) != 0) {
            runs_error_clear();
            continue; /* the directory was moved or removed: nothing to compare */
        }
        (*checked)++;
        if (runs_run_tip(tip, s, runs[i]) != 0 || runs_runlog_loss_history(&want, &wl, s, tip) != 0) {
            fprintf(stderr, "runs verify: run %s: cannot rebuild its loss history: %s\n", runs[i],
                    runs_error_message());
            problems++;
        } else if (hl < wl || memcmp(have, want, wl) != 0) {
            size_t k = 0, line = 1;
            while (k < wl && k < hl && have[k] == want[k])
                line += want[k++] == '\n';
            fprintf(stderr,
                    "runs verify: %s: line %zu differs from the loss log recorded in the lineage (damaged or edited)\n",
                    path, line);
            problems++;
        }
        free(want);
        free(have);
    }
    runs_strings_free(runs, nruns);
    return problems;
}

int cmd_verify(runs_cli *cli, int argc, char **argv)
{
    int all = 0, repair = 0, npos, rc;
    const runs_opt opts[] = {RUNS_FLAG("all", 0, &all, "also re-hash objects no node references"),
                             RUNS_FLAG("repair", 0, &repair,
                                       "first put each damaged or missing ref back to its newest journalled\n"
                                       "value whose node reads fine, printing \"repaired REF: OLD -> NEW\",\n"
                                       "then verify"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Check everything the store holds and say what is broken, one line each:\n"
               "  refs        HEAD (\"ref: refs/heads/RUN\\n\"), every refs/heads and refs/tags\n"
               "              file (40 hex digits and a newline), agreeing with the ref journal\n"
               "              (lineage.git/runs-reflog) and naming a readable node\n"
               "  lineage     every commit reachable from them reads, with its tree and a valid\n"
               "              manifest whose parent matches the commit's\n"
               "  git objects every loose object of lineage.git inflates and re-hashes to its name\n"
               "  objects     every object a node references (tensors, loss logs, archived files)\n"
               "              is present and re-hashes to its name; tensors of nodes thinned by\n"
               "              `runs gc` are not expected; the `thinned` list's checksum holds\n"
               "  run dirs    each run directory's .loss.json, up to the run's tip, equals the\n"
               "              loss log recorded in the lineage\n"
               "Prints counts; exits 1 when anything is broken.\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, NULL, 0, "verify", USAGE, opts, argc, argv)))
        return rc;
    runs_store *s = NULL;
    runs_verify_report r;
    runs_progress prog; /* drawn only on a TTY */
    size_t fixed = 0, unfixed = 0;
    uint64_t dirs = 0;
    long dir_problems = 0;
    rc = runs_cli_open_store(cli, &s);
    if (rc == 0 && repair)
        rc = runs_store_repair_refs(&fixed, &unfixed, s, repaired, NULL);
    if (rc == 0)
        rc = runs_store_verify(&r, s, all, cli->progress ? &prog : NULL, report, NULL);
    if (rc == 0 && (dir_problems = check_rundirs(s, &dirs)) < 0) {
        /* listing runs failed: the lineage walk above has said why */
        runs_error_clear();
        dir_problems = 0;
    }
    runs_store_free(s);
    if (rc)
        return runs_cli_fail("verify");
    r.problems += (uint64_t)dir_problems;
    printf("%llu refs, %llu nodes (%llu thinned), %llu lineage objects, %llu objects, %.1f MB re-hashed",
           (unsigned long long)r.refs, (unsigned long long)r.nodes, (unsigned long long)r.nodes_thinned,
           (unsigned long long)r.git_objects, (unsigned long long)r.objects, r.bytes / 1e6);
    if (all)
        printf(" (%llu unreferenced)", (unsigned long long)r.unreferenced);
    printf(", %llu run dirs", (unsigned long long)dirs);
    if (repair)
        printf("; %zu refs repaired", fixed);
    printf("; %llu problem%s\n", (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
    if (r.refs_damaged && !repair)
        fprintf(stderr,
                "runs verify: %llu damaged ref%s: `runs verify --repair` puts them back to their journalled values\n",
                (unsigned long long)r.refs_damaged, r.refs_damaged == 1 ? "" : "s");
    return r.problems ? RUNS_EXIT_ERROR : RUNS_EXIT_OK;
}
