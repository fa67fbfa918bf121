/* runner/cmd_tokenizer.c — `runs tokenizer train|encode|decode`.
 *
 *   runs tokenizer train  --vocab-size N --out TOK [--lines|--chat] FILE...
 *   runs tokenizer encode --tokenizer TOK --out SHARD [--lines|--chat] FILE...
 *   runs tokenizer decode --tokenizer TOK [--start I] [--count N] [--ids] SHARD
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "runner/cli.h"
#include "tools/bpe.h"
#include "tools/shard.h"

static const char *USAGE =
    "runs tokenizer train --vocab-size N --out TOK [--lines|--chat] FILE... | "
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return runs_error_sys(RUNS_ENOTFOUND, "open", path);
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int rc = 0;
    if (!b) {
        fclose(f);
        return runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n == cap) {
            char *p = realloc(b, cap * 2);
            if (!p) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
                break;
            }
            b = p;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) rc = runs_error_sys(RUNS_EIO, "read", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int do_train(int argc, char **argv)
{
    int vocab = 4096, mode = RUNS_BPE_DOC_FILE, rc = 0;
    const char *out = NULL;
    static const struct option opts[] = {{"vocab-size", required_argument, 0, 'v'},
                                         {"out", required_argument, 0, 'o'},
                                         {"lines", no_argument, 0, 'l'},
                                         {"chat", no_argument, 0, 'c'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < RUNS_BPE_FIRST_MERGE || v > RUNS_BPE_MAX_VOCAB)
                return runs_cli_usage("tokenizer", USAGE, "--vocab-size %s: expected an integer in %d..%d", optarg,
                                      RUNS_BPE_FIRST_MERGE, RUNS_BPE_MAX_VOCAB);
            vocab = (int)v;
            break;
        }
        case 'o': out = optarg; break;
        case 'l': mode = RUNS_BPE_DOC_LINES; break;
        case 'c': mode = RUNS_BPE_DOC_CHAT; break;
        default: return runs_cli_bad_option("tokenizer", USAGE, argv, "", opts);
        }
    }
    if (!out) return runs_cli_usage("tokenizer", USAGE, "train: --out TOK is required");
    if (optind >= argc) return runs_cli_usage("tokenizer", USAGE, "train: no input FILEs");
    double t0 = now();
    runs_bpe_trainer *t = NULL;
    runs_bpe *b = NULL;
    size_t bytes = 0;
    if ((rc = runs_bpe_trainer_new(&t))) goto done;
    for (int i = optind; i < argc; i++) {
        char *buf;
        size_t len;
        if ((rc = read_file(argv[i], &buf, &len))) goto done;
        rc = runs_bpe_trainer_add_documents(t, buf, len, mode);
        bytes += len;
        free(buf);
        if (rc) goto done;
    }
    if ((rc = runs_bpe_trainer_finish(&b, t, vocab))) goto done;
    if ((rc = runs_bpe_save(b, out))) goto done;
    printf("trained %d merges (vocab_size %d) from %zu bytes in %d files in %.1fs -> %s\n", runs_bpe_n_merges(b),
           vocab, bytes, argc - optind, now() - t0, out);
    if (runs_bpe_n_merges(b) < vocab - RUNS_BPE_FIRST_MERGE)
        printf("note: the text ran out of repeated pairs; ids %d..%d are unused\n",
               RUNS_BPE_FIRST_MERGE + runs_bpe_n_merges(b), vocab - 1);
done:
    runs_bpe_trainer_free(t);
    runs_bpe_free(b);
    return rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

static int do_encode(int argc, char **argv)
{
    int mode = RUNS_BPE_DOC_FILE, rc = 0;
    const char *out = NULL, *tok = NULL;
    static const struct option opts[] = {{"tokenizer", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'o'},
                                         {"lines", no_argument, 0, 'l'},
                                         {"chat", no_argument, 0, 'c'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok = optarg; break;
        case 'o': out = optarg; break;
        case 'l': mode = RUNS_BPE_DOC_LINES; break;
        case 'c': mode = RUNS_BPE_DOC_CHAT; break;
        default: return runs_cli_bad_option("tokenizer", USAGE, argv, "", opts);
        }
    }
    if (!tok) return runs_cli_usage("tokenizer", USAGE, "encode: --tokenizer TOK is required");
    if (!out) return runs_cli_usage("tokenizer", USAGE, "encode: --out SHARD is required");
    if (optind >= argc) return runs_cli_usage("tokenizer", USAGE, "encode: no input FILEs");
    double t0 = now();
    runs_bpe *b = NULL;
    runs_shard_writer *w = NULL;
    runs_tokens toks = {0};
    size_t bytes = 0;
    long docs = 0;
    if ((rc = runs_bpe_load(&b, tok))) goto done;
    if ((rc = runs_shard_writer_open(&w, out))) goto done;
    for (int i = optind; i < argc; i++) {
        char *buf;
        size_t len;
        if ((rc = read_file(argv[i], &buf, &len))) goto done;
        toks.n = 0;
        rc = runs_bpe_encode_documents(b, buf, len, mode, &toks, &docs);
        bytes += len;
        free(buf);
        if (rc) goto done;
        if ((rc = runs_shard_writer_add(w, toks.ids, toks.n))) goto done;
    }
    uint64_t n = runs_shard_writer_count(w);
    rc = runs_shard_writer_close(w);
    w = NULL;
    if (rc) goto done;
    printf("encoded %ld documents, %zu bytes -> %llu tokens (%.2f bytes/token) in %.1fs -> %s\n", docs, bytes,
           (unsigned long long)n, n ? (double)bytes / n : 0.0, now() - t0, out);
done:
    runs_shard_writer_abort(w);
    runs_bpe_free(b);
    free(toks.ids);
    return rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

static int do_decode(int argc, char **argv)
{
    int rc = 0, ids = 0;
    long long start = 0, count = -1;
    const char *tok = NULL;
    static const struct option opts[] = {{"tokenizer", required_argument, 0, 't'},
                                         {"start", required_argument, 0, 's'},
                                         {"count", required_argument, 0, 'n'},
                                         {"ids", no_argument, 0, 'i'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 't': tok = optarg; break;
        case 's':
            start = strtoll(optarg, &end, 10);
            if (*end || start < 0) return runs_cli_usage("tokenizer", USAGE, "--start %s: expected an index >= 0", optarg);
            break;
        case 'n':
            count = strtoll(optarg, &end, 10);
            if (*end || count < 0) return runs_cli_usage("tokenizer", USAGE, "--count %s: expected a count >= 0", optarg);
            break;
        case 'i': ids = 1; break;
        default: return runs_cli_bad_option("tokenizer", USAGE, argv, "", opts);
        }
    }
    if (!tok) return runs_cli_usage("tokenizer", USAGE, "decode: --tokenizer TOK is required");
    if (optind != argc - 1) return runs_cli_usage("tokenizer", USAGE, "decode: expected one SHARD");
    runs_bpe *b = NULL;
    runs_shard s = {0};
    if ((rc = runs_bpe_load(&b, tok))) goto done;
    if ((rc = runs_shard_open(&s, argv[optind], runs_bpe_vocab_size(b)))) goto done;
    uint64_t from = (uint64_t)start < s.count ? (uint64_t)start : s.count;
    uint64_t to = count < 0 || from + (uint64_t)count > s.count ? s.count : from + (uint64_t)count;
    for (uint64_t i = from; i < to; i++) {
        if (ids) {
            printf("%u%c", s.tokens[i], i + 1 == to ? '\n' : ' ');
        } else {
            size_t l;
            const char *p = runs_bpe_token_bytes(b, s.tokens[i], &l);
            fwrite(p, 1, l, stdout);
            if (s.tokens[i] == RUNS_BPE_EOT) fputc('\n', stdout);
        }
    }
done:
    runs_shard_close(&s);
    runs_bpe_free(b);
    return rc ? runs_cli_fail("tokenizer") : RUNS_EXIT_OK;
}

int cmd_tokenizer(runs_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (argc < 2) return runs_cli_usage("tokenizer", USAGE, "missing subcommand (train, encode or decode)");
        help();
        return RUNS_EXIT_OK;
    }
    if (runs_cli_wants_help(argc, argv)) {
        help();
        return RUNS_EXIT_OK;
    }
    if (!strcmp(argv[1], "train")) return do_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode")) return do_encode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode")) return do_decode(argc - 1, argv + 1);
    return runs_cli_usage("tokenizer", USAGE, "unknown subcommand '%s' (train, encode or decode)", argv[1]);
}
