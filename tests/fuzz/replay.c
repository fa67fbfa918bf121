/* tests/fuzz/replay.c — runs a fuzz target without libFuzzer: each file named on the
 * command line is read and fed to LLVMFuzzerTestOneInput once. Linked with one target
 * by the Makefile (build/fuzz/replay_<target>), so `make test` (and `make test SAN=1`,
 * where the sanitizers watch) replays the checked-in corpus and crash reproducers.
 * Prints "ok N - <file>" per input; a violated property aborts inside the target. */
#include "tests/fuzz/fuzz_util.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 129;
    }
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
