#include "translate/http1_framing.h"

#include <string.h>
#include <strings.h>

static int name_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* Compares two Content-Length values as numbers spelled in digits (leading zeros aside), after
 * optional whitespace; anything else (a list "5, 6", a sign) never equals. */
static int same_length(const char *a, size_t an, const char *b, size_t bn)
{
    while (an && (*a == ' ' || *a == '\t'))
        a++, an--;
    while (bn && (*b == ' ' || *b == '\t'))
        b++, bn--;
    while (an && (a[an - 1] == ' ' || a[an - 1] == '\t' || a[an - 1] == '\r'))
        an--;
    while (bn && (b[bn - 1] == ' ' || b[bn - 1] == '\t' || b[bn - 1] == '\r'))
        bn--;
    while (an > 1 && *a == '0')
        a++, an--;
    while (bn > 1 && *b == '0')
        b++, bn--;
    return an == bn && an > 0 && strspn(a, "0123456789") >= an && memcmp(a, b, an) == 0;
}

/* A Content-Length value as a number: digits only, with the whitespace same_length ignores. */
static size_t length_of(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = (size_t)(v[i] - '0');
        if (v[i] < '0' || v[i] > '9' || len > (DW_FRAMING_LENGTH_UNKNOWN - 1 - d) / 10)
            return DW_FRAMING_LENGTH_UNKNOWN; /* the largest length is one below the marker */
        len = len * 10 + d;
    }
    return n ? len : DW_FRAMING_LENGTH_UNKNOWN;
}

int dw_http1_framing(const char *p, size_t n, size_t *head_len, size_t *body_len)
{
    const char *cl = NULL;
    size_t cl_n = 0;
    int conflict = 0, te = 0, first = 1;
    size_t at = 0;
    while (at < n) {
        const char *nl = memchr(p + at, '\n', n - at);
        if (nl == NULL)
            return DW_FRAMING_INCOMPLETE;
        const char *line = p + at;
        size_t len = (size_t)(nl - line);
        size_t text = len && line[len - 1] == '\r' ? len - 1 : len;
        at = (size_t)(nl - p) + 1;
        if (text == 0) {
            if (first)
                continue; /* h2o skips empty lines before the request line */
            *head_len = at;
            if (conflict || (te && cl != NULL)) {
                *body_len = DW_FRAMING_LENGTH_UNKNOWN;
                return DW_FRAMING_CONFLICT;
            }
            *body_len = te ? DW_FRAMING_LENGTH_UNKNOWN : cl != NULL ? length_of(cl, cl_n) : 0;
            return DW_FRAMING_OK;
        }
        if (first) {
            first = 0; /* the request line */
            continue;
        }
        if (name_is(line, text, "content-length")) {
            const char *v = line + 15;
            size_t vn = text - 15;
            if (memchr(v, ',', vn) != NULL)
                conflict = 1; /* a list: h2o would read its first number */
            else if (cl != NULL && !same_length(cl, cl_n, v, vn))
                conflict = 1;
            cl = v;
            cl_n = vn;
        } else if (name_is(line, text, "transfer-encoding")) {
            te = 1;
        }
    }
    return DW_FRAMING_INCOMPLETE;
}
