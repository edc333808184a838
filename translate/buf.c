#include "translate/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dw_buf_reserve(dw_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return -1;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2; /* doubling would wrap to 0 and never end */
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int dw_buf_append(dw_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (dw_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int dw_buf_append_str(dw_buf_t *b, const char *s)
{
    return dw_buf_append(b, s, strlen(s));
}

int dw_buf_append_json_string(dw_buf_t *b, const char *s, size_t n)
{
    /* worst case: every byte becomes \u00XX */
    if (n > (SIZE_MAX - 2) / 6 || dw_buf_reserve(b, n * 6 + 2) != 0)
        return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

void dw_buf_reset(dw_buf_t *b)
{
    b->len = 0;
}

void dw_buf_free(dw_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
