/* tests/unit/test_filter.c — the v2.5 shape filter: crafted leaks of several shapes are
 * dropped, legitimate markdown in assistant turns survives, URL paths do not split turns,
 * the other rules, and the file-level counts and report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/filter.h"

static int classify(const char *s)
{
    return runs_filter_classify(s, strlen(s));
}

/* n copies of unit joined */
static char *rep(const char *prefix, const char *unit, int n, const char *suffix)
{
    size_t len = strlen(prefix) + strlen(unit) * (size_t)n + strlen(suffix) + 1;
    char *s = malloc(len);
    strcpy(s, prefix);
    for (int i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, suffix);
    return s;
}

static const char *PROSE =
    "The quick brown fox jumps over the lazy dog while a curious cat watches from the window sill. ";

static void test_leaks_of_several_shapes(void **state)
{
    /* 3+ headers, short */
    assert_int_equal(classify("> # Agent Zed\\n## Identity\\nYou are Zed.\\n## Rules\\nBe terse. / < ok"),
                     RUNS_FILTER_SYSTEM_PROMPT);
    assert_int_equal(classify("> # A\\n# B\\n# C / < fine"), RUNS_FILTER_SYSTEM_PROMPT);
    assert_int_equal(classify("> ###### deep\\n   ## indented\\n#### four / < fine"), RUNS_FILTER_SYSTEM_PROMPT);
    /* 2 headers and >= 500 chars */
    char *s = rep("> ## Context\\n", PROSE, 6, "\\n## Task\\nsummarise / < Sure.");
    assert_int_equal(classify(s), RUNS_FILTER_SYSTEM_PROMPT);
    free(s);
    /* the boundary: "## A\n## B\n" is 10 chars, plus N x's */
    s = rep("> ## A\\n## B\\n", "x", 490, " / < ok");
    assert_int_equal(classify(s), RUNS_FILTER_SYSTEM_PROMPT); /* 500 chars */
    free(s);
    s = rep("> ## A\\n## B\\n", "x", 489, " / < ok");
    assert_int_equal(classify(s), RUNS_FILTER_KEEP); /* 499 chars */
    free(s);
    /* ... and 2 headers in a short turn are fine */
    assert_int_equal(classify("> ## Question\\nWhat is 2+2?\\n## Context\\nmath / < 4"), RUNS_FILTER_KEEP);
    /* fingerprint + any header */
    assert_int_equal(classify("> ## Notes\\nYou are a Shadow Clone of the lead. / < ok"), RUNS_FILTER_SYSTEM_PROMPT);
    assert_int_equal(classify("> # Agent Scout / < ok"), RUNS_FILTER_SYSTEM_PROMPT);
    /* fingerprint + >= 400 chars, no header */
    s = rep("> Your shard is the parser. ", PROSE, 4, "Read it. Become it. / < Understood.");
    assert_int_equal(classify(s), RUNS_FILTER_SYSTEM_PROMPT);
    free(s);
    /* fingerprint alone in a short turn is fine (a user may say "this file defines") */
    assert_int_equal(classify("> This file defines the API, right? / < Yes, it declares the public functions."),
                     RUNS_FILTER_KEEP);
    /* the v2.5 detector on a bare turn */
    const char *t = "# Agent X\\n## Identity";
    assert_int_equal(runs_filter_has_system_prompt_shape(t, strlen(t)), 1);
    t = "just a question";
    assert_int_equal(runs_filter_has_system_prompt_shape(t, strlen(t)), 0);
    /* "#hashtag" and "#include" are not headers */
    assert_int_equal(classify("> #include <stdio.h>\\n#define X 1\\n#pragma once / < that is C"), RUNS_FILTER_KEEP);
}

