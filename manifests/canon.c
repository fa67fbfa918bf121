/* manifests/canon.c — canonical JSON output and a strict parser that reports
 * line:column. We parse ourselves rather than through cJSON_Parse because
 * cJSON only offers a pointer into the text on failure, accepts duplicate keys
 * (which would make "the same config" ambiguous) and passes invalid UTF-8. */
#include "manifests/canon.h"
#include "common/buf.h"
#include "common/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------- growable buffer ---------- */

/* common/buf.h's builder; an append that runs out of memory sets b->oom, which the
 * callers check once at the end, so the return values are not needed here. */
typedef runs_buf sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    (void)runs_buf_append(b, s, n);
}
static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* ---------- canonical output ---------- */

#define TWO53 9007199254740992.0

static void put_number(sbuf *b, double x)
{
    char tmp[40];
    if (x == floor(x) && fabs(x) < TWO53) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)x); /* -0 prints as 0 */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, x);
            if (strtod(tmp, NULL) == x)
                break;
        }
    }
    sb_puts(b, tmp);
}

static void put_string(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_put(b, run, (size_t)(s - run));
        if (c == '"')
            sb_put(b, "\\\"", 2);
        else if (c == '\\')
            sb_put(b, "\\\\", 2);
        else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sb_put(b, e, 6);
        }
        run = s + 1;
    }
    sb_put(b, run, (size_t)(s - run));
    sb_put(b, "\"", 1);
}

static int cmp_keys(const void *x, const void *y)
{
    const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
    return strcmp(a->string ? a->string : "", b->string ? b->string : "");
}

static int put_value(sbuf *b, const cJSON *v)
{
    if (cJSON_IsNull(v)) {
        sb_puts(b, "null");
        return 0;
    }
    if (cJSON_IsTrue(v)) {
        sb_puts(b, "true");
        return 0;
    }
    if (cJSON_IsFalse(v)) {
        sb_puts(b, "false");
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return runs_error_set(RUNS_EINVALID, "canonical JSON: %s is not representable in JSON",
                                  isnan(v->valuedouble) ? "NaN" : "an infinite number");
        put_number(b, v->valuedouble);
        return 0;
    }
    if (cJSON_IsString(v)) {
        put_string(b, v->valuestring ? v->valuestring : "");
        return 0;
    }
    if (cJSON_IsArray(v)) {
        sb_put(b, "[", 1);
        int first = 1;
        for (const cJSON *c = v->child; c; c = c->next) {
            if (!first)
                sb_put(b, ",", 1);
            first = 0;
            int rc = put_value(b, c);
            if (rc)
                return rc;
        }
        sb_put(b, "]", 1);
        return 0;
    }
    if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            n++;
        const cJSON **kids = malloc((n ? n : 1) * sizeof *kids);
        if (!kids)
            return runs_error_set(RUNS_ENOMEM, "canonical JSON: out of memory");
        n = 0;
        for (const cJSON *c = v->child; c; c = c->next)
            kids[n++] = c;
        /* stable sort is not needed: parsed input never has duplicate keys */
        qsort(kids, n, sizeof *kids, cmp_keys);
        sb_put(b, "{", 1);
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (i)
                sb_put(b, ",", 1);
            put_string(b, kids[i]->string ? kids[i]->string : "");
            sb_put(b, ":", 1);
            rc = put_value(b, kids[i]);
        }
        free(kids);
        if (rc)
            return rc;
        sb_put(b, "}", 1);
        return 0;
    }
    return runs_error_set(RUNS_EINVALID, "canonical JSON: value of unknown type");
}

char *runs_json_canonical(const cJSON *v)
{
    sbuf b = {0};
    if (!v) {
        runs_error_set(RUNS_EINVALID, "canonical JSON: no value given");
        return NULL;
    }
    if (put_value(&b, v)) {
        free(b.s);
        return NULL;
    }
    if (b.oom) {
        free(b.s);
        runs_error_set(RUNS_ENOMEM, "canonical JSON: out of memory");
        return NULL;
    }
    return b.s;
}

/* ---------- parser ---------- */

#define MAX_DEPTH 512

typedef struct {
    const char *start, *p, *end;
    const char *origin;
    int depth;
} parser;

