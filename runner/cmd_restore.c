/* runner/cmd_restore.c — `runs restore NODE --out DIR`: materialise a checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/progress.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/publish.h"

#define USAGE "runs restore NODE --out DIR [--force]"

static int mkdir1(const char *p)
{
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", p);
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return runs_error_set(RUNS_EIO, "%s exists and is not a directory", p);
    return 0;
}

/* Whether a file called name is of a kind restore writes: in DIR itself
 * manifest.json, in a group directory NAME.f32; anywhere its temporaries. */
static int restore_wrote(const char *name, int in_group)
{
    size_t n = strlen(name);
    if (!strncmp(name, ".tmp-", 5))
        return 1;
    return in_group ? n > 4 && !strcmp(name + n - 4, ".f32") : !strcmp(name, "manifest.json");
}

/* One pass over dir (depth 0: DIR, 1: a group directory in it): with clear == 0
 * only checks that every entry is something an earlier restore wrote, with
 * clear == 1 removes them (and a group directory itself). */
static int clear_pass(const char *dir, int depth, int clear)
{
    char p[PATH_MAX];
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d)
        return runs_error_sys(RUNS_EIO, "open directory", dir);
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0)
            rc = runs_error_sys(RUNS_EIO, "stat", p);
        else if (S_ISDIR(st.st_mode) && depth == 0)
            rc = clear_pass(p, 1, clear);
        else if (!S_ISREG(st.st_mode) || !restore_wrote(e->d_name, depth))
            rc = runs_error_set(RUNS_EEXISTS,
                                "--force: %s is not a file `runs restore` writes, so the directory is left as it "
                                "is; move it or restore into another directory",
                                p);
        else if (clear && unlink(p) != 0)
            rc = runs_error_sys(RUNS_EIO, "remove", p);
    }
    closedir(d);
    if (!rc && clear && depth == 1 && rmdir(dir) != 0)
        rc = runs_error_sys(RUNS_EIO, "remove directory", dir);
    return rc;
}

/* DIR must end up holding exactly this node's files: a new or empty DIR, or with
 * --force an earlier restore's tree (manifest.json, GROUP/NAME.f32), which is
 * removed first. Anything else in DIR is a user's and is never touched: the
 * whole tree is checked before the first file goes. */
static int prepare_out(const char *out, int force)
{
    int rc = mkdir1(out);
    if (rc)
        return rc;
    DIR *d = opendir(out);
    if (!d)
        return runs_error_sys(RUNS_EIO, "open directory", out);
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    if (empty)
        return 0;
    if (!force)
        return runs_error_set(RUNS_EEXISTS,
                              "%s is not empty; restore into a new or empty directory, or pass --force to replace "
                              "an earlier restore there",
                              out);
    if ((rc = clear_pass(out, 0, 0)) != 0)
        return rc;
    return clear_pass(out, 0, 1);
}

/* A tensor or group name from a manifest becomes a file name: no paths. */
static int safe_name(const char *n)
{
    return n && *n && n[0] != '.' && !strchr(n, '/') && strlen(n) < 200;
}

/* manifest.json appears whole or not at all, like the tensor files beside it */
static int write_text(const char *path, const char *text)
{
    return runs_file_write_atomic(path, text, strlen(text));
}

int cmd_restore(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *pos[8];
    int force = 0, npos, rc;
    const runs_opt opts[] = {RUNS_STR("out", 0, &out, "DIR", "the directory to write (new or empty)"),
                             RUNS_FLAG("force", 0, &force,
                                       "replace an earlier restore in DIR (its manifest.json and GROUP/*.f32\n"
                                       "files); refused when DIR holds anything else"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Write a node's tensors as DIR/<group>/<name>.f32 (raw little-endian float32,\n"
               "groups weights, adam_m, adam_v) plus DIR/manifest.json. Every byte is\n"
               "re-hashed on the way and each file appears only once verified (written\n"
               "beside, then renamed). NODE is a node name as in `runs show`. A node whose\n"
               "tensors `runs gc` thinned cannot be restored; its manifest still can\n"
               "(`runs show NODE --json`).\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "restore", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("restore", USAGE, "expected one NODE");
    if (!out || !*out)
        return runs_cli_usage("restore", USAGE, "--out DIR is required");
    runs_store *s = NULL;
    cJSON *m = NULL;
    char *text = NULL, id[41], p[PATH_MAX];
    runs_progress pr;
    rc = runs_cli_open_store(cli, &s);
    if (rc || (rc = runs_node_resolve(id, s, pos[0])) != 0)
        goto done;
    if (runs_node_thinned(s, id)) {
        rc = runs_error_set(RUNS_ENOTFOUND,
                            "node %.12s (%s) was thinned by `runs gc`: its tensors were removed; restore a kept node",
                            id, pos[0]);
        goto done;
    }
    if ((rc = runs_node_manifest_text(&text, NULL, s, id)) != 0 || (rc = runs_node_manifest(&m, s, id)) != 0)
        goto done;
    const cJSON *t;
    uint64_t total = 0;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "group"));
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        if (!safe_name(g) || !safe_name(n)) {
            rc = runs_error_set(RUNS_ECORRUPT, "node %.12s names a tensor '%s/%s' that is not a plain file name", id,
                                g ? g : "?", n ? n : "?");
            goto done;
        }
        total += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "bytes"));
    }
    if ((rc = prepare_out(out, force)) != 0)
        goto done;
    runs_progress_start(&pr, "restore", total, 1);
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "group"));
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "sha256"));
        snprintf(p, sizeof p, "%s/%s", out, g);
        if ((rc = mkdir1(p)) != 0)
            break;
        snprintf(p, sizeof p, "%s/%s/%s.f32", out, g, n);
        if ((rc = runs_object_copy_to_file(s, h ? h : "", p)) != 0)
            break;
        runs_progress_add(&pr, (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "bytes")));
    }
    runs_progress_end(&pr);
    if (rc)
        goto done;
    snprintf(p, sizeof p, "%s/manifest.json", out);
    if ((rc = write_text(p, text)) != 0)
        goto done;
    printf("restored %.12s (%s) into %s: %d tensors, %.1f MB, verified\n", id, pos[0], out,
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "tensors")), total / 1e6);
done:
    cJSON_Delete(m);
    free(text);
    runs_store_free(s);
    return rc ? runs_cli_fail("restore") : RUNS_EXIT_OK;
}
