#include "translate/sse.h"

#include <string.h>

int dw_sse_append(dw_buf_t *out, const char *type, size_t type_len, const char *json, size_t json_len)
{
    if (dw_buf_reserve(out, type_len + json_len + 18) != 0)
        return -1;
    if (dw_buf_append(out, "event: ", 7) || dw_buf_append(out, type, type_len) || dw_buf_append(out, "\ndata: ", 7))
        return -1;
    const char *p = json, *end = json + json_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n > 0 && stop[-1] == '\r')
            n--;
        if (dw_buf_append(out, p, n))
            return -1;
        if (nl == NULL)
            break;
        if (dw_buf_append(out, "\ndata: ", 7))
            return -1;
        p = nl + 1;
    }
    return dw_buf_append(out, "\n\n", 2);
}
