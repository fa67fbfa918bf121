/* cuda/cuda_loader.c — gpt_cuda_ops and gpt_cuda_device_count for libruns.a: the
 * CUDA backend itself lives in libruns-cuda.so and is loaded on first use.
 *
 * Why: linking cuBLAS/cuBLASLt/cudart into every program made each `runs` command
 * map ~540 MB of libraries at start-up (~80 ms quiet, 1-2 s on a busy machine) even
 * for `runs --help`. Now only the first call of gpt_cuda_device_count() (a
 * `--backend cuda|auto` or a GPU check) or of gpt_cuda_ops.create dlopen()s the
 * backend. Where it cannot be loaded (not built, not found, the CUDA runtime
 * missing, a stale .so) the answer is "no CUDA": the device count is 0 and create
 * fails with one message naming the cause, as cuda_absent.c did before.
 *
 * Where the .so is looked for, first hit wins:
 *   $RUNS_CUDA_LIB                       (only this one when it is set)
 *   <dir of /proc/self/exe>/libruns-cuda.so   (build/runs next to build/libruns-cuda.so)
 *   <dir of /proc/self/exe>/../lib/runs/libruns-cuda.so   (an installed layout)
 *   the path it was built at (RUNS_CUDA_SO_PATH; tests, benches and tools/ live
 *   elsewhere than build/)
 * A file that exists but fails to load stops the search: its error is the answer.
 *
 * The handle is never closed: the CUDA runtime and the backend register exit
 * handlers, and unloading them under a live process is not worth the risk. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/plugin_path.h"
#include "cuda/cuda_plugin.h"
#include "cuda/gpt_dist.h"

#define SO_NAME "libruns-cuda.so"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct gpt_cuda_plugin *plugin; /* NULL: no CUDA (load_error says why) */
static char load_error[16384];               /* paths may be PATH_MAX long */

/* The backend's messages land in this library's gpt_last_error buffer. */
static void report(const char *msg)
{
    gpt_set_error("%s", msg);
}

/* Opens `path` and checks its table. 1 loaded, 0 not there, -1 there but unusable
 * (load_error set). */
static int try_load(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error,
                 "no CUDA backend: cannot load %s: %s; install what it names (the CUDA runtime?), "
                 "rebuild with make, or use --backend cpu",
                 path, e ? e : "unknown dlopen error");
        return -1;
    }
    gpt_cuda_plugin_entry entry;
    /* POSIX's blessed way to turn dlsym's void * into a function pointer */
    *(void **)&entry = dlsym(h, GPT_CUDA_PLUGIN_SYMBOL);
    if (!entry) {
        snprintf(load_error, sizeof load_error,
                 "no CUDA backend: %s is not a runs CUDA backend (no %s); rebuild it with make or "
                 "use --backend cpu",
                 path, GPT_CUDA_PLUGIN_SYMBOL);
        return -1;
    }
    const struct gpt_cuda_plugin *p = entry(report);
    if (!p || p->abi != GPT_CUDA_PLUGIN_ABI || p->model_size != sizeof(struct gpt_model) ||
        p->ops_size != sizeof(struct gpt_ops) || !p->ops || !p->ops->create || !p->device_count || !p->select_device ||
        !p->dist) {
        snprintf(load_error, sizeof load_error,
                 "no CUDA backend: %s was built for another version of runs (plugin ABI %d, this "
                 "program expects %d); rebuild it with make or use --backend cpu",
                 path, p ? p->abi : -1, GPT_CUDA_PLUGIN_ABI);
        return -1;
    }
    plugin = p;
    return 1;
}

