/* tests/emu/emu.cpp — the CPU emulation behind tests/emu/include/{cuda_runtime.h,
 * cublas_v2.h}: kernel launches, device memory, streams and the two cuBLAS GEMMs,
 * for `make test-emu` only. What it checks and what it does NOT prove is at the top
 * of cuda_runtime.h; in short: kernel logic, barriers and launch shapes yes;
 * hardware memory model, real cuBLAS, nvcc's math and speed no.
 *
 * Scheduling: a launch runs its blocks one after another. The threads of a block
 * are fibers with their own stacks. The scheduler resumes each runnable fiber,
 * which runs until it parks at a barrier (__syncthreads or a shuffle) or returns;
 * then it releases whichever barrier is complete: a warp all of whose 32 lanes wait
 * at a shuffle, else the whole block if every live thread waits at __syncthreads.
 * Anything else (a warp split between a shuffle and something else, a block split
 * between barriers) is a deadlock on a GPU and aborts here with a message.
 * Threads that have returned count as arrived at __syncthreads, as on the GPU.
 *
 * Environment:
 *   EMU_REV_BLOCKS, EMU_REV_THREADS  run blocks / threads in reverse order (set:
 *                                    any value), to expose order dependencies
 *   EMU_NO_DEVICE                    report no device (tests the GPU-less path)
 *   EMU_STATS                        print launch/thread/GEMM counts at exit
 */
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "cublas_v2.h"

/* The fiber switch. A block switches at every barrier of every thread (the parity
 * test makes some 13 million thread runs), and glibc's swapcontext saves and
 * restores the signal mask with a system call each time, plus the whole FPU
 * state: with it one parity run took 283 s, with the switch below 6 s (same
 * machine, same results). On x86-64 a switch is only a call
 * that saves what the SysV ABI makes callee-saved (rbx, rbp, r12-r15, the MXCSR
 * and x87 control words) and swaps stack pointers; elsewhere, or with
 * -DEMU_UCONTEXT, the portable ucontext version is used. */
static void fiber_main();

#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
typedef void *emu_ctx; /* the parked fiber's stack pointer */
extern "C" void emu_switch(emu_ctx *save, emu_ctx *resume);
asm(".text\n"
    ".globl emu_switch\n"
    ".type emu_switch, @function\n"
    "emu_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq (%rsi), %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size emu_switch, .-emu_switch\n");

/* A fresh stack laid out as if emu_switch had parked there: control words, six
 * zeroed registers, then fiber_main as the return address and a null "caller"
 * above it, so fiber_main starts with the ABI's alignment (rsp % 16 == 8). */
static void ctx_init(emu_ctx *c, char *stack, size_t size)
{
    uint64_t *top = (uint64_t *)(((uintptr_t)stack + size) & ~(uintptr_t)15);
    uint64_t *sp = top - 9;
    memset(sp, 0, 9 * sizeof *sp);
    top[-2] = (uint64_t)(uintptr_t)fiber_main;
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    memcpy(sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fpucw, 2);
    *c = sp;
}
#else
#include <ucontext.h>
typedef ucontext_t emu_ctx;
static void emu_switch(emu_ctx *save, emu_ctx *resume) { swapcontext(save, resume); }
static void ctx_init(emu_ctx *c, char *stack, size_t size)
{
    getcontext(c);
    c->uc_stack.ss_sp = stack;
    c->uc_stack.ss_size = size;
    c->uc_link = nullptr; /* fiber_main never returns */
    makecontext(c, fiber_main, 0);
}
#endif

struct fiber {
    emu_thread t;
    emu_ctx ctx;
    int done;
    int waiting; /* 0, or the emu_barrier it is parked at */
};

emu_thread *emu_self;
dim3 blockIdx, blockDim, gridDim;
double *emu_lane_slot;

static fiber *cur;
static emu_ctx sched_ctx;
static const std::function<void()> *body;
static int last_error;
static const bool rev_blocks = getenv("EMU_REV_BLOCKS") != nullptr;
static const bool rev_threads = getenv("EMU_REV_THREADS") != nullptr;
static long n_launches, n_blocks, n_threads, n_gemms;

[[noreturn]] static void die(const char *what)
{
    fprintf(stderr, "EMU FATAL: %s (grid %u,%u,%u block %u,%u,%u; in block %u,%u,%u)\n", what, gridDim.x,
            gridDim.y, gridDim.z, blockDim.x, blockDim.y, blockDim.z, blockIdx.x, blockIdx.y, blockIdx.z);
    abort();
}

/* A fiber lives as long as the process and runs the current launch's body each
 * time the scheduler starts it for a new block, so stacks are set up once. */
static void fiber_main()
{
    for (;;) {
        (*body)();
        cur->done = 1;
        emu_switch(&cur->ctx, &sched_ctx);
    }
}

void emu_wait(emu_barrier b)
{
    cur->waiting = b;
    emu_switch(&cur->ctx, &sched_ctx);
}

