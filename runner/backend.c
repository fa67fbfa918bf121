/* runner/backend.c — see backend.h. */
#include "runner/backend.h"

#include <string.h>

#include "common/error.h"

int runs_backend_pick(gpt_backend *out, const char *want)
{
    if (!want)
        return runs_error_set(RUNS_EINVALID, "backend not given; expected cpu, cuda or auto");
    if (!strcmp(want, "cpu")) {
        *out = GPT_BACKEND_CPU;
    } else if (!strcmp(want, "cuda")) {
        if (!gpt_cuda_available())
            return runs_error_set(RUNS_EINVALID, "backend cuda: no CUDA device answers on this machine "
                                                 "(or this build has no CUDA); use --backend cpu or auto");
        *out = GPT_BACKEND_CUDA;
    } else if (!strcmp(want, "auto")) {
        *out = gpt_cuda_available() ? GPT_BACKEND_CUDA : GPT_BACKEND_CPU;
    } else {
        return runs_error_set(RUNS_EINVALID, "backend '%s': expected cpu, cuda or auto", want);
    }
    return RUNS_OK;
}
