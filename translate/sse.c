#include "translate/sse.h"

#include <string.h>

/* The first CR or LF in p[0..n), or p + n. Two memchr passes (vectorised in libc) instead of a
 * byte loop: events are almost always single-line, so each pass runs once over the event. */
static const char *next_break(const char *p, size_t n, const char **cr, const char **lf)
{
    if (!*cr || *cr < p)
        *cr = (*cr = memchr(p, '\r', n)) ? *cr : p + n;
    if (!*lf || *lf < p)
        *lf = (*lf = memchr(p, '\n', n)) ? *lf : p + n;
    return *cr < *lf ? *cr : *lf;
}

int dw_sse_append(dw_buf_t *out, const char *type, size_t type_len, const char *json, size_t json_len)
{
    if (dw_buf_reserve(out, type_len + json_len + 18) != 0)
        return -1;
    if (dw_buf_append(out, "event: ", 7) || dw_buf_append(out, type, type_len) || dw_buf_append(out, "\ndata: ", 7))
        return -1;
    if (json_len == 0)
        return dw_buf_append(out, "\n\n", 2); /* json may be NULL: no pointer arithmetic, no memchr */
    const char *end = json + json_len, *at = json, *cr = NULL, *lf = NULL;
    for (;;) {
        const char *b = next_break(at, (size_t)(end - at), &cr, &lf);
        if (b > at && dw_buf_append(out, at, (size_t)(b - at)))
            return -1;
        if (b == end)
            break;
        /* SSE ends a line at CRLF, LF or a lone CR: each becomes one line break here */
        at = b + (*b == '\r' && b + 1 < end && b[1] == '\n' ? 2 : 1);
        if (dw_buf_append(out, "\ndata: ", 7))
            return -1;
    }
    return dw_buf_append(out, "\n\n", 2);
}
