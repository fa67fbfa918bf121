/* common/error.h — one error channel for the whole library.
 *
 * Every fallible library function returns 0 on success or a negative RUNS_E*
 * code, and sets a one-line message through runs_error_set() saying what
 * failed, where, and what to do. The CLI prints runs_error_message() and maps
 * the code to an exit status. The library never calls exit().
 * Messages are thread-local, so hashing threads can fail independently.
 */
#ifndef RUNS_COMMON_ERROR_H
#define RUNS_COMMON_ERROR_H

#include <stddef.h>

enum {
    RUNS_OK = 0,
    RUNS_ERROR = -1,     /* generic failure */
    RUNS_ENOTFOUND = -2, /* node, object, file or key does not exist */
    RUNS_EEXISTS = -3,   /* something is already there */
    RUNS_EINVALID = -4,  /* bad input: config, JSON, argument */
    RUNS_ECORRUPT = -5,  /* stored bytes do not match their hash or schema */
    RUNS_EIO = -6,       /* an operating-system call failed */
    RUNS_ELOCKED = -7,   /* another process holds the lock */
    RUNS_ENOMEM = -8,
    RUNS_EUSAGE = -9, /* command-line usage error (exit 129) */
    RUNS_EHALT = -10  /* the coherence gate halted the run (exit 2) */
};

/* Sets the thread's message (printf-style) and returns code, so callers can
 * write `return runs_error_set(RUNS_EINVALID, "...")`. The message is cut at
 * 1023 bytes; control bytes and malformed UTF-8 in it are escaped (\n, \t, \r,
 * \xNN) so user-supplied names cannot split the line or drive the terminal.
 * Arguments may point into runs_error_message(). */
int runs_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Gives the current message context: it becomes "<fmt...>: <old message>"
 * (just "<fmt...>" when there was none), escaped and cut like runs_error_set;
 * returns code. Use it wherever a caller adds what it was doing to a callee's
 * error:  return runs_error_wrap(rc, "data.tokenizer %s", path); */
int runs_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies s into buf (n bytes, always terminated when n > 0) with control bytes,
 * DEL, C1 controls and malformed UTF-8 written as \n, \t, \r or \xNN; cut
 * only between whole characters. For the CLI to print user strings safely
 * outside error messages. Returns buf; the caller owns buf. */
const char *runs_error_escape(char *buf, size_t n, const char *s);

/* Like runs_error_set for a failed system call: appends strerror(errno).
 * step names the call ("fsync", "rename"), path what it was applied to. */
int runs_error_sys(int code, const char *step, const char *path);

/* The last message set on this thread ("" if none). Owned by the library. */
const char *runs_error_message(void);
int runs_error_code(void);
void runs_error_clear(void);

#endif
