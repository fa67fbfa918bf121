/* tools/bpe.c — byte-level BPE (see bpe.h for ids, pre-splitting and the file format).
 *
 * Training counts unique pre-split chunks ("words") with their frequencies, keeps
 * pair counts over the unique words, and after each merge updates only the words
 * that contain the merged pair (found through a per-pair list of word indices).
 * The best pair comes from a lazy max-heap: every count change pushes a fresh
 * entry and entries whose count no longer matches are skipped when popped.
 */
#include "tools/bpe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/publish.h"

static const char *const special_literals[RUNS_BPE_N_SPECIAL] = {"<|endoftext|>", "<|user|>", "<|assistant|>",
                                                                 "<|system|>"};

struct runs_bpe {
    int vocab_size;
    int n_merges;
    int32_t *merge_a, *merge_b; /* n_merges */
    /* token bytes: tok_off[id] .. tok_off[id] + tok_len[id] in tok_bytes */
    uint32_t *tok_off, *tok_len;
    char *tok_bytes;
    /* (a,b) -> rank, open addressing */
    uint64_t *mkeys;
    int32_t *mvals;
    size_t mcap;
};

/* ---------- small helpers ---------- */

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return hash64(h);
}

static inline uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

int runs_tokens_push(runs_tokens *t, int32_t id)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 1024;
        int32_t *p = realloc(t->ids, nc * sizeof *p);
        if (!p)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing a token buffer to %zu tokens", nc);
        t->ids = p;
        t->cap = nc;
    }
    t->ids[t->n++] = id;
    return 0;
}

int runs_bpe_special_id(const char *literal)
{
    for (int i = 0; i < RUNS_BPE_N_SPECIAL; i++)
        if (strcmp(literal, special_literals[i]) == 0)
            return RUNS_BPE_EOT + i;
    return -1;
}

/* If a special literal starts at s (n bytes left), returns its id and sets *len. */
static int match_special(const uint8_t *s, size_t n, size_t *len)
{
    if (n < 2 || s[0] != '<' || s[1] != '|')
        return -1;
    for (int i = 0; i < RUNS_BPE_N_SPECIAL; i++) {
        size_t l = strlen(special_literals[i]);
        if (n >= l && memcmp(s, special_literals[i], l) == 0) {
            *len = l;
            return RUNS_BPE_EOT + i;
        }
    }
    return -1;
}

/* ---------- pre-splitting ---------- */

enum { C_LETTER, C_DIGIT, C_SPACE, C_NEWLINE, C_OTHER };

static inline int cls(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
        return C_LETTER;
    if (c >= '0' && c <= '9')
        return C_DIGIT;
    if (c == '\n' || c == '\r')
        return C_NEWLINE;
    if (c == ' ' || c == '\t' || c == '\v' || c == '\f')
        return C_SPACE;
    return C_OTHER;
}

/* Length of the chunk starting at s[0] (n > 0 bytes available). */
static size_t chunk_len(const uint8_t *s, size_t n)
{
    size_t max = n < RUNS_BPE_MAX_CHUNK ? n : RUNS_BPE_MAX_CHUNK;
    size_t i = 0;
    int c = cls(s[0]);
    if (s[0] == ' ' && n > 1) {
        int c1 = cls(s[1]);
        if (c1 == C_LETTER || c1 == C_DIGIT || c1 == C_OTHER) {
            i = 1;
            c = c1;
        }
    }
    switch (c) {
    case C_LETTER:
    case C_OTHER:
        while (i < max && cls(s[i]) == c)
            i++;
        break;
    case C_DIGIT: {
        size_t start = i;
        while (i < max && i - start < 3 && cls(s[i]) == C_DIGIT)
            i++;
        break;
    }
    case C_NEWLINE:
        while (i < max && cls(s[i]) == C_NEWLINE)
            i++;
        break;
    default: /* spaces: leave a final ' ' to the word after it */
        while (i < max && cls(s[i]) == C_SPACE)
            i++;
        if (i > 1 && i < n && s[i - 1] == ' ') {
            int cn = cls(s[i]);
            if (cn == C_LETTER || cn == C_DIGIT || cn == C_OTHER)
                i--;
        }
        break;
    }
    return i ? i : 1;
}

/* ---------- trainer: word counting ---------- */

