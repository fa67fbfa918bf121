/* cuda/cuda_absent.c — the CUDA backend where nvcc was not found at build time.
 * Every entry point reports that this build has no CUDA; the CPU backend is unaffected. */
#include "cuda/gpt_backend.h"

int gpt_cuda_device_count(void) { return 0; }

static int absent_create(gpt_model *m)
{
    return gpt_set_error("this build of runs has no CUDA backend (nvcc was not found when it was "
                         "built); use --backend cpu or rebuild where nvcc is installed");
}

const struct gpt_ops gpt_cuda_ops = {.create = absent_create};
