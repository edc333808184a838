/*
 * WebSocket mode: one response in flight per connection, later
 * response.creates queued in order, and a cache of exactly one response (the
 * most recent) per connection, as the launch-era guide describes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"

#define FRAGMENT 65536 /* outgoing messages are split into fragments this big */

struct dwm_job {
	json_t *req;
	json_t *log_entry;
	struct dwm_fault fault;
	size_t bytes;
	int bad_fault;
	struct dwm_job *next;
};

struct dwm_conn {
	struct lws *wsi;
	int num;
	json_t *headers;
	struct dwm_fault fault; /* run-wide + upgrade's x-mock-fault */
	double born;
	char *rx;
	size_t rx_len, rx_cap;
	int rx_too_big;
	struct dwm_job *head, *tail;
	/* the request being answered */
	int busy;
	struct dwm_turn turn;
	json_t *msgs; /* events, or one error envelope */
	size_t next, sent;
	int is_error;
	int close_after; /* -1: never */
	int slow_ms;
	int close_when_sent;
	int waiting;
	int stalled;  /* stall_after_events already took effect for this response */
	int black;    /* black_hole: never read or write again */
	unsigned char *out;
	size_t out_len, out_off;
	lws_sorted_usec_list_t sul;
	/* the server's keepalive pings */
	lws_sorted_usec_list_t sul_ping, sul_pong;
	int ping_due, pong_late;
	json_t *hs; /* this connection's handshake log entry */
	/* the one cached response */
	char *cache_id;
	json_t *cache_chain;
	size_t cache_bytes;
};

static int conn_counter;
static struct lws *upgrading_wsi; /* the upgrade CONFIRM_UPGRADE numbered */
static int upgrading_num;

/* WebSocket mode lives on .../responses only, like the real API */
static int upgrade_path_ok(struct lws *wsi)
{
	char uri[1024];
	int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
	static const char suffix[] = "/responses";

	while (n > 1 && uri[n - 1] == '/')
		uri[--n] = '\0';
	return n >= (int)sizeof(suffix) - 1 && !strcmp(uri + n - (int)sizeof(suffix) + 1, suffix);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	default:
		return status >= 500 ? "Server Error" : "Client Error";
	}
}

int dwm_ws_confirm_upgrade(struct lws *wsi)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	struct dwm_fault f = {0};
	char spec[512], body[256];
	int status = 0, n;

	upgrading_wsi = wsi;
	upgrading_num = ++conn_counter;
	if (!upgrade_path_ok(wsi))
		status = 404;
	else if (lws_hdr_custom_copy(wsi, spec, sizeof(spec), "x-mock-fault:", 13) >= 0 &&
	    !dwm_fault_parse(&f, spec) && (f.set & DWM_F_REFUSE_UPGRADE))
		status = f.refuse_upgrade;
	if (!status)
		status = dwm_fault_control_take_upgrade();
	if (!status && (dwm_cfg.fault.set & DWM_F_REFUSE_UPGRADE))
		status = dwm_cfg.fault.refuse_upgrade;
	if (!status)
		return 0;
	json_decref(dwm_log_handshake(upgrading_num, status, dwm_lws_headers(wsi)));
	n = snprintf(body, sizeof(body),
		     "{\"error\":{\"message\":\"WebSocket upgrade refused (mock, status %d).\","
		     "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}",
		     status);
	/* the status line by hand: at this point lws would write "HTTP/1.0", and without a reason
	 * phrase for 426, which real clients (Codex) reject */
	p += lws_snprintf((char *)p, (size_t)(end - p), "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)"application/json", 16, &p, end) ||
	    lws_add_http_header_content_length(wsi, (lws_filepos_t)n, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) || end - p < n)
		return -1;
	memcpy(p, body, (size_t)n);
	p += n;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		return -1;
	return 1; /* answered: lws completes the transaction */
}

static void wake(lws_sorted_usec_list_t *sul)
{
	struct dwm_conn *c = lws_container_of(sul, struct dwm_conn, sul);

	c->waiting = 0;
	lws_callback_on_writable(c->wsi);
}

