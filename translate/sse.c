#include "translate/sse.h"

int dw_sse_append(dw_buf_t *out, const char *type, size_t type_len, const char *json, size_t json_len)
{
    if (dw_buf_reserve(out, type_len + json_len + 18) != 0)
        return -1;
    if (dw_buf_append(out, "event: ", 7) || dw_buf_append(out, type, type_len) || dw_buf_append(out, "\ndata: ", 7))
        return -1;
    size_t start = 0, i = 0;
    for (;;) {
        while (i < json_len && json[i] != '\n' && json[i] != '\r')
            i++;
        if (i > start && dw_buf_append(out, json + start, i - start))
            return -1;
        if (i == json_len)
            break;
        /* SSE ends a line at CRLF, LF or a lone CR: each becomes one line break here */
        i += json[i] == '\r' && i + 1 < json_len && json[i + 1] == '\n' ? 2 : 1;
        start = i;
        if (dw_buf_append(out, "\ndata: ", 7))
            return -1;
    }
    return dw_buf_append(out, "\n\n", 2);
}
