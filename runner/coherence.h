/* runner/coherence.h — the sample coherence score and the gate that halts on it.
 *
 * Seed 002, failure 4: v1 produced "region region region", "''''' '''''",
 * "games, games, games" and "Budy Budy Budy" for 85K steps and nobody looked.
 * v2 scored every sample and halted after 5 consecutive scores below 30.
 * Issue 12: score v1 missed loops without spaces ("ieie…" 80, "regionregion…"
 * 89), so a diverged run alternating those with "a a a" (0) never gave the gate
 * 5 lows in a row; score v2 adds the character-level factors z and e.
 *
 * Score v2 (0..100) measures DEGENERATION, not quality; docs/coherence.md has
 * the reasons, the measured numbers and the blind spots.
 *   words: split on whitespace, ASCII-lowercased, leading/trailing ASCII
 *          punctuation stripped ("games," → "games"); a token that is all
 *          punctuation stays as it is ("'''''"). n = number of words.
 *   b = distinct word bigrams / (n − 1)        (1 when n < 2)
 *   t = distinct word trigrams / (n − 2)       (1 when n < 3)
 *   w = distinct words / n, averaged over sliding windows of 50 words when
 *       n > 50 (moving-average type/token ratio, so long texts are not punished
 *       for being long)
 *   c = clamp((H − 1.5)/(3.8 − 1.5), 0, 1), H = entropy in bits of the text's
 *       bytes (whitespace runs count as one space); English prose sits at 4–4.3
 *       bits, "Budy Budy Budy" at 2.3, "''''' '''''" near 1
 *   d = top-word dominance: s = (count of the most frequent word − 1)/(n + 4)
 *       (one occurrence discounted and five words of prior added, so a short
 *       sentence with a few "the" is not called dominated), then
 *       d = clamp((0.25 − s)/0.13, 0, 1): no penalty up to s = 12%, nothing left
 *       from 25%.
 *   a = clamp(L / 0.6, 0, 1), L = share of non-space bytes that are letters or
 *       digits (any byte ≥ 0x80 counts as a letter, so other scripts are fine)
 *   z = clamp((r − 0.45)/(0.65 − 0.45), 0, 1), r = LZ77 cost per byte of the
 *       text (whitespace runs folded to one space, ends trimmed): a greedy
 *       parse where a literal costs 1 and a back-reference of 3 or more bytes
 *       (up to 256 back, overlap allowed) costs 2. A loop of period p over n
 *       bytes costs about (p + 2)/n: "ieie…" (60 bytes) 0.07, "regionregion…"
 *       0.09, "abcabcabd…" with 5% substitutions about 0.2, the token soup of
 *       a diverging run ("uingingingle whingasing…") 0.42–0.49, while prose
 *       and early-training gibberish sit at 0.7–1.0. This is the character-level
 *       evidence that words cannot give when a loop has no spaces.
 *   e = clamp((0.85 − S)/(0.85 − 0.6), 0, 1), S = whitespace bytes / all bytes:
 *       output that is nearly all newlines is collapse, whatever its few letters
 *   score = 100 · (0.3·b + 0.3·t + 0.2·w + 0.2·c) · d · a · z · e
 * The diversity terms measure word loops; d, a, z and e multiply because each
 * on its own marks collapse (one word, punctuation, a character loop, blank
 * output) however varied the rest looks. Sound text keeps z = e = 1, where v2
 * scores exactly as v1 did. An empty (or all-whitespace) text scores 0.
 *
 * Gate: feed every sample's score in the order written (steps ascending, the
 * prompts of one step in config order); it fires when `patience` consecutive
 * scores are below `threshold` (a NaN score counts as below). Patience 0 turns
 * the gate off. Once fired it stays fired.
 */
#ifndef RUNS_RUNNER_COHERENCE_H
#define RUNS_RUNNER_COHERENCE_H

#include <stddef.h>

typedef struct {
    size_t words;
    double bigram_div, trigram_div, word_div; /* b, t, w */
    double char_entropy, char_score;          /* H (bits), c */
    char top_word[32];                        /* the most frequent word (truncated) */
    double top_share;                         /* its count / n */
    double dominance;                         /* d */
    double alnum_ratio, alnum_score;          /* L, a */
    double lz_ratio, lz_score;                /* r, z */
    double space_share, space_score;          /* S, e */
    double score;
} runs_coherence_detail;

/* The coherence score of a NUL-terminated text, 0..100. detail (may be NULL)
 * receives the components. Never fails: out of memory scores the text on its
 * character statistics alone (detail->words is then 0). */
double runs_coherence_score(const char *text, runs_coherence_detail *detail);

/* The sample gate that acts on these scores (patience consecutive low scores) is in
 * runner/gate.h, beside the loss gate. */

#endif
