/* common/lazylib.h — a system library loaded on its first use instead of at start-up.
 *
 * Why: linking libgit2 (and with it the 15 libraries it needs: mbedTLS, libssh2,
 * Kerberos, ...) and libcrypto made every command spend about 9 ms in the dynamic
 * loader before main(), `runs --help` included (bench_startup). The store's code
 * keeps calling git_*() and EVP_*() as declared in their own headers; the calls land
 * on small forwarding functions (store/git_lazy.c, store/crypto_lazy.c) that dlopen()
 * the library by the soname the build was made against, so the library and its
 * version are exactly what linking would have given, only later.
 *
 * A library that cannot be loaded is reported once, in words, by runs_lazylib_load();
 * the store calls it where it starts using the library (runs_store_open/_init). */
#ifndef RUNS_LAZYLIB_H
#define RUNS_LAZYLIB_H

#include <pthread.h>

typedef struct runs_lazylib {
    const char *soname;  /* what dlopen() is given, e.g. "libgit2.so.1.5" */
    const char *package; /* what to install when it is missing, for the message */
    pthread_once_t once;
    void *handle;    /* NULL until loaded, or when loading failed */
    char error[256]; /* dlerror()'s words when loading failed */
} runs_lazylib;

#define RUNS_LAZYLIB_INIT(soname, package)                                                                             \
    {                                                                                                                  \
        (soname), (package), PTHREAD_ONCE_INIT, NULL,                                                                  \
        {                                                                                                              \
            0                                                                                                          \
        }                                                                                                              \
    }

/* Loads lib once per process (thread-safe; later calls are a load and a test).
 * Returns 0, or RUNS_EIO with a message naming the library, dlerror()'s reason and
 * what to install. */
int runs_lazylib_load(runs_lazylib *lib);

/* The address of `name` in lib, loading lib first; NULL where lib cannot be loaded or
 * has no such symbol (no error is set: the forwarding functions return their
 * function's failure value and the caller reports what failed). */
void *runs_lazylib_sym(runs_lazylib *lib, const char *name);

/* A forwarding function `ret name params` that calls the library's own `name` with
 * `args`, resolving it on the first call; where the library or symbol is missing it
 * returns `fail`. RUNS_LAZY_VOID is the same for functions returning nothing. */
#define RUNS_LAZY_FN(lib, ret, name, params, args, fail)                                                               \
    ret name params                                                                                                    \
    {                                                                                                                  \
        static ret(*cached) params;                                                                                    \
        ret(*f) params = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);                                                   \
        if (!f) {                                                                                                      \
            *(void **)&f = runs_lazylib_sym(&(lib), #name);                                                            \
            if (!f)                                                                                                    \
                return fail;                                                                                           \
            __atomic_store_n(&cached, f, __ATOMIC_RELEASE);                                                            \
        }                                                                                                              \
        return f args;                                                                                                 \
    }

#define RUNS_LAZY_VOID(lib, name, params, args)                                                                        \
    void name params                                                                                                   \
    {                                                                                                                  \
        static void(*cached) params;                                                                                   \
        void(*f) params = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);                                                  \
        if (!f) {                                                                                                      \
            *(void **)&f = runs_lazylib_sym(&(lib), #name);                                                            \
            if (!f)                                                                                                    \
                return;                                                                                                \
            __atomic_store_n(&cached, f, __ATOMIC_RELEASE);                                                            \
        }                                                                                                              \
        f args;                                                                                                        \
    }

#endif
