/* tests/fuzz/replay.c — runs a fuzz target without libFuzzer: each file named on the
 * command line is read and fed to LLVMFuzzerTestOneInput once. Linked with one target
 * by the Makefile (build/fuzz/replay_<target>), so `make test` (and `make test SAN=1`,
 * where the sanitizers watch) replays the checked-in corpus and crash reproducers.
 * Prints "ok N - <file>" per input; a violated property aborts inside the target.
 *
 * Memory is capped at 1 GiB, as libFuzzer caps it (-malloc_limit_mb), so an input that
 * makes a loader ask for gigabytes fails here too (the targets require refusals to be
 * RUNS_ECORRUPT/RUNS_EINVALID, never RUNS_ENOMEM) instead of paging the machine. */
#include "tests/fuzz/fuzz_util.h"

#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif

#define REPLAY_MAX_MB 1024

#ifdef REPLAY_ASAN
/* ASan reserves terabytes of address space, so no rlimit: its allocator refuses
 * instead (NULL, as malloc would under the rlimit). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 129;
    }
#ifndef REPLAY_ASAN
    /* RLIMIT_DATA (heap and anonymous mappings) rather than RLIMIT_AS, which would also
     * count the shared libraries mapped in (cuBLAS alone is hundreds of MiB). */
    struct rlimit rl = {.rlim_cur = (rlim_t)REPLAY_MAX_MB << 20, .rlim_max = (rlim_t)REPLAY_MAX_MB << 20};
    struct rlimit cur;
    if (getrlimit(RLIMIT_DATA, &cur) == 0 && (cur.rlim_max == RLIM_INFINITY || cur.rlim_max > rl.rlim_max))
        setrlimit(RLIMIT_DATA, &rl);
#endif
    for (int i = 1; i < argc; i++) {
        size_t n;
        uint8_t *d = fuzz_read(argv[i], &n);
        LLVMFuzzerTestOneInput(d, n);
        free(d);
        printf("ok %d - %s\n", i, argv[i]);
        fflush(stdout);
    }
    return 0;
}