/* write again after ms; ms < 0: never (a stall that lasts) */
static void later(struct dwm_conn *c, int ms)
{
	if (ms < 0) {
		c->waiting = 1;
		return;
	}
	if (ms == 0) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	c->waiting = 1;
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul, wake, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* close with a code and reason (the caller returns -1 from its callback), and log it */
static int close_with(struct dwm_conn *c, enum lws_close_status code, const char *reason)
{
	lws_close_reason(c->wsi, code, (unsigned char *)reason, strlen(reason));
	json_object_set_new(c->hs, "close", json_pack("{s:i, s:s}", "code", (int)code, "reason", reason));
	return -1;
}

static void count(struct dwm_conn *c, const char *key)
{
	json_object_set_new(c->hs, key, json_integer(json_integer_value(json_object_get(c->hs, key)) + 1));
}

static void ping_now(lws_sorted_usec_list_t *sul)
{
	struct dwm_conn *c = lws_container_of(sul, struct dwm_conn, sul_ping);

	c->ping_due = 1;
	lws_callback_on_writable(c->wsi);
}

static void pong_missing(lws_sorted_usec_list_t *sul)
{
	struct dwm_conn *c = lws_container_of(sul, struct dwm_conn, sul_pong);

	c->pong_late = 1;
	lws_callback_on_writable(c->wsi);
}

/* the service pings and closes with 1011 when the pong is late (upstream-protocol.md section 2) */
static void ping_later(struct dwm_conn *c)
{
	if (dwm_cfg.ws_ping_interval > 0 && !c->black)
		lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_ping, ping_now,
				 (lws_usec_t)(dwm_cfg.ws_ping_interval * LWS_US_PER_SEC));
}

static void pong(struct dwm_conn *c)
{
	count(c, "pongs");
	if (lws_dll2_is_detached(&c->sul_pong.list))
		return;
	lws_sul_cancel(&c->sul_pong);
	ping_later(c);
}

static int send_ping(struct dwm_conn *c)
{
	unsigned char buf[LWS_PRE + 8];

	c->ping_due = 0;
	memcpy(buf + LWS_PRE, "dwm-ping", 8);
	if (lws_write(c->wsi, buf + LWS_PRE, 8, LWS_WRITE_PING) < 8)
		return -1;
	count(c, "pings");
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_pong, pong_missing,
			 (lws_usec_t)(dwm_cfg.ws_pong_timeout * LWS_US_PER_SEC));
	if (c->busy && !c->waiting)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* a NAT that dropped the connection: nothing is read (so no pong) and nothing is sent, no FIN */
static void go_black(struct dwm_conn *c)
{
	c->black = 1;
	lws_sul_cancel(&c->sul);
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	lws_rx_flow_control(c->wsi, 0);
	json_object_set_new(c->hs, "black_hole", json_true());
}

static void evict(struct dwm_conn *c)
{
	free(c->cache_id);
	json_decref(c->cache_chain);
	c->cache_id = NULL;
	c->cache_chain = NULL;
	c->cache_bytes = 0;
}

static void job_free(struct dwm_job *j)
{
	json_decref(j->req);
	json_decref(j->log_entry);
	free(j);
}

static void conn_free(struct dwm_conn *c)
{
	struct dwm_job *j;

	lws_sul_cancel(&c->sul);
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	json_decref(c->hs);
	while ((j = c->head)) {
		c->head = j->next;
		job_free(j);
	}
	dwm_turn_clear(&c->turn);
	json_decref(c->msgs);
	json_decref(c->headers);
	evict(c);
	free(c->rx);
	free(c->out);
	free(c);
}

static struct dwm_conn *established(struct lws *wsi)
{
	struct dwm_conn *c = calloc(1, sizeof(*c));
	char spec[512];

