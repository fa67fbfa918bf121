/* tools/filter.c — the v2.5 shape filter (rules and thresholds in filter.h). */
#include "tools/filter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "store/publish.h"

static const char *const rule_names[RUNS_FILTER_N_RULES] = {"keep", "system-prompt-shape", "oversize-paragraph",
                                                            "foreign-script", "low-bigram-diversity"};

const char *runs_filter_rule_name(int rule)
{
    return rule >= 0 && rule < RUNS_FILTER_N_RULES ? rule_names[rule] : "unknown";
}

typedef struct {
    const char *p;
    size_t len;
    char role; /* '>' user, '<' assistant, 0 none */
} turn_t;

#define MAX_TURNS 256

/* Splits a line into turns at " / " + marker. Returns the number of turns. */
static int split_turns(const char *s, size_t n, turn_t *t)
{
    int nt = 0;
    size_t start = 0;
    char role = 0;
    if (n >= 2 && (s[0] == '>' || s[0] == '<') && s[1] == ' ') {
        role = s[0];
        start = 2;
    } else if (n == 1 && (s[0] == '>' || s[0] == '<')) {
        role = s[0];
        start = 1;
    }
    for (size_t i = start; i < n; i++) {
        if (i + 3 < n && s[i] == ' ' && s[i + 1] == '/' && s[i + 2] == ' ' && (s[i + 3] == '<' || s[i + 3] == '>') &&
            (i + 4 == n || s[i + 4] == ' ') && nt < MAX_TURNS - 1) {
            t[nt++] = (turn_t){s + start, i - start, role};
            role = s[i + 3];
            start = i + 4 < n ? i + 5 : n;
            i = start - 1;
        }
    }
    t[nt++] = (turn_t){s + start, start <= n ? n - start : 0, role};
    return nt;
}

/* A newline inside a turn: the two characters "\n" or a real newline. Returns its width or 0. */
static inline size_t newline_at(const char *s, size_t n, size_t i)
{
    if (s[i] == '\n')
        return 1;
    if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n')
        return 2;
    return 0;
}

/* Characters of a turn: UTF-8 code points, "\n" counting as one. */
static size_t turn_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = newline_at(s, n, i);
        if (w == 2)
            i++;
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    }
    return c;
}

static int count_headers(const char *s, size_t n)
{
    int h = 0;
    size_t i = 0;
    int at_line_start = 1;
    while (i < n) {
        if (at_line_start) {
            size_t j = i, sp = 0;
            while (j < n && s[j] == ' ' && sp < 3)
                j++, sp++;
            size_t k = j;
            while (k < n && s[k] == '#' && k - j < 7)
                k++;
            if (k > j && k - j <= 6 && k < n && (s[k] == ' ' || s[k] == '\t'))
                h++;
            at_line_start = 0;
        }
        size_t w = newline_at(s, n, i);
        if (w) {
            i += w;
            at_line_start = 1;
        } else {
            i++;
        }
    }
    return h;
}

static int contains(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m > n)
        return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0)
            return 1;
    return 0;
}

int runs_filter_has_system_prompt_shape(const char *turn, size_t len)
{
    static const char *const fingerprints[] = {"# Agent ", "Shadow Clone", "Your shard", "Read it. Become it",
                                               "This file defines"};
    int headers = count_headers(turn, len);
    if (headers >= 3)
        return 1;
    size_t chars = turn_chars(turn, len);
    if (headers >= 2 && chars >= 500)
        return 1;
    for (size_t i = 0; i < sizeof fingerprints / sizeof fingerprints[0]; i++)
        if (contains(turn, len, fingerprints[i]) && (headers >= 1 || chars >= 400))
            return 1;
    return 0;
}

static int has_oversize_paragraph(const char *s, size_t n)
{
    size_t para = 0;
    int pending_nl = 0; /* newlines since the last visible character */
    for (size_t i = 0; i < n; i++) {
        size_t w = newline_at(s, n, i);
        if (w) {
            i += w - 1;
            if (++pending_nl >= 2)
                para = 0;
            continue;
        }
        if (pending_nl && (s[i] == ' ' || s[i] == '\t'))
            continue; /* "\n  \n" is still a blank line */
        if (pending_nl == 1)
            para++; /* the newline itself is a char */
        pending_nl = 0;
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++para > RUNS_FILTER_MAX_PARAGRAPH)
            return 1;
    }
    return 0;
}

