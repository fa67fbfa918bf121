/* tests/unit/test_coherence.c — the coherence score on the seed's collapse samples
 * and on ordinary English; the gate's patience/threshold logic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "runner/coherence.h"
#include "runner/gate.h"

static const char *argv0 = "";

static double score(const char *s)
{
    return runs_coherence_score(s, NULL);
}

#define below(text, lim)                                                                                               \
    do {                                                                                                               \
        double v_ = score(text);                                                                                       \
        if (!(v_ < (lim)))                                                                                             \
            fail_msg("score %.2f not below %g for: %s", v_, (double)(lim), text);                                      \
    } while (0)
#define above(text, lim)                                                                                               \
    do {                                                                                                               \
        double v_ = score(text);                                                                                       \
        if (!(v_ > (lim)))                                                                                             \
            fail_msg("score %.2f not above %g for: %s", v_, (double)(lim), text);                                      \
    } while (0)

/* Seed 002: ANDREA-120M v1's samples from step 80K on. */
static void seed_collapse_samples(void **state)
{
    below("region region region region region region region", 10);
    below("''''' ''''' '' ''' '' ''' '''?' ''' ' '' '' '", 10);
    below("games, games, games, games, games, games", 10);
    below("Budy Budy Budy Budy Budy Budy Budy Budy Budy", 10);
    /* v2's agent-harness ornaments */
    below("○ ● ○ ● ○ ● ○ ● ○ ● ○ ●", 10);
    /* loops of a phrase */
    below("I am a robot. I am a robot. I am a robot. I am a robot.", 30);
    below("the the the of of of and and and the of and the of the and of the the of and of the and", 10);
    below("", 1);
    below("   \n\t  ", 1);
}

/* v2 at step 14,966: "a" = 26% of words. 13 of 50 words here, otherwise varied. */
static void article_dominance(void **state)
{
    const char *t = "A farmer kept a goat, a horse and a dog near a river. One day a storm came "
                    "and a wind broke a fence, so a boy took a rope and a lantern and walked to a "
                    "hill where a goat stood quietly eating grass under the old oak tree.";
    runs_coherence_detail d;
    double v = runs_coherence_score(t, &d);
    assert_int_equal(d.words, 50);
    assert_string_equal(d.top_word, "a");
    assert_true(fabs(d.top_share - 0.26) < 1e-12);
    assert_true(d.bigram_div > 0.9); /* n-grams alone would not catch it */
    if (!(v < 30))
        fail_msg("a = 26%% of words scored %.2f", v);
}

/* The polish samples of seed 002 and other plain English. */
static void ordinary_english(void **state)
{
    above("The Fourier transform decomposes signals into frequency components, allowing analysis of "
          "signal characteristics & filtering in the frequency domain.",
          80);
    above("black spider montano is alive, carolina parakeet is extinct.", 80);
    above("Rain's rhythmic refrain, Rivulets on the window, Respite from life's pain.", 80);
    above("Use pip list --outdated names to see the pip packages list in your project management...", 80);
    above("Once upon a time there was a little girl who lived in a village near the forest. Whenever "
          "she went out, the little girl wore a red riding cloak, so everyone in the village called "
          "her Little Red Riding Hood.",
          80);
    above("The cat sat on the mat.", 60);
    above("Machine learning models are trained on large datasets. They learn patterns that help them "
          "make predictions about new examples, but they can also memorise noise if the data is small.",
          80);
    /* other scripts are not punished for not being ASCII */
    above("Привет, как дела? Я хорошо, спасибо, а ты?", 60);
    /* a sentence heavy in one function word is penalised, but not to collapse */
    above("The cat and the dog went to the park where the children played with the ball.", 30);
}

