/* cuda/cuda_plugin.h — the one table the CUDA backend's shared object exports
 * (internal to cuda/).
 *
 * The CUDA backend (the .cu files of cuda/, cuBLAS, the CUDA runtime) is built into its own
 * shared object, libruns-cuda.so, so that the `runs` binary and everything CPU-only
 * never maps cuBLAS (about 540 MB of libraries, ~80 ms to load on a quiet machine).
 * cuda/cuda_loader.c dlopen()s it on the first call of gpt_cuda_device_count() or
 * of gpt_cuda_ops.create, and looks up GPT_CUDA_PLUGIN_SYMBOL (cuda/dl/cuda_plugin.c
 * defines it; every other symbol of the .so is hidden by cuda/dl/cuda_plugin.map).
 */
#ifndef RUNS_CUDA_CUDA_PLUGIN_H
#define RUNS_CUDA_CUDA_PLUGIN_H

#include <stddef.h>

#include "cuda/gpt_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Raised whenever struct gpt_cuda_plugin or the meaning of a field changes. */
#define GPT_CUDA_PLUGIN_ABI 2
#define GPT_CUDA_PLUGIN_SYMBOL "runs_cuda_plugin_v1"

/* Bytes of an NCCL unique id (NCCL_UNIQUE_ID_BYTES; cuda/nccl_dist.cu checks it). */
#define GPT_CUDA_DIST_ID_BYTES 128

/* Data-parallel training's collectives on device buffers (cuda/nccl_dist.cu), there
 * only where the .so was built with NCCL. Each returns 0 or -1 after gpt_set_error. */
struct gpt_cuda_dist_ops {
    /* a fresh id: one rank makes it and hands it to the others (runner/dp_nccl.c) */
    int (*unique_id)(unsigned char id[GPT_CUDA_DIST_ID_BYTES]);
    /* a communicator of nranks on the current device; *comm is freed by comm_destroy */
    int (*comm_init)(void **comm, const unsigned char id[GPT_CUDA_DIST_ID_BYTES], int nranks, int rank);
    /* the model's GRAD group summed over the ranks in place, then divided by count */
    int (*allreduce_grad)(void *comm, gpt_model *m, int count);
    void (*comm_destroy)(void *comm);
};

struct gpt_cuda_plugin {
    int abi; /* GPT_CUDA_PLUGIN_ABI as the .so was built */
    /* The layouts the .so was compiled against: a .so left over from another
     * version of runs is refused instead of reading the wrong fields. */
    size_t model_size;         /* sizeof(struct gpt_model) */
    size_t ops_size;           /* sizeof(struct gpt_ops) */
    const struct gpt_ops *ops; /* the real gpt_cuda_ops; static, never freed */
    int (*device_count)(void); /* the real gpt_cuda_device_count */
    /* cudaSetDevice(local_rank % devices): one GPU per rank of a job on a node */
    int (*select_device)(int local_rank);
    /* the NCCL table, or NULL where the .so was built without NCCL */
    const struct gpt_cuda_dist_ops *(*dist)(void);
};

/* cuda/nccl_dist.cu (inside the .so) */
int gpt_cuda_select_device(int local_rank);
const struct gpt_cuda_dist_ops *gpt_cuda_dist(void);

/* The exported entry. `report` receives every message the backend sets through
 * gpt_set_error (the .so has no gpt_last_error of its own: the loader's copy is the
 * one callers read); it is kept for the life of the process. Returns a static table. */
typedef const struct gpt_cuda_plugin *(*gpt_cuda_plugin_entry)(void (*report)(const char *msg));

#ifdef __cplusplus
}
#endif
#endif
