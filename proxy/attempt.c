#include "proxy/attempt.h"

#include <strings.h>
#include <string.h>

#include "proxy/metrics.h"

void dw_attempt_init(dw_attempt_t *a)
{
    a->attempts = 0;
    a->recovery = -1;
}

int dw_attempt_close_refused(int code, const char *reason)
{
    static const char *const says[] = {"too big", "too large"};
    if (code == 1009)
        return 1;
    for (size_t i = 0; reason != NULL && i < sizeof(says) / sizeof(says[0]); i++)
        for (const char *r = reason; *r; r++)
            if (strncasecmp(r, says[i], strlen(says[i])) == 0)
                return 1;
    return 0;
}

static enum dw_next take(dw_attempt_t *a, enum dw_next next, int recovery)
{
    a->recovery = recovery;
    return next;
}

enum dw_next dw_attempt_next(dw_attempt_t *a, enum dw_failure f, int client_fresh, int http_allowed,
                             uint64_t *delay_ms)
{
    int again = client_fresh && a->attempts < DW_MAX_ATTEMPTS;
    int http = client_fresh && http_allowed;
    *delay_ms = 0;
    switch (f) {
    case DW_FAIL_REFUSED:
        /* 426/404/405: no WebSocket mode here (any more); anything else (401, 429, 5xx) concerns
         * this caller, and over HTTP the client gets the upstream's own answer */
        return http ? take(a, DW_NEXT_HTTP, DW_REC_HTTP_FALLBACK) : DW_NEXT_FAIL;
    case DW_FAIL_UNREACHABLE:
        /* again after a pause, and plain HTTP once they keep failing */
        if (again) {
            *delay_ms = (uint64_t)DW_BACKOFF_FIRST_MS << (a->attempts - 1);
            return take(a, DW_NEXT_BACKOFF, DW_REC_HANDSHAKE_RETRY);
        }
        return http ? take(a, DW_NEXT_HTTP, DW_REC_HTTP_FALLBACK) : DW_NEXT_FAIL;
    case DW_FAIL_LOST:
        return again ? take(a, DW_NEXT_RETRY, DW_REC_CONN_LOST) : DW_NEXT_FAIL;
    case DW_FAIL_STALE:
        /* the recoveries the guide prescribes: the full input without previous_response_id */
        return again ? take(a, DW_NEXT_RETRY, DW_REC_PREV_NOT_FOUND) : DW_NEXT_FAIL;
    case DW_FAIL_AGED:
        /* ... on a new connection when this one reached its age limit */
        return again ? take(a, DW_NEXT_RETRY, DW_REC_CONN_LIMIT) : DW_NEXT_FAIL;
    case DW_FAIL_TOO_BIG:
        /* WebSocket cannot carry this message, HTTP can: once, unchanged; never again upstream */
        return http ? take(a, DW_NEXT_HTTP, DW_REC_MESSAGE_REFUSED) : DW_NEXT_FAIL;
    }
    return DW_NEXT_FAIL;
}