/* Decodes one UTF-8 code point at s[i]; returns its byte length (1 for invalid bytes, cp = -1). */
static size_t utf8_next(const unsigned char *s, size_t n, size_t i, int32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    size_t len = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (!len || c >= 0xF8 || i + len > n) {
        *cp = -1;
        return 1;
    }
    int32_t v = (int32_t)(c & (0x7F >> len));
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i + k] & 0x3F);
    }
    *cp = v;
    return len;
}

static int is_latin_letter(int32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
           (c >= 0x1E00 && c <= 0x1EFF);
}

static int is_foreign_letter(int32_t c)
{
    return (c >= 0x0370 && c <= 0x03FF)    /* Greek */
           || (c >= 0x0400 && c <= 0x052F) /* Cyrillic */
           || (c >= 0x0530 && c <= 0x058F) /* Armenian */
           || (c >= 0x0590 && c <= 0x05FF) /* Hebrew */
           || (c >= 0x0600 && c <= 0x06FF) /* Arabic */
           || (c >= 0x0750 && c <= 0x077F) || (c >= 0x08A0 && c <= 0x08FF) ||
           (c >= 0x0900 && c <= 0x0DFF)                                    /* Indic scripts */
           || (c >= 0x0E00 && c <= 0x0EFF)                                 /* Thai, Lao */
           || (c >= 0x10A0 && c <= 0x10FF)                                 /* Georgian */
           || (c >= 0x1100 && c <= 0x11FF)                                 /* Hangul Jamo */
           || (c >= 0x3040 && c <= 0x30FF)                                 /* Hiragana, Katakana */
           || (c >= 0x3400 && c <= 0x4DBF)                                 /* CJK Extension A */
           || (c >= 0x4E00 && c <= 0x9FFF)                                 /* CJK */
           || (c >= 0xAC00 && c <= 0xD7AF)                                 /* Hangul syllables */
           || (c >= 0xF900 && c <= 0xFAFF)                                 /* CJK compatibility */
           || (c >= 0xFB50 && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF) /* Arabic presentation */
           || (c >= 0x20000 && c <= 0x2FFFF);                              /* CJK Extensions B.. */
}

static int foreign_script(const turn_t *t, int nt)
{
    long latin = 0, foreign = 0;
    for (int k = 0; k < nt; k++) {
        const unsigned char *s = (const unsigned char *)t[k].p;
        for (size_t i = 0; i < t[k].len;) {
            int32_t cp;
            i += utf8_next(s, t[k].len, i, &cp);
            if (is_latin_letter(cp))
                latin++;
            else if (is_foreign_letter(cp))
                foreign++;
        }
    }
    return foreign >= RUNS_FILTER_FOREIGN_MIN_LETTERS &&
           (double)foreign > RUNS_FILTER_FOREIGN_FRACTION * (double)(latin + foreign);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int window_low(const uint64_t *bg, size_t n)
{
    uint64_t w[RUNS_FILTER_BIGRAM_WINDOW];
    memcpy(w, bg, n * sizeof *w);
    qsort(w, n, sizeof *w, cmp_u64);
    size_t distinct = n ? 1 : 0;
    for (size_t i = 1; i < n; i++)
        distinct += w[i] != w[i - 1];
    return (double)distinct < RUNS_FILTER_BIGRAM_RATIO * (double)n;
}

static int low_diversity(const turn_t *t, int nt)
{
    size_t cap = 256, nw = 0;
    uint64_t *words = malloc(cap * sizeof *words);
    int low = 0;
    if (!words)
        return 0;
    for (int k = 0; k < nt; k++) {
        const unsigned char *s = (const unsigned char *)t[k].p;
        size_t n = t[k].len, i = 0;
        while (i < n) {
            if (newline_at(t[k].p, n, i) == 2) { /* the "n" of an escaped newline is not a word */
                i += 2;
                continue;
            }
            unsigned c = s[i];
            int wordch = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
            if (!wordch) {
                i++;
                continue;
            }
            uint64_t h = 1469598103934665603ULL;
            while (i < n) {
                c = s[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80))
                    break;
                if (c >= 'A' && c <= 'Z')
                    c += 32;
                h = (h ^ c) * 1099511628211ULL;
                i++;
            }
            if (nw == cap) {
                uint64_t *p = realloc(words, 2 * cap * sizeof *p);
                if (!p)
                    goto done;
                words = p;
                cap *= 2;
            }
            words[nw++] = h;
        }
    }
    if (nw < 2)
        goto done;
    size_t nb = nw - 1;
    if (nb < RUNS_FILTER_BIGRAM_MIN)
        goto done;
    /* bigram i = (words[i], words[i+1]) folded to 64 bits */
    for (size_t i = 0; i < nb; i++)
        words[i] = words[i] * 0x9E3779B97F4A7C15ULL ^ (words[i + 1] + (words[i + 1] << 17));
    if (nb <= RUNS_FILTER_BIGRAM_WINDOW) {
        low = window_low(words, nb);
        goto done;
    }
    for (size_t s = 0;; s += RUNS_FILTER_BIGRAM_WINDOW / 2) {
        if (s + RUNS_FILTER_BIGRAM_WINDOW > nb)
            s = nb - RUNS_FILTER_BIGRAM_WINDOW;
        if (window_low(words + s, RUNS_FILTER_BIGRAM_WINDOW)) {
            low = 1;
            break;
        }
        if (s + RUNS_FILTER_BIGRAM_WINDOW >= nb)
            break;
    }
done:
    free(words);
    return low;
}

