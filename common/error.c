/* common/error.c — thread-local last-error message.
 *
 * Every message is formatted into a local buffer first and only then copied
 * into the thread's slot, so a caller may pass runs_error_message() itself as
 * an argument (formatting a buffer into itself is undefined behaviour and used
 * to print "x: x: ..." or garbage). Control bytes and malformed UTF-8 are
 * escaped on the way in, because names, keys and paths from users and files end
 * up in these messages and the CLI prints them verbatim: a newline must not
 * split the one-line error, an escape sequence must not reach the terminal.
 */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static _Thread_local char last_message[MSG_MAX];
static _Thread_local int last_code;

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (stray continuation, overlong form, surrogate, cut short)
 * or encode a C1 control (U+0080..U+009F, which some terminals obey). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return len;
}

const char *runs_error_escape(char *buf, size_t n, const char *s)
{
    if (!n)
        return buf;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0;
    while (*p) {
        char piece[8];
        size_t plen, adv = 1;
        if (*p >= 0x20 && *p < 0x7F) {
            piece[0] = (char)*p, plen = 1;
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            piece[0] = '\\', piece[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r', plen = 2;
        } else if (*p >= 0x80 && (plen = utf8_len(p)) > 0) {
            memcpy(piece, p, plen);
            adv = plen;
        } else {
            snprintf(piece, sizeof piece, "\\x%02x", *p);
            plen = 4;
        }
        /* a piece that does not fit whole is dropped, so the result never ends in
         * half an escape or half a UTF-8 character */
        if (o + plen >= n)
            break;
        memcpy(buf + o, piece, plen);
        o += plen;
        p += adv;
    }
    buf[o] = '\0';
    return buf;
}

int runs_error_set(int code, const char *fmt, ...)
{
    char tmp[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    runs_error_escape(last_message, sizeof last_message, tmp);
    last_code = code;
    return code;
}

int runs_error_wrap(int code, const char *fmt, ...)
{
    char old[MSG_MAX], tmp[2 * MSG_MAX];
    /* copy first: the arguments may point into last_message */
    memcpy(old, last_message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, MSG_MAX, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < MSG_MAX ? (size_t)n : MSG_MAX - 1;
    tmp[used] = '\0';
    if (old[0])
        snprintf(tmp + used, sizeof tmp - used, "%s%s", used ? ": " : "", old);
    runs_error_escape(last_message, sizeof last_message, tmp);
    last_code = code;
    return code;
}

int runs_error_sys(int code, const char *step, const char *path)
{
    int saved = errno;
    const char *hint = "";
    if (saved == ENOSPC || saved == EDQUOT)
        hint = "; free some space and retry";
    else if (saved == EROFS || saved == EACCES || saved == EPERM)
        hint = "; check the store's permissions";
    return runs_error_set(code, "%s %s: %s%s", step, path ? path : "", strerror(saved), hint);
}

const char *runs_error_message(void)
{
    return last_message;
}
int runs_error_code(void)
{
    return last_code;
}

void runs_error_clear(void)
{
    last_message[0] = '\0';
    last_code = 0;
}
