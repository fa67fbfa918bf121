/* cuda/gpt_dist.h — data-parallel training's collectives on the CUDA backend (NCCL).
 *
 * The runner (runner/dp_nccl.c) trains one run on several processes, one GPU each:
 * every rank computes its micro-batches' gradients on its own device, then
 * gpt_dist_allreduce_grad sums the GRAD group over the ranks on the devices and
 * divides it by the micro-batch count, so every rank holds the same mean gradient
 * and runs the same gpt_update. NCCL lives inside libruns-cuda.so
 * (cuda/nccl_dist.cu); this header is how libruns.a reaches it (cuda/cuda_loader.c).
 * The id travels over the runner's own transport (MPI), which is why it is bytes.
 *
 * Errors: 0 or -1 with a message in gpt_last_error(), as in gpt.h. */
#ifndef RUNS_CUDA_GPT_DIST_H
#define RUNS_CUDA_GPT_DIST_H

#include "cuda/gpt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GPT_DIST_ID_BYTES 128 /* an ncclUniqueId */

typedef struct gpt_dist gpt_dist;

/* 1 when the CUDA backend loads and was built with NCCL; else 0, and gpt_last_error
 * says why in one line (no CUDA backend, or built without NCCL and how to enable it). */
int gpt_dist_available(void);

/* A fresh communicator id (one rank makes it, every rank passes it to gpt_dist_create). */
int gpt_dist_unique_id(unsigned char id[GPT_DIST_ID_BYTES]);

/* Joins the job's communicator as `rank` of `nranks` on the device of m (a CUDA model:
 * the device chosen by local rank when m was created). Collective: every rank calls it.
 * The caller frees *out with gpt_dist_free (before gpt_free of m). */
int gpt_dist_create(gpt_dist **out, const gpt_model *m, const unsigned char id[GPT_DIST_ID_BYTES], int nranks,
                    int rank);

/* m's GRAD group summed over the ranks in place, then divided by count (the job's
 * micro-batches this step), on the device. Collective; returns after the result is in m. */
int gpt_dist_allreduce_grad(gpt_dist *d, gpt_model *m, int count);

void gpt_dist_free(gpt_dist *d);

/* This process's rank on its node under a launcher (OMPI_COMM_WORLD_LOCAL_RANK,
 * SLURM_LOCALID, MPI_LOCALRANKID), or -1 when none is set: a CUDA model created under
 * one uses device local_rank % devices. */
int gpt_dist_local_rank(void);

#ifdef __cplusplus
}
#endif
#endif
