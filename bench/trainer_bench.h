/* bench/trainer_bench.h — what bench/bench_trainer.c (the FMA peak, whole steps,
 * main) and bench/trainer_parts.c (the parts of a step) share. A benchmark's own
 * header: nothing else includes it. */
#ifndef RUNS_BENCH_TRAINER_BENCH_H
#define RUNS_BENCH_TRAINER_BENCH_H

#ifdef __AVX512F__
#define PEAK_LANES 16
#else
#define PEAK_LANES 8
#endif

/* Wall seconds (CLOCK_MONOTONIC), and CPU seconds of the whole process, all threads. */
double now(void);
double cpu_now(void);
/* The FMA loop: one thread's share (iters FMAs over 12 chains), and a burst on all
 * threads (GFLOP per CPU-second at this moment). */
float fma_chains(long iters);
double peak_burst(long iters);
/* Set by the "peak" measurement: GFLOP/s of all threads, and per CPU-second. */
extern double peak_gflops, peak_cpu_gflops;
/* qsort order of doubles, ascending. */
int dcmp(const void *a, const void *b);

/* The parts (trainer_parts.c); each prints its own lines. */
void bench_gemm(void);
void bench_attn(void);
void bench_phases(const char *tag, int B, int T, int C, int NH, int V, int L, int reps);
void bench_gemmb(void);
void bench_update(int reps);

#endif
