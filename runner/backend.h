/* runner/backend.h — which trainer backend a name asks for: one rule for start/resume,
 * eval and sharpness, so a name none of them knows is refused everywhere alike. */
#ifndef RUNS_RUNNER_BACKEND_H
#define RUNS_RUNNER_BACKEND_H

#include "cuda/gpt.h"

/* *out = the backend `want` names: "cpu"; "cuda" (RUNS_EINVALID when no CUDA device
 * answers, rather than falling back unasked); "auto" (CUDA when a device answers, else
 * the CPU). Any other name, or NULL, is RUNS_EINVALID naming the three choices: a typo
 * must not quietly measure on the CPU. Nothing to free. */
int runs_backend_pick(gpt_backend *out, const char *want);

#endif
