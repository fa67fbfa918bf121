/* common/lazylib.c — see lazylib.h. */
#include "common/lazylib.h"

#include <dlfcn.h>
#include <stdio.h>

#include "common/error.h"

/* pthread_once() takes no argument, so the library being loaded is handed over in a
 * thread-local: each once-routine runs on the thread that called the load. */
static _Thread_local runs_lazylib *loading;

static void load_once(void)
{
    runs_lazylib *lib = loading;
    /* RTLD_LAZY, as linking did: a function binds on its first call (RTLD_NOW bound
     * all of libgit2's 15 dependencies up front, and `runs log` took twice as long).
     * RTLD_LOCAL: its symbols stay out of the global scope. The program does not export
     * its forwarding functions (no -rdynamic), so the library's calls to its own
     * functions stay inside it. */
    lib->handle = dlopen(lib->soname, RTLD_LAZY | RTLD_LOCAL);
    if (!lib->handle) {
        const char *e = dlerror();
        snprintf(lib->error, sizeof lib->error, "%s", e ? e : "unknown dlopen error");
    }
}

int runs_lazylib_load(runs_lazylib *lib)
{
    loading = lib;
    pthread_once(&lib->once, load_once);
    loading = NULL;
    if (lib->handle)
        return 0;
    return runs_error_set(RUNS_EIO, "cannot load %s (%s); install %s (`make deps` does)", lib->soname, lib->error,
                          lib->package);
}

void *runs_lazylib_sym(runs_lazylib *lib, const char *name)
{
    loading = lib;
    pthread_once(&lib->once, load_once);
    loading = NULL;
    return lib->handle ? dlsym(lib->handle, name) : NULL;
}