static void test_markdown_in_assistant_turns_survives(void **state)
{
    assert_int_equal(classify("> Show me a summary / < # Summary\\n## Details\\n### More\\n#### Even more\\n- item"),
                     RUNS_FILTER_KEEP);
    char *s = rep("> Write a long guide / < # Guide\\n## Part 1\\n", PROSE, 6, "\\n## Part 2\\n## Part 3\\nDone.");
    assert_int_equal(classify(s), RUNS_FILTER_KEEP);
    free(s);
    /* second user turn is not checked (only the first user turn carries leaked prompts) */
    assert_int_equal(classify("> hi / < hello / > # a\\n# b\\n# c / < ok"), RUNS_FILTER_KEEP);
}

static void test_slash_splitting(void **state)
{
    /* URL paths and bare slashes never split; the assistant's headers stay in the assistant turn */
    assert_int_equal(classify("> see https://example.com/a/b/c and /usr/share/doc / < # A\\n# B\\n# C"),
                     RUNS_FILTER_KEEP);
    /* " / " without a turn marker is inside the user turn, so its headers count there */
    assert_int_equal(classify("> intro / more\\n# H1\\n## H2\\n### H3 / < fine"), RUNS_FILTER_SYSTEM_PROMPT);
    /* a leak that contains URLs is still one turn */
    assert_int_equal(classify("> # Agent Crawler\\n## Rules\\nfetch https://x.org/a/b / < ok"),
                     RUNS_FILTER_SYSTEM_PROMPT);
}

static void test_oversize_paragraphs(void **state)
{
    char *s = rep("> q / < ", "abcdefghij", 201, ""); /* 2010 chars */
    assert_int_equal(classify(s), RUNS_FILTER_OVERSIZE);
    free(s);
    s = rep("> q / < ", "abcdefghij", 200, ""); /* exactly 2000: kept... */
    assert_int_equal(classify(s), RUNS_FILTER_KEEP);
    free(s);
    /* three paragraphs of ~1000 chars separated by blank lines are fine: kept, not
     * merely "not oversize" (the prose's 18-word cycle keeps 18 of 32 bigrams distinct,
     * above the 40% floor, so no other rule may claim the line either) */
    char *p = rep("", PROSE, 10, "");
    size_t n = strlen(p) * 3 + 64;
    s = malloc(n);
    snprintf(s, n, "> q / < %s\\n\\n%s\\n  \\n%s", p, p, p);
    assert_true(strlen(p) > 900 && strlen(p) < RUNS_FILTER_MAX_PARAGRAPH);
    assert_int_equal(classify(s), RUNS_FILTER_KEEP);
    /* joined by single newlines it is one paragraph */
    snprintf(s, n, "> q / < %s\\n%s\\n%s", p, p, p);
    assert_int_equal(classify(s), RUNS_FILTER_OVERSIZE);
    free(s);
    free(p);
    /* characters, not bytes: 1900 two-byte letters are 1900 chars (3800 bytes), so
     * the line is kept (é is a Latin letter: no foreign script; one word: no bigrams) */
    s = rep("> q / < ", "\xc3\xa9", 1900, "");
    assert_int_equal(classify(s), RUNS_FILTER_KEEP);
    free(s);
    s = rep("> q / < ", "\xc3\xa9", 2001, ""); /* ... and 2001 of them are too many */
    assert_int_equal(classify(s), RUNS_FILTER_OVERSIZE);
    free(s);
}