int runs_filter_classify(const char *line, size_t len)
{
    turn_t t[MAX_TURNS];
    int nt = split_turns(line, len, t);
    if (runs_filter_has_system_prompt_shape(t[0].p, t[0].len))
        return RUNS_FILTER_SYSTEM_PROMPT;
    for (int k = 0; k < nt; k++)
        if (has_oversize_paragraph(t[k].p, t[k].len))
            return RUNS_FILTER_OVERSIZE;
    /* the response: assistant turns, else the whole line */
    turn_t r[MAX_TURNS];
    int nr = 0;
    for (int k = 0; k < nt; k++)
        if (t[k].role == '<')
            r[nr++] = t[k];
    if (!nr) {
        r[0] = (turn_t){line, len, 0};
        nr = 1;
    }
    if (foreign_script(r, nr))
        return RUNS_FILTER_FOREIGN_SCRIPT;
    if (low_diversity(r, nr))
        return RUNS_FILTER_LOW_DIVERSITY;
    return RUNS_FILTER_KEEP;
}

void runs_filter_stats_free(runs_filter_stats *st)
{
    for (int r = 0; r < RUNS_FILTER_N_RULES; r++) {
        for (int i = 0; i < st->n_examples[r]; i++)
            free(st->examples[r][i]);
        free(st->examples[r]);
    }
    memset(st, 0, sizeof *st);
}

static void keep_example(runs_filter_stats *st, int rule, long lineno, const char *line, size_t len)
{
    if (st->n_examples[rule] >= st->show)
        return;
    if (!st->examples[rule])
        st->examples[rule] = calloc((size_t)st->show, sizeof(char *));
    if (!st->examples[rule])
        return;
    size_t shown = len > 160 ? 160 : len;
    while (shown < len && shown > 0 && ((unsigned char)line[shown] & 0xC0) == 0x80)
        shown--; /* whole code points */
    char *e = malloc(shown + 64);
    if (!e)
        return;
    snprintf(e, shown + 64, "line %ld: %.*s%s", lineno, (int)shown, line, shown < len ? " [...]" : "");
    st->examples[rule][st->n_examples[rule]++] = e;
}

int runs_filter_file(runs_filter_stats *st, const char *in_path, const char *out_path, int show_dropped)
{
    memset(st, 0, sizeof *st);
    st->show = show_dropped > 0 ? show_dropped : 0;
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    runs_publish *pub = NULL; /* the output appears whole, or the old file stays */
    FILE *out = NULL;
    FILE *in = fopen(in_path, "rb");
    if (!in) {
        if (errno == ENOENT)
            return runs_error_set(RUNS_ENOTFOUND, "input %s does not exist", in_path);
        return runs_error_sys(RUNS_EIO, "open", in_path);
    }
    if ((rc = runs_publish_open(&pub, out_path, 0644)) != 0)
        goto done;
    if (!(out = runs_publish_file(pub))) {
        rc = runs_error_code();
        goto done;
    }
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        int had_nl = len && line[len - 1] == '\n';
        if (had_nl)
            len--;
        size_t body = len;
        if (body && line[body - 1] == '\r')
            body--;
        if (!body)
            continue;
        st->in++;
        int rule = runs_filter_classify(line, body);
        if (rule == RUNS_FILTER_KEEP) {
            st->out++;
            if (fwrite(line, 1, len, out) != len || fputc('\n', out) == EOF) {
                rc = runs_error_sys(RUNS_EIO, "write", out_path);
                goto done;
            }
        } else {
            st->by_rule[rule]++;
            keep_example(st, rule, lineno, line, body);
        }
    }
    if (ferror(in)) {
        rc = runs_error_sys(RUNS_EIO, "read", in_path);
        goto done;
    }
    rc = runs_publish_commit(pub);
    pub = NULL;
