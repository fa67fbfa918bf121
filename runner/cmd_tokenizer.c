/* runner/cmd_tokenizer.c — `runs tokenizer train|encode|decode`.
 *
 *   runs tokenizer train  --vocab-size N --out TOK [--lines|--chat] FILE...
 *   runs tokenizer encode --tokenizer TOK --out SHARD [--lines|--chat] FILE...
 *   runs tokenizer decode --tokenizer TOK [--start I] [--count N] [--ids] SHARD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/file.h"
#include "runner/cli.h"
#include "tools/bpe.h"
#include "tools/shard.h"

static const char *USAGE = "runs tokenizer train --vocab-size N --out TOK [--lines|--chat] FILE... | "
                           "encode --tokenizer TOK --out SHARD [--lines|--chat] FILE... | decode --tokenizer TOK SHARD";

static void help(void)
{
    printf("usage: runs tokenizer train  --vocab-size N --out TOK [--lines|--chat] FILE...\n"
           "       runs tokenizer encode --tokenizer TOK --out SHARD [--lines|--chat] FILE...\n"
           "       runs tokenizer decode --tokenizer TOK [--start I] [--count N] [--ids] SHARD\n"
           "\n"
           "Byte-level BPE tokenizer and llm.c-layout token shards (uint16 tokens).\n"
           "\n"
           "train    learns merges from FILEs until the vocabulary has N ids (default 4096)\n"
           "         and writes the tokenizer file TOK.\n"
           "encode   writes the tokens of FILEs to SHARD, with <|endoftext|> after every\n"
           "         document, and prints documents, bytes and tokens.\n"
           "decode   prints the text of a shard (a newline after each <|endoftext|>), or with\n"
           "         --ids the token ids, for debugging.\n"
           "\n"
           "Documents: by default each FILE is one document. --lines: each non-empty line is\n"
           "one document and the escapes \\n \\t \\\\ are decoded (one-example-per-line files).\n"
           "--chat: like --lines, and the turn markers of \"> user / < assistant\" become the\n"
           "special tokens <|user|> and <|assistant|>. Use the same mode for train and encode.\n"
           "\n"
           "Special tokens (fixed ids): 256 <|endoftext|>, 257 <|user|>, 258 <|assistant|>,\n"
           "259 <|system|>; ids 0-255 are the bytes, merges start at 260.\n");
}

/* Parses a subcommand's options (argv[0] is the subcommand); *pos gets room for
 * every argument and holds the positional ones (FILEs, SHARD); the caller frees
 * *pos whatever this returns (0, or the exit status of a refusal). */
static int parse_sub(const char ***pos, int *npos, const runs_opt *opts, int argc, char **argv)
{
    *npos = 0;
    if (!(*pos = calloc((size_t)argc + 1, sizeof **pos))) {
        runs_error_set(RUNS_ENOMEM, "out of memory parsing %d arguments", argc);
        return runs_cli_fail("tokenizer");
    }
    return runs_cli_opts(npos, *pos, argc, "tokenizer", USAGE, opts, argc, argv);
}