static void detail_components(void **state)
{
    runs_coherence_detail d;
    double v = runs_coherence_score("games, games, games, games, games, games", &d);
    assert_int_equal(d.words, 6);
    assert_string_equal(d.top_word, "games"); /* punctuation trimmed, lowercased */
    assert_true(d.top_share == 1.0);
    assert_true(d.dominance == 0.0);
    assert_true(fabs(d.bigram_div - 1.0 / 5) < 1e-12);
    assert_true(fabs(d.trigram_div - 1.0 / 4) < 1e-12);
    assert_true(fabs(d.word_div - 1.0 / 6) < 1e-12);
    assert_true(v == d.score);
    /* character entropy of "Budy Budy ..." (B,u,d,y and a space) is about 2.3 bits */
    runs_coherence_score("Budy Budy Budy Budy Budy Budy Budy Budy Budy", &d);
    assert_true(d.char_entropy > 2.2 && d.char_entropy < 2.4);
    /* whitespace runs count once: the same score with newlines and tabs */
    double a = score("The cat sat on the mat and looked at the bird outside.");
    double b = score("The cat  sat\non the mat\t\tand looked at the bird outside.  ");
    assert_true(a == b);
    /* case-insensitive words */
    runs_coherence_score("Dog dog DOG dog", &d);
    assert_true(d.word_div == 0.25);
    /* a long natural text is not punished for length: the moving-window word diversity */
    char *big = malloc(20000);
    big[0] = 0;
    const char *sent[] = {"Rivers carry sediment from mountains toward distant coasts.",
                          "Engineers measure flow with sensors placed along each bank.",
                          "Farmers depend on seasonal floods to enrich their fields.",
                          "Cities build levees when storms threaten low neighbourhoods.",
                          "Scientists model droughts using decades of rainfall records.",
                          "Children learn swimming in calm pools beside old bridges."};
    for (int i = 0; i < 6; i++) {
        strcat(big, sent[i]);
        strcat(big, " ");
    }
    above(big, 80);
    /* ... but a long loop is still a loop */
    big[0] = 0;
    for (int i = 0; i < 200; i++)
        strcat(big, "the model said hello ");
    below(big, 30);
    free(big);
    assert_true(score(NULL) == 0.0);
}

static void gate_patience(void **state)
{
    runs_gate g;
    runs_gate_init(&g, 30, 5);
    double s[] = {80, 25, 20, 10, 5, 45, 29, 28, 27, 26, 25, 90};
    long fired = -1;
    for (int i = 0; i < 12; i++)
        if (runs_gate_feed(&g, 100L * (i + 1), s[i]) && fired < 0)
            fired = 100L * (i + 1);
    /* four lows, a recovery (45), then five lows in a row: fires on the fifth */
    assert_int_equal(fired, 1100);
    assert_int_equal(g.fired_step, 1100);
    assert_int_equal(g.run_start, 700);
    assert_true(runs_gate_feed(&g, 1300, 99)); /* stays fired */
    assert_int_equal(g.fired_step, 1100);

    /* a score equal to the threshold is not low; NaN is */
    runs_gate_init(&g, 30, 2);
    assert_false(runs_gate_feed(&g, 1, 30));
    assert_false(runs_gate_feed(&g, 2, NAN));
    assert_true(runs_gate_feed(&g, 3, 29.999));
    assert_int_equal(g.fired_step, 3);

    /* patience 0: off */
    runs_gate_init(&g, 30, 0);
    for (int i = 0; i < 100; i++)
        assert_false(runs_gate_feed(&g, i, 0));
    assert_int_equal(g.fired_step, -1);

    /* patience 1 fires on the first low score */
    runs_gate_init(&g, 30, 1);
    assert_false(runs_gate_feed(&g, 10, 50));
    assert_true(runs_gate_feed(&g, 20, 3));
}

/* The seed's back-test: v1 samples every 200 steps... collapse from 80K on
 * (scored, not recorded) trips a 30/5 gate within five samples of the collapse. */