	if (!c)
		return NULL;
	c->wsi = wsi;
	c->num = wsi == upgrading_wsi ? upgrading_num : ++conn_counter;
	upgrading_wsi = NULL;
	c->headers = dwm_lws_headers(wsi);
	c->born = dwm_now();
	c->fault = dwm_cfg.fault;
	if (lws_hdr_custom_copy(wsi, spec, sizeof(spec), "x-mock-fault:", 13) >= 0) {
		struct dwm_fault f = {0};

		if (!dwm_fault_parse(&f, spec))
			dwm_fault_merge(&c->fault, &f);
	}
	c->fault.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	c->hs = dwm_log_handshake(c->num, 101, json_incref(c->headers));
	json_object_set_new(c->hs, "pings", json_integer(0));
	json_object_set_new(c->hs, "pongs", json_integer(0));
	json_object_set_new(c->hs, "black_hole", json_false());
	json_object_set_new(c->hs, "close", json_null());
	ping_later(c);
	return c;
}

/* take the next queued request and prepare what to send for it */
static void start_next(struct dwm_conn *c)
{
	struct dwm_job *j = c->head;
	struct dwm_turn *t = &c->turn;
	int delay;

	if (c->busy || !j || c->black)
		return;
	c->head = j->next;
	if (!c->head)
		c->tail = NULL;
	c->busy = 1;
	c->next = c->sent = 0;
	c->is_error = 0;
	c->stalled = 0;
	memset(t, 0, sizeof(*t));
	t->transport = DWM_WS;
	t->req = j->req;
	t->log_entry = j->log_entry;
	t->fault = j->fault;
	t->bytes = j->bytes;
	j->req = j->log_entry = NULL;
	dwm_model_opts_for(t->req, &t->model);
	if (t->fault.set & DWM_F_FORGET_CACHE && t->fault.forget_cache)
		evict(c);
	t->cache_id = c->cache_id;
	t->cache_chain = c->cache_chain;
	t->cache_bytes = c->cache_bytes;
	delay = (t->fault.set & DWM_F_FIRST_DELAY) ? t->fault.first_event_delay_ms : 0;
	if ((t->fault.set & DWM_F_STALL_AFTER) && !t->fault.stall_after_events) {
		c->stalled = 1;
		delay = (t->fault.set & DWM_F_STALL_MS) && t->fault.stall_ms ? t->fault.stall_ms : -1;
	}
	c->slow_ms = (t->fault.set & DWM_F_SLOW) ? t->fault.slow_ms : 0;
	c->close_after = (t->fault.set & DWM_F_CLOSE_AFTER) ? t->fault.close_after_events : -1;
	if (dwm_now() - c->born > dwm_cfg.max_conn_age) {
		dwm_turn_fail(t, 400, "invalid_request_error", "websocket_connection_limit_reached", NULL,
			      "Responses websocket connection limit reached (%g seconds). Create a new "
			      "websocket connection to continue.",
			      dwm_cfg.max_conn_age);
		c->close_when_sent = 1;
	} else if (j->bad_fault) {
		dwm_turn_fail(t, 400, "invalid_request_error", "invalid_mock_fault", "metadata.mock_fault",
			      "Could not parse the mock fault spec.");
	}
	if (t->error || dwm_turn_run(t)) {
		/* a failed turn evicts the connection's cached response */
		evict(c);
		c->is_error = 1;
		c->msgs = json_pack("[o]", dwm_error_ws(t));
	} else {
		c->msgs = json_incref(t->events);
		if (t->midstream)
			json_array_append_new(c->msgs, dwm_error_ws(t));
	}
	job_free(j);
	later(c, delay);
}

static void finish(struct dwm_conn *c)
{
	struct dwm_turn *t = &c->turn;

	if (t->error) {
		evict(c);
	} else {
		dwm_turn_commit(t);
		evict(c);
		c->cache_id = strdup(json_string_value(json_object_get(t->response, "id")));
		c->cache_chain = json_incref(t->chain);
		c->cache_bytes = t->chain_bytes;
	}
	if ((t->fault.set & DWM_F_BLACK_HOLE) && t->fault.black_hole)
		go_black(c);
	dwm_turn_clear(t);
	json_decref(c->msgs);
	c->msgs = NULL;
	c->busy = 0;
	start_next(c);
}

