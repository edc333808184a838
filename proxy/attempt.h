/* One request's upstream attempts: after each failure, what comes next. A fresh try with the full
 * input, a new handshake after a pause that doubles (100 ms, 200 ms), the plain HTTP passthrough
 * (never worse than direct), or an honest error; and the one recovery to count if the request
 * then succeeds. Pure: the exchange carries the decision out. */
#ifndef DW_ATTEMPT_H
#define DW_ATTEMPT_H

#include <stdint.h>

/* Tries in all, the first one included. */
#define DW_MAX_ATTEMPTS 3
/* The pause before the second handshake; it doubles for each one after. */
#define DW_BACKOFF_FIRST_MS 100

enum dw_failure {
    DW_FAIL_REFUSED,     /* the WebSocket handshake was refused with an HTTP status */
    DW_FAIL_UNREACHABLE, /* the handshake failed on the network or in TLS */
    DW_FAIL_LOST,        /* an open connection closed before the response completed */
    DW_FAIL_STALE,       /* error envelope previous_response_not_found, on a delta */
    DW_FAIL_AGED,        /* error envelope websocket_connection_limit_reached */
    DW_FAIL_TOO_BIG,     /* closed before any event because the message was refused (1009) */
};

enum dw_next {
    DW_NEXT_RETRY,   /* lease again now, full input */
    DW_NEXT_BACKOFF, /* lease again, full input, after *delay_ms */
    DW_NEXT_HTTP,    /* hand the request to the plain HTTP passthrough unchanged */
    DW_NEXT_FAIL,    /* answer the client with the failure */
};

typedef struct {
    int attempts; /* tries started: the caller counts each */
    int recovery; /* enum dw_recovery of the last way out taken, -1 for none */
} dw_attempt_t;

void dw_attempt_init(dw_attempt_t *a);

/* 1 when a close that came before the first event says the message was refused: status 1009
 * (message too big, as the service closes at 16 MiB; upstream-protocol.md section 2), or a reason
 * that says the message is too big or too large (any case). reason may be NULL. */
int dw_attempt_close_refused(int code, const char *reason);

/* Failure f (http_status: the refusal's status, else 0) ended the current try. client_fresh:
 * nothing reached the client yet and it is still there (else a retry would be a replay).
 * http_allowed: the transport setting allows plain HTTP. Sets *delay_ms for DW_NEXT_BACKOFF. */
enum dw_next dw_attempt_next(dw_attempt_t *a, enum dw_failure f, int client_fresh, int http_allowed,
                             uint64_t *delay_ms);

#endif
