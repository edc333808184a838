/* A growable byte buffer, in the spirit of redis' sds: one owner, explicit free. */
#ifndef DW_BUF_H
#define DW_BUF_H

#include <stddef.h>

typedef struct {
    char *p;    /* owned; NULL while empty and never grown */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
} dw_buf_t;

/* Ensures room for `extra` more bytes. Returns 0, or -1 when out of memory or len + extra does not
 * fit a size_t; the buffer is unchanged then. */
int dw_buf_reserve(dw_buf_t *b, size_t extra);
/* Appends n bytes. Returns 0 or -1 (out of memory; the buffer is unchanged). */
int dw_buf_append(dw_buf_t *b, const void *p, size_t n);
int dw_buf_append_str(dw_buf_t *b, const char *s);
/* Appends s as a JSON string literal, quotes and escapes included: '"' and '\\' escaped with a
 * backslash, bytes below 0x20 as \u00XX, everything else (UTF-8 included) as it is. Returns 0 or -1
 * (out of memory; the buffer is unchanged). */
int dw_buf_append_json_string(dw_buf_t *b, const char *s, size_t n);
/* Forgets the content but keeps the allocation. */
void dw_buf_reset(dw_buf_t *b);
/* Frees the allocation; the buffer is empty and reusable afterwards. */
void dw_buf_free(dw_buf_t *b);

#endif