done:
    runs_publish_abort(pub);
    fclose(in);
    free(line);
    return rc;
}

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || !b->s)
        return;
    if (b->n + (size_t)k + 1 > b->cap) {
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *p = realloc(b->s, nc);
        if (!p)
            return;
        b->s = p;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

char *runs_filter_report(const runs_filter_stats *st, const char *source)
{
    sbuf b = {malloc(1024), 0, 1024};
    if (!b.s)
        return NULL;
    b.s[0] = 0;
    long dropped = st->in - st->out;
    int w = (int)strlen(source);
    if (w < 6)
        w = 6;
    sb_printf(&b, "%-*s  %10s  %10s  %8s\n", w, "source", "in-lines", "out-lines", "dropped");
    sb_printf(&b, "%-*s  %10ld  %10ld  %7.1f%%\n", w, source, st->in, st->out,
              st->in ? 100.0 * (double)dropped / (double)st->in : 0.0);
    sb_printf(&b, "\n%-22s  %10s  %8s\n", "rule", "dropped", "of in");
    for (int r = 1; r < RUNS_FILTER_N_RULES; r++)
        sb_printf(&b, "%-22s  %10ld  %7.1f%%\n", rule_names[r], st->by_rule[r],
                  st->in ? 100.0 * (double)st->by_rule[r] / (double)st->in : 0.0);
    for (int r = 1; r < RUNS_FILTER_N_RULES; r++) {
        if (!st->n_examples[r])
            continue;
        sb_printf(&b, "\ndropped by %s (%d of %ld):\n", rule_names[r], st->n_examples[r], st->by_rule[r]);
        for (int i = 0; i < st->n_examples[r]; i++)
            sb_printf(&b, "  %s\n", st->examples[r][i]);
    }
    return b.s;
}

int runs_filter_run(char **report, const char *in_path, const char *out_path, const char *source, int show_dropped)
{
    runs_filter_stats st;
    *report = NULL;
    if (!source) {
        const char *slash = strrchr(in_path, '/');
        source = slash ? slash + 1 : in_path;
    }
    int rc = runs_filter_file(&st, in_path, out_path, show_dropped);
    if (rc != 0)
        goto done;
    if (!(*report = runs_filter_report(&st, source)))
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing the filter report for %s (%s was written)", in_path,
                            out_path);
done:
    runs_filter_stats_free(&st);
    return rc;
}

char *runs_filter_help_text(void)
{
    /* one text for both CLIs, so their --help cannot drift apart; the numbers come
     * from the thresholds the rules use */
    static const char *fmt = "Drops examples that would teach the model the wrong thing, by shape not by\n"
                             "character (the seed's v2.5 filter). IN holds one example per line, turns as\n"
                             "\"> user text / < assistant text\" with newlines written \\n. Kept lines are\n"
                             "copied to OUT unchanged; a table (source, in-lines, out-lines, dropped %%) and\n"
                             "per-rule counts go to stdout.\n\n"
                             "rules (a line counts under the first that fires):\n"
                             "  system-prompt-shape   first user turn: 3+ markdown headers; 2+ headers and\n"
                             "                        >= 500 chars; or an agent fingerprint phrase (\"# Agent \",\n"
                             "                        \"Shadow Clone\", \"Your shard\", \"Read it. Become it\",\n"
                             "                        \"This file defines\") with any header or >= 400 chars\n"
                             "  oversize-paragraph    a paragraph over %d chars in any turn\n"
                             "  foreign-script        response letters in CJK, Cyrillic, Arabic, ... scripts\n"
                             "                        > %.0f%% of its letters (and at least %d)\n"
                             "  low-bigram-diversity  a window of %d word bigrams in the response with fewer\n"
                             "                        than %.0f%% distinct\n\n";
#define HELP_ARGS                                                                                                      \
    RUNS_FILTER_MAX_PARAGRAPH, RUNS_FILTER_FOREIGN_FRACTION * 100, RUNS_FILTER_FOREIGN_MIN_LETTERS,                    \
        RUNS_FILTER_BIGRAM_WINDOW, RUNS_FILTER_BIGRAM_RATIO * 100
    int n = snprintf(NULL, 0, fmt, HELP_ARGS);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        runs_error_set(RUNS_ENOMEM, "out of memory writing the filter's help");
        return NULL;
    }
    snprintf(s, (size_t)n + 1, fmt, HELP_ARGS);
#undef HELP_ARGS
    return s;
}
