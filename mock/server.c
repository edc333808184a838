/*
 * lws glue shared by both transports: the one protocol callback (HTTP and
 * WebSocket share a port, so they share a protocol) and header capture.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server.h"

double dwm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * lws 4.1 can only look custom headers up by name (no iteration), so these
 * are the ones clients and proxies are known to send, beyond lws's own table;
 * --log-headers adds more.
 */
static const char *custom_names[] = {
	"x-mock-fault", "openai-beta", "openai-organization", "openai-project", "api-key",
	"x-api-key", "openai-api-key", "originator", "session-id", "session_id", "thread-id",
	"conversation_id", "conversation-id", "x-client-request-id", "x-codex-window-id",
	"x-codex-turn-metadata", "x-codex-beta-features", "x-codex-installation-id",
	"x-openai-internal-codex-responses-lite", "x-openai-subagent", "chatgpt-account-id",
	"x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch",
	"x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-retry-count",
	"x-stainless-timeout", "x-stainless-helper-method", "x-stainless-helper",
	"sec-fetch-mode", "idempotency-key", "traceparent", "tracestate", "x-request-id",
	"x-deltawire", "x-deltawire-request-id", "x-deltawire-client", "x-forwarded-proto",
	"keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "priority",
};

static void add(json_t *h, const char *name, size_t nlen, char *v)
{
	char key[96];

	if (nlen >= sizeof(key))
		return;
	memcpy(key, name, nlen);
	key[nlen] = '\0';
	if (!json_object_get(h, key))
		json_object_set_new(h, key, json_string(v));
}

json_t *dwm_lws_headers(struct lws *wsi)
{
	json_t *h = json_object();
	int n;
	size_t i;

	for (n = 0; n < WSI_TOKEN_COUNT; n++) {
		const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)n);
		int len;
		size_t nl;
		char *v;

		if (!name || !(nl = strlen(name)) || name[nl - 1] != ':' || name[0] == ':')
			continue;
		len = lws_hdr_total_length(wsi, (enum lws_token_indexes)n);
		if (len <= 0)
			continue;
		/* repeated headers come back joined, with separators */
		v = malloc((size_t)len * 2 + 64);
		if (v && lws_hdr_copy(wsi, v, len * 2 + 64, (enum lws_token_indexes)n) >= 0)
			add(h, name, nl - 1, v);
		free(v);
	}
	for (i = 0; i < sizeof(custom_names) / sizeof(custom_names[0]) + dwm_cfg.n_log_headers; i++) {
		const char *want = i < sizeof(custom_names) / sizeof(custom_names[0])
					   ? custom_names[i]
					   : dwm_cfg.log_headers[i - sizeof(custom_names) / sizeof(custom_names[0])];
		char name[96];
		int nl = snprintf(name, sizeof(name), "%s:", want);
		int len = lws_hdr_custom_length(wsi, name, nl);
		char *v;

		if (len < 0)
			continue;
		v = malloc((size_t)len + 1);
		if (v && lws_hdr_custom_copy(wsi, v, len + 1, name, nl) >= 0)
			add(h, name, (size_t)nl - 1, v);
		free(v);
	}
	return h;
}

/* HTTP requests, upgrades and WebSocket traffic all arrive here */
int dwm_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return dwm_ws_confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_RECEIVE_PONG:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_CLOSED:
		return dwm_ws_callback(wsi, reason, user, in, len);
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
	case LWS_CALLBACK_HTTP_WRITEABLE:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		return dwm_http_callback(wsi, reason, user, in, len);
	default:
		return 0;
	}
}