void emu_check_shuffle(unsigned mask)
{
    if (mask != 0xffffffffu) die("__shfl_xor_sync with a partial mask is not emulated");
    if (blockDim.x * blockDim.y * blockDim.z % 32) die("__shfl_xor_sync in a block that is not whole warps");
}

/* Kernels keep small frames; 64 KiB each, with a guard page below so an overflow
 * faults instead of silently writing into the neighbouring fiber's stack. */
static const size_t STACK = 64 * 1024;

static std::vector<fiber> &fibers(size_t n)
{
    static std::vector<fiber> fs;
    static std::vector<double> slots;
    if (fs.size() < n) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), old = fs.size();
        fs.resize(n);
        slots.resize(n);
        for (size_t i = old; i < n; i++) {
            char *m = (char *)mmap(nullptr, STACK + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED || mprotect(m, page, PROT_NONE)) die("cannot map a fiber stack");
            ctx_init(&fs[i].ctx, m + page, STACK);
        }
    }
    emu_lane_slot = slots.data();
    return fs;
}

static void resume(fiber &f)
{
    cur = &f;
    emu_self = &f.t;
    emu_switch(&sched_ctx, &f.ctx);
}

static void run_block(std::vector<fiber> &fs, unsigned long nt)
{
    for (unsigned long t = 0; t < nt; t++) {
        fiber &f = fs[t];
        f.t.tid = dim3(t % blockDim.x, t / blockDim.x % blockDim.y, t / ((unsigned long)blockDim.x * blockDim.y));
        f.t.lin = (int)t;
        f.done = f.waiting = 0;
    }
    for (;;) {
        /* One pass suffices: a resumed fiber runs until it parks or returns, and
         * only the release below makes a parked one runnable again. */
        for (unsigned long i = 0; i < nt; i++) {
            fiber &f = fs[rev_threads ? nt - 1 - i : i];
            if (!f.done && !f.waiting) resume(f);
        }
        int live = 0, released = 0;
        for (unsigned long w = 0; w * 32 < nt; w++) {
            unsigned long lo = w * 32, hi = std::min(nt, lo + 32);
            int at_shuffle = 0;
            for (unsigned long t = lo; t < hi; t++) {
                live += !fs[t].done;
                at_shuffle += fs[t].waiting == EMU_AT_SHUFFLE;
            }
            if (!at_shuffle) continue;
            if (at_shuffle != (int)(hi - lo)) die("warp shuffle not reached by all 32 lanes");
            for (unsigned long t = lo; t < hi; t++) fs[t].waiting = 0;
            released = 1;
        }
        if (!live) return;
        if (released) continue;
        for (unsigned long t = 0; t < nt; t++)
            if (!fs[t].done && fs[t].waiting != EMU_AT_SYNCTHREADS) die("threads of a block wait at different barriers");
        for (unsigned long t = 0; t < nt; t++) fs[t].waiting = 0;
    }
}

void emu_run_grid(dim3 g, dim3 b, size_t shmem, const std::function<void()> &fn)
{
    unsigned long nt = (unsigned long)b.x * b.y * b.z, nb = (unsigned long)g.x * g.y * g.z;
    n_launches++;
    /* the limits of every GPU since compute capability 3.0 */
    if (nt == 0 || nt > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64 || nb == 0 || g.x > 2147483647u ||
        g.y > 65535 || g.z > 65535) {
        fprintf(stderr, "EMU: invalid launch: grid (%u,%u,%u) block (%u,%u,%u)\n", g.x, g.y, g.z, b.x, b.y, b.z);
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    if (shmem) {
        fprintf(stderr, "EMU: dynamic shared memory (%zu bytes) is not emulated\n", shmem);
        last_error = cudaErrorInvalidValue;
        return;
    }
    std::vector<fiber> &fs = fibers(nt);
    gridDim = g;
    blockDim = b;
    body = &fn;
    for (unsigned long i = 0; i < nb; i++) {
        unsigned long bi = rev_blocks ? nb - 1 - i : i;
        blockIdx = dim3(bi % g.x, bi / g.x % g.y, bi / ((unsigned long)g.x * g.y));
        run_block(fs, nt);
    }
    n_blocks += nb;
    n_threads += nb * nt;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error (emulated)";
    case cudaErrorInvalidValue: return "invalid argument (emulated)";
    case cudaErrorMemoryAllocation: return "out of memory (emulated)";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulated)";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected (emulated)";
    case cudaErrorInvalidDevice: return "invalid device ordinal (emulated)";
    default: return "unknown error (emulated)";
    }
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaGetDeviceCount(int *n)
{
    *n = getenv("EMU_NO_DEVICE") ? 0 : 1;
    if (*n) return cudaSuccess;
    last_error = cudaErrorNoDevice;
    return cudaErrorNoDevice;
}

cudaError_t cudaSetDevice(int dev)
{
    int n;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return cudaErrorNoDevice;
    if (dev >= 0 && dev < n) return cudaSuccess;
    last_error = cudaErrorInvalidDevice;
    return cudaErrorInvalidDevice;
}

/* An 80 GiB device, so the backend's sizing check passes for the test's shapes. */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    *free_bytes = *total_bytes = (size_t)80 << 30;
    return cudaSuccess;
}

