/* runner/coherence.c — the coherence score and gate (formula in coherence.h). */
#include "runner/coherence.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 50

static int is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int is_punct(unsigned char ch)
{
    return ch > ' ' && ch < 0x7f && !(ch >= '0' && ch <= '9') && !((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Counting hash map of non-zero 64-bit keys (hashes of words and n-grams). */
typedef struct {
    uint64_t *key;
    uint32_t *count;
    size_t cap, distinct;
} counter;

static int counter_init(counter *c, size_t n)
{
    c->cap = 16;
    while (c->cap < 2 * n + 16)
        c->cap *= 2;
    c->key = calloc(c->cap, sizeof *c->key);
    c->count = calloc(c->cap, sizeof *c->count);
    c->distinct = 0;
    return c->key && c->count ? 0 : -1;
}

static void counter_free(counter *c)
{
    free(c->key);
    free(c->count);
}

/* Adds delta (+1 or −1) to key's count; returns the new count. */
static uint32_t counter_add(counter *c, uint64_t key, int delta)
{
    if (!key)
        key = 1;
    size_t h = (size_t)mix64(key) & (c->cap - 1);
    while (c->key[h] && c->key[h] != key)
        h = (h + 1) & (c->cap - 1);
    c->key[h] = key;
    uint32_t before = c->count[h];
    c->count[h] = (uint32_t)((int64_t)before + delta);
    if (before == 0 && c->count[h] > 0)
        c->distinct++;
    else if (before > 0 && c->count[h] == 0)
        c->distinct--;
    return c->count[h];
}

typedef struct {
    const char *s;
    size_t len;
} span;

/* The normalised form of a whitespace-delimited token: punctuation trimmed at
 * both ends unless that leaves nothing. */
static span normalise(const char *s, size_t len)
{
    size_t a = 0, b = len;
    while (a < b && is_punct((unsigned char)s[a]))
        a++;
    while (b > a && is_punct((unsigned char)s[b - 1]))
        b--;
    if (a == b)
        return (span){s, len};
    return (span){s + a, b - a};
}

static uint64_t hash_word(span w)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < w.len; i++) {
        unsigned char ch = (unsigned char)w.s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch |= 0x20;
        h = (h ^ ch) * 0x100000001b3ULL;
    }
    return mix64(h);
}

/* Character statistics over the whole text: entropy (whitespace runs = one
 * space, ends trimmed) and the share of letters/digits among non-space bytes. */
static void char_stats(const char *text, double *entropy, double *alnum, size_t *nonspace_out)
{
    size_t hist[256] = {0}, total = 0, nonspace = 0, letters = 0;
    int pending_space = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (is_space(*p)) {
            pending_space = total > 0;
            continue;
        }
        if (pending_space) {
            hist[' ']++;
            total++;
            pending_space = 0;
        }
        hist[*p]++;
        total++;
        nonspace++;
        if (*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
            letters++;
    }
    double h = 0;
    for (int i = 0; i < 256; i++)
        if (hist[i]) {
            double p = (double)hist[i] / (double)total;
            h -= p * log2(p);
        }
    *entropy = h;
    *alnum = nonspace ? (double)letters / (double)nonspace : 0.0;
    *nonspace_out = nonspace;
}

/* Greedy LZ77 parse of the text with whitespace runs folded to one space (ends
 * trimmed): at each position take the longest earlier match (overlap allowed, so
 * "ababab" is one literal pair and one match); a match of LZ_MIN or more bytes
 * costs LZ_MATCH_COST, anything else is a literal costing 1. Returns cost per
 * byte: ~1 for text that never repeats itself, (p + 2)/n for a loop of period p.
 * Back-references reach LZ_WINDOW bytes: far enough for any loop a sampler falls
 * into (periods of 1–20 characters, phrases of a few words), near enough that
 * long prose, which reuses words from far back, keeps its cost per byte near
 * 0.75 at 4 KB instead of sinking toward the loop range (0.64 with a 1 KB
 * window). A match stops at LZ_MAX_LEN, so the work is O(n · LZ_WINDOW) whatever
 * the text. Thresholds: no penalty from LZ_RATIO_HI up (the fixture's sound
 * texts sit at 0.70 and above, 4 KB of prose at 0.75), zero at LZ_RATIO_LO.
 * Loops sit far below (0.37 at most: three repeats of a 20-character unit); the
 * ramp sits this high for the token soup of a diverging run ("uingingingle
 * whingasing…", 0.42–0.49), which no word statistic sees. */
#define LZ_MIN 3
#define LZ_MATCH_COST 2.0
#define LZ_WINDOW 256
#define LZ_MAX_LEN 256
#define LZ_RATIO_LO 0.45
#define LZ_RATIO_HI 0.65
#define SPACE_SHARE_LO 0.6
#define SPACE_SHARE_HI 0.85

#define LZ_HASH_SIZE 4096

static size_t lz_hash(const unsigned char *p)
{
    return (((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]) * 2654435761u >> 7) & (LZ_HASH_SIZE - 1);
}

static double lz_ratio(const char *text, size_t *folded_len)
{
    size_t len = strlen(text), n = 0;
    long *prev = NULL;
    unsigned char *b = malloc(len + 1);
    double ratio = 1.0;
    if (!b)
        goto done; /* out of memory: no evidence either way */
    int pending_space = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (is_space(*p)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space)
            b[n++] = ' ';
        pending_space = 0;
        b[n++] = *p;
    }
    if (!n)
        goto done;
    /* hash chains over 3-byte prefixes: a match of LZ_MIN bytes must start
     * with the same three bytes, so only those candidates are compared (the
     * result is the one a scan of the whole window would find) */
    prev = malloc(n * sizeof *prev);
    if (!prev)
        goto done;
    long head[LZ_HASH_SIZE];
    for (size_t h = 0; h < LZ_HASH_SIZE; h++)
        head[h] = -1;
    double cost = 0;
    size_t inserted = 0;
    for (size_t i = 0; i < n;) {
        size_t best = 0, cap = n - i < LZ_MAX_LEN ? n - i : LZ_MAX_LEN;
        if (i + LZ_MIN <= n) {
            for (long j = head[lz_hash(b + i)]; j >= 0 && i - (size_t)j <= LZ_WINDOW && best < cap; j = prev[j]) {
                size_t k = 0;
                while (k < cap && b[(size_t)j + k] == b[i + k])
                    k++;
                if (k > best)
                    best = k;
            }
        }
        size_t step = best >= LZ_MIN ? best : 1;
        cost += best >= LZ_MIN ? LZ_MATCH_COST : 1.0;
        i += step;
        for (; inserted < i && inserted + LZ_MIN <= n; inserted++) {
            size_t h = lz_hash(b + inserted);
            prev[inserted] = head[h];
            head[h] = (long)inserted;
        }
    }
    ratio = cost / (double)n;
done:
    free(b);
    free(prev);
    if (folded_len)
        *folded_len = n;
    return ratio;
}

