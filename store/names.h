/* store/names.h — "did you mean" for the names a store holds (runs and user tags),
 * so a mistyped run in `runs show`, `runs fork`, `runs log` ... names the one meant. */
#ifndef RUNS_STORE_NAMES_H
#define RUNS_STORE_NAMES_H

#include <stddef.h>

#include "store/store.h"

/* Writes " (did you mean \"X\"?)" into buf (size n, always NUL-terminated) when a run
 * or user tag of s is a plausible typo of name, else "". Never fails: a store that
 * cannot be listed suggests nothing. Clears the error state, so call it before
 * runs_error_set of the message it goes into. Returns buf. */
const char *runs_store_suggest(char *buf, size_t n, runs_store *s, const char *name);

#endif
