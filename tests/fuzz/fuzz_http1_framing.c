/*
 * The HTTP/1.1 framing check (translate/http1_framing.c, request smuggling)
 * on any bytes: no crash, no read past the buffer, and answers that do not
 * depend on what cannot matter:
 *  - a complete head ends with a line feed inside the buffer, gets the same
 *    answer alone (the body after it is not read) and is incomplete
 *    without its last byte;
 *  - the order of the header lines and the letter case of the head do not
 *    change the answer (Content-Length values are compared as numbers, all
 *    of them against each other), nor the body length;
 *  - a conflict has no body length.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "translate/http1_framing.h"

#define FUZZ_NAME "fuzz_http1_framing"
#include "fuzz_check.h"

/* Runs the check on an exact-size heap copy, so ASan sees any read past the end. */
static size_t body_len; /* the last call's */

static int framing(const char *p, size_t n, size_t *head_len)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL, "oom");
    if (n)
        memcpy(copy, p, n);
    int rc = dw_http1_framing(copy, n, head_len, &body_len);
    free(copy);
    return rc;
}

/* The head with its header lines in reverse order, upper-cased if `upper`. */
static char *rearranged(const char *p, size_t head, int upper)
{
    char *out = malloc(head);
    CHECK(out != NULL, "oom");
    size_t at = 0, w = 0;
    while (p[at] == '\n' || (p[at] == '\r' && p[at + 1] == '\n')) /* empty lines before the request line */
        at += p[at] == '\n' ? 1 : 2;
    const char *nl = memchr(p + at, '\n', head - at);
    size_t req_end = (size_t)(nl - p) + 1;
    memcpy(out, p, req_end);
    w = req_end;
    /* header lines: [req_end, last) where the last line is the empty one */
    size_t last = head - 1;
    if (last > req_end && p[last - 1] == '\r')
        last--;
    while (last > req_end && p[last - 1] != '\n')
        last--; /* start of the empty line */
    size_t end = last;
    while (end > req_end) {
        size_t start = end - 1;
        while (start > req_end && p[start - 1] != '\n')
            start--;
        memcpy(out + w, p + start, end - start);
        w += end - start;
        end = start;
    }
    memcpy(out + w, p + last, head - last);
    w += head - last;
    CHECK(w == head, "rearranged size");
    for (size_t i = 0; upper && i < head; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t head = 0, again = 0;
    int rc = framing(p, size, &head);
    CHECK(rc == DW_FRAMING_OK || rc == DW_FRAMING_INCOMPLETE || rc == DW_FRAMING_CONFLICT, "result %d", rc);
    CHECK(framing(p, size, &again) == rc, "two answers");
    if (rc == DW_FRAMING_INCOMPLETE)
        return 0;
    CHECK(head > 0 && head <= size && p[head - 1] == '\n', "head length %zu of %zu", head, size);
    CHECK(again == head, "two head lengths");
    size_t body = body_len;
    CHECK(rc != DW_FRAMING_CONFLICT || body == DW_FRAMING_LENGTH_UNKNOWN, "a conflict with a length");
    CHECK(framing(p, head, &again) == rc && again == head, "the body changes the answer");
    CHECK(framing(p, head - 1, &again) == DW_FRAMING_INCOMPLETE, "a head without its last byte is complete");
    for (int upper = 0; upper < 2; upper++) {
        char *r = rearranged(p, head, upper);
        CHECK(framing(r, head, &again) == rc && again == head && body_len == body,
              "reordering%s the header lines changes the answer: %.*s", upper ? " and upper-casing" : "", (int)head, r);
        free(r);
    }
    return 0;
}
