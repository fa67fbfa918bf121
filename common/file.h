/* common/file.h — reading a whole file: the one helper for every module (the CLI's
 * small files, the tokenizer's corpora, run-directory files). Writing goes through
 * store/publish.h's runs_file_write_atomic. */
#ifndef RUNS_COMMON_FILE_H
#define RUNS_COMMON_FILE_H

#include <stddef.h>

/* Reads the file at path into *out: malloc'd, NUL-terminated (so text can be parsed in
 * place), freed by the caller; *len (len may be NULL) gets its size without the NUL.
 * RUNS_ENOTFOUND when the file does not exist, RUNS_EIO when it cannot be read,
 * RUNS_ENOMEM; *out is NULL on error. */
int runs_file_read(char **out, size_t *len, const char *path);

#endif
