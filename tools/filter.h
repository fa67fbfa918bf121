/* tools/filter.h — filter-dataset: the seed's v2.5 filters, by shape not by character.
 *
 * Input: one example per line, turns written "> user text / < assistant text"
 * (more turns continue " / > ... / < ..."), newlines inside a turn written "\n".
 * Turns are split at " / " followed by a turn marker ("> " or "< "), so a bare "/"
 * (URL paths, "and/or") and a " / " inside prose never split a turn.
 * A line that does not start with a marker is one turn with no role.
 *
 * Rules, checked in this order; a dropped line counts under the first that fires:
 *  1 system-prompt-shape   on the FIRST turn only (the user turn, where harness
 *                          ingest put leaked agent prompts; assistants may use markdown):
 *                          3+ markdown headers; or 2+ headers and length >= 500 chars;
 *                          or a fingerprint phrase ("# Agent ", "Shadow Clone", "Your shard",
 *                          "Read it. Become it", "This file defines") with any header
 *                          or length >= 400 chars.
 *                          A header is 1-6 '#' then a space, at the start of the turn or
 *                          of a line inside it (after "\n"), after at most 3 spaces.
 *  2 oversize-paragraph    a paragraph (text between blank lines, i.e. "\n\n", within
 *                          one turn) longer than 2000 chars, in any turn.
 *  3 foreign-script        in the response (the "< " turns; the whole line when there
 *                          are none): letters of other scripts (Greek, Cyrillic, Armenian,
 *                          Hebrew, Arabic, Indic, Thai, Georgian, Hangul, kana, CJK, by
 *                          Unicode ranges of the decoded UTF-8) are more than 30% of all
 *                          letters (Latin + other), and at least 4 of them.
 *  4 low-bigram-diversity  in the response: word bigrams (words = runs of letters and
 *                          digits, ASCII case-folded) in windows of 32 bigrams (step 16;
 *                          the whole response when it has 12..32 bigrams): any window
 *                          whose distinct bigrams are fewer than 40% of its bigrams
 *                          ("region region region", "games, games, games").
 * Lengths are in characters (UTF-8 code points), with "\n" counting as one.
 */
#ifndef RUNS_TOOLS_FILTER_H
#define RUNS_TOOLS_FILTER_H

#include <stddef.h>

enum {
    RUNS_FILTER_KEEP = 0,
    RUNS_FILTER_SYSTEM_PROMPT,
    RUNS_FILTER_OVERSIZE,
    RUNS_FILTER_FOREIGN_SCRIPT,
    RUNS_FILTER_LOW_DIVERSITY,
    RUNS_FILTER_N_RULES
};

#define RUNS_FILTER_MAX_PARAGRAPH 2000
#define RUNS_FILTER_FOREIGN_FRACTION 0.30
#define RUNS_FILTER_FOREIGN_MIN_LETTERS 4
#define RUNS_FILTER_BIGRAM_WINDOW 32
#define RUNS_FILTER_BIGRAM_MIN 12
#define RUNS_FILTER_BIGRAM_RATIO 0.40

/* Name of a rule ("system-prompt-shape", ...); "keep" for RUNS_FILTER_KEEP. */
const char *runs_filter_rule_name(int rule);

/* The v2.5 detector on one turn's text (as written in the file, "\n" escaped). 1 = leak shape. */
int runs_filter_has_system_prompt_shape(const char *turn, size_t len);

/* Classifies one line (without its newline): RUNS_FILTER_KEEP or the rule that drops it. */
int runs_filter_classify(const char *line, size_t len);

typedef struct {
    long in, out;                      /* non-empty lines read / kept */
    long by_rule[RUNS_FILTER_N_RULES]; /* dropped lines by rule ([0] unused) */
    int show;                          /* examples kept per rule */
    int n_examples[RUNS_FILTER_N_RULES];
    char **examples[RUNS_FILTER_N_RULES]; /* "line N: text" truncated to 160 chars; owned */
} runs_filter_stats;

/* Filters in_path into out_path (written to a temporary file and renamed).
 * Kept lines are copied byte for byte; empty lines are skipped and not counted.
 * show_dropped: how many examples per rule to keep in st (0 = none). st is
 * reset first; release it with runs_filter_stats_free. */
int runs_filter_file(runs_filter_stats *st, const char *in_path, const char *out_path, int show_dropped);

void runs_filter_stats_free(runs_filter_stats *st);

/* The report a CLI prints: the per-source table (source, in-lines, out-lines,
 * dropped %), the per-rule counts and any examples. Caller frees. */
char *runs_filter_report(const runs_filter_stats *st, const char *source);

/* What both filter CLIs (`runs filter`, tools/filter-dataset) do once their options
 * are parsed: filters in_path into out_path (runs_filter_file) and gives the report
 * they print (runs_filter_report). source names the input in the table; NULL = the
 * file name of in_path. show_dropped as in runs_filter_file. On success *report is
 * the caller's to free; on failure it is NULL and the error is set. */
int runs_filter_run(char **report, const char *in_path, const char *out_path, const char *source, int show_dropped);

/* The middle of both CLIs' --help: what the filter does and its rules with their
 * thresholds, ending in a blank line (the option list follows it). Caller frees;
 * NULL when out of memory. */
char *runs_filter_help_text(void);

#endif
