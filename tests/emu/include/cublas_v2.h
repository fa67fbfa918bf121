/* tests/emu/include/cublas_v2.h — a CPU stand-in for the few cuBLAS calls that
 * cuda/matmul.cuh makes, for `make test-emu` only (see cuda_runtime.h here).
 *
 * The GEMMs are a plain column-major reference (double accumulation) that checks
 * the arguments cuBLAS would reject: negative sizes and leading dimensions too
 * small for the operand's shape. So a transposed operand, a swapped m/n or a wrong
 * lda/ldb/ldc is caught (as an error or as wrong results in the parity test).
 *
 * The tensor-core compute types round each input element as the hardware's
 * input formats do (TF32: 10 mantissa bits, BF16: 7; round to nearest even) and
 * accumulate exactly, so the parity test's looser tolerances for them are tried
 * against the precision actually lost, not against fp32.
 *
 * What it does NOT prove: that real cuBLAS accepts the calls in every respect
 * (alignment, workspace, data-type/compute-type pairs beyond fp32), its
 * summation order or the tensor cores' exact rounding.
 */
#ifndef RUNS_EMU_CUBLAS_V2_H
#define RUNS_EMU_CUBLAS_V2_H

#include "cuda_runtime.h"

typedef struct emu_cublas *cublasHandle_t;
/* Values as in the real headers, so printed codes mean the same thing. */
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum {
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
} cublasComputeType_t;
typedef enum { CUDA_R_32F = 0 } cudaDataType;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0 } cublasMath_t;

const char *cublasGetStatusString(cublasStatus_t s);
cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t st);
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B,
                            cudaDataType bt, int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo);
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *A, cudaDataType at,
                                          int lda, long long strideA, const void *B, cudaDataType bt, int ldb,
                                          long long strideB, const void *beta, void *C, cudaDataType ct,
                                          int ldc, long long strideC, int batch, cublasComputeType_t comp,
                                          cublasGemmAlgo_t algo);

#endif
