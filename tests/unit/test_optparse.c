/* tests/unit/test_optparse.c — the table-driven option parser (runner/optparse.h):
 * every accepted form (long, --x=v, unique prefix, short, -xV, clusters, "--",
 * options after positionals), each refusal's one message (unknown, ambiguous,
 * needs a value, takes no value, bad or out-of-range numbers, too many uses or
 * positionals), and the generated --help list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/optparse.h"

typedef struct {
    int json, all, mode;
    const char *out;
    long keep, samples;
    double eps, lr;
    const char *srcv[2];
    runs_opt_list src;
} vals;

static void table(runs_opt *t, vals *v)
{
    memset(v, 0, sizeof *v);
    v->keep = -1;
    v->samples = 8;
    v->src = (runs_opt_list){v->srcv, 2, 0};
    runs_opt opts[] = {
        {"json", 'j', RUNS_OPT_FLAG, &v->json, NULL, "print JSON", NULL, 0},
        {"all", 'a', RUNS_OPT_FLAG, &v->all, NULL, "every run", NULL, 0},
        {"out", 'o', RUNS_OPT_STRING, &v->out, "FILE", "where to write\nor '-'", NULL, 0},
        {"keep-last", 0, RUNS_OPT_INT, &v->keep, "N", "keep N", "[0,)", 0},
        {"keep-every", 0, RUNS_OPT_INT, &v->keep, "K", "keep every K", "[0,)", 0},
        {"samples", 'k', RUNS_OPT_INT, &v->samples, "K", "directions", "[1, 1000000]", 0},
        {"eps", 0, RUNS_OPT_DOUBLE, &v->eps, "E", "step", "(0,)", 0},
        {"lr", 0, RUNS_OPT_DOUBLE, &v->lr, "X", NULL, "(0, 10]", 0},
        {"source", 'S', RUNS_OPT_LIST, &v->src, "NAME", "a source (repeatable)", NULL, 0},
        {"lines", 0, RUNS_OPT_SET, &v->mode, NULL, "one per line", NULL, 1},
        {"chat", 0, RUNS_OPT_SET, &v->mode, NULL, "chat turns", NULL, 2},
        {0},
    };
    memcpy(t, opts, sizeof opts);
}

#define NOPTS 12

/* Parses the NULL-ended words (argv[0] = "cmd" is added); returns the code. */
static int parse(vals *v, int *npos, const char **pos, int max_pos, ...)
{
    runs_opt t[NOPTS];
    char *argv[32] = {"cmd"};
    int argc = 1;
    va_list ap;
    table(t, v);
    va_start(ap, max_pos);
    for (char *w; (w = va_arg(ap, char *));)
        argv[argc++] = w;
    va_end(ap);
    runs_error_clear();
    return runs_opts_parse(npos, pos, max_pos, t, argc, argv);
}