static int writeable(struct dwm_conn *c)
{
	size_t n;
	int flags;

	if (c->black)
		return 0;
	if (c->pong_late)
		return close_with(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "keepalive ping timeout");
	/* a control frame may go between the fragments of a message */
	if (c->ping_due)
		return send_ping(c);
	if (!c->busy || c->waiting)
		return 0;
	if (c->close_after >= 0 && (int)c->sent >= c->close_after && !c->is_error)
		return -1;
	if (!c->out) {
		json_t *m = json_array_get(c->msgs, c->next++);
		size_t len = m ? json_dumpb(m, NULL, 0, DWM_JSON_FLAGS) : 0;

		if (!m || !len)
			return -1;
		c->out = malloc(LWS_PRE + len);
		if (!c->out)
			return -1;
		c->out_len = json_dumpb(m, (char *)c->out + LWS_PRE, len, DWM_JSON_FLAGS);
		c->out_off = 0;
	}
	n = c->out_len - c->out_off;
	if (n > FRAGMENT)
		n = FRAGMENT;
	/* bytes before a later fragment are already sent, so they serve as LWS_PRE */
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, !c->out_off, c->out_off + n == c->out_len);
	if (lws_write(c->wsi, c->out + LWS_PRE + c->out_off, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	c->out_off += n;
	if (c->out_off < c->out_len) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	free(c->out);
	c->out = NULL;
	c->sent++;
	if (c->is_error) {
		if (c->close_when_sent)
			return close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "connection limit reached");
		finish(c);
		return 0;
	}
	if (c->next >= json_array_size(c->msgs)) {
		finish(c);
		return 0;
	}
	if (c->close_after >= 0 && (int)c->sent >= c->close_after) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if ((c->turn.fault.set & DWM_F_STALL_AFTER) && !c->stalled &&
	    (int)c->sent >= c->turn.fault.stall_after_events) {
		c->stalled = 1;
		later(c, (c->turn.fault.set & DWM_F_STALL_MS) && c->turn.fault.stall_ms ? c->turn.fault.stall_ms : -1);
		return 0;
	}
	later(c, c->slow_ms);
	return 0;
}

static void enqueue(struct dwm_conn *c, const char *msg, size_t len)
{
	struct dwm_job *j = calloc(1, sizeof(*j));
	json_error_t err;

	if (!j)
		return;
	j->bytes = len;
	j->req = json_loadb(msg, len, 0, &err);
	j->fault = c->fault;
	dwm_fault_control_take_request(&j->fault);
	j->bad_fault = dwm_fault_from_metadata(j->req, &j->fault) < 0;
	j->fault.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	j->log_entry = dwm_log_request(DWM_WS, c->num, len, j->req, json_incref(c->headers), &j->fault);
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	start_next(c);
}

static int receive(struct dwm_conn *c, const char *in, size_t len)
{
	if (c->black)
		return 0;
	/* the service refuses a message of 16 MiB or more (upstream-protocol.md section 2) */
	if (!c->rx_too_big && c->rx_len + len < dwm_cfg.max_message) {
		if (c->rx_len + len > c->rx_cap) {
			size_t cap = c->rx_cap ? c->rx_cap : 65536;
			char *b;

			while (cap < c->rx_len + len)
				cap *= 2;
			if (!(b = realloc(c->rx, cap)))
				return -1;
			c->rx = b;
			c->rx_cap = cap;
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
	} else {
		c->rx_too_big = 1;
	}
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
		return 0;
	if (c->rx_too_big)
		return close_with(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
	enqueue(c, c->rx, c->rx_len);
	c->rx_len = 0;
	return 0;
}

int dwm_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct dwm_pss *pss, void *in,
		    size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		pss->ws = established(wsi);
		return pss->ws ? 0 : -1;
	case LWS_CALLBACK_RECEIVE:
		return pss->ws ? receive(pss->ws, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (pss->ws)
			pong(pss->ws);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss->ws ? writeable(pss->ws) : 0;
	case LWS_CALLBACK_CLOSED:
		if (pss->ws)
			conn_free(pss->ws);
		pss->ws = NULL;
		return 0;
	default:
		return 0;
	}
}
