/* tests/unit/test_cpu_backend.c — the CPU trainer's buffer allocator
 * (cpu_alloc_floats, cuda/cpu/cpu_backend.c). Whether the kernel backs a buffer
 * with huge pages is its choice and cannot change any result, so what is checked
 * is what makes the request effective: a buffer of 4 MB and up starts on a 2 MB
 * boundary (a huge page can only map an aligned 2 MB range), smaller ones on 64
 * bytes, and every float starts at zero whatever path it took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cuda/cpu/cpu_kernels.h"

static void check(size_t n, uintptr_t align)
{
    float *p = cpu_alloc_floats(n);
    assert_non_null(p);
    if ((uintptr_t)p % align != 0)
        fail_msg("%zu floats at %p: not %zu-byte aligned", n, (void *)p, (size_t)align);
    for (size_t i = 0; i < (n ? n : 16); i++) /* at least 64 bytes, all zero */
        if (p[i] != 0.0f)
            fail_msg("%zu floats: [%zu] = %g, not zero", n, i, p[i]);
    free(p);
}

static void alignment_and_zeros(void **state)
{
    (void)state;
    unsetenv("RUNS_CPU_HUGEPAGES");
    check(0, 64);
    check(1, 64);
    check(1000, 64);
    check((1u << 20) - 1, 64);            /* just under 4 MB: 4 KB pages */
    check(1u << 20, 2u << 20);            /* 4 MB */
    check((3u << 20) + 5, 2u << 20);      /* 12 MB and a bit: rounded up to 2 MB */
    setenv("RUNS_CPU_HUGEPAGES", "0", 1); /* asked not to: still aligned and zeroed */
    check((3u << 20) + 5, 64);
    unsetenv("RUNS_CPU_HUGEPAGES");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alignment_and_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
