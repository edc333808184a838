/* lws glue shared by http.c, ws.c and main.c */
#ifndef DWM_SERVER_H
#define DWM_SERVER_H

#include <libwebsockets.h>
#include "mock.h"

/* the protocol's rx buffer (one per connection), and its log2 as permessage-deflate's inflate buffer */
#define DWM_WS_RX_BUFFER (1u << 20)
#define DWM_WS_RX_PWR2 "20"

/* per-session data: lws frees and reallocates it on the ws upgrade */
struct dwm_pss {
	struct dwm_http *http;
	struct dwm_conn *ws;
};

/* lower-cased request headers (lws's known tokens and the custom names we know) */
json_t *dwm_lws_headers(struct lws *wsi);
double dwm_now(void);

int dwm_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int dwm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct dwm_pss *pss, void *in,
		      size_t len);
int dwm_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct dwm_pss *pss, void *in,
		    size_t len);
int dwm_ws_confirm_upgrade(struct lws *wsi);
/* permessage-deflate as lws does it, watched to count compressed bytes */
extern const struct lws_extension dwm_ws_extensions[];

#endif
