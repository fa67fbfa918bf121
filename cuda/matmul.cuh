/* cuda/matmul.cuh — linear layers through cuBLAS, plus the bias-gradient
 * column sum.
 *
 * Row-major [rows, cols] buffers are column-major [cols, rows] to cuBLAS, so
 * out[N,OC] = inp[N,C] · W[OC,C]ᵀ becomes outᵀ = W(op T) · inpᵀ. Biases are
 * not added here: each consumer kernel adds its bias on the way (qkv permute,
 * GELU, residual+LayerNorm), which saves one pass over every matmul output.
 *
 * Compute type: CUBLAS_COMPUTE_32F (true fp32, the parity default),
 * CUBLAS_COMPUTE_32F_FAST_TF32 or CUBLAS_COMPUTE_32F_FAST_16BF (tensor cores;
 * cuBLAS rounds the fp32 inputs to tf32 or bf16 as it loads them and
 * accumulates in fp32). That buys bf16 tensor-core throughput but not bf16's
 * halved memory traffic: bf16 activation buffers and bf16 weight copies as
 * A/B (CUDA_R_16BF), with these fp32 buffers as master weights, are not
 * implemented. */
#ifndef RUNS_CUDA_MATMUL_CUH
#define RUNS_CUDA_MATMUL_CUH

#include "cuda/common.cuh"

typedef struct {
    cublasHandle_t h;
    cublasComputeType_t compute;
} gemm_ctx;

/* C = alpha·op(A)·op(B) + beta·C in cuBLAS's column-major terms. */
static int gemm(const gemm_ctx *g, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                const char *what)
{
    const float alpha = 1.0f;
    CUBLAS_TRY(cublasGemmEx(g->h, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                            &beta, C, CUDA_R_32F, ldc, g->compute, CUBLAS_GEMM_DEFAULT),
               what);
    return 0;
}

static int gemm_batched(const gemm_ctx *g, cublasOperation_t ta, cublasOperation_t tb, int m,
                        int n, int k, float alpha, const float *A, int lda, long long sA,
                        const float *B, int ldb, long long sB, float beta, float *C, int ldc,
                        long long sC, int batch, const char *what)
{
    CUBLAS_TRY(cublasGemmStridedBatchedEx(g->h, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, sA, B,
                                          CUDA_R_32F, ldb, sB, &beta, C, CUDA_R_32F, ldc, sC,
                                          batch, g->compute, CUBLAS_GEMM_DEFAULT),
               what);
    return 0;
}

/* out[N,OC] = inp[N,C] · W[OC,C]ᵀ (no bias). ldo: row stride of out (>= OC). */
static int matmul_forward(const gemm_ctx *g, float *out, int ldo, const float *inp,
                          const float *W, int N, int C, int OC, const char *what)
{
    return gemm(g, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, W, C, inp, C, 0.0f, out, ldo, what);
}

/* Partial column sums of dout [N,OC] (row stride ldd), layout [n_chunks][OC]. */
static __global__ void bias_backward_partial_kernel(float *partial, const float *dout, int ldd, int N,
                                             int OC)
{
    __shared__ float s[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int chunk = blockIdx.y;
    float a = 0.0f;
    if (c < OC) {
        int r0 = chunk * COLSUM_ROWS, r1 = min(r0 + COLSUM_ROWS, N);
        for (int r = r0 + threadIdx.y; r < r1; r += 8) a += dout[(size_t)r * ldd + c];
    }
    s[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        for (int k = 1; k < 8; k++) a += s[k][threadIdx.x];
        partial[(size_t)chunk * OC + c] = a;
    }
}

/* Given dout [N,OC] of out = inp·Wᵀ + b:
 *   dinp = dout·W (overwritten; skipped when dinp is NULL), dW += doutᵀ·inp,
 *   db += column sums of dout (skipped when db is NULL).
 * partial: scratch of colsum_chunks(N) * OC floats. ldd: row stride of dout. */
static int matmul_backward(const gemm_ctx *g, cudaStream_t st, float *dinp, float *dW, float *db,
                           float *partial, const float *dout, int ldd, const float *inp,
                           const float *W, int N, int C, int OC, const char *what)
{
    if (dinp && gemm(g, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, W, C, dout, ldd, 0.0f, dinp, C, what) < 0)
        return -1;
    if (gemm(g, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, C, dout, ldd, 1.0f, dW, C, what) < 0)
        return -1;
    if (db) {
        int n_chunks = colsum_chunks(N);
        dim3 grid(ceil_div_u((size_t)OC, 32), (unsigned)n_chunks), block(32, 8);
        bias_backward_partial_kernel<<<grid, block, 0, st>>>(partial, dout, ldd, N, OC);
        CUDA_LAUNCHED("bias_backward_partial_kernel");
        if (colsum_final(st, db, partial, n_chunks, OC) < 0) return -1;
    }
    return 0;
}

#endif