#define STR_(x) #x
#define STR(x) STR_(x)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int do_train(int argc, char **argv)
{
    long vocab_l = 4096;
    int mode = RUNS_BPE_DOC_FILE, rc = 0, status, npos;
    const char *out = NULL, **pos = NULL;
    const runs_opt opts[] = {
        RUNS_INT("vocab-size", 0, &vocab_l, "N", "[" STR(RUNS_BPE_FIRST_MERGE) ", " STR(RUNS_BPE_MAX_VOCAB) "]", NULL),
        RUNS_STR("out", 0, &out, "TOK", NULL), RUNS_SET("lines", 0, &mode, RUNS_BPE_DOC_LINES, NULL),
        RUNS_SET("chat", 0, &mode, RUNS_BPE_DOC_CHAT, NULL), RUNS_OPT_END};
    runs_bpe_trainer *t = NULL;
    runs_bpe *b = NULL;
    size_t bytes = 0;
    double t0 = now();
    if ((status = parse_sub(&pos, &npos, opts, argc, argv)))
        goto done;
    if (!out || !npos) {
        status = runs_cli_usage("tokenizer", USAGE, "train: %s", !out ? "--out TOK is required" : "no input FILEs");
        goto done;
    }
    int vocab = (int)vocab_l;
    if ((rc = runs_bpe_trainer_new(&t)))
        goto done;
    for (int i = 0; i < npos; i++) {
        char *buf;
        size_t len;
        if ((rc = runs_file_read(&buf, &len, pos[i])))
            goto done;
        rc = runs_bpe_trainer_add_documents(t, buf, len, mode);
        bytes += len;
        free(buf);
        if (rc)
            goto done;
    }
    if ((rc = runs_bpe_trainer_finish(&b, t, vocab)))
        goto done;
    if ((rc = runs_bpe_save(b, out)))
        goto done;
    printf("trained %d merges (vocab_size %d) from %zu bytes in %d files in %.1fs -> %s\n", runs_bpe_n_merges(b), vocab,
           bytes, npos, now() - t0, out);
    if (runs_bpe_n_merges(b) < vocab - RUNS_BPE_FIRST_MERGE)
        printf("note: the text ran out of repeated pairs; ids %d..%d are unused\n",
               RUNS_BPE_FIRST_MERGE + runs_bpe_n_merges(b), vocab - 1);
done:
    free(pos);
    runs_bpe_trainer_free(t);
    runs_bpe_free(b);
    return status ? status : rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

static int do_encode(int argc, char **argv)
{
    int mode = RUNS_BPE_DOC_FILE, rc = 0, status, npos;
    const char *out = NULL, *tok = NULL, **pos = NULL;
    const runs_opt opts[] = {RUNS_STR("tokenizer", 0, &tok, "TOK", NULL), RUNS_STR("out", 0, &out, "SHARD", NULL),
                             RUNS_SET("lines", 0, &mode, RUNS_BPE_DOC_LINES, NULL),
                             RUNS_SET("chat", 0, &mode, RUNS_BPE_DOC_CHAT, NULL), RUNS_OPT_END};
    double t0 = now();
    runs_bpe *b = NULL;
    runs_shard_writer *w = NULL;
    runs_tokens toks = {0};
    size_t bytes = 0;
    long docs = 0;
    if ((status = parse_sub(&pos, &npos, opts, argc, argv)))
        goto done;
    if (!tok || !out || !npos) {
        status = runs_cli_usage("tokenizer", USAGE, "encode: %s",
                                !tok   ? "--tokenizer TOK is required"
                                : !out ? "--out SHARD is required"
                                       : "no input FILEs");
        goto done;
    }
    if ((rc = runs_bpe_load(&b, tok)))
        goto done;
    if ((rc = runs_shard_writer_open(&w, out)))
        goto done;
    for (int i = 0; i < npos; i++) {
        char *buf;
        size_t len;
        if ((rc = runs_file_read(&buf, &len, pos[i])))
            goto done;
        toks.n = 0;
        rc = runs_bpe_encode_documents(b, buf, len, mode, &toks, &docs);
        bytes += len;
        free(buf);
        if (rc)
            goto done;
        if ((rc = runs_shard_writer_add(w, toks.ids, toks.n)))
            goto done;
    }
    uint64_t n = runs_shard_writer_count(w);
    rc = runs_shard_writer_close(w);
    w = NULL;
    if (rc)
        goto done;
    printf("encoded %ld documents, %zu bytes -> %llu tokens (%.2f bytes/token) in %.1fs -> %s\n", docs, bytes,
           (unsigned long long)n, n ? (double)bytes / n : 0.0, now() - t0, out);
done:
    free(pos);
    runs_shard_writer_abort(w);
    runs_bpe_free(b);
    free(toks.ids);
    return status ? status : rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

static int do_decode(int argc, char **argv)
{
    int rc = 0, ids = 0, status, npos;
    long start = 0, count = -1; /* -1: to the end */
    const char *tok = NULL, **pos = NULL;
    const runs_opt opts[] = {
        RUNS_STR("tokenizer", 0, &tok, "TOK", NULL), RUNS_INT("start", 0, &start, "I", "[0,)", NULL),
        RUNS_INT("count", 0, &count, "N", "[0,)", NULL), RUNS_FLAG("ids", 0, &ids, NULL), RUNS_OPT_END};
    runs_bpe *b = NULL;
    runs_shard s = {0};
    if ((status = parse_sub(&pos, &npos, opts, argc, argv)))
        goto done;
    if (!tok || npos != 1) {
        status = runs_cli_usage("tokenizer", USAGE, "decode: %s",
                                !tok ? "--tokenizer TOK is required" : "expected one SHARD");
        goto done;
    }
    if ((rc = runs_bpe_load(&b, tok)))
        goto done;
    if ((rc = runs_shard_open(&s, pos[0], runs_bpe_vocab_size(b))))
        goto done;
    uint64_t from = (uint64_t)start < s.count ? (uint64_t)start : s.count;
    uint64_t to = count < 0 || from + (uint64_t)count > s.count ? s.count : from + (uint64_t)count;
    for (uint64_t i = from; i < to; i++) {
        if (ids) {
            printf("%u%c", s.tokens[i], i + 1 == to ? '\n' : ' ');
        } else {
            size_t l;
            const char *p = runs_bpe_token_bytes(b, s.tokens[i], &l);
            fwrite(p, 1, l, stdout);
            if (s.tokens[i] == RUNS_BPE_EOT)
                fputc('\n', stdout);
        }
    }
done:
    free(pos);
    runs_shard_close(&s);
    runs_bpe_free(b);
    return status ? status : rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

int cmd_tokenizer(runs_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (argc < 2)
            return runs_cli_usage("tokenizer", USAGE, "missing subcommand (train, encode or decode)");
        help();
        return RUNS_EXIT_OK;
    }
    if (runs_cli_wants_help(argc, argv)) {
        help();
        return RUNS_EXIT_OK;
    }
    if (!strcmp(argv[1], "train"))
        return do_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode"))
        return do_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return do_decode(argc - 1, argv + 1);
    return runs_cli_usage("tokenizer", USAGE, "unknown subcommand '%s' (train, encode or decode)", argv[1]);
}