static int perr(const parser *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(const parser *ps, const char *at, const char *fmt, ...)
{
    int line = 1, col = 1;
    for (const char *q = ps->start; q < at && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80)
            col++; /* count characters, not bytes */
    }
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return runs_error_set(RUNS_EINVALID, "%s:%d:%d: %s", ps->origin ? ps->origin : "<json>", line, col, what);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int unexpected(parser *ps, const char *expected)
{
    if (ps->p >= ps->end)
        return perr(ps, ps->p, "unexpected end of input, expected %s", expected);
    unsigned char c = (unsigned char)*ps->p;
    if (c >= 0x20 && c < 0x7f)
        return perr(ps, ps->p, "unexpected '%c', expected %s", c, expected);
    return perr(ps, ps->p, "unexpected byte 0x%02x, expected %s", c, expected);
}

static int parse_value(parser *ps, cJSON **out);

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

static void put_utf8(sbuf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_put(b, u, n);
}

/* Length of a valid UTF-8 sequence at s (s < end), or 0 if invalid. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    int n;
    unsigned cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (end - s < n)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Parses a string at ps->p (which is '"'); *out is malloc'd. */
static int parse_string_raw(parser *ps, char **out)
{
    sbuf b = {0};
    const char *open = ps->p++;
    sb_put(&b, "", 0);
    for (;;) {
        if (ps->p >= ps->end) {
            free(b.s);
            return perr(ps, open, "unterminated string");
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            free(b.s);
            return perr(ps, ps->p, "control character 0x%02x inside a string (write it as \\u%04x)", c, c);
        }
        if (c == '\\') {
            const char *esc = ps->p;
            if (ps->p + 1 >= ps->end) {
                free(b.s);
                return perr(ps, open, "unterminated string");
            }
            char e = ps->p[1];
            ps->p += 2;
            switch (e) {
            case '"': sb_put(&b, "\"", 1); break;
            case '\\': sb_put(&b, "\\", 1); break;
            case '/': sb_put(&b, "/", 1); break;
            case 'b': sb_put(&b, "\b", 1); break;
            case 'f': sb_put(&b, "\f", 1); break;
            case 'n': sb_put(&b, "\n", 1); break;
            case 'r': sb_put(&b, "\r", 1); break;
            case 't': sb_put(&b, "\t", 1); break;
            case 'u': {
                unsigned cp, lo;
                if (ps->end - ps->p < 4 || hex4(ps->p, &cp)) {
                    free(b.s);
                    return perr(ps, esc, "bad \\u escape (expected 4 hex digits)");
                }
                ps->p += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    free(b.s);
                    return perr(ps, esc, "lone low surrogate \\u%04x", cp);
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF) {
                        free(b.s);
                        return perr(ps, esc, "high surrogate \\u%04x not followed by a low surrogate", cp);
                    }
                    ps->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                    free(b.s);
                    return perr(ps, esc, "\\u0000 is not supported in strings");
                }
                put_utf8(&b, cp);
                break;
            }
            default:
                free(b.s);
                if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
                    return perr(ps, esc, "bad escape '\\%c'", e);
                return perr(ps, esc, "bad escape");
            }
            continue;
        }
        int n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
        if (!n) {
            free(b.s);
            return perr(ps, ps->p, "invalid UTF-8 byte 0x%02x in string", c);
        }
        sb_put(&b, ps->p, (size_t)n);
        ps->p += n;
    }
    if (b.oom) {
        free(b.s);
        return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    }
    *out = b.s;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(parser *ps, cJSON **out)
{
    const char *s = ps->p, *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !is_digit(*q))
        return perr(ps, s, "bad number (expected a digit after '-')");
    if (*q == '0') {
        q++;
        if (q < ps->end && is_digit(*q))
            return perr(ps, s, "bad number (leading zeros are not allowed)");
    } else {
        while (q < ps->end && is_digit(*q))
            q++;
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || !is_digit(*q))
            return perr(ps, s, "bad number (expected a digit after '.')");
        while (q < ps->end && is_digit(*q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || !is_digit(*q))
            return perr(ps, s, "bad number (expected a digit in the exponent)");
        while (q < ps->end && is_digit(*q))
            q++;
    }
    size_t len = (size_t)(q - s);
    char tmp[128], *buf = len < sizeof tmp ? tmp : malloc(len + 1);
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double x = strtod(buf, NULL);
    if (buf != tmp)
        free(buf);
    if (!isfinite(x))
        return perr(ps, s, "number out of range");
    *out = cJSON_CreateNumber(x);
    if (!*out)
        return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    ps->p = q;
    return 0;
}

static int parse_literal(parser *ps, cJSON **out)
{
    static const struct {
        const char *word;
        int type;
    } lits[] = {{"true", 1}, {"false", 0}, {"null", 2}};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        size_t n = strlen(lits[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lits[i].word, n) == 0) {
            ps->p += n;
            *out = lits[i].type == 2 ? cJSON_CreateNull() : cJSON_CreateBool(lits[i].type);
            if (!*out)
                return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
            return 0;
        }
    }
    return unexpected(ps, "a JSON value");
}

static int parse_array(parser *ps, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        *out = arr;
        return 0;
    }
    for (;;) {
        cJSON *item = NULL;
        int rc = parse_value(ps, &item);
        if (rc) {
            cJSON_Delete(arr);
            return rc;
        }
        cJSON_AddItemToArray(arr, item);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            break;
        }
        rc = unexpected(ps, "',' or ']'");
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int parse_object(parser *ps, cJSON **out)
{
    cJSON *obj = cJSON_CreateObject();
    int rc = 0;
    if (!obj)
        return runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        *out = obj;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            rc = unexpected(ps, "a string key");
            goto done;
        }
        const char *at = ps->p;
        char *key = NULL;
        rc = parse_string_raw(ps, &key);
        if (rc)
            goto done;
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            rc = perr(ps, at, "duplicate key \"%s\"", key);
            free(key);
            goto done;
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            free(key);
            rc = unexpected(ps, "':'");
            goto done;
        }
        ps->p++;
        cJSON *item = NULL;
        rc = parse_value(ps, &item);
        if (rc) {
            free(key);
            goto done;
        }
        cJSON_AddItemToObject(obj, key, item);
        free(key);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            break;
        }
        rc = unexpected(ps, "',' or '}'");
        goto done;
    }