static void test_foreign_script(void **state)
{
    assert_int_equal(classify("> Translate hello / < \xd0\x97\xd0\xb4\xd1\x80\xd0\xb0\xd0\xb2\xd1\x81\xd1\x82\xd0\xb2"
                              "\xd1\x83\xd0\xb9\xd1\x82\xd0\xb5, \xd0\xbc\xd0\xb8\xd1\x80"),
                     RUNS_FILTER_FOREIGN_SCRIPT); /* Здравствуйте, мир */
    assert_int_equal(classify("> Say hi in Chinese / < \xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c\xe6\x9c\x8b"
                              "\xe5\x8f\x8b"),
                     RUNS_FILTER_FOREIGN_SCRIPT); /* 你好世界朋友 */
    assert_int_equal(classify("> And Arabic? / < \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd9\x83"),
                     RUNS_FILTER_FOREIGN_SCRIPT); /* مرحبا بك */
    /* one foreign word in an English answer is fine */
    assert_int_equal(classify("> What is cat in Japanese? / < The Japanese word for cat is \xe7\x8c\xab (neko), "
                              "written with a single kanji character."),
                     RUNS_FILTER_KEEP);
    /* a foreign-script question with an English answer is fine: the rule looks at responses */
    assert_int_equal(classify("> \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80 / < That is "
                              "Russian for hello world."),
                     RUNS_FILTER_KEEP);
    /* invalid UTF-8 is neither counted nor fatal */
    assert_int_equal(classify("> bytes / < \xff\xfe\xc3\x28 plain words after broken bytes"), RUNS_FILTER_KEEP);
    /* Latin with diacritics is Latin */
    assert_int_equal(classify("> French? / < Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65 et na\xc3\xafvet\xc3\xa9."),
                     RUNS_FILTER_KEEP);
}

static void test_low_bigram_diversity(void **state)
{
    char *s = rep("> continue / < ", "region ", 20, "");
    assert_int_equal(classify(s), RUNS_FILTER_LOW_DIVERSITY);
    free(s);
    s = rep("> more / <", " games,", 40, "");
    assert_int_equal(classify(s), RUNS_FILTER_LOW_DIVERSITY);
    free(s);
    /* good text followed by a degenerate tail: caught by the window */
    char *good = rep("> tell me / < ", PROSE, 3, "");
    s = rep(good, "Budy ", 40, "");
    assert_int_equal(classify(s), RUNS_FILTER_LOW_DIVERSITY);
    free(s);
    /* varied prose survives; short repetitive answers (< 12 bigrams) are left alone */
    const char *ok = "> tell me / < Sixteen days of compute went into a run whose samples repeated one word; the "
                     "gate now scores every sample for bigram, trigram, word and character diversity, and halts "
                     "after five low scores in a row, which would have saved days.";
    assert_int_equal(classify(ok), RUNS_FILTER_KEEP);
    assert_int_equal(classify("> ping / < pong pong pong"), RUNS_FILTER_KEEP);
    free(good);
    /* the rule reads responses, so a repetitive question is fine */
    s = rep("> ", "la ", 30, "/ < What a cheerful song that is, thank you for sharing it with me today.");
    assert_int_equal(classify(s), RUNS_FILTER_KEEP);
    free(s);
}

