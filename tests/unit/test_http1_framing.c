/* Request smuggling shapes (RFC 9112 section 6.3) that h2o 2.2.5 accepts. */
#include <criterion/criterion.h>
#include <string.h>

#include "translate/http1_framing.h"

static size_t body; /* the last call's body length */

static int framing(const char *s, size_t *head)
{
    return dw_http1_framing(s, strlen(s), head, &body);
}

Test(http1_framing, one_length_or_none)
{
    size_t h = 0;
    const char *a = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    cr_assert_eq(framing(a, &h), DW_FRAMING_OK);
    cr_assert_eq(h, strlen(a) - 5);
    cr_assert_eq(body, 5);
    cr_assert_eq(framing("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &h), DW_FRAMING_OK);
    cr_assert_eq(body, 0);
    cr_assert_eq(framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &h), DW_FRAMING_OK);
    cr_assert_eq(body, DW_FRAMING_LENGTH_UNKNOWN);
    /* the same length twice is one length */
    cr_assert_eq(framing("POST / HTTP/1.1\r\ncontent-length: 5\r\nContent-Length:  005\r\n\r\n", &h), DW_FRAMING_OK);
    cr_assert_eq(body, 5);
    /* LF alone, and empty lines before the request line */
    cr_assert_eq(framing("\r\nPOST / HTTP/1.1\nContent-Length: 5\n\n", &h), DW_FRAMING_OK);
    cr_assert_eq(h, strlen("\r\nPOST / HTTP/1.1\nContent-Length: 5\n\n"));
}

/* The length that pre-sizes the connection's input buffer (proxy/client_conn.c): a number, or
 * unknown; never a guess. */
Test(http1_framing, body_length)
{
    size_t h;
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length:\t1048576 \r\n\r\n", &h), DW_FRAMING_OK);
    cr_assert_eq(body, 1048576);
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 18446744073709551614\r\n\r\n", &h), DW_FRAMING_OK);
    cr_assert_eq(body, (size_t)18446744073709551614u);
    const char *unknown[] = {
        "POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", /* the marker itself */
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        body = 0;
        framing(unknown[i], &h);
        cr_assert_eq(body, DW_FRAMING_LENGTH_UNKNOWN, "%s", unknown[i]);
    }
    body = 0;
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &h), DW_FRAMING_CONFLICT);
    cr_assert_eq(body, DW_FRAMING_LENGTH_UNKNOWN);
}

Test(http1_framing, conflicts)
{
    size_t h;
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &h), DW_FRAMING_CONFLICT);
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", &h), DW_FRAMING_CONFLICT);
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &h),
                 DW_FRAMING_CONFLICT);
    cr_assert_eq(framing("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nCONTENT-LENGTH: 5\r\n\r\n", &h),
                 DW_FRAMING_CONFLICT);
    /* a header whose name only starts alike is another header */
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length-X: 1\r\nContent-Length: 5\r\n\r\n", &h), DW_FRAMING_OK);
}

Test(http1_framing, incomplete)
{
    size_t h;
    cr_assert_eq(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\n", &h), DW_FRAMING_INCOMPLETE);
    cr_assert_eq(framing("POST / HTT", &h), DW_FRAMING_INCOMPLETE);
    cr_assert_eq(framing("", &h), DW_FRAMING_INCOMPLETE);
}
