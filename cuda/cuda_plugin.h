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
#define GPT_CUDA_PLUGIN_ABI 1
#define GPT_CUDA_PLUGIN_SYMBOL "runs_cuda_plugin_v1"

struct gpt_cuda_plugin {
    int abi; /* GPT_CUDA_PLUGIN_ABI as the .so was built */
    /* The layouts the .so was compiled against: a .so left over from another
     * version of runs is refused instead of reading the wrong fields. */
    size_t model_size;         /* sizeof(struct gpt_model) */
    size_t ops_size;           /* sizeof(struct gpt_ops) */
    const struct gpt_ops *ops; /* the real gpt_cuda_ops; static, never freed */
    int (*device_count)(void); /* the real gpt_cuda_device_count */
};

/* The exported entry. `report` receives every message the backend sets through
 * gpt_set_error (the .so has no gpt_last_error of its own: the loader's copy is the
 * one callers read); it is kept for the life of the process. Returns a static table. */
typedef const struct gpt_cuda_plugin *(*gpt_cuda_plugin_entry)(void (*report)(const char *msg));

#ifdef __cplusplus
}
#endif
#endif