/* cudaMalloc's 256-byte alignment; the bytes are set to 0xff (a NaN in every
 * float) so a kernel reading memory nobody wrote shows up as NaN in the results. */
cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return last_error = cudaErrorMemoryAllocation;
    memset(*p, 0xff, n);
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n)
{
    *p = malloc(n);
    return *p ? cudaSuccess : (last_error = cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void *p)
{
    free(p);
    return cudaSuccess;
}

/* Streams are synchronous: every call has finished when it returns. */
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind, cudaStream_t)
{
    memcpy(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int v, size_t n, cudaStream_t)
{
    memset(dst, v, n);
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *st, unsigned)
{
    static char token;
    *st = (cudaStream_t)&token; /* non-null, like a real stream handle */
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS (emulated)";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE (emulated)";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED (emulated)";
    default: return "unknown cuBLAS status (emulated)";
    }
}

cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    static char token;
    *h = (cublasHandle_t)&token;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

/* What cuBLAS itself rejects: leading dimensions shorter than the stored rows. */
static cublasStatus_t gemm_check(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda, int ldb,
                                 int ldc, cublasComputeType_t comp)
{
    n_gemms++;
    const char *bad = nullptr;
    if (m < 0 || n < 0 || k < 0)
        bad = "negative size";
    else if (lda < std::max(1, ta == CUBLAS_OP_N ? m : k))
        bad = "lda too small";
    else if (ldb < std::max(1, tb == CUBLAS_OP_N ? k : n))
        bad = "ldb too small";
    else if (ldc < std::max(1, m))
        bad = "ldc too small";
    if (bad) {
        fprintf(stderr, "EMU: cublas GEMM %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d: %s\n",
                ta == CUBLAS_OP_N ? 'N' : 'T', tb == CUBLAS_OP_N ? 'N' : 'T', m, n, k, lda, ldb, ldc, bad);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (comp != CUBLAS_COMPUTE_32F && comp != CUBLAS_COMPUTE_32F_FAST_TF32 && comp != CUBLAS_COMPUTE_32F_FAST_16BF)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

/* The tensor cores' input formats: x rounded to `bits` mantissa bits, to nearest even
 * (TF32 keeps 10, BF16 7; fp32 has 23). Inf and NaN pass through. */
static double to_input_format(float x, int bits)
{
    if (bits >= 23 || !std::isfinite(x)) return x;
    uint32_t u;
    memcpy(&u, &x, 4);
    int drop = 23 - bits;
    uint32_t half = 1u << (drop - 1), keep_lsb = (u >> drop) & 1u;
    u = (u + half - 1 + keep_lsb) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

static int mantissa_bits(cublasComputeType_t comp)
{
    return comp == CUBLAS_COMPUTE_32F_FAST_TF32 ? 10 : comp == CUBLAS_COMPUTE_32F_FAST_16BF ? 7 : 23;
}

/* C = alpha op(A) op(B) + beta C, column-major; beta == 0 never reads C (it may hold NaN). */
static void gemm_ref(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc, int bits)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                float a = ta == CUBLAS_OP_N ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda];
                float b = tb == CUBLAS_OP_N ? B[p + (size_t)j * ldb] : B[j + (size_t)p * ldb];
                s += to_input_format(a, bits) * to_input_format(b, bits);
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = beta == 0.0f ? (float)(alpha * s) : (float)(alpha * s + beta * *c);
        }
}

cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType, int lda, const void *B, cudaDataType,
                            int ldb, const void *beta, void *C, cudaDataType, int ldc, cublasComputeType_t comp,
                            cublasGemmAlgo_t)
{
    cublasStatus_t s = gemm_check(ta, tb, m, n, k, lda, ldb, ldc, comp);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    gemm_ref(ta, tb, m, n, k, *(const float *)alpha, (const float *)A, lda, (const float *)B, ldb,
             *(const float *)beta, (float *)C, ldc, mantissa_bits(comp));
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType, int lda,
                                          long long strideA, const void *B, cudaDataType, int ldb, long long strideB,
                                          const void *beta, void *C, cudaDataType, int ldc, long long strideC,
                                          int batch, cublasComputeType_t comp, cublasGemmAlgo_t)
{
    cublasStatus_t s = gemm_check(ta, tb, m, n, k, lda, ldb, ldc, comp);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    for (int i = 0; i < batch; i++)
        gemm_ref(ta, tb, m, n, k, *(const float *)alpha, (const float *)A + i * strideA, lda,
                 (const float *)B + i * strideB, ldb, *(const float *)beta, (float *)C + i * strideC, ldc,
                 mantissa_bits(comp));
    return CUBLAS_STATUS_SUCCESS;
}

static struct stats_at_exit {
    ~stats_at_exit()
    {
        if (getenv("EMU_STATS"))
            fprintf(stderr, "EMU: %ld launches, %ld blocks, %ld threads, %ld cuBLAS GEMM calls\n", n_launches,
                    n_blocks, n_threads, n_gemms);
    }
} stats_at_exit;
