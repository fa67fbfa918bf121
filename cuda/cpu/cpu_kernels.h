/* cuda/cpu/cpu_kernels.h — the CPU backend's ops (internal to cuda/, exposed for tests).
 *
 * Every kernel is deterministic whatever the OpenMP thread count: work is split
 * into fixed pieces (rows, tiles, fixed-size chunks) and each reduction runs in
 * one fixed order inside one piece. Shapes: N rows (B·T), C channels.
 * "=" outputs are overwritten, "+=" outputs accumulate. */
#ifndef RUNS_CUDA_CPU_KERNELS_H
#define RUNS_CUDA_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* n floats, zeroed, 64-byte aligned (at least 64 bytes); from 4 MB up, 2 MB
 * aligned, rounded up to 2 MB and asked to be on transparent huge pages
 * (RUNS_CPU_HUGEPAGES=0: never). The trainer's groups, activations and scratch
 * come from here, and benches that time its kernels use it to get the same
 * pages. NULL when out of memory. The caller frees it with free(). */
float *cpu_alloc_floats(size_t n);

/* C[M,N] (=, or += when accumulate) A·B: element (i,p) of A at A[i*a_rs + p*a_cs]
 * (any strides), B row-major [K,N] with leading dimension ldb, C row-major with
 * leading dimension ldc. When !accumulate, bias (may be NULL) is added per
 * column j before the products. Each C element sums p = 0..K−1 in order. */
void cpu_gemm(float *Cm, long ldc, const float *A, long a_rs, long a_cs, const float *B, long ldb, int M, int N, int K,
              int accumulate, const float *bias);

/* cpu_gemm on the calling thread only (for use inside parallel regions). */
void cpu_gemm_serial(float *Cm, long ldc, const float *A, long a_rs, long a_cs, const float *B, long ldb, int M, int N,
                     int K, int accumulate, const float *bias);

/* out[N,OC] = inp[N,IC] · w[OC,IC]ᵀ + bias (bias may be NULL). wt_scratch holds
 * IC·OC floats: w (or, for small N, inp and out) is transposed there first so
 * the kernel reads rows of B. */
void cpu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                    float *wt_scratch);
/* dst[cols,rows] = src[rows,cols]ᵀ. */
void cpu_transpose(float *dst, const float *src, int rows, int cols);
/* dinp[N,IC] = dout·w (skipped when dinp is NULL); dw[OC,IC] (= or += with
 * accumulate_dw) doutᵀ·inp (skipped when dw is NULL); dbias[OC] = Σ_rows dout (skipped when NULL). */
void cpu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int N,
                    int IC, int OC, int accumulate_dw);

/* LayerNorm (eps 1e-5, biased variance). mean/rstd: [N] saved for backward. */
void cpu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N,
                       int C);
/* dinp += ..., dw = ..., db = ... */
void cpu_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                       const float *mean, const float *rstd, int N, int C);

/* Causal self-attention. qkv [B,T,3C] ([q|k|v]); out [B,T,C]; att [B,NH,T,T]
 * receives the softmax probabilities in row t's columns 0..t; what lies past
 * them (scaled scores up to the end of the row's 6-row tile, else nothing
 * written) is never read by the backward. */
void cpu_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
/* dqkv [B,T,3C] (=); scratch [B,NH,T,T] (only the first head's T×T of each
 * thread is used). */
void cpu_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B, int T,
                       int C, int NH);

/* GELU, tanh approximation. dinp (=) may alias dout (slower: the loop stays scalar). */
void cpu_gelu_fwd(float *out, const float *inp, size_t n);
void cpu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n);

/* Softmax cross-entropy over logits [N,V]; returns the mean loss (a fixed-order
 * double sum of losses[N], which receives the per-row losses). Logits are
 * overwritten: with backward by dloss/dlogits of that mean, else by exp values. */
float cpu_crossentropy(float *logits, float *losses, const int32_t *targets, int N, int V, int backward);
/* cpu_crossentropy on N rows of a larger batch: no mean; with backward the
 * gradient is scaled by dscale (1/rows of the whole batch). */
void cpu_crossentropy_rows(float *logits, float *losses, const int32_t *targets, int N, int V, float dscale,
                           int backward);

/* The tied output layer and its loss, fused (cpu_classifier.c): logits =
 * inp·wteᵀ, softmax cross-entropy against targets, and with backward dinp[N,C]
 * (=) and dwte[V,C] (=) of the mean loss, in blocks of rows so that only
 * rows×V logits exist at a time: lg_scratch holds cpu_classifier_rows(N, C, V)
 * × V floats, wt_scratch V·C floats (wteᵀ, or the transposed activations when
 * the batch is small). Returns the mean loss; losses[N] receives the per-row
 * losses. The same bits as cpu_matmul_fwd + cpu_crossentropy + cpu_matmul_bwd
 * over the whole batch: every sum runs in the same order (dwte's over the rows,
 * block after block, continuing one chain). */
float cpu_classifier(float *dinp, float *dwte, float *losses, float *lg_scratch, float *wt_scratch, const float *inp,
                     const float *wte, const int32_t *targets, int N, int C, int V, int backward);
/* The most rows cpu_classifier holds logits for, for any batch of up to N rows. */
int cpu_classifier_rows(int N, int C, int V);

/* out[rows] = W[rows,cols] · x. */
void cpu_matvec(float *out, const float *W, const float *x, int rows, int cols);

/* out[b,t,:] = wte[tok[b,t]] + wpe[t]. */
void cpu_embedding_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe, int B, int T, int C);
/* dwte += scatter of dout rows; dwpe[0..T) = Σ_b dout[b,t] (rows >= T are left alone). */
void cpu_embedding_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B, int T, int C);

/* out = a + b elementwise. */
void cpu_add(float *out, const float *a, const float *b, size_t n);

#endif