static void test_forms(void **state)
{
    (void)state;
    vals v;
    const char *pos[4];
    int n;
    assert_int_equal(parse(&v, &n, pos, 4, "A", "--json", "--out", "f", "B", "--keep-l=3", "-ak", "5", NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(pos[0], "A");
    assert_string_equal(pos[1], "B");
    assert_int_equal(v.json, 1);
    assert_int_equal(v.all, 1);
    assert_string_equal(v.out, "f");
    assert_int_equal(v.keep, 3);
    assert_int_equal(v.samples, 5);

    assert_int_equal(parse(&v, &n, pos, 4, "-ofile", "--eps=1e-3", "-", "--", "--json", "-x", NULL), 0);
    assert_string_equal(v.out, "file");
    assert_true(v.eps > 0.0009 && v.eps < 0.0011);
    assert_int_equal(v.json, 0); /* after "--" it is a positional */
    assert_int_equal(n, 3);
    assert_string_equal(pos[0], "-");
    assert_string_equal(pos[1], "--json");
    assert_string_equal(pos[2], "-x");

    /* a required value may start with '-' (as with getopt_long) */
    assert_int_equal(parse(&v, &n, pos, 4, "--out", "-", NULL), 0);
    assert_string_equal(v.out, "-");

    /* defaults stay when an option is absent */
    assert_int_equal(parse(&v, &n, pos, 0, NULL), 0);
    assert_int_equal(v.samples, 8);
    assert_int_equal(v.keep, -1);
    assert_null(v.out);
}

static void test_list_and_set(void **state)
{
    (void)state;
    vals v;
    const char *pos[1];
    int n;
    assert_int_equal(parse(&v, &n, pos, 0, "-S", "a", "--source=b", "--chat", "--lines", NULL), 0);
    assert_int_equal(v.src.n, 2);
    assert_string_equal(v.srcv[0], "a");
    assert_string_equal(v.srcv[1], "b");
    assert_int_equal(v.mode, 1); /* the last of --chat/--lines wins */
    assert_int_equal(parse(&v, &n, pos, 0, "-Sa", "-Sb", "-Sc", NULL), RUNS_EUSAGE);
    assert_string_equal(runs_error_message(), "--source: given more than 2 times");
}

static void expect_refusal(const char *want, ...)
{
    vals v;
    const char *pos[1];
    runs_opt t[NOPTS];
    char *argv[16] = {"cmd"};
    int argc = 1, n;
    va_list ap;
    table(t, &v);
    va_start(ap, want);
    for (char *w; (w = va_arg(ap, char *));)
        argv[argc++] = w;
    va_end(ap);
    runs_error_clear();
    assert_int_equal(runs_opts_parse(&n, pos, 1, t, argc, argv), RUNS_EUSAGE);
    assert_string_equal(runs_error_message(), want);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refusal("unknown option '-z'", "-zzz", NULL);
    expect_refusal("unknown option '-z'", "--all", "-jz", NULL); /* the refused letter, not the cluster */
    expect_refusal("unknown option '--bogus'", "--bogus=1", NULL);
    expect_refusal("unknown option '--'", "--=x", NULL);
    expect_refusal("ambiguous option '--keep'", "--keep", "3", NULL);
    expect_refusal("'--out' needs a value", "x", "--out", NULL);
    expect_refusal("'--ou' needs a value", "--ou", NULL); /* named as typed */
    expect_refusal("'-o' needs a value", "-o", NULL);
    expect_refusal("'-k' needs a value", "-jk", NULL);
    expect_refusal("'--json' takes no value", "--json=1", NULL);
    expect_refusal("unexpected argument 'b'", "a", "b", NULL);
    expect_refusal("--samples: expected an integer in [1, 1000000], got '0'", "-k0", NULL);
    expect_refusal("--samples: expected an integer in [1, 1000000], got '1000001'", "--samples", "1000001", NULL);
    expect_refusal("--samples: expected an integer in [1, 1000000], got '3x'", "--samples=3x", NULL);
    expect_refusal("--samples: expected an integer in [1, 1000000], got ''", "--samples=", NULL);
    expect_refusal("--samples: expected an integer in [1, 1000000], got '99999999999999999999'", "--samples",
                   "99999999999999999999", NULL);
    expect_refusal("--keep-last: expected an integer >= 0, got '-1'", "--keep-last", "-1", NULL);
    expect_refusal("--eps: expected a finite number > 0, got '0'", "--eps", "0", NULL);
    expect_refusal("--eps: expected a finite number > 0, got 'inf'", "--eps", "inf", NULL);
    expect_refusal("--eps: expected a finite number > 0, got 'nan'", "--eps", "nan", NULL);
    expect_refusal("--lr: expected a finite number in (0, 10], got '10.5'", "--lr", "10.5", NULL);
    expect_refusal("--lr: expected a finite number in (0, 10], got '1e400'", "--lr", "1e400", NULL);
    /* control bytes in what is echoed cannot split the line */
    expect_refusal("unknown option '--a\\nb'", "--a\nb", NULL);
}

static void test_bounds_accepted(void **state)
{
    (void)state;
    vals v;
    const char *pos[1];
    int n;
    assert_int_equal(parse(&v, &n, pos, 0, "--lr", "10", "-k1000000", "--keep-last", "0", NULL), 0);
    assert_true(v.lr == 10.0);
    assert_int_equal(v.samples, 1000000);
    assert_int_equal(v.keep, 0);
}

static void test_bad_table(void **state)
{
    (void)state;
    long x = 0;
    const char *pos[1];
    int n;
    char *argv[] = {"cmd", "--n", "3"};
    runs_opt t[] = {{"n", 0, RUNS_OPT_INT, &x, "N", "n", "1..3", 0}, {0}};
    assert_int_equal(runs_opts_parse(&n, pos, 0, t, 3, argv), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "--n has range \"1..3\""));
}

static void test_help(void **state)
{
    (void)state;
    vals v;
    runs_opt t[NOPTS];
    table(t, &v);
    char *h = runs_opts_help(t, 0);
    assert_non_null(h);
    /* the widest left column is "  --keep-every K" / "  -S, --source NAME" (19) + 2 */
    assert_non_null(strstr(h, "  -j, --json         print JSON\n"));
    assert_non_null(strstr(h, "  -o, --out FILE     where to write\n                     or '-'\n"));
    assert_non_null(strstr(h, "  --keep-last N      keep N\n"));
    assert_non_null(strstr(h, "  -S, --source NAME  a source (repeatable)\n"));
    assert_null(strstr(h, "--lr")); /* no help text: not listed */
    free(h);
    h = runs_opts_help(t, 30);
    assert_non_null(strstr(h, "  -j, --json                  print JSON\n"));
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),           cmocka_unit_test(test_list_and_set), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds_accepted), cmocka_unit_test(test_bad_table),    cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
