/* cuda/cpu/cpu_transpose.h — the transposes' worksharing loop, private to
 * cuda/cpu (cpu_gemm.c runs it inside cpu_matmul_fwd's parallel region). */
#ifndef RUNS_CUDA_CPU_TRANSPOSE_H
#define RUNS_CUDA_CPU_TRANSPOSE_H

/* dst[cols, rows] = src[rows, cols]ᵀ, plus rbias[r] on row r of src (or + 0
 * when rbias is NULL) where add, else a plain copy. An orphaned worksharing
 * loop: inside a parallel region the team shares it, outside one the calling
 * thread runs it all; last: ends without a barrier (the region's end is one).
 * Writes dst only; frees nothing. */
void cpu__transpose_for(float *dst, const float *src, int rows, int cols, const float *rbias, int add, int last);

#endif