static void test_file_counts_and_report(void **state)
{
    char dir[] = "/tmp/test_filter_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[128], out[128];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    FILE *f = fopen(in, "w");
    const char *kept[] = {"> What is the capital of France? / < Paris.",
                          "> see https://a.org/x/y / < # Answer\\n## Why\\n### How\\nBecause.",
                          "> hi / < hello there",
                          "> thanks / < you are welcome",
                          "> and? / < and so on, and so forth",
                          "> bye / < goodbye"};
    fprintf(f, "%s\n", kept[0]);
    fprintf(f, "> # Agent A\\n## Identity\\n## Rules / < ok\n");
    fprintf(f, "%s\n", kept[1]);
    fprintf(f, "\n"); /* empty: not an example */
    fprintf(f, "%s\n", kept[2]);
    fprintf(f, "> # Agent B\\n## Identity\\n## Rules / < ok\n");
    fprintf(f, "%s\n", kept[3]);
    fprintf(f, "> ru / < \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n");
    fprintf(f, "%s\n", kept[4]);
    fprintf(f, "> # Agent C\\n## Identity\\n## Rules / < ok\n");
    fprintf(f, "%s", kept[5]); /* no final newline */
    fclose(f);
    runs_filter_stats st;
    assert_int_equal(runs_filter_file(&st, in, out, 2), 0);
    assert_int_equal(st.in, 10);
    assert_int_equal(st.out, 6);
    assert_int_equal(st.by_rule[RUNS_FILTER_SYSTEM_PROMPT], 3);
    assert_int_equal(st.by_rule[RUNS_FILTER_FOREIGN_SCRIPT], 1);
    assert_int_equal(st.by_rule[RUNS_FILTER_OVERSIZE], 0);
    assert_int_equal(st.by_rule[RUNS_FILTER_LOW_DIVERSITY], 0);
    assert_int_equal(st.n_examples[RUNS_FILTER_SYSTEM_PROMPT], 2); /* capped at show_dropped */
    assert_non_null(strstr(st.examples[RUNS_FILTER_SYSTEM_PROMPT][0], "line 2: > # Agent A"));
    /* OUT holds exactly the kept lines, unchanged, in order */
    char expect[1024] = "";
    for (int i = 0; i < 6; i++) {
        strcat(expect, kept[i]);
        strcat(expect, "\n");
    }
    f = fopen(out, "r");
    char got[1024];
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = 0;
    assert_string_equal(got, expect);
    char *r = runs_filter_report(&st, "unfirehose-chat");
    assert_non_null(strstr(r, "unfirehose-chat"));
    assert_non_null(strstr(r, "40.0%"));
    assert_non_null(strstr(r, "system-prompt-shape"));
    assert_non_null(strstr(r, "dropped by system-prompt-shape (2 of 3)"));
    free(r);
    runs_filter_stats_free(&st);
    assert_int_equal(runs_filter_file(&st, "/nonexistent/in.txt", out, 0), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "/nonexistent/in.txt"));
    unlink(in);
    unlink(out);
    rmdir(dir);
    assert_string_equal(runs_filter_rule_name(RUNS_FILTER_FOREIGN_SCRIPT), "foreign-script");
}

/* runs_filter_run: what both CLIs call: the file filtered, the report named after
 * IN's file name unless a source is given, and on failure no report and the error */
static void test_run_and_help(void **state)
{
    char dir[] = "/tmp/test_filter_run.XXXXXX", in[64], out[64];
    assert_non_null(mkdtemp(dir));
    snprintf(in, sizeof in, "%s/chat.txt", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    FILE *f = fopen(in, "w");
    fprintf(f, "> hi / < hello there\n> # Agent A\\n## Identity\\n## Rules / < ok\n");
    fclose(f);
    char *report = NULL;
    assert_int_equal(runs_filter_run(&report, in, out, NULL, 1), 0);
    assert_non_null(report);
    assert_non_null(strstr(report, "\nchat.txt ")); /* the table row, named after IN */
    assert_non_null(strstr(report, "dropped by system-prompt-shape (1 of 1)"));
    free(report);
    assert_int_equal(runs_filter_run(&report, in, out, "mine", 0), 0);
    assert_non_null(strstr(report, "\nmine "));
    assert_null(strstr(report, "dropped by")); /* no examples asked for */
    free(report);
    report = (char *)1;
    assert_int_equal(runs_filter_run(&report, "/nonexistent/in.txt", out, NULL, 0), RUNS_ENOTFOUND);
    assert_null(report);
    unlink(in);
    unlink(out);
    rmdir(dir);
    /* the help both CLIs print carries the thresholds the rules use */
    char *h = runs_filter_help_text();
    assert_non_null(h);
    assert_non_null(strstr(h, "a paragraph over 2000 chars"));
    assert_non_null(strstr(h, "> 30% of its letters (and at least 4)"));
    assert_non_null(strstr(h, "a window of 32 word bigrams"));
    assert_non_null(strstr(h, "than 40% distinct\n\n"));
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaks_of_several_shapes), cmocka_unit_test(test_markdown_in_assistant_turns_survives),
        cmocka_unit_test(test_slash_splitting),         cmocka_unit_test(test_oversize_paragraphs),
        cmocka_unit_test(test_foreign_script),          cmocka_unit_test(test_low_bigram_diversity),
        cmocka_unit_test(test_file_counts_and_report),  cmocka_unit_test(test_run_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