typedef struct {
    uint64_t hash;
    uint32_t off, len; /* in arena */
    int64_t count;
} word_slot;

struct runs_bpe_trainer {
    word_slot *slots; /* open addressing; len == 0 means empty */
    size_t cap, used;
    uint8_t *arena;
    size_t arena_len, arena_cap;
};

int runs_bpe_trainer_new(runs_bpe_trainer **out)
{
    *out = NULL;
    runs_bpe_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return runs_error_set(RUNS_ENOMEM, "out of memory creating a BPE trainer");
    t->cap = 1 << 16;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return runs_error_set(RUNS_ENOMEM, "out of memory creating a BPE trainer");
    }
    *out = t;
    return 0;
}

void runs_bpe_trainer_free(runs_bpe_trainer *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->arena);
    free(t);
}

static int trainer_grow(runs_bpe_trainer *t)
{
    size_t nc = t->cap * 2;
    word_slot *ns = calloc(nc, sizeof *ns);
    if (!ns)
        return runs_error_set(RUNS_ENOMEM, "out of memory growing the BPE word table");
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].len)
            continue;
        size_t j = t->slots[i].hash & (nc - 1);
        while (ns[j].len)
            j = (j + 1) & (nc - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = nc;
    return 0;
}

static int trainer_count(runs_bpe_trainer *t, const uint8_t *w, size_t len)
{
    uint64_t h = hash_bytes(w, len);
    size_t j = h & (t->cap - 1);
    while (t->slots[j].len) {
        word_slot *s = &t->slots[j];
        if (s->hash == h && s->len == len && memcmp(t->arena + s->off, w, len) == 0) {
            s->count++;
            return 0;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->arena_len + len > t->arena_cap) {
        size_t nc = t->arena_cap ? t->arena_cap * 2 : 1 << 20;
        while (nc < t->arena_len + len)
            nc *= 2;
        uint8_t *p = realloc(t->arena, nc);
        if (!p)
            return runs_error_set(RUNS_ENOMEM, "out of memory storing BPE training words");
        t->arena = p;
        t->arena_cap = nc;
    }
    memcpy(t->arena + t->arena_len, w, len);
    t->slots[j] = (word_slot){h, (uint32_t)t->arena_len, (uint32_t)len, 1};
    t->arena_len += len;
    if (++t->used * 2 > t->cap)
        return trainer_grow(t);
    return 0;
}

int runs_bpe_trainer_add(runs_bpe_trainer *t, const void *text, size_t len)
{
    const uint8_t *s = text;
    size_t i = 0;
    while (i < len) {
        size_t sl;
        if (s[i] == '<' && match_special(s + i, len - i, &sl) >= 0) {
            i += sl;
            continue;
        }
        size_t end = i + 1;
        /* a chunk never runs into a special literal */
        size_t cl = chunk_len(s + i, len - i);
        for (end = i + 1; end < i + cl; end++)
            if (s[end] == '<' && match_special(s + end, len - end, &sl) >= 0)
                break;
        int rc = trainer_count(t, s + i, end - i);
        if (rc)
            return rc;
        i = end;
    }
    return 0;
}

/* ---------- trainer: merges ---------- */

typedef struct {
    int32_t a, b;
    int64_t count, pushed;
    int32_t *where; /* word indices, may repeat */
    uint32_t nwhere, capwhere;
    uint32_t stamp;
} pair_t;

typedef struct {
    int64_t count;
    uint64_t key;
} heap_ent;

typedef struct {
    /* pair table */
    pair_t *pairs;
    size_t npairs, cappairs;
    uint64_t *hkeys;
    int32_t *hvals; /* index into pairs, -1 empty */
    size_t hcap;
    /* heap */
    heap_ent *heap;
    size_t nheap, capheap;
} pairset;

static int heap_less(const heap_ent *x, const heap_ent *y) /* x below y in a max-heap */
{
    if (x->count != y->count)
        return x->count < y->count;
    return x->key > y->key; /* smaller key wins ties */
}

static int heap_push(pairset *ps, int64_t count, uint64_t key)
{
    if (ps->nheap == ps->capheap) {
        size_t nc = ps->capheap ? ps->capheap * 2 : 1 << 16;
        heap_ent *p = realloc(ps->heap, nc * sizeof *p);
        if (!p)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing the BPE pair heap");
        ps->heap = p;
        ps->capheap = nc;
    }
    size_t i = ps->nheap++;
    ps->heap[i] = (heap_ent){count, key};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&ps->heap[p], &ps->heap[i]))
            break;
        heap_ent tmp = ps->heap[p];
        ps->heap[p] = ps->heap[i];
        ps->heap[i] = tmp;
        i = p;
    }
    return 0;
}