double runs_coherence_score(const char *text, runs_coherence_detail *detail)
{
    runs_coherence_detail d;
    memset(&d, 0, sizeof d);
    uint64_t *words = NULL;
    counter uni = {0}, bi = {0}, tri = {0}, win = {0};
    size_t nonspace = 0;
    if (!text)
        text = "";

    char_stats(text, &d.char_entropy, &d.alnum_ratio, &nonspace);
    d.lz_ratio = lz_ratio(text, NULL);
    d.lz_score = clamp01((d.lz_ratio - LZ_RATIO_LO) / (LZ_RATIO_HI - LZ_RATIO_LO));
    {
        size_t len = strlen(text);
        d.space_share = len ? (double)(len - nonspace) / (double)len : 0.0;
        d.space_score = clamp01((SPACE_SHARE_HI - d.space_share) / (SPACE_SHARE_HI - SPACE_SHARE_LO));
    }
    d.char_score = clamp01((d.char_entropy - 1.5) / (3.8 - 1.5));
    d.alnum_score = clamp01(d.alnum_ratio / 0.6);
    d.bigram_div = d.trigram_div = d.word_div = d.dominance = 1.0;
    if (!nonspace)
        goto score; /* empty: alnum_score is 0, so the score is 0 */

    size_t len = strlen(text), n = 0;
    words = malloc((len / 2 + 2) * sizeof *words);
    if (!words || counter_init(&uni, len / 2 + 2) || counter_init(&bi, len / 2 + 2) ||
        counter_init(&tri, len / 2 + 2) || counter_init(&win, len / 2 + 2))
        goto score; /* out of memory: characters only */

    uint32_t top = 0;
    span top_word = {"", 0};
    for (size_t i = 0; i < len;) {
        while (i < len && is_space((unsigned char)text[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space((unsigned char)text[i]))
            i++;
        if (i == start)
            break;
        span w = normalise(text + start, i - start);
        uint64_t h = hash_word(w);
        words[n++] = h;
        uint32_t c = counter_add(&uni, h, 1);
        if (c > top) {
            top = c;
            top_word = w;
        }
        if (n >= 2)
            counter_add(&bi, mix64(words[n - 2] * 31 + h), 1);
        if (n >= 3)
            counter_add(&tri, mix64(mix64(words[n - 3] * 31 + words[n - 2]) * 37 + h), 1);
    }
    d.words = n;
    if (n >= 2)
        d.bigram_div = (double)bi.distinct / (double)(n - 1);
    if (n >= 3)
        d.trigram_div = (double)tri.distinct / (double)(n - 2);
    if (n <= WINDOW) {
        d.word_div = (double)uni.distinct / (double)n;
    } else {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            counter_add(&win, words[i], 1);
            if (i >= WINDOW)
                counter_add(&win, words[i - WINDOW], -1);
            if (i + 1 >= WINDOW)
                sum += (double)win.distinct / WINDOW;
        }
        d.word_div = sum / (double)(n - WINDOW + 1);
    }
    d.top_share = (double)top / (double)n;
    if (n >= 2)
        d.dominance = clamp01((0.25 - (double)(top - 1) / (double)(n - 1 + 5)) / 0.13);
    size_t tl = top_word.len < sizeof d.top_word - 1 ? top_word.len : sizeof d.top_word - 1;
    for (size_t i = 0; i < tl; i++) {
        char ch = top_word.s[i];
        d.top_word[i] = ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch;
    }

score:
    d.score = 100.0 * (0.3 * d.bigram_div + 0.3 * d.trigram_div + 0.2 * d.word_div + 0.2 * d.char_score) * d.dominance *
              d.alnum_score * d.lz_score * d.space_score;
    free(words);
    counter_free(&uni);
    counter_free(&bi);
    counter_free(&tri);
    counter_free(&win);
    if (detail)
        *detail = d;
    return d.score;
}
