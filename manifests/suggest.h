/* manifests/suggest.h — "did you mean" for unknown keys and names. */
#ifndef RUNS_MANIFESTS_SUGGEST_H
#define RUNS_MANIFESTS_SUGGEST_H

#include <stddef.h>

/* Damerau (optimal string alignment) edit distance between a and b. */
int runs_edit_distance(const char *a, const char *b);

/* The entry of names[0..n) nearest to s, or NULL when none is close enough to
 * be a plausible typo. Returns a pointer into names. */
const char *runs_nearest_name(const char *s, const char *const *names, size_t n);

/* Writes " (did you mean \"X\"?)" or, when nothing is close, " (known: a, b, c)"
 * into buf (size n, always NUL-terminated). Returns buf. */
const char *runs_suggest_hint(char *buf, size_t n, const char *s, const char *const *names, size_t count);

#endif
