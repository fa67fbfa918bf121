/* runner/optparse.c — see optparse.h. */
#include "runner/optparse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

static int is_end(const runs_opt *o)
{
    return !o->lng && !o->shrt;
}

static int takes_value(const runs_opt *o)
{
    return o->kind != RUNS_OPT_FLAG && o->kind != RUNS_OPT_SET;
}

/* The name messages about a value use: the long form when there is one, since
 * that is what help lists first. */
static void canon_name(char *buf, size_t n, const runs_opt *o)
{
    if (o->lng)
        snprintf(buf, n, "--%s", o->lng);
    else
        snprintf(buf, n, "-%c", o->shrt);
}

/* A range spec "[lo, hi]" / "(lo,)" read into its parts; the bound texts are
 * kept as written so messages repeat them exactly (no %g turning 1000000 into
 * 1e+06). has_hi is 0 for an open upper end. */
typedef struct {
    int lo_open, hi_open, has_hi;
    double lo, hi;
    char lo_s[32], hi_s[32];
} range_t;

static int copy_trim(char *dst, size_t n, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= n)
        return -1;
    memcpy(dst, s, len);
    dst[len] = 0;
    return 0;
}

static int read_bound(double *out, const char *s)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (!*s || *end || errno || !isfinite(*out)) ? -1 : 0;
}

static int parse_range(range_t *r, const char *spec, const runs_opt *o)
{
    size_t len = strlen(spec);
    const char *comma = strchr(spec, ',');
    memset(r, 0, sizeof *r);
    if (len < 3 || (spec[0] != '[' && spec[0] != '(') || (spec[len - 1] != ']' && spec[len - 1] != ')') || !comma ||
        copy_trim(r->lo_s, sizeof r->lo_s, spec + 1, (size_t)(comma - spec - 1)) ||
        copy_trim(r->hi_s, sizeof r->hi_s, comma + 1, (size_t)(spec + len - 1 - comma - 1)) ||
        read_bound(&r->lo, r->lo_s) || (*r->hi_s && read_bound(&r->hi, r->hi_s)))
        return runs_error_set(RUNS_EINVALID,
                              "option table: --%s has range \"%s\"; write it like \"[1, 10]\" or \"(0,)\"",
                              o->lng ? o->lng : "?", spec);
    r->lo_open = spec[0] == '(';
    r->hi_open = spec[len - 1] == ')';
    r->has_hi = *r->hi_s != 0;
    return 0;
}

static int in_range(const range_t *r, double v)
{
    if (r->lo_open ? !(v > r->lo) : !(v >= r->lo))
        return 0;
    if (r->has_hi && (r->hi_open ? !(v < r->hi) : !(v <= r->hi)))
        return 0;
    return 1;
}

/* "--samples: expected an integer in [1, 1000000], got 'x'" — the one form of
 * every refused number. */
static int bad_number(const runs_opt *o, const range_t *r, const char *arg)
{
    char name[80], what[128];
    const char *noun = o->kind == RUNS_OPT_INT ? "an integer" : "a finite number";
    canon_name(name, sizeof name, o);
    if (!r)
        snprintf(what, sizeof what, "%s", noun);
    else if (!r->has_hi)
        snprintf(what, sizeof what, "%s %s %s", noun, r->lo_open ? ">" : ">=", r->lo_s);
    else
        snprintf(what, sizeof what, "%s in %c%s, %s%c", noun, r->lo_open ? '(' : '[', r->lo_s, r->hi_s,
                 r->hi_open ? ')' : ']');
    return runs_error_set(RUNS_EUSAGE, "%s: expected %s, got '%s'", name, what, arg);
}

static int store_value(const runs_opt *o, const char *arg)
{
    range_t r;
    int rc;
    if (o->range && (o->kind == RUNS_OPT_INT || o->kind == RUNS_OPT_DOUBLE) && (rc = parse_range(&r, o->range, o)))
        return rc;
    const range_t *rp = o->range ? &r : NULL;
    char *end;
    switch (o->kind) {
    case RUNS_OPT_FLAG: *(int *)o->dest = 1; return 0;
    case RUNS_OPT_SET: *(int *)o->dest = o->val; return 0;
    case RUNS_OPT_STRING: *(const char **)o->dest = arg; return 0;
    case RUNS_OPT_INT: {
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (!*arg || *end || errno || (rp && !in_range(rp, (double)v)))
            return bad_number(o, rp, arg);
        *(long *)o->dest = v;
        return 0;
    }
    case RUNS_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(arg, &end);
        /* ERANGE on underflow still gives a usable (tiny) number; overflow is inf */
        if (!*arg || *end || !isfinite(v) || (rp && !in_range(rp, v)))
            return bad_number(o, rp, arg);
        *(double *)o->dest = v;
        return 0;
    }
    case RUNS_OPT_LIST: {
        runs_opt_list *l = o->dest;
        if (l->n >= l->max) {
            char name[80];
            canon_name(name, sizeof name, o);
            return runs_error_set(RUNS_EUSAGE, "%s: given more than %d times", name, l->max);
        }
        l->items[l->n++] = arg;
        return 0;
    }
    }
    return runs_error_set(RUNS_EINVALID, "option table: unknown kind %d", (int)o->kind);
}

