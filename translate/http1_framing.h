/* HTTP/1.1 request framing that h2o 2.2.5 accepts and RFC 9112 does not: a request whose body
 * length two front ends could read differently (request smuggling). RFC 9112 section 6.3: several
 * Content-Length values that differ are an unrecoverable error (400, then close), and Content-Length
 * with Transfer-Encoding "ought to be handled as an error" (the server closes after answering). */
#ifndef DW_HTTP1_FRAMING_H
#define DW_HTTP1_FRAMING_H

#include <stddef.h>

enum {
    DW_FRAMING_OK = 0,        /* one length, or none */
    DW_FRAMING_INCOMPLETE = 1, /* no end of the head (CRLF CRLF) in p[0..n) yet */
    DW_FRAMING_CONFLICT = 2,  /* Content-Length values differ, or Content-Length with Transfer-Encoding */
};

/* The body length of a head whose length is not known from it: chunked, or a Content-Length that
 * is not plain decimal digits within size_t. */
#define DW_FRAMING_LENGTH_UNKNOWN ((size_t)-1)

/* Reads the request head at the start of p[0..n) (request line, header lines, empty line; LF alone
 * ends a line too, as h2o's parser allows). Unless INCOMPLETE, sets *head_len to the head's bytes
 * and *body_len to the body's (its Content-Length, 0 without one and without Transfer-Encoding,
 * else DW_FRAMING_LENGTH_UNKNOWN; with CONFLICT always unknown). */
int dw_http1_framing(const char *p, size_t n, size_t *head_len, size_t *body_len);

#endif