static heap_ent heap_pop(pairset *ps)
{
    heap_ent top = ps->heap[0];
    ps->heap[0] = ps->heap[--ps->nheap];
    size_t i = 0, n = ps->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(&ps->heap[m], &ps->heap[l]))
            m = l;
        if (r < n && heap_less(&ps->heap[m], &ps->heap[r]))
            m = r;
        if (m == i)
            break;
        heap_ent tmp = ps->heap[m];
        ps->heap[m] = ps->heap[i];
        ps->heap[i] = tmp;
        i = m;
    }
    return top;
}

static int pair_find(const pairset *ps, uint64_t key)
{
    size_t j = hash64(key) & (ps->hcap - 1);
    while (ps->hvals[j] >= 0) {
        if (ps->hkeys[j] == key)
            return ps->hvals[j];
        j = (j + 1) & (ps->hcap - 1);
    }
    return -1;
}

static int pair_get(pairset *ps, int32_t a, int32_t b, int32_t *idx)
{
    uint64_t key = pair_key(a, b);
    size_t j = hash64(key) & (ps->hcap - 1);
    while (ps->hvals[j] >= 0) {
        if (ps->hkeys[j] == key) {
            *idx = ps->hvals[j];
            return 0;
        }
        j = (j + 1) & (ps->hcap - 1);
    }
    if (ps->npairs == ps->cappairs) {
        size_t nc = ps->cappairs ? ps->cappairs * 2 : 1 << 14;
        pair_t *p = realloc(ps->pairs, nc * sizeof *p);
        if (!p)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing the BPE pair table");
        ps->pairs = p;
        ps->cappairs = nc;
    }
    int32_t id = (int32_t)ps->npairs++;
    ps->pairs[id] = (pair_t){.a = a, .b = b};
    ps->hkeys[j] = key;
    ps->hvals[j] = id;
    *idx = id;
    if (ps->npairs * 2 > ps->hcap) {
        size_t nc = ps->hcap * 2;
        uint64_t *nk = malloc(nc * sizeof *nk);
        int32_t *nv = malloc(nc * sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return runs_error_set(RUNS_ENOMEM, "out of memory growing the BPE pair index");
        }
        memset(nv, 0xff, nc * sizeof *nv);
        for (size_t i = 0; i < ps->hcap; i++) {
            if (ps->hvals[i] < 0)
                continue;
            size_t k = hash64(ps->hkeys[i]) & (nc - 1);
            while (nv[k] >= 0)
                k = (k + 1) & (nc - 1);
            nk[k] = ps->hkeys[i];
            nv[k] = ps->hvals[i];
        }
        free(ps->hkeys);
        free(ps->hvals);
        ps->hkeys = nk;
        ps->hvals = nv;
        ps->hcap = nc;
    }
    return 0;
}

static int where_add(pair_t *p, int32_t w)
{
    if (p->nwhere && p->where[p->nwhere - 1] == w)
        return 0;
    if (p->nwhere == p->capwhere) {
        uint32_t nc = p->capwhere ? p->capwhere * 2 : 4;
        int32_t *q = realloc(p->where, nc * sizeof *q);
        if (!q)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing a BPE pair's word list");
        p->where = q;
        p->capwhere = nc;
    }
    p->where[p->nwhere++] = w;
    return 0;
}

typedef struct {
    int32_t *seq;
    int32_t len;
    int64_t count;
    uint32_t stamp;
} word_t;

