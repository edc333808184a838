/*
 * WebSocket mode as the current guide describes it (upstream-protocol.md,
 * section 2): requests run on lanes named by stream_id (the default lane has
 * no name); one lane answers one response at a time, in order; different
 * lanes run concurrently, at most DWM_MAX_IN_FLIGHT per connection (more wait);
 * at most DWM_MAX_LANES distinct names per connection lifetime; each lane
 * caches its most recent response. Events of a named lane carry its stream_id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"

#define FRAGMENT 65536 /* outgoing messages are split into fragments this big */
#define DWM_MAX_IN_FLIGHT 16
#define DWM_MAX_LANES 32

struct dwm_job {
	json_t *req;
	json_t *log_entry;
	struct dwm_fault fault;
	size_t bytes;
	int bad_fault;
	unsigned long seq; /* arrival order on the connection */
	struct dwm_job *next;
};

struct dwm_lane {
	struct dwm_conn *c;
	char *name; /* NULL: the default lane */
	struct dwm_job *head, *tail;
	/* the response being answered */
	int busy;
	struct dwm_turn turn;
	json_t *msgs; /* events, or one error envelope */
	size_t next, sent;
	int is_error;
	int close_after; /* -1: never */
	int slow_ms;
	int stalled; /* stall_after_events already took effect for this response */
	int waiting;
	lws_sorted_usec_list_t sul;
	/* the one cached response of this lane */
	char *cache_id;
	json_t *cache_chain;
	size_t cache_bytes;
	struct dwm_lane *next_lane;
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
	unsigned long arrivals;
	struct dwm_lane *lanes; /* the default lane first, then named ones in order of first use */
	int named;              /* distinct names used so far */
	int in_flight, max_in_flight;
	struct dwm_lane *rr;    /* the lane served last (round robin between lanes) */
	json_t *urgent;         /* errors that belong to no lane, sent before anything else */
	int close_when_sent;    /* the connection limit: close after that error */
	int black;              /* black_hole: never read or write again */
	/* the message being written (whole messages never interleave) */
	unsigned char *out;
	size_t out_len, out_off;
	struct dwm_lane *out_lane; /* NULL for an urgent one */
	/* the server's keepalive pings */
	lws_sorted_usec_list_t sul_ping, sul_pong;
	int ping_due, pong_late;
	int pmd; /* permessage-deflate negotiated */
	json_t *hs; /* this connection's handshake log entry */
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

/* ---- timers ---- */

static void wake(lws_sorted_usec_list_t *sul)
{
	struct dwm_lane *l = lws_container_of(sul, struct dwm_lane, sul);

	l->waiting = 0;
	lws_callback_on_writable(l->c->wsi);
}

/* the lane writes again after ms; ms < 0: never (a stall that lasts) */
static void later(struct dwm_lane *l, int ms)
{
	if (ms < 0) {
		l->waiting = 1;
		return;
	}
	if (ms == 0) {
		lws_callback_on_writable(l->c->wsi);
		return;
	}
	l->waiting = 1;
	lws_sul_schedule(lws_get_context(l->c->wsi), 0, &l->sul, wake, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* close with a code and reason (the caller returns -1 from its callback), and log it */
static int close_with(struct dwm_conn *c, enum lws_close_status code, const char *reason)
{
	lws_close_reason(c->wsi, code, (unsigned char *)reason, strlen(reason));
	json_object_set_new(c->hs, "close", json_pack("{s:i, s:s}", "code", (int)code, "reason", reason));
	return -1;
}

static void count(struct dwm_conn *c, const char *key, json_int_t n)
{
	json_object_set_new(c->hs, key, json_integer(json_integer_value(json_object_get(c->hs, key)) + n));
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
	count(c, "pongs", 1);
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
	count(c, "pings", 1);
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->sul_pong, pong_missing,
			 (lws_usec_t)(dwm_cfg.ws_pong_timeout * LWS_US_PER_SEC));
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* a NAT that dropped the connection: nothing is read (so no pong) and nothing is sent, no FIN */
static void go_black(struct dwm_conn *c)
{
	struct dwm_lane *l;

	c->black = 1;
	for (l = c->lanes; l; l = l->next_lane)
		lws_sul_cancel(&l->sul);
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	lws_rx_flow_control(c->wsi, 0);
	json_object_set_new(c->hs, "black_hole", json_true());
}

/* ---- lanes ---- */

static void evict(struct dwm_lane *l)
{
	free(l->cache_id);
	json_decref(l->cache_chain);
	l->cache_id = NULL;
	l->cache_chain = NULL;
	l->cache_bytes = 0;
}

static void job_free(struct dwm_job *j)
{
	json_decref(j->req);
	json_decref(j->log_entry);
	free(j);
}

static void lane_free(struct dwm_lane *l)
{
	struct dwm_job *j;

	lws_sul_cancel(&l->sul);
	while ((j = l->head)) {
		l->head = j->next;
		job_free(j);
	}
	dwm_turn_clear(&l->turn);
	json_decref(l->msgs);
	evict(l);
	free(l->name);
	free(l);
}

static struct dwm_lane *lane_new(struct dwm_conn *c, const char *name)
{
	struct dwm_lane *l = calloc(1, sizeof(*l)), **p;

	if (!l || (name && !(l->name = strdup(name)))) {
		free(l);
		return NULL;
	}
	l->c = c;
	for (p = &c->lanes; *p; p = &(*p)->next_lane)
		;
	*p = l;
	return l;
}

static struct dwm_lane *lane_find(struct dwm_conn *c, const char *name)
{
	struct dwm_lane *l;

	for (l = c->lanes; l; l = l->next_lane)
		if (name ? l->name && !strcmp(l->name, name) : !l->name)
			return l;
	return NULL;
}

/* every message of a named lane says which lane it belongs to */
static void tag(json_t *msgs, const char *name)
{
	size_t i;
	json_t *m;

	if (!name)
		return;
	json_array_foreach(msgs, i, m)
		json_object_set_new(m, "stream_id", json_string(name));
}

/* start the lane's next request and prepare what to send for it */
static void lane_start(struct dwm_lane *l)
{
	struct dwm_conn *c = l->c;
	struct dwm_job *j = l->head;
	struct dwm_turn *t = &l->turn;
	int delay;

	l->head = j->next;
	if (!l->head)
		l->tail = NULL;
	l->busy = 1;
	if (++c->in_flight > c->max_in_flight) {
		c->max_in_flight = c->in_flight;
		json_object_set_new(c->hs, "max_in_flight", json_integer(c->max_in_flight));
	}
	l->next = l->sent = 0;
	l->is_error = 0;
	l->stalled = 0;
	memset(t, 0, sizeof(*t));
	t->transport = DWM_WS;
	t->req = j->req;
	t->log_entry = j->log_entry;
	t->fault = j->fault;
	t->bytes = j->bytes;
	j->req = j->log_entry = NULL;
	dwm_model_opts_for(t->req, &t->model);
	if (t->fault.set & DWM_F_FORGET_CACHE && t->fault.forget_cache)
		evict(l);
	t->cache_id = l->cache_id;
	t->cache_chain = l->cache_chain;
	t->cache_bytes = l->cache_bytes;
	delay = (t->fault.set & DWM_F_FIRST_DELAY) ? t->fault.first_event_delay_ms : 0;
	if ((t->fault.set & DWM_F_STALL_AFTER) && !t->fault.stall_after_events) {
		l->stalled = 1;
		delay = (t->fault.set & DWM_F_STALL_MS) && t->fault.stall_ms ? t->fault.stall_ms : -1;
	}
	l->slow_ms = (t->fault.set & DWM_F_SLOW) ? t->fault.slow_ms : 0;
	l->close_after = (t->fault.set & DWM_F_CLOSE_AFTER) ? t->fault.close_after_events : -1;
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
		/* a failed turn evicts its own lane's cached response */
		evict(l);
		l->is_error = 1;
		l->msgs = json_pack("[o]", dwm_error_ws(t));
	} else {
		l->msgs = json_incref(t->events);
		if (t->midstream)
			json_array_append_new(l->msgs, dwm_error_ws(t));
	}
	tag(l->msgs, l->name);
	job_free(j);
	later(l, delay);
}

/* start what may start: lanes are FIFO, and the connection runs at most DWM_MAX_IN_FLIGHT,
 * the longest waiting first */
static void schedule(struct dwm_conn *c)
{
	while (!c->black && c->in_flight < DWM_MAX_IN_FLIGHT) {
		struct dwm_lane *l, *first = NULL;

		for (l = c->lanes; l; l = l->next_lane)
			if (!l->busy && l->head && (!first || l->head->seq < first->head->seq))
				first = l;
		if (!first)
			return;
		lane_start(first);
	}
}

static void lane_finish(struct dwm_lane *l)
{
	struct dwm_conn *c = l->c;
	struct dwm_turn *t = &l->turn;

	if (t->error) {
		evict(l);
	} else {
		dwm_turn_commit(t);
		evict(l);
		l->cache_id = strdup(json_string_value(json_object_get(t->response, "id")));
		l->cache_chain = json_incref(t->chain);
		l->cache_bytes = t->chain_bytes;
	}
	if ((t->fault.set & DWM_F_BLACK_HOLE) && t->fault.black_hole)
		go_black(c);
	dwm_turn_clear(t);
	json_decref(l->msgs);
	l->msgs = NULL;
	l->busy = 0;
	c->in_flight--;
	schedule(c);
}

/* one whole message of the lane is out; 0, or -1 to close */
static int lane_sent(struct dwm_lane *l)
{
	struct dwm_conn *c = l->c;

	l->sent++;
	if (l->is_error) {
		if (c->close_when_sent)
			return close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "connection limit reached");
		lane_finish(l);
		return 0;
	}
	if (l->next >= json_array_size(l->msgs)) {
		lane_finish(l);
		return 0;
	}
	if (l->close_after >= 0 && (int)l->sent >= l->close_after)
		return 0;
	if ((l->turn.fault.set & DWM_F_STALL_AFTER) && !l->stalled &&
	    (int)l->sent >= l->turn.fault.stall_after_events) {
		l->stalled = 1;
		later(l, (l->turn.fault.set & DWM_F_STALL_MS) && l->turn.fault.stall_ms ? l->turn.fault.stall_ms : -1);
		return 0;
	}
	later(l, l->slow_ms);
	return 0;
}

static int lane_ready(const struct dwm_lane *l)
{
	return l->busy && !l->waiting && l->msgs && l->next < json_array_size(l->msgs);
}

/* the next lane to serve after the last one served, round robin */
static struct dwm_lane *pick(struct dwm_conn *c)
{
	struct dwm_lane *start = c->rr && c->rr->next_lane ? c->rr->next_lane : c->lanes, *l = start;

