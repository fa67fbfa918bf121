/* runner/cmd_gc.c — `runs gc [--dry-run] [--keep-last N] [--keep-every K]`. */
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/gc.h"
#include "store/lineage.h"

#define USAGE "runs gc [--dry-run] [--keep-last N] [--keep-every K]"

/* One line per checkpoint node retention thins: which, not only how many (issue 13). */
static void print_thin(void *ctx, const char *run, long long step, const char *id)
{
    printf("%s %s step_%lld %.12s\n", *(const int *)ctx ? "would thin" : "thinning", run, step, id);
}

int cmd_gc(runs_cli *cli, int argc, char **argv)
{
    /* -1: not given. 0 given means "keep none" to a reader and "no rule" to gc, so
     * it is refused rather than guessed at. */
    runs_gc_options opt = {.keep_last = -1, .keep_every = -1};
    const runs_opt opts[] = {
        RUNS_FLAG("dry-run", 0, &opt.dry_run, "report what would be removed and freed; change nothing"),
        RUNS_INT("keep-last", 0, &opt.keep_last, "N", "[0,)", "keep the last N (>= 1) checkpoints of each run"),
        RUNS_INT("keep-every", 0, &opt.keep_every, "K", "[0,)",
                 "keep checkpoints whose step is a multiple of K (>= 1)"),
        RUNS_OPT_END};
    int npos, rc;
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Remove what no node needs and, with a retention rule, thin old checkpoints.\n\n"
               "Always: objects no node references (orphans a crash or an interrupted commit\n"
               "can leave) and temporary leftovers (tmp/, objects/xx/.tmp-*) are removed.\n\n"
               "Retention (--keep-last N and/or --keep-every K) thins the checkpoint nodes of\n"
               "each run. A checkpoint keeps its tensors when it is among the last N\n"
               "checkpoints of its run, or its step is a multiple of K, or it is pinned;\n"
               "otherwise it is thinned: its id goes into the store's `thinned` list (written\n"
               "before anything is deleted) and its tensor objects that no kept node uses are\n"
               "deleted. The lineage stays complete: git history, `runs log`, the manifest,\n"
               "loss logs and archived files are kept; `runs restore` of a thinned node says\n"
               "it was thinned and `runs verify` does not count it as corruption.\n"
               "Per-step tags left as loose files (by a trainer that was killed) are packed\n"
               "into lineage.git/packed-refs, as every training session does when it ends.\n"
               "Pinned (never thinned): nodes named by a tag, run tips, start nodes, and fork\n"
               "points (a node with a child in another run, or more than one child). Nodes of\n"
               "kinds other than checkpoint (fork, restart, stage, halt) are never thinned.\n"
               "Each node thinned (with --dry-run: that would be) is listed as\n"
               "\"thinning RUN step_N ID\" (\"would thin ...\"), then the counts.\n\n");
        runs_cli_opts_help(opts, 0);
        printf("\ngc needs the store to itself: it refuses while a trainer or commit is writing.\n"
               "gc fails closed: unless it reads every ref, every node commit, every manifest\n"
               "and the `thinned` list without error, it deletes nothing and names what is\n"
               "broken (then run `runs verify --all`).\n");
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, NULL, 0, "gc", USAGE, opts, argc, argv)))
        return rc;
    if (!opt.keep_last || !opt.keep_every)
        return runs_cli_usage("gc", USAGE, "--keep-%s 0 would keep no checkpoint; give 1 or more, or leave it out",
                              !opt.keep_last ? "last" : "every");
    opt.keep_last = opt.keep_last < 0 ? 0 : opt.keep_last;
    opt.keep_every = opt.keep_every < 0 ? 0 : opt.keep_every;
    runs_store *s = NULL;
    runs_gc_report r;
    runs_progress prog; /* drawn only on a TTY */
    opt.progress = cli->progress ? &prog : NULL;
    rc = runs_cli_open_store(cli, &s);
    if (rc == 0)
        rc = runs_gc_list(&r, s, &opt, print_thin, &opt.dry_run);
    if (rc == 0) {
        const char *verb = opt.dry_run ? "would remove" : "removed";
        printf("%llu nodes (%llu pinned, %llu thinned before); %s %llu of %llu objects (%llu orphans) and %llu temp "
               "files\n",
               (unsigned long long)r.nodes, (unsigned long long)r.nodes_pinned,
               (unsigned long long)r.nodes_thinned_before, verb, (unsigned long long)r.objects_removed,
               (unsigned long long)r.objects_total, (unsigned long long)r.orphans, (unsigned long long)r.tmp_removed);
        if (opt.keep_last || opt.keep_every)
            printf("%s %llu checkpoint nodes\n", opt.dry_run ? "would thin" : "thinned",
                   (unsigned long long)r.nodes_thinned);
        printf("%s %llu bytes (%.1f MB)\n", opt.dry_run ? "would free" : "freed", (unsigned long long)r.bytes_freed,
               r.bytes_freed / 1e6);
    }
    /* per-step tags a killed trainer left loose: one file for listings to read */
    size_t packed = 0;
    if (rc == 0 && !opt.dry_run && (rc = runs_refs_pack(&packed, s, NULL)) == 0 && packed)
        printf("packed %zu step tags into lineage.git/packed-refs\n", packed);
    runs_store_free(s);
    return rc ? runs_cli_fail("gc") : RUNS_EXIT_OK;
}