/* Adds delta * word count to every adjacent pair of w; records touched pairs. */
static int word_pairs(pairset *ps, word_t *words, int32_t w, int64_t delta, int32_t only_with, uint32_t stamp,
                      int32_t **touched, size_t *ntouched, size_t *captouched)
{
    word_t *wd = &words[w];
    for (int32_t i = 0; i + 1 < wd->len; i++) {
        int32_t idx = -1;
        int rc = pair_get(ps, wd->seq[i], wd->seq[i + 1], &idx);
        if (rc)
            return rc;
        pair_t *p = &ps->pairs[idx];
        p->count += delta * wd->count;
        if (delta > 0 && (only_with < 0 || p->a == only_with || p->b == only_with)) {
            rc = where_add(p, w);
            if (rc)
                return rc;
        }
        if (p->stamp != stamp) {
            p->stamp = stamp;
            if (*ntouched == *captouched) {
                size_t nc = *captouched ? *captouched * 2 : 1024;
                int32_t *q = realloc(*touched, nc * sizeof *q);
                if (!q)
                    return runs_error_set(RUNS_ENOMEM, "out of memory in BPE training");
                *touched = q;
                *captouched = nc;
            }
            (*touched)[(*ntouched)++] = idx;
        }
    }
    return 0;
}

static int build_tables(runs_bpe *b);

int runs_bpe_trainer_finish(runs_bpe **out, runs_bpe_trainer *t, int vocab_size)
{
    *out = NULL;
    if (vocab_size < RUNS_BPE_FIRST_MERGE || vocab_size > RUNS_BPE_MAX_VOCAB)
        return runs_error_set(RUNS_EINVALID, "vocab size %d is out of range: use %d..%d", vocab_size,
                              RUNS_BPE_FIRST_MERGE, RUNS_BPE_MAX_VOCAB);
    int rc = 0;
    int want = vocab_size - RUNS_BPE_FIRST_MERGE;
    word_t *words = NULL;
    size_t nw = 0;
    pairset ps = {0};
    int32_t *touched = NULL, *seqbuf = NULL;
    size_t ntouched = 0, captouched = 0;
    runs_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return runs_error_set(RUNS_ENOMEM, "out of memory creating a tokenizer");
    b->vocab_size = vocab_size;
    b->merge_a = malloc((want ? want : 1) * sizeof(int32_t));
    b->merge_b = malloc((want ? want : 1) * sizeof(int32_t));
    words = calloc(t->used ? t->used : 1, sizeof *words);
    size_t total_len = 0;
    for (size_t i = 0; i < t->cap; i++)
        total_len += t->slots[i].len;
    seqbuf = malloc((total_len ? total_len : 1) * sizeof *seqbuf);
    ps.hcap = 1 << 16;
    ps.hkeys = malloc(ps.hcap * sizeof *ps.hkeys);
    ps.hvals = malloc(ps.hcap * sizeof *ps.hvals);
    if (!b->merge_a || !b->merge_b || !words || !seqbuf || !ps.hkeys || !ps.hvals) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory preparing BPE training");
        goto done;
    }
    memset(ps.hvals, 0xff, ps.hcap * sizeof *ps.hvals);

    /* Words in slot order: the order only affects where-lists, not the counts,
     * and the heap's tie rule makes the choice of merge independent of it. */
    size_t off = 0;
    for (size_t i = 0; i < t->cap; i++) {
        word_slot *s = &t->slots[i];
        if (!s->len)
            continue;
        word_t *w = &words[nw];
        w->seq = seqbuf + off;
        w->len = (int32_t)s->len;
        w->count = s->count;
        for (uint32_t k = 0; k < s->len; k++)
            w->seq[k] = t->arena[s->off + k];
        off += s->len;
        rc = word_pairs(&ps, words, (int32_t)nw, 1, -1, 0, &touched, &ntouched, &captouched);
        if (rc)
            goto done;
        nw++;
    }
    for (size_t i = 0; i < ps.npairs; i++) {
        ps.pairs[i].pushed = ps.pairs[i].count;
        ps.pairs[i].stamp = 0;
        rc = heap_push(&ps, ps.pairs[i].count, pair_key(ps.pairs[i].a, ps.pairs[i].b));
        if (rc)
            goto done;
    }

    uint32_t stamp = 0;
    while (b->n_merges < want && ps.nheap > 0) {
        heap_ent top = heap_pop(&ps);
        int idx = pair_find(&ps, top.key);
        if (idx < 0 || ps.pairs[idx].count != top.count)
            continue; /* stale */
        if (top.count < 2)
            break;
        int32_t pa = ps.pairs[idx].a, pb = ps.pairs[idx].b;
        int32_t nid = RUNS_BPE_FIRST_MERGE + b->n_merges;
        b->merge_a[b->n_merges] = pa;
        b->merge_b[b->n_merges] = pb;
        b->n_merges++;

        /* detach the word list: the pair table may move while we update */
        int32_t *where = ps.pairs[idx].where;
        uint32_t nwhere = ps.pairs[idx].nwhere;
        ps.pairs[idx].where = NULL;
        ps.pairs[idx].nwhere = ps.pairs[idx].capwhere = 0;
        stamp++;
        ntouched = 0;
        for (uint32_t k = 0; k < nwhere; k++) {
            int32_t w = where[k];
            word_t *wd = &words[w];
            if (wd->stamp == stamp)
                continue;
            wd->stamp = stamp;
            int has = 0;
            for (int32_t i = 0; i + 1 < wd->len; i++)
                if (wd->seq[i] == pa && wd->seq[i + 1] == pb) {
                    has = 1;
                    break;
                }
            if (!has)
                continue;
            rc = word_pairs(&ps, words, w, -1, -1, stamp, &touched, &ntouched, &captouched);
            if (rc)
                break;
            int32_t j = 0;
            for (int32_t i = 0; i < wd->len; i++) {
                if (i + 1 < wd->len && wd->seq[i] == pa && wd->seq[i + 1] == pb) {
                    wd->seq[j++] = nid;
                    i++;
                } else {
                    wd->seq[j++] = wd->seq[i];
                }
            }
            wd->len = j;
            rc = word_pairs(&ps, words, w, 1, nid, stamp, &touched, &ntouched, &captouched);
            if (rc)
                break;
        }
        free(where);
        if (rc)
            goto done;
        for (size_t k = 0; k < ntouched; k++) {
            pair_t *p = &ps.pairs[touched[k]];
            if (p->count != p->pushed && p->count > 0) {
                rc = heap_push(&ps, p->count, pair_key(p->a, p->b));
                if (rc)
                    goto done;
            }
            p->pushed = p->count;
        }
    }
    rc = build_tables(b);
    if (rc)
        goto done;
    *out = b;
    b = NULL;