	if (!l)
		return NULL;
	do {
		if (lane_ready(l))
			return c->rr = l;
		l = l->next_lane ? l->next_lane : c->lanes;
	} while (l != start);
	return NULL;
}

/* ---- the connection ---- */

static void conn_free(struct dwm_conn *c)
{
	struct dwm_lane *l;

	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	while ((l = c->lanes)) {
		c->lanes = l->next_lane;
		lane_free(l);
	}
	json_decref(c->hs);
	json_decref(c->urgent);
	json_decref(c->headers);
	free(c->rx);
	free(c->out);
	free(c);
}

static struct lws *pmd_wsi; /* the upgrade the permessage-deflate extension was constructed on */

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
	/* the offer as well, in case a stale pointer matches a new connection */
	c->pmd = wsi == pmd_wsi &&
		 strstr(json_string_value(json_object_get(c->headers, "sec-websocket-extensions")) ?: "",
			"permessage-deflate");
	pmd_wsi = NULL;
	c->born = dwm_now();
	c->fault = dwm_cfg.fault;
	c->urgent = json_array();
	if (lws_hdr_custom_copy(wsi, spec, sizeof(spec), "x-mock-fault:", 13) >= 0) {
		struct dwm_fault f = {0};

		if (!dwm_fault_parse(&f, spec))
			dwm_fault_merge(&c->fault, &f);
	}
	c->fault.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	if (!lane_new(c, NULL)) {
		conn_free(c);
		return NULL;
	}
	/* lws 4.1 inflates into a 1 KiB buffer by default and asserts when a message's last input
	 * leaves that buffer full with output still pending (extension-permessage-deflate.c, "RX
	 * trailer apply 2"); a buffer as big as the protocol's makes that all but impossible */
	if (c->pmd && (lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", DWM_WS_RX_PWR2) ||
		       lws_set_extension_option(wsi, "permessage-deflate", "tx_buf_size", "16"))) {
		conn_free(c);
		return NULL;
	}
	c->hs = dwm_log_handshake(c->num, 101, json_incref(c->headers));
	json_object_set_new(c->hs, "permessage_deflate", json_boolean(c->pmd));
	json_object_set_new(c->hs, "rx_payload_bytes", json_integer(0));
	json_object_set_new(c->hs, "rx_wire_bytes", json_integer(0));
	json_object_set_new(c->hs, "tx_payload_bytes", json_integer(0));
	json_object_set_new(c->hs, "tx_wire_bytes", json_integer(0));
	json_object_set_new(c->hs, "pings", json_integer(0));
	json_object_set_new(c->hs, "pongs", json_integer(0));
	json_object_set_new(c->hs, "max_in_flight", json_integer(0));
	json_object_set_new(c->hs, "stream_ids", json_array());
	json_object_set_new(c->hs, "black_hole", json_false());
	json_object_set_new(c->hs, "close", json_null());
	ping_later(c);
	return c;
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
	if (!c->out) {
		json_t *m;
		size_t len;

		c->out_lane = NULL;
		if (json_array_size(c->urgent)) {
			m = json_incref(json_array_get(c->urgent, 0));
			json_array_remove(c->urgent, 0);
		} else {
			struct dwm_lane *l = pick(c);

			if (!l)
				return 0;
			/* close_after_events: drop the connection once what was allowed is out */
			if (l->close_after >= 0 && (int)l->sent >= l->close_after && !l->is_error)
				return -1;
			c->out_lane = l;
			m = json_incref(json_array_get(l->msgs, l->next++));
		}
		len = json_dumpb(m, NULL, 0, DWM_JSON_FLAGS);
		c->out = len ? malloc(LWS_PRE + len) : NULL;
		if (!c->out) {
			json_decref(m);
			return -1;
		}
		c->out_len = json_dumpb(m, (char *)c->out + LWS_PRE, len, DWM_JSON_FLAGS);
		c->out_off = 0;
		json_decref(m);
		count(c, "tx_payload_bytes", (json_int_t)c->out_len);
		if (!c->pmd)
			count(c, "tx_wire_bytes", (json_int_t)c->out_len);
	}
	n = c->out_len - c->out_off;
	if (n > FRAGMENT)
		n = FRAGMENT;
	/* bytes before a later fragment are already sent, so they serve as LWS_PRE */
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, !c->out_off, c->out_off + n == c->out_len);
	if (lws_write(c->wsi, c->out + LWS_PRE + c->out_off, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	c->out_off += n;
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		if (c->out_lane && lane_sent(c->out_lane))
			return -1;
	}
	/* more to write: this message's next fragment, another lane's message, an urgent one */
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* an error that belongs to no lane, answered at once */
static void reply_now(struct dwm_conn *c, struct dwm_job *j, const char *stream_id, const char *code,
		      const char *fmt, const char *arg)
{
	struct dwm_turn t;
	json_t *e;

	memset(&t, 0, sizeof(t));
	t.transport = DWM_WS;
	t.fault = j->fault;
	t.log_entry = j->log_entry;
	j->log_entry = NULL;
	dwm_turn_fail(&t, 400, "invalid_request_error", code, "stream_id", fmt, arg);
	e = dwm_error_ws(&t);
	if (stream_id)
		json_object_set_new(e, "stream_id", json_string(stream_id));
	json_array_append_new(c->urgent, e);
	dwm_turn_clear(&t);
	job_free(j);
	lws_callback_on_writable(c->wsi);
}

static void enqueue(struct dwm_conn *c, const char *msg, size_t len)
{
	struct dwm_job *j = calloc(1, sizeof(*j));
	struct dwm_lane *l;
	json_error_t err;
	json_t *sid;
	const char *name;

	if (!j)
		return;
	j->bytes = len;
	j->seq = ++c->arrivals;
	j->req = json_loadb(msg, len, 0, &err);
	j->fault = c->fault;
	dwm_fault_control_take_request(&j->fault);
	j->bad_fault = dwm_fault_from_metadata(j->req, &j->fault) < 0;
	j->fault.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	j->log_entry = dwm_log_request(DWM_WS, c->num, len, j->req, json_incref(c->headers), &j->fault);
	sid = json_object_get(j->req, "stream_id");
	if ((j->fault.set & DWM_F_IGNORE_STREAM_ID) && j->fault.ignore_stream_id)
		sid = NULL; /* a server that drops unknown fields: the default lane, events unnamed */
	name = json_string_value(sid);
	if (sid && (j->fault.set & DWM_F_REFUSE_STREAM_ID) && j->fault.refuse_stream_id) {
		/* the ChatGPT backend's answer (upstream-protocol.md section 2) */
		reply_now(c, j, NULL, "unsupported_parameter", "Unsupported parameter: %s", "stream_id");
		return;
	}
	if (sid && !dwm_stream_id_ok(sid)) {
		reply_now(c, j, NULL, "invalid_stream_id",
			  "Invalid 'stream_id': expected 1 to 256 characters of [A-Za-z0-9_.-]%s.", "");
		return;
	}
	if (!(l = lane_find(c, name))) {
		if (c->named >= DWM_MAX_LANES) {
			reply_now(c, j, name, "websocket_stream_limit_reached",
				  "This connection has used the most stream_ids it may (32): '%s' is one too "
				  "many. Create a new websocket connection to continue.",
				  name);
			return;
		}
		if (!(l = lane_new(c, name))) {
			job_free(j);
			return;
		}
		c->named++;
		json_array_append_new(json_object_get(c->hs, "stream_ids"), json_string(name));
	}
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	schedule(c);
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
	count(c, "rx_payload_bytes", (json_int_t)len);
	if (!c->pmd)
		count(c, "rx_wire_bytes", (json_int_t)len);
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
		return 0;
	if (c->rx_too_big)
		return close_with(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
	enqueue(c, c->rx, c->rx_len);
	c->rx_len = 0;
	return 0;
}

/* ---- permessage-deflate: lws's own, watched to count the bytes on the wire ---- */

/* lws 4.1's argument to LWS_EXT_CB_PAYLOAD_RX/TX (private-header struct lws_ext_pm_deflate_rx_ebufs) */
struct pmd_ebufs {
	struct lws_tokens eb_in;
	struct lws_tokens eb_out;
};

static struct dwm_conn *conn_of(struct lws *wsi)
{
	struct dwm_pss *pss = wsi ? lws_wsi_user(wsi) : NULL;

	return pss ? pss->ws : NULL;
}

static int pmd_callback(struct lws_context *ctx, const struct lws_extension *ext, struct lws *wsi,
			enum lws_extension_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pmd_ebufs *eb = in;
	struct dwm_conn *c = conn_of(wsi);
	int before = 0, r;

	if (reason == LWS_EXT_CB_CONSTRUCT)
		pmd_wsi = wsi;
	if (reason == LWS_EXT_CB_PAYLOAD_RX && eb)
		before = eb->eb_in.len;
	r = lws_extension_callback_pm_deflate(ctx, ext, wsi, reason, user, in, len);
	if (c && eb && reason == LWS_EXT_CB_PAYLOAD_RX)
		count(c, "rx_wire_bytes", before - eb->eb_in.len);
	if (c && eb && reason == LWS_EXT_CB_PAYLOAD_TX)
		count(c, "tx_wire_bytes", eb->eb_out.len);
	return r;
}

const struct lws_extension dwm_ws_extensions[] = {
	{"permessage-deflate", pmd_callback, "permessage-deflate; client_max_window_bits"},
	{NULL, NULL, NULL},
};

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