static void load(void)
{
    const char *env = getenv("RUNS_CUDA_LIB");
    if (env && *env) {
        int r = try_load(env);
        if (r == 0)
            snprintf(load_error, sizeof load_error,
                     "no CUDA backend: RUNS_CUDA_LIB=%s does not exist; point it at %s or unset it", env, SO_NAME);
        return;
    }
    char dir[4096], path[4200];
    int have_dir = runs_plugin_exe_dir(dir, sizeof dir) == 0;
    if (have_dir) {
        snprintf(path, sizeof path, "%s/%s", dir, SO_NAME);
        if (try_load(path))
            return;
        snprintf(path, sizeof path, "%s/../lib/runs/%s", dir, SO_NAME);
        if (try_load(path))
            return;
    }
#ifdef RUNS_CUDA_SO_PATH
    if (try_load(RUNS_CUDA_SO_PATH))
        return;
#endif
#ifdef RUNS_HAVE_CUDA
    snprintf(load_error, sizeof load_error,
             "no CUDA backend: %s not found next to the program (%s), in its ../lib/runs/ or at "
             "%s; run make, set RUNS_CUDA_LIB to its path, or use --backend cpu",
             SO_NAME, have_dir ? dir : "?",
#ifdef RUNS_CUDA_SO_PATH
             RUNS_CUDA_SO_PATH
#else
             "the build directory"
#endif
    );
#else
    snprintf(load_error, sizeof load_error,
             "this build of runs has no CUDA backend (nvcc was not found when it was built); "
             "use --backend cpu or rebuild where nvcc is installed");
#endif
}

/* Where the backend cannot be loaded, 0 and gpt_last_error says why (a caller may
 * append it to its own "no CUDA" message). */
int gpt_cuda_device_count(void)
{
    pthread_once(&load_once, load);
    if (!plugin) {
        gpt_set_error("%s", load_error);
        return 0;
    }
    return plugin->device_count();
}

/* From here on the model calls the backend directly: only create goes through
 * the loader. On failure the backend has freed what it made (gpt.c frees m). */
static int loader_create(gpt_model *m)
{
    pthread_once(&load_once, load);
    if (!plugin)
        return gpt_set_error("%s", load_error);
    /* under a launcher each rank of a node takes its own GPU before allocating */
    int local = gpt_dist_local_rank();
    if (local >= 0 && plugin->select_device(local))
        return -1;
    m->ops = plugin->ops;
    return plugin->ops->create(m);
}

int gpt_dist_local_rank(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r = v && *v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && r >= 0 && r < 1 << 20)
            return (int)r;
    }
    return -1;
}

/* The plugin's NCCL table, or NULL after gpt_set_error saying why. */
static const struct gpt_cuda_dist_ops *dist_ops(void)
{
    pthread_once(&load_once, load);
    if (!plugin) {
        gpt_set_error("%s", load_error);
        return NULL;
    }
    const struct gpt_cuda_dist_ops *d = plugin->dist();
    if (!d)
        gpt_set_error("data-parallel training on the CUDA backend needs NCCL, and libruns-cuda.so was built "
                      "without it (nccl.h was not found at build time); install NCCL (libnccl-dev) and rebuild "
                      "with make, or use --backend cpu");
    return d;
}

int gpt_dist_available(void)
{
    return dist_ops() != NULL;
}

int gpt_dist_unique_id(unsigned char id[GPT_DIST_ID_BYTES])
{
    const struct gpt_cuda_dist_ops *d = dist_ops();
    return d ? d->unique_id(id) : -1;
}

struct gpt_dist {
    const struct gpt_cuda_dist_ops *ops;
    void *comm;
};

int gpt_dist_create(gpt_dist **out, const gpt_model *m, const unsigned char id[GPT_DIST_ID_BYTES], int nranks, int rank)
{
    const struct gpt_cuda_dist_ops *d = dist_ops();
    gpt_dist *g = NULL;
    *out = NULL;
    if (!d)
        return -1;
    if (!m || m->ops != plugin->ops)
        return gpt_set_error("gpt_dist_create: the model is not on the CUDA backend");
    if (!(g = calloc(1, sizeof *g)))
        return gpt_set_error("gpt_dist_create: out of memory");
    g->ops = d;
    if (d->comm_init(&g->comm, id, nranks, rank)) {
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}

int gpt_dist_allreduce_grad(gpt_dist *d, gpt_model *m, int count)
{
    if (!d || !m || m->ops != plugin->ops)
        return gpt_set_error("gpt_dist_allreduce_grad: no communicator, or the model is not on the CUDA backend");
    return d->ops->allreduce_grad(d->comm, m, count);
}

void gpt_dist_free(gpt_dist *d)
{
    if (!d)
        return;
    d->ops->comm_destroy(d->comm);
    free(d);
}

const struct gpt_ops gpt_cuda_ops = {.create = loader_create};