done:
    for (size_t i = 0; i < ps.npairs; i++)
        free(ps.pairs[i].where);
    free(ps.pairs);
    free(ps.hkeys);
    free(ps.hvals);
    free(ps.heap);
    free(touched);
    free(seqbuf);
    free(words);
    runs_bpe_free(b);
    return rc;
}

int runs_bpe_train(runs_bpe **out, const void *text, size_t len, int vocab_size)
{
    runs_bpe_trainer *t = NULL;
    *out = NULL;
    int rc = runs_bpe_trainer_new(&t);
    if (!rc)
        rc = runs_bpe_trainer_add(t, text, len);
    if (!rc)
        rc = runs_bpe_trainer_finish(out, t, vocab_size);
    runs_bpe_trainer_free(t);
    return rc;
}

/* ---------- tables, save, load ---------- */

void runs_bpe_free(runs_bpe *b)
{
    if (!b)
        return;
    free(b->merge_a);
    free(b->merge_b);
    free(b->tok_off);
    free(b->tok_len);
    free(b->tok_bytes);
    free(b->mkeys);
    free(b->mvals);
    free(b);
}

/* Builds token byte strings and the merge index from merge_a/merge_b. */
static int build_tables(runs_bpe *b)
{
    int V = b->vocab_size;
    b->tok_off = calloc(V, sizeof *b->tok_off);
    b->tok_len = calloc(V, sizeof *b->tok_len);
    size_t total = 256;
    for (int i = 0; i < RUNS_BPE_N_SPECIAL; i++)
        total += strlen(special_literals[i]);
    if (!b->tok_off || !b->tok_len)
        return runs_error_set(RUNS_ENOMEM, "out of memory building the tokenizer");
    /* lengths first, to size the byte store */
    for (int i = 0; i < 256; i++)
        b->tok_len[i] = 1;
    for (int i = 0; i < RUNS_BPE_N_SPECIAL; i++)
        b->tok_len[256 + i] = (uint32_t)strlen(special_literals[i]);
    for (int m = 0; m < b->n_merges; m++) {
        uint32_t l = b->tok_len[b->merge_a[m]] + b->tok_len[b->merge_b[m]];
        /* merges stay inside one pre-split chunk, so no real token is longer; a file
         * that chains merges (a a, 260 260, ...) would double the length each line */
        if (l > RUNS_BPE_MAX_CHUNK)
            return runs_error_set(RUNS_ECORRUPT,
                                  "tokenizer merge %d makes a %u-byte token, longer than a %d-byte chunk: "
                                  "the file is corrupt, train it again",
                                  m, l, RUNS_BPE_MAX_CHUNK);
        b->tok_len[RUNS_BPE_FIRST_MERGE + m] = l;
        total += l;
    }
    b->tok_bytes = malloc(total + 1);
    if (!b->tok_bytes)
        return runs_error_set(RUNS_ENOMEM, "out of memory building the tokenizer");
    size_t off = 0;
    for (int i = 0; i < 256; i++) {
        b->tok_off[i] = (uint32_t)off;
        b->tok_bytes[off++] = (char)i;
    }
    for (int i = 0; i < RUNS_BPE_N_SPECIAL; i++) {
        b->tok_off[256 + i] = (uint32_t)off;
        memcpy(b->tok_bytes + off, special_literals[i], b->tok_len[256 + i]);
        off += b->tok_len[256 + i];
    }
    for (int m = 0; m < b->n_merges; m++) {
        int id = RUNS_BPE_FIRST_MERGE + m, a = b->merge_a[m], c = b->merge_b[m];
        b->tok_off[id] = (uint32_t)off;
        memcpy(b->tok_bytes + off, b->tok_bytes + b->tok_off[a], b->tok_len[a]);
        memcpy(b->tok_bytes + off + b->tok_len[a], b->tok_bytes + b->tok_off[c], b->tok_len[c]);
        off += b->tok_len[id];
    }
    for (int id = RUNS_BPE_FIRST_MERGE + b->n_merges; id < V; id++)
        b->tok_off[id] = (uint32_t)off;
    b->tok_bytes[off] = 0;

    b->mcap = 64;
    while (b->mcap < (size_t)b->n_merges * 2 + 2)
        b->mcap *= 2;
    b->mkeys = malloc(b->mcap * sizeof *b->mkeys);
    b->mvals = malloc(b->mcap * sizeof *b->mvals);
    if (!b->mkeys || !b->mvals)
        return runs_error_set(RUNS_ENOMEM, "out of memory building the tokenizer");
    memset(b->mvals, 0xff, b->mcap * sizeof *b->mvals);
    for (int m = 0; m < b->n_merges; m++) {
        uint64_t key = pair_key(b->merge_a[m], b->merge_b[m]);
        size_t j = hash64(key) & (b->mcap - 1);
        while (b->mvals[j] >= 0) {
            if (b->mkeys[j] == key)
                break; /* duplicate merge: keep the first rank */
            j = (j + 1) & (b->mcap - 1);
        }
        if (b->mvals[j] >= 0)
            continue;
        b->mkeys[j] = key;
        b->mvals[j] = m;
    }
    return 0;
}

