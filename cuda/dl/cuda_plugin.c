/* cuda/dl/cuda_plugin.c — the entry of libruns-cuda.so (built only where nvcc is
 * found; not part of libruns.a, so it lives outside the directories the Makefile
 * globs for the library).
 *
 * The backend objects (the .cu files of cuda/) call gpt_set_error, which in libruns.a writes
 * the thread-local buffer gpt_last_error reads. The .so cannot see the program's
 * copy (a program's symbols are not exported to what it dlopen()s), so this file
 * defines its own gpt_set_error that formats the message and hands it to the
 * loader's callback, which stores it in the program's buffer. */
#include <stdarg.h>
#include <stdio.h>

#include "cuda/cuda_plugin.h"

static void (*host_report)(const char *msg);

int gpt_set_error(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (host_report)
        host_report(buf);
    return -1;
}

static const struct gpt_cuda_plugin plugin = {
    .abi = GPT_CUDA_PLUGIN_ABI,
    .model_size = sizeof(struct gpt_model),
    .ops_size = sizeof(struct gpt_ops),
    .ops = &gpt_cuda_ops,
    .device_count = gpt_cuda_device_count,
    .select_device = gpt_cuda_select_device,
    .dist = gpt_cuda_dist,
};

/* See gpt_cuda_plugin_entry in cuda/cuda_plugin.h. */
__attribute__((visibility("default"))) const struct gpt_cuda_plugin *
runs_cuda_plugin_v1(void (*report)(const char *msg))
{
    host_report = report;
    return &plugin;
}
