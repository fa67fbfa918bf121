/* store/rewind.c — rewinding a run (`runs resume NODE --rewind`): the run's ref moves
 * back and the abandoned tip is kept under refs/rewound/RUN/N so it stays reachable;
 * runs_node_rewound lists the nodes only those refs reach. */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"

/* ---- rewinding a run: the abandoned tip stays reachable (helper functions of
 * `runs resume NODE --rewind`; see lineage.h) ---- */

int runs_run_rewind(char kept[128], runs_store *s, const char *run, const char *old_tip, const char *id)
{
    runs_lock l = {.fd = -1};
    git_commit *c = NULL;
    git_oid cur, tip_oid, o;
    char ref[256], p[PATH_MAX];
    struct stat st;
    int rc;
    kept[0] = '\0';
    if ((rc = runs_name_check(run, "run")) != 0 || (rc = runs__parse_id(&tip_oid, old_tip)) != 0 ||
        (rc = runs__lookup_commit(&c, s, id)) != 0)
        goto done;
    if ((rc = runs__writer_begin(s)) != 0 || (rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        goto done;
    /* compare under the lock: a tip that moved meanwhile would be abandoned unkept */
    snprintf(ref, sizeof ref, "refs/heads/%s", run);
    if ((rc = runs__ref_read(&cur, s, ref)) == RUNS_ENOTFOUND)
        rc = runs_error_set(RUNS_ENOTFOUND, "no run named '%s'; `runs log --all` lists the runs", run);
    if (rc)
        goto done;
    if (!git_oid_equal(&cur, &tip_oid)) {
        char now[41];
        git_oid_tostr(now, sizeof now, &cur);
        rc = runs_error_set(RUNS_ELOCKED,
                            "the tip of run '%s' moved to %.12s while rewinding (another writer?); "
                            "check `runs log %s` and retry",
                            run, now, run);
        goto done;
    }
    /* the first free number: a kept tip is never overwritten */
    for (unsigned n = 1;; n++) {
        if (n > 1000000) {
            rc = runs_error_set(RUNS_EEXISTS, "run '%s' has too many rewound tips under refs/rewound/%s/", run, run);
            goto done;
        }
        snprintf(kept, 128, "refs/rewound/%s/%u", run, n);
        if ((rc = runs__ref_path(p, sizeof p, s, kept)) != 0)
            goto done;
        if (stat(p, &st) != 0 && runs__ref_read(&o, s, kept) == RUNS_ENOTFOUND)
            break;
    }
    if ((rc = runs__ref_write(s, kept, &tip_oid)) != 0 || (rc = runs__ref_write(s, ref, git_commit_id(c))) != 0)
        goto done;
    runs_error_clear();
done:
    if (rc)
        kept[0] = '\0';
    runs__lock_release(&l);
    git_commit_free(c);
    return rc;
}

int runs_node_rewound(char (**ids)[41], size_t *n, runs_store *s)
{
    git_revwalk *w = NULL;
    char(*v)[41] = NULL;
    size_t cnt = 0, cap = 0;
    git_oid oid;
    git_repository *repo;
    int rc = 0, g;
    *ids = NULL;
    *n = 0;
    if ((rc = runs__store_git(&repo, s)) != 0)
        goto done;
    if (git_revwalk_new(&w, repo) != 0 || git_revwalk_push_glob(w, "refs/rewound/*") != 0 ||
        git_revwalk_hide_glob(w, "refs/heads/*") != 0) {
        rc = runs__git_error(RUNS_ECORRUPT, "walking the rewound tips of lineage.git (run `runs verify --all`)");
        goto done;
    }
    while ((g = git_revwalk_next(&oid, w)) == 0) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            char(*nv)[41] = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory listing rewound nodes");
                goto done;
            }
            v = nv;
        }
        git_oid_tostr(v[cnt++], 41, &oid);
    }
    if (g != GIT_ITEROVER) {
        rc = runs__git_error(RUNS_ECORRUPT, "walking the rewound tips of lineage.git (run `runs verify --all`)");
        goto done;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, runs__cmp_id41);
    *ids = v;
    *n = cnt;
    v = NULL;
done:
    free(v);
    git_revwalk_free(w);
    return rc;
}