int runs_bpe_save(const runs_bpe *b, const char *path)
{
    /* publish path: a unique temp (two trainers never share it), fsync, rename */
    runs_publish *p = NULL;
    int rc = runs_publish_open(&p, path, 0644);
    if (rc)
        return rc;
    FILE *f = runs_publish_file(p);
    if (!f) {
        rc = runs_error_code();
        runs_publish_abort(p);
        return rc;
    }
    fprintf(f, "runs-bpe 1\nvocab_size %d\nmerges %d\n", b->vocab_size, b->n_merges);
    for (int m = 0; m < b->n_merges; m++)
        fprintf(f, "%d %d\n", b->merge_a[m], b->merge_b[m]);
    return runs_publish_commit(p); /* a buffered write error surfaces here */
}

int runs_bpe_load(runs_bpe **out, const char *path)
{
    *out = NULL;
    int rc = 0, version = 0, V = 0, M = 0;
    runs_bpe *b = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return runs_error_set(RUNS_ENOTFOUND,
                                  "tokenizer %s does not exist: train one with `runs tokenizer train` or `make corpus`",
                                  path);
        return runs_error_sys(RUNS_EIO, "open", path);
    }
    if (fscanf(f, "runs-bpe %d vocab_size %d merges %d", &version, &V, &M) != 3 || version != 1) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: not a runs tokenizer file (expected a \"runs-bpe 1\" header)", path);
        goto done;
    }
    if (V < RUNS_BPE_FIRST_MERGE || V > RUNS_BPE_MAX_VOCAB || M < 0 || M > V - RUNS_BPE_FIRST_MERGE) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: vocab_size %d with %d merges is out of range", path, V, M);
        goto done;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory loading %s", path);
        goto done;
    }
    b->vocab_size = V;
    b->merge_a = malloc((M ? M : 1) * sizeof(int32_t));
    b->merge_b = malloc((M ? M : 1) * sizeof(int32_t));
    if (!b->merge_a || !b->merge_b) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory loading %s", path);
        goto done;
    }
    for (int m = 0; m < M; m++) {
        int a, c;
        if (fscanf(f, "%d %d", &a, &c) != 2) {
            rc = runs_error_set(RUNS_ECORRUPT, "%s: merge %d (line %d) is missing or malformed", path, m, m + 4);
            goto done;
        }
        int lim = RUNS_BPE_FIRST_MERGE + m;
        if (a < 0 || c < 0 || a >= lim || c >= lim || (a >= 256 && a < RUNS_BPE_FIRST_MERGE) ||
            (c >= 256 && c < RUNS_BPE_FIRST_MERGE)) {
            rc = runs_error_set(RUNS_ECORRUPT, "%s: merge %d (line %d) names ids %d %d, not bytes or earlier merges",
                                path, m, m + 4, a, c);
            goto done;
        }
        b->merge_a[m] = a;
        b->merge_b[m] = c;
    }
    b->n_merges = M;
    rc = build_tables(b);
    if (rc)
        goto done;
    *out = b;
    b = NULL;