/* The option "--NAME[=...]" names: an exact match, else the only one NAME is a
 * prefix of (getopt_long accepted unique abbreviations; scripts may use them). */
static const runs_opt *find_long(const runs_opt *opts, const char *name, size_t len, int *ambiguous)
{
    const runs_opt *hit = NULL;
    int hits = 0;
    *ambiguous = 0;
    for (const runs_opt *o = opts; !is_end(o); o++) {
        if (!o->lng || strncmp(o->lng, name, len))
            continue;
        if (strlen(o->lng) == len)
            return o;
        hit = o;
        hits++;
    }
    *ambiguous = hits > 1;
    return hits == 1 ? hit : NULL;
}

static const runs_opt *find_short(const runs_opt *opts, char c)
{
    for (const runs_opt *o = opts; !is_end(o); o++)
        if (o->shrt && o->shrt == c)
            return o;
    return NULL;
}

int runs_opts_parse(int *npos, const char **pos, int max_pos, const runs_opt *opts, int argc, char **argv)
{
    int rc = 0, only_pos = 0;
    *npos = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (*npos >= max_pos) {
                rc = runs_error_set(RUNS_EUSAGE, "unexpected argument '%s'", a);
                goto done;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            int len = (int)(eq ? eq - name : (long)strlen(name)), ambiguous;
            const runs_opt *o = len ? find_long(opts, name, (size_t)len, &ambiguous) : NULL;
            if (!len)
                ambiguous = 0;
            if (!o) {
                rc = runs_error_set(RUNS_EUSAGE, "%s option '--%.*s'", ambiguous ? "ambiguous" : "unknown", len, name);
                goto done;
            }
            if (!takes_value(o)) {
                rc = eq ? runs_error_set(RUNS_EUSAGE, "'--%.*s' takes no value", len, name) : store_value(o, NULL);
                continue;
            }
            if (!eq && i + 1 >= argc) {
                rc = runs_error_set(RUNS_EUSAGE, "'--%.*s' needs a value", len, name);
                goto done;
            }
            rc = store_value(o, eq ? eq + 1 : argv[++i]);
            continue;
        }
        /* a cluster of short options: flags, then at most one taking a value
         * (the rest of the cluster, or the next argument) */
        for (const char *p = a + 1; *p && rc == 0; p++) {
            const runs_opt *o = find_short(opts, *p);
            if (!o) {
                rc = runs_error_set(RUNS_EUSAGE, "unknown option '-%c'", *p);
                goto done;
            }
            if (!takes_value(o)) {
                rc = store_value(o, NULL);
                continue;
            }
            if (p[1]) {
                rc = store_value(o, p + 1);
            } else if (i + 1 < argc) {
                rc = store_value(o, argv[++i]);
            } else {
                rc = runs_error_set(RUNS_EUSAGE, "'-%c' needs a value", *p);
            }
            break;
        }
    }
done:
    return rc;
}

/* common/buf.h's builder: 0, or non-zero when out of memory. */
typedef runs_buf sbuf;

static int sb_add(sbuf *b, const char *s, size_t n)
{
    return runs_buf_append(b, s, n) != 0;
}

static int left_column(char *buf, size_t n, const runs_opt *o)
{
    const char *arg = takes_value(o) ? (o->arg_name ? o->arg_name : "VALUE") : NULL;
    char shrt[8] = "", lng[96] = "";
    if (o->shrt)
        snprintf(shrt, sizeof shrt, "-%c%s", o->shrt, o->lng ? ", " : "");
    if (o->lng)
        snprintf(lng, sizeof lng, "--%s", o->lng);
    return snprintf(buf, n, "  %s%s%s%s", shrt, lng, arg ? " " : "", arg ? arg : "");
}

char *runs_opts_help(const runs_opt *opts, int min_col)
{
    sbuf b = {0};
    char left[160];
    int col = min_col, failed = 0;
    for (const runs_opt *o = opts; !is_end(o); o++) {
        int w = left_column(left, sizeof left, o) + 2;
        if (o->help && w > col)
            col = w;
    }
    for (const runs_opt *o = opts; !is_end(o) && !failed; o++) {
        if (!o->help)
            continue;
        int w = left_column(left, sizeof left, o);
        failed |= sb_add(&b, left, (size_t)w);
        for (const char *h = o->help; !failed;) {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            for (; w < col && !failed; w++)
                failed |= sb_add(&b, " ", 1);
            failed |= sb_add(&b, h, n);
            failed |= sb_add(&b, "\n", 1);
            if (!nl)
                break;
            h = nl + 1;
            w = 0;
        }
    }
    if (!failed && !b.s)
        failed |= sb_add(&b, "", 0);
    if (failed) {
        free(b.s);
        runs_error_set(RUNS_ENOMEM, "option help: out of memory");
        return NULL;
    }
    return b.s;
}