static void gate_on_scored_collapse(void **state)
{
    const char *good = "The Fourier transform decomposes signals into frequency components.";
    const char *bad[] = {"region region region region region region region",
                         "''''' ''''' '' ''' '' ''' '''?' ''' ' '' '' '", "games, games, games, games, games, games",
                         "Budy Budy Budy Budy Budy Budy Budy Budy Budy"};
    runs_gate g;
    runs_gate_init(&g, 30, 5);
    long fired = -1;
    for (long step = 1000; step <= 100000 && fired < 0; step += 1000) {
        const char *t = step < 80000 ? good : bad[(step / 1000) % 4];
        if (runs_gate_feed(&g, step, score(t)))
            fired = step;
    }
    assert_int_equal(fired, 84000);
}

/* Issue 12: the diverged run (lr 1.0, no warmup, clipping or weight decay; loss
 * EMA 308) alternated "ieie…" with "a a a…". Score v1 gave the first 80 and the
 * second 0, so a 30/5 gate never saw five lows in a row. */
static void issue12_spaceless_loops(void **state)
{
    const char *ie = "ieieieieieieieieieieieieieieieieieieieieieieieieieieieieieie";
    const char *aaa = "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a";
    runs_coherence_detail d;
    double v = runs_coherence_score(ie, &d);
    /* one "word": every word-level term is perfect, the characters alone say loop */
    assert_int_equal(d.words, 1);
    assert_true(d.bigram_div == 1.0 && d.trigram_div == 1.0 && d.word_div == 1.0 && d.dominance == 1.0);
    assert_true(d.lz_ratio < 0.1); /* 2 literals + 1 back-reference over 60 bytes */
    assert_true(d.lz_score == 0.0);
    if (!(v < 30))
        fail_msg("\"ieie...\" scored %.2f", v);
    below("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 30);
    below("regionregionregionregionregionregionregionregionregionregion", 30);
    below("abcabcabdabcabcabcabcabcabcabdabcabcabcabcabcabcabcabcabcabcabcabcabeabcabc", 30);
    below("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nThe\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", 30);
    runs_gate g;
    runs_gate_init(&g, 30, 5);
    long fired = -1;
    for (long step = 100; step <= 2000 && fired < 0; step += 100)
        if (runs_gate_feed(&g, step, score(step % 200 ? ie : aaa)))
            fired = step;
    assert_int_equal(fired, 500);
    /* early-training gibberish is not degeneration */
    above("thes an the wr ofe ingt he bl", 30);
    runs_coherence_score("The quick brown fox jumps over the lazy dog near the riverbank.", &d);
    assert_true(d.lz_score == 1.0 && d.space_score == 1.0);
}

/* Issue 12: the labelled fixture (tests/fixtures/coherence/labelled.jsonl; its
 * README says where each text came from). Every degenerate text must score below
 * the default threshold and every sound one at or above it; the kinds the issue
 * lists must all be there, so the fixture cannot quietly shrink to easy cases. */
static FILE *open_fixture(void)
{
    const char *rel = "tests/fixtures/coherence/labelled.jsonl";
    FILE *f = fopen(rel, "r");
    if (f)
        return f;
    /* run from elsewhere: the binary is build/tests/test_coherence */
    char path[4096];
    const char *slash = strrchr(argv0, '/');
    int dl = slash ? (int)(slash - argv0) : 1;
    snprintf(path, sizeof path, "%.*s/../../%s", dl, slash ? argv0 : ".", rel);
    return fopen(path, "r");
}

static void labelled_fixture(void **state)
{
    static const char *kinds[] = {
        "word-loop",     "phrase-loop",     "nospace-loop-p1", "nospace-loop-p2", "nospace-loop-p20",
        "char-run",      "punct-run",       "whitespace",      "empty",           "token-repeat",
        "mutated-cycle", "sample:diverged", "corpus:",         "sample:early",    "sample:late"};
    enum { NKINDS = sizeof kinds / sizeof *kinds };
    int seen[NKINDS] = {0};
    FILE *f = open_fixture();
    if (!f)
        fail_msg("cannot open tests/fixtures/coherence/labelled.jsonl (run from the repository root)");
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, n_bad = 0, bad_ok = 0, n_good = 0, good_ok = 0;
    double bad_max = -1, good_min = 101;
    static char corpus[16384];
    corpus[0] = '\0';
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        cJSON *j = cJSON_Parse(line);
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!cJSON_IsString(label) || !cJSON_IsString(kind) || !cJSON_IsString(text))
            fail_msg("labelled.jsonl:%d: want {\"label\", \"kind\", \"text\"} strings", lineno);
        int degenerate = strcmp(label->valuestring, "degenerate") == 0;
        if (!degenerate && strcmp(label->valuestring, "sound") != 0)
            fail_msg("labelled.jsonl:%d: label '%s' is neither degenerate nor sound", lineno, label->valuestring);
        for (int k = 0; k < NKINDS; k++) {
            /* "nospace-loop-p2" names one period (not p20); the others are families */
            size_t kl = strlen(kinds[k]);
            int exact = strncmp(kinds[k], "nospace-loop-p", 14) == 0;
            if (exact ? strcmp(kind->valuestring, kinds[k]) == 0 : strncmp(kind->valuestring, kinds[k], kl) == 0)
                seen[k]++;
        }
        double v = score(text->valuestring);
        int ok = degenerate ? v < 30 : v >= 30;
        if (!ok)
            printf("  wrong: labelled.jsonl:%d %s (%s) scored %.1f: %.60s\n", lineno, label->valuestring,
                   kind->valuestring, v, text->valuestring);
        if (degenerate) {
            n_bad++;
            bad_ok += ok;
            bad_max = v > bad_max ? v : bad_max;
        } else {
            n_good++;
            good_ok += ok;
            good_min = v < good_min ? v : good_min;
        }
        if (!degenerate && strncmp(kind->valuestring, "corpus:", 7) == 0 &&
            strlen(corpus) + strlen(text->valuestring) + 2 < sizeof corpus) {
            strcat(corpus, text->valuestring);
            strcat(corpus, "\n");
        }
        cJSON_Delete(j);
    }
    free(line);
    /* all the corpus texts as one long text (several KB): prose repeats words
     * and affixes but never loops, and the back-reference window (256 bytes)
     * keeps its LZ cost from sinking with length, so it keeps z = 1 */
    runs_coherence_detail d;
    double v = runs_coherence_score(corpus, &d);
    printf("coherence fixture: the %zu bytes of corpus text as one text: score %.1f, LZ cost %.3f per byte\n",
           strlen(corpus), v, d.lz_ratio);
    assert_true(strlen(corpus) > 4000);
    assert_true(d.lz_score == 1.0);
    assert_true(v >= 30);
    fclose(f);
    printf("coherence fixture: %d/%d degenerate < 30 (highest %.1f), %d/%d sound >= 30 (lowest %.1f)\n", bad_ok, n_bad,
           bad_max, good_ok, n_good, good_min);
    for (int k = 0; k < NKINDS; k++)
        if (!seen[k])
            fail_msg("the fixture has no text of kind %s*", kinds[k]);
    assert_true(n_bad >= 40 && n_good >= 40);
    assert_int_equal(bad_ok, n_bad);
    assert_int_equal(good_ok, n_good);
}

int main(int argc, char **argv)
{
    argv0 = argc > 0 ? argv[0] : "";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_collapse_samples),   cmocka_unit_test(article_dominance),
        cmocka_unit_test(ordinary_english),        cmocka_unit_test(detail_components),
        cmocka_unit_test(gate_patience),           cmocka_unit_test(gate_on_scored_collapse),
        cmocka_unit_test(issue12_spaceless_loops), cmocka_unit_test(labelled_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
