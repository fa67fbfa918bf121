/* common/plugin_path.h — where a program finds the shared objects it dlopen()s on
 * demand (libruns-cuda.so, libruns-mpi.so): next to the program (build/runs beside
 * build/libruns-*.so), then in its ../lib/runs/ (make install's layout). */
#ifndef RUNS_PLUGIN_PATH_H
#define RUNS_PLUGIN_PATH_H

#include <stddef.h>

/* The directory of the running program (/proc/self/exe, no trailing slash) into buf
 * of n bytes: 0, or -1 where it cannot be read or does not fit (no error is set:
 * callers fall back to their other places). The caller owns buf. */
int runs_plugin_exe_dir(char *buf, size_t n);

#endif