done:
    fclose(f);
    runs_bpe_free(b);
    return rc;
}

int runs_bpe_vocab_size(const runs_bpe *b)
{
    return b->vocab_size;
}
int runs_bpe_n_merges(const runs_bpe *b)
{
    return b->n_merges;
}

/* ---------- encode / decode ---------- */

static inline int merge_rank(const runs_bpe *b, int32_t x, int32_t y)
{
    uint64_t key = pair_key(x, y);
    size_t j = hash64(key) & (b->mcap - 1);
    while (b->mvals[j] >= 0) {
        if (b->mkeys[j] == key)
            return b->mvals[j];
        j = (j + 1) & (b->mcap - 1);
    }
    return -1;
}

static int encode_chunk(const runs_bpe *b, const uint8_t *s, size_t n, runs_tokens *out)
{
    int32_t seq[RUNS_BPE_MAX_CHUNK];
    int len = (int)n;
    for (int i = 0; i < len; i++)
        seq[i] = s[i];
    while (len > 1) {
        int best = -1;
        for (int i = 0; i + 1 < len; i++) {
            int r = merge_rank(b, seq[i], seq[i + 1]);
            if (r >= 0 && (best < 0 || r < best))
                best = r;
        }
        if (best < 0)
            break;
        int32_t pa = b->merge_a[best], pb = b->merge_b[best], nid = RUNS_BPE_FIRST_MERGE + best;
        int j = 0;
        for (int i = 0; i < len; i++) {
            if (i + 1 < len && seq[i] == pa && seq[i + 1] == pb) {
                seq[j++] = nid;
                i++;
            } else {
                seq[j++] = seq[i];
            }
        }
        len = j;
    }
    for (int i = 0; i < len; i++) {
        int rc = runs_tokens_push(out, seq[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int runs_bpe_encode(const runs_bpe *b, const void *text, size_t len, int flags, runs_tokens *out)
{
    const uint8_t *s = text;
    size_t i = 0;
    int rc;
    while (i < len) {
        size_t sl;
        int sp;
        if ((flags & RUNS_BPE_SPECIALS) && s[i] == '<' && (sp = match_special(s + i, len - i, &sl)) >= 0) {
            if ((rc = runs_tokens_push(out, sp)))
                return rc;
            i += sl;
            continue;
        }
        size_t cl = chunk_len(s + i, len - i), end;
        /* same chunking as training, which always stops at special literals */
        for (end = i + 1; end < i + cl; end++)
            if (s[end] == '<' && match_special(s + end, len - end, &sl) >= 0)
                break;
        if ((rc = encode_chunk(b, s + i, end - i, out)))
            return rc;
        i = end;
    }
    return 0;
}

const char *runs_bpe_token_bytes(const runs_bpe *b, int id, size_t *len)
{
    if (id < 0 || id >= b->vocab_size) {
        *len = 0;
        return "";
    }
    *len = b->tok_len[id];
    return b->tok_bytes + b->tok_off[id];
}

int runs_bpe_decode(const runs_bpe *b, const int32_t *ids, size_t n, char **out, size_t *out_len)
{
    *out = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= b->vocab_size)
            return runs_error_set(RUNS_EINVALID, "token %d at position %zu is outside the vocabulary (size %d)", ids[i],
                                  i, b->vocab_size);
        total += b->tok_len[ids[i]];
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "out of memory decoding %zu tokens", n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, b->tok_bytes + b->tok_off[ids[i]], b->tok_len[ids[i]]);
        off += b->tok_len[ids[i]];
    }
    buf[off] = 0;
    *out = buf;
    if (out_len)
        *out_len = off;
    return 0;
}

/* ---------- documents ---------- */

static size_t put(char *out, size_t o, const char *s)
{
    size_t l = strlen(s);
    memcpy(out + o, s, l);
    return o + l;
}

size_t runs_bpe_prepare_line(const char *line, size_t len, int mode, char *out)
{
    size_t o = 0, i = 0;
    if (mode == RUNS_BPE_DOC_CHAT && len >= 2 && (line[0] == '>' || line[0] == '<') && line[1] == ' ') {
        o = put(out, o, line[0] == '>' ? "<|user|>" : "<|assistant|>");
        i = 2;
    }
    while (i < len) {
        char c = line[i];
        if (mode == RUNS_BPE_DOC_CHAT && c == ' ' && i + 4 < len && line[i + 1] == '/' && line[i + 2] == ' ' &&
            (line[i + 3] == '<' || line[i + 3] == '>') && line[i + 4] == ' ') {
            o = put(out, o, line[i + 3] == '>' ? "<|user|>" : "<|assistant|>");
            i += 5;
            continue;
        }
        if (c == '\\' && i + 1 < len) {
            char d = line[i + 1];
            if (d == 'n' || d == 't' || d == '\\') {
                out[o++] = d == 'n' ? '\n' : d == 't' ? '\t' : '\\';
                i += 2;
                continue;
            }
        }
        out[o++] = c;
        i++;
    }
    out[o] = 0;
    return o;
}

/* Calls fn on each prepared document of text. */
static int for_each_document(const char *text, size_t len, int mode, int (*fn)(void *, const char *, size_t), void *ctx)
{
    if (mode == RUNS_BPE_DOC_FILE)
        return len ? fn(ctx, text, len) : 0;
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t l = e - i;
        if (l && text[i + l - 1] == '\r')
            l--;
        if (l) {
            if (4 * l + 16 > cap) {
                cap = 4 * l + 16;
                char *p = realloc(buf, cap);
                if (!p) {
                    rc = runs_error_set(RUNS_ENOMEM, "out of memory reading a %zu-byte line", l);
                    break;
                }
                buf = p;
            }
            size_t n = runs_bpe_prepare_line(text + i, l, mode, buf);
            if ((rc = fn(ctx, buf, n)))
                break;
        }
        i = e + 1;
    }
    free(buf);
    return rc;
}

typedef struct {
    const runs_bpe *b;
    runs_tokens *out;
    int flags;
    long docs;
} enc_ctx;

static int enc_doc(void *p, const char *s, size_t n)
{
    enc_ctx *c = p;
    int rc = runs_bpe_encode(c->b, s, n, c->flags, c->out);
    if (!rc)
        rc = runs_tokens_push(c->out, RUNS_BPE_EOT);
    c->docs++;
    return rc;
}

int runs_bpe_encode_documents(const runs_bpe *b, const char *text, size_t len, int mode, runs_tokens *out, long *n_docs)
{
    enc_ctx c = {b, out, mode == RUNS_BPE_DOC_CHAT ? RUNS_BPE_SPECIALS : 0, 0};
    int rc = for_each_document(text, len, mode, enc_doc, &c);
    if (n_docs)
        *n_docs += c.docs;
    return rc;
}

static int train_doc(void *p, const char *s, size_t n)
{
    return runs_bpe_trainer_add(p, s, n);
}

int runs_bpe_trainer_add_documents(runs_bpe_trainer *t, const char *text, size_t len, int mode)
{
    return for_each_document(text, len, mode, train_doc, t);
}