done:
    if (rc) {
        cJSON_Delete(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

static int parse_value(parser *ps, cJSON **out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return unexpected(ps, "a JSON value");
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > MAX_DEPTH)
            return perr(ps, ps->p, "nesting deeper than %d levels", MAX_DEPTH);
        int rc = c == '{' ? parse_object(ps, out) : parse_array(ps, out);
        ps->depth--;
        return rc;
    }
    if (c == '"') {
        char *s = NULL;
        int rc = parse_string_raw(ps, &s);
        if (rc)
            return rc;
        *out = cJSON_CreateString(s);
        free(s);
        return *out ? 0 : runs_error_set(RUNS_ENOMEM, "parse: out of memory");
    }
    if (c == '-' || is_digit(c))
        return parse_number(ps, out);
    return parse_literal(ps, out);
}

static int parse_n(cJSON **out, const char *text, size_t len, const char *origin)
{
    parser ps = {text, text, text + len, origin, 0};
    cJSON *v = NULL;
    *out = NULL;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3; /* editors' BOM */
    skip_ws(&ps);
    if (ps.p >= ps.end)
        return perr(&ps, ps.p, "empty input, expected a JSON value");
    int rc = parse_value(&ps, &v);
    if (rc)
        return rc;
    skip_ws(&ps);
    if (ps.p < ps.end) {
        rc = perr(&ps, ps.p, "unexpected data after the JSON value");
        cJSON_Delete(v);
        return rc;
    }
    *out = v;
    return 0;
}

int runs_json_parse(cJSON **out, const char *text, const char *origin)
{
    if (!text) {
        *out = NULL;
        return runs_error_set(RUNS_EINVALID, "%s: no text to parse", origin ? origin : "<json>");
    }
    return parse_n(out, text, strlen(text), origin);
}

/* Configs and manifests are kilobytes; the cap keeps `--config /dev/zero` (or a
 * mistyped path to a dataset) from being read until memory runs out. */
#define JSON_FILE_MAX ((size_t)64 << 20)

int runs_json_parse_file(cJSON **out, const char *path)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return runs_error_sys(errno == ENOENT ? RUNS_ENOTFOUND : RUNS_EIO, "open", path);
    if (fstat(fileno(f), &st) != 0) {
        rc = runs_error_sys(RUNS_EIO, "stat", path);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = runs_error_set(RUNS_EINVALID, "%s is a directory; give the path of a JSON file", path);
        goto done;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = runs_error_set(RUNS_ENOMEM, "%s: out of memory reading the file", path);
                goto done;
            }
            buf = nb;
        }
        size_t want = cap - n - 1;
        if (want > JSON_FILE_MAX + 1 - n)
            want = JSON_FILE_MAX + 1 - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (n > JSON_FILE_MAX) {
            rc = runs_error_set(RUNS_EINVALID, "%s: larger than %zu MiB, the cap on a JSON file (is it JSON?)", path,
                                JSON_FILE_MAX >> 20);
            goto done;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = runs_error_sys(RUNS_EIO, "read", path);
        goto done;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        parser ps = {buf, buf + strlen(buf), buf + n, path, 0};
        rc = perr(&ps, ps.p, "NUL byte in the file (is it JSON?)");
        goto done;
    }
    rc = parse_n(out, buf, n, path);
done:
    fclose(f);
    free(buf);
    return rc;
}

/* ---------- helpers ---------- */

const char *runs_json_describe(char *buf, size_t n, const cJSON *v)
{
    if (!n)
        return buf;
    if (!v)
        snprintf(buf, n, "nothing");
    else if (cJSON_IsObject(v))
        snprintf(buf, n, "an object");
    else if (cJSON_IsArray(v))
        snprintf(buf, n, "an array");
    else {
        char *c = runs_json_canonical(v);
        if (!c)
            snprintf(buf, n, "an invalid value");
        else if (strlen(c) > 48)
            snprintf(buf, n, "%.40s...%s", c, cJSON_IsString(v) ? "\"" : "");
        else
            snprintf(buf, n, "%s", c);
        free(c);
    }
    return buf;
}

int runs_json_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return a->valuedouble == b->valuedouble;
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return 0;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!runs_json_equal(x, y))
                return 0;
        return !x && !y;
    }
    if (cJSON_IsObject(a)) {
        int na = 0, nb = 0;
        for (const cJSON *x = a->child; x; x = x->next) {
            na++;
            if (!runs_json_equal(x, cJSON_GetObjectItemCaseSensitive(b, x->string)))
                return 0;
        }
        for (const cJSON *y = b->child; y; y = y->next)
            nb++;
        return na == nb;
    }
    return 1; /* null, true, false: same type */
}
