/* tools/bpe.h — byte-level BPE tokenizer: train, save/load, encode, decode.
 *
 * Token ids:
 *   0..255           the 256 byte values (so any byte string, valid UTF-8 or not,
 *                    round-trips exactly)
 *   256..259         special tokens, fixed ids, never produced by merges:
 *                      256 <|endoftext|>  document separator (encode puts one after
 *                                         every document)
 *                      257 <|user|>       start of a user turn
 *                      258 <|assistant|>  start of an assistant turn
 *                      259 <|system|>     start of a system turn
 *                    In text given to the encoder with RUNS_BPE_SPECIALS, the literal
 *                    strings above become the special ids; otherwise they are bytes.
 *   260..vocab-1     merges, in the order they were learned (id = 260 + rank).
 *
 * Pre-splitting (training and encoding alike): text is cut into chunks and merges
 * never cross a chunk boundary. A chunk is one of
 *   [optional space] letters   (ASCII letters and every byte >= 0x80, so UTF-8
 *                               sequences stay inside words)
 *   [optional space] digits    (at most 3 digits per chunk)
 *   [optional space] other punctuation/symbol bytes (a run)
 *   a run of whitespace (a newline run and a space/tab run are separate chunks;
 *                        a space directly before a word goes to that word)
 * and no chunk is longer than 64 bytes (longer runs are cut), which keeps encoding
 * of pathological input linear.
 *
 * Tokenizer file (text, deterministic, "runs-bpe 1"):
 *   runs-bpe 1
 *   vocab_size N
 *   merges M
 *   A B          (M lines: the pair of ids merged into id 260+i)
 */
#ifndef RUNS_TOOLS_BPE_H
#define RUNS_TOOLS_BPE_H

#include <stddef.h>
#include <stdint.h>

#define RUNS_BPE_EOT 256
#define RUNS_BPE_USER 257
#define RUNS_BPE_ASSISTANT 258
#define RUNS_BPE_SYSTEM 259
#define RUNS_BPE_N_SPECIAL 4
#define RUNS_BPE_FIRST_MERGE 260
#define RUNS_BPE_MAX_VOCAB 65536 /* token shards hold uint16 */
#define RUNS_BPE_MAX_CHUNK 64

/* encode flags */
#define RUNS_BPE_SPECIALS 1 /* literal "<|endoftext|>" etc. become special ids */

typedef struct runs_bpe runs_bpe;
typedef struct runs_bpe_trainer runs_bpe_trainer;

/* A growable token buffer; the caller owns ids (free()). Zero-initialise it. */
typedef struct {
    int32_t *ids;
    size_t n, cap;
} runs_tokens;

/* Training is two steps so callers can stream many files: add text (words are
 * counted, the text is not kept), then finish. Special-token strings in the text
 * are treated as chunk boundaries and never learned. *out is freed with
 * runs_bpe_trainer_free. */
int runs_bpe_trainer_new(runs_bpe_trainer **out);
int runs_bpe_trainer_add(runs_bpe_trainer *t, const void *text, size_t len);
/* Learns up to vocab_size - 260 merges (fewer when the text runs out of pairs
 * seen at least twice); ties in pair counts go to the smaller (A, B), so the
 * result depends only on the text. *out is freed with runs_bpe_free. The
 * tokenizer's vocab_size is always the requested one (unused ids decode to ""). */
int runs_bpe_trainer_finish(runs_bpe **out, runs_bpe_trainer *t, int vocab_size);
void runs_bpe_trainer_free(runs_bpe_trainer *t);

/* Convenience: one text in, one tokenizer out (freed with runs_bpe_free). */
int runs_bpe_train(runs_bpe **out, const void *text, size_t len, int vocab_size);

int runs_bpe_save(const runs_bpe *b, const char *path);
/* Reads and validates a tokenizer file; *out freed with runs_bpe_free. */
int runs_bpe_load(runs_bpe **out, const char *path);
void runs_bpe_free(runs_bpe *b);

int runs_bpe_vocab_size(const runs_bpe *b);
int runs_bpe_n_merges(const runs_bpe *b);

/* Appends the tokens of text to out (out->ids grows with realloc; caller frees). */
int runs_bpe_encode(const runs_bpe *b, const void *text, size_t len, int flags, runs_tokens *out);

/* The bytes of one token (a special token's are its literal string). Returns a
 * pointer owned by b (not NUL-terminated) and sets *len; ids out of range give "" and length 0. */
const char *runs_bpe_token_bytes(const runs_bpe *b, int id, size_t *len);

/* Decodes ids into a fresh NUL-terminated buffer (*out, caller frees; *out_len
 * excludes the NUL). Returns RUNS_EINVALID for ids outside the vocabulary. */
int runs_bpe_decode(const runs_bpe *b, const int32_t *ids, size_t n, char **out, size_t *out_len);

/* The id of a special token by its literal ("<|user|>"), or -1. */
int runs_bpe_special_id(const char *literal);

/* Documents. encode (CLI and corpus) puts <|endoftext|> after every document.
 * A document is a whole file (RUNS_BPE_DOC_FILE), or one line of a
 * one-example-per-line file (RUNS_BPE_DOC_LINES: "\n" -> newline, "\t" -> tab,
 * "\\" -> backslash; empty lines are skipped), or one chat line
 * (RUNS_BPE_DOC_CHAT: as LINES, and the turn markers of "> user / < assistant"
 * become special tokens: a leading "> " -> <|user|>, " / < " -> <|assistant|>,
 * " / > " -> <|user|>; a leading "< " -> <|assistant|>). */
enum { RUNS_BPE_DOC_FILE = 0, RUNS_BPE_DOC_LINES = 1, RUNS_BPE_DOC_CHAT = 2 };

/* Rewrites one line (no trailing newline) for mode LINES or CHAT into out, which
 * must hold 4 * len + 16 bytes; returns the length written (NUL-terminated). */
size_t runs_bpe_prepare_line(const char *line, size_t len, int mode, char *out);

/* Encodes a whole buffer as documents of the given mode, appending tokens and an
 * <|endoftext|> after each document; *n_docs (may be NULL) gets the count added.
 * Special literals are honoured in CHAT mode only, so plain text that happens to
 * contain "<|endoftext|>" stays bytes. */
int runs_bpe_encode_documents(const runs_bpe *b, const char *text, size_t len, int mode, runs_tokens *out,
                              long *n_docs);

/* Feeds a buffer to a trainer with the same document rules (so training sees
 * exactly the text that encode will see). */
int runs_bpe_trainer_add_documents(runs_bpe_trainer *t, const char *text, size_t len, int mode);

/* Appends one id; helper for callers building token buffers. */
int runs_tokens_push(runs_tokens *t, int32_t id);

#endif
