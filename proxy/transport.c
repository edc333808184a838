/* The transport decision: WebSocket mode when the upstream speaks it, plain HTTP when it does not
 * (auto), retried with exponential backoff so that a restored upstream is used again. */
#include "proxy/proxy.h"

#define DW_WS_BACKOFF_MIN_MS 1000
#define DW_WS_BACKOFF_MAX_MS (10 * 60 * 1000)

int dw_proxy_use_ws(dw_proxy_t *px)
{
    switch (px->cfg->transport) {
    case DW_TRANSPORT_WS:
        return 1;
    case DW_TRANSPORT_HTTP:
        return 0;
    default:
        return uv_now(px->loop) >= px->ws_retry_at_ms;
    }
}

void dw_proxy_ws_refused(dw_proxy_t *px)
{
    if (px->ws_backoff_ms == 0)
        px->ws_backoff_ms = DW_WS_BACKOFF_MIN_MS;
    px->ws_retry_at_ms = uv_now(px->loop) + px->ws_backoff_ms;
    px->ws_backoff_ms *= 2;
    if (px->ws_backoff_ms > DW_WS_BACKOFF_MAX_MS)
        px->ws_backoff_ms = DW_WS_BACKOFF_MAX_MS;
}

void dw_proxy_ws_accepted(dw_proxy_t *px)
{
    px->ws_backoff_ms = 0;
    px->ws_retry_at_ms = 0;
}
