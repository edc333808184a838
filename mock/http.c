/*
 * HTTP mode: POST .../responses answers with SSE (stream:true) or one JSON
 * response object; everything else goes to control.c. lws 4.1 has no chunked
 * output for plain h1 responses (only with its compression), so the SSE body
 * is framed as chunked here, which keeps the connection reusable.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server.h"

#define PIECE 65536 /* at most this much per lws_write, one write per WRITEABLE */

struct dwm_http {
	struct lws *wsi;
	char method[8];
	char *path;
	json_t *headers;
	struct dwm_fault fault; /* run-wide + x-mock-fault */
	int bad_fault;
	char *body;
	size_t len, cap;
	int too_big;
	size_t decoded_len;
	/* the answer */
	int status;
	int sse;
	int chat;          /* a Chat Completions answer: SSE blocks are "data: J" only */
	int headers_sent;
	json_t *msgs;      /* SSE: the events; otherwise one body */
	size_t next, sent;
	unsigned char *out; /* LWS_PRE headroom + bytes of the current piece of output */
	size_t out_len, out_off;
	int finishing;      /* last bytes are out: complete the transaction */
	int abort;          /* close_after_events reached */
	int waiting;        /* a delay timer is pending */
	double resume_at;   /* when the wait ends (dwm_now() clock; INFINITY: never) */
	int keepalive_due;  /* an SSE keepalive event is to be written */
	int after_headers_ms; /* the first-event wait, when keepalives need the headers out first */
	int stalled;        /* stall_after_events took effect */
	int keepalives;     /* keepalive events sent (logged) */
	int slow_ms;
	int close_after;    /* -1: never */
	struct dwm_turn turn;
	lws_sorted_usec_list_t sul;
};

static void http_free(struct dwm_http *h)
{
	if (!h)
		return;
	lws_sul_cancel(&h->sul);
	free(h->path);
	free(h->body);
	free(h->out);
	json_decref(h->headers);
	json_decref(h->msgs);
	dwm_turn_clear(&h->turn);
	free(h);
}

static void wake(lws_sorted_usec_list_t *sul);

/* the next timer: the end of the wait, or sooner for a keepalive when the stream is silent */
static void tick(struct dwm_http *h)
{
	double wait = h->resume_at - dwm_now();

	if (h->sse && h->headers_sent && dwm_cfg.sse_keepalive > 0 && !(wait < dwm_cfg.sse_keepalive))
		wait = dwm_cfg.sse_keepalive;
	if (wait == INFINITY)
		return;
	lws_sul_schedule(lws_get_context(h->wsi), 0, &h->sul, wake,
			 wait > 0 ? (lws_usec_t)(wait * LWS_US_PER_SEC) : 1);
}

static void wake(lws_sorted_usec_list_t *sul)
{
	struct dwm_http *h = lws_container_of(sul, struct dwm_http, sul);

	if (dwm_now() >= h->resume_at - 0.0005)
		h->waiting = 0;
	else
		h->keepalive_due = 1;
	lws_callback_on_writable(h->wsi);
}

/* write again after ms; ms < 0: never (a stall that lasts) */
static void later(struct dwm_http *h, int ms)
{
	if (!ms) {
		lws_callback_on_writable(h->wsi);
		return;
	}
	h->waiting = 1;
	h->resume_at = ms < 0 ? INFINITY : dwm_now() + ms / 1000.0;
	tick(h);
}

static int method_of(struct lws *wsi, char *method, size_t mlen, char **path)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} m[] = {
		{WSI_TOKEN_GET_URI, "GET"},
		{WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_DELETE_URI, "DELETE"},
		{WSI_TOKEN_PUT_URI, "PUT"},
		{WSI_TOKEN_PATCH_URI, "PATCH"},
		{WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
		{WSI_TOKEN_HEAD_URI, "HEAD"},
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		int len = lws_hdr_total_length(wsi, m[i].tok);

		if (len <= 0)
			continue;
		*path = malloc((size_t)len + 1);
		if (!*path || lws_hdr_copy(wsi, *path, len + 1, m[i].tok) < 0)
			return -1;
		snprintf(method, mlen, "%s", m[i].name);
		return 0;
	}
	return -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	while (a > 1 && s[a - 1] == '/')
		a--;
	return a >= b && !strncmp(s + a - b, suffix, b);
}

/* a plain JSON answer */
static void answer(struct dwm_http *h, int status, json_t *body)
{
	h->status = status;
	h->sse = 0;
	h->msgs = json_pack("[o]", body);
	lws_callback_on_writable(h->wsi);
}

/* undo Content-Encoding in place: 0, or the status to refuse the body with */
static int decode(struct dwm_http *h, const char *enc)
{
	char *out;
	size_t out_len;
	int r;

	if (!enc || h->too_big)
		return h->too_big ? 413 : 0;
	r = dwm_decode_body(enc, h->body ? h->body : "", h->len, dwm_cfg.max_body, &out, &out_len);
	if (r)
		return r == -2 ? 413 : 400;
	free(h->body);
	h->body = out;
	h->decoded_len = out_len;
	return 0;
}

static void respond(struct dwm_http *h)
{
	struct dwm_turn *t = &h->turn;
	const char *enc = json_string_value(json_object_get(h->headers, "content-encoding"));
	json_error_t err;
	int delay = 0, refused;

	h->decoded_len = h->len;
	refused = decode(h, enc);
	t->transport = DWM_HTTP;
	t->bytes = h->decoded_len;
	t->req = refused ? NULL : json_loadb(h->body ? h->body : "", h->decoded_len, 0, &err);
	t->fault = h->fault;
	dwm_fault_control_take_request(&t->fault);
	if (h->bad_fault || dwm_fault_from_metadata(t->req, &t->fault) < 0) {
		t->log_entry = dwm_log_request(DWM_HTTP, 0, h->len, t->req, json_incref(h->headers), NULL);
		dwm_turn_fail(t, 400, "invalid_request_error", "invalid_mock_fault", "x-mock-fault",
			      "Could not parse the mock fault spec.");
		answer(h, t->status, dwm_error_http(t->error));
		return;
	}
	t->fault.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	t->log_entry = dwm_log_request(DWM_HTTP, 0, h->len, t->req, json_incref(h->headers), &t->fault);
	json_object_set_new(t->log_entry, "content_encoding", enc ? json_string(enc) : json_null());
	json_object_set_new(t->log_entry, "decoded_bytes", json_integer((json_int_t)h->decoded_len));
	dwm_model_opts_for(t->req, &t->model);
	if (t->fault.set & DWM_F_FIRST_DELAY)
		delay = t->fault.first_event_delay_ms;
	if ((t->fault.set & DWM_F_STALL_AFTER) && !t->fault.stall_after_events) {
		h->stalled = 1;
		delay = (t->fault.set & DWM_F_STALL_MS) && t->fault.stall_ms ? t->fault.stall_ms : -1;
	}
	h->slow_ms = (t->fault.set & DWM_F_SLOW) ? t->fault.slow_ms : 0;
	h->close_after = (t->fault.set & DWM_F_CLOSE_AFTER) ? t->fault.close_after_events : -1;
	if (refused == 413) {
		dwm_turn_fail(t, 413, "invalid_request_error", "request_too_large", NULL,
			      "Request body exceeds %zu bytes.", dwm_cfg.max_body);
		h->status = 413;
		h->msgs = json_pack("[o]", dwm_error_http(t->error));
	} else if (refused) {
		dwm_turn_fail(t, 400, "invalid_request_error", NULL, NULL,
			      "We could not decode the body of your request (Content-Encoding: %s).", enc);
		h->status = 400;
		h->msgs = json_pack("[o]", dwm_error_http(t->error));
	} else if (dwm_turn_run(t) || (t->midstream && !json_is_true(json_object_get(t->req, "stream")))) {
		h->status = t->status;
		h->msgs = json_pack("[o]", dwm_error_http(t->error));
	} else if (json_is_true(json_object_get(t->req, "stream"))) {
		h->status = 200;
		h->sse = 1;
		h->msgs = json_incref(t->events);
		/* after the first byte the HTTP API can only say it in the stream: the flat error event */
		if (t->midstream)
			json_array_append_new(h->msgs, dwm_error_sse(t));
	} else {
		h->status = 200;
		h->msgs = json_pack("[O]", t->response);
		/* nothing streams, so the only cut possible is before the body */
		if (h->close_after >= 0)
			h->close_after = 0;
	}
	/* keepalives can only go out in a stream that has begun: headers first, then the wait */
	if (h->sse && dwm_cfg.sse_keepalive > 0) {
		h->after_headers_ms = delay;
		delay = 0;
	}
	later(h, delay);
}

static void chat_respond(struct dwm_http *h)
{
	struct dwm_turn *t = &h->turn;
	json_error_t err;

	const char *enc = json_string_value(json_object_get(h->headers, "content-encoding"));
	int refused;

	h->chat = 1;
	h->decoded_len = h->len;
	refused = decode(h, enc);
	t->transport = DWM_HTTP;
	t->bytes = h->decoded_len;
	t->req = refused ? NULL : json_loadb(h->body ? h->body : "", h->decoded_len, 0, &err);
	t->log_entry = dwm_log_request(DWM_HTTP, 0, h->len, t->req, json_incref(h->headers), NULL);
	json_object_set_new(t->log_entry, "endpoint", json_string("chat"));
	json_object_set_new(t->log_entry, "content_encoding", enc ? json_string(enc) : json_null());
	json_object_set_new(t->log_entry, "decoded_bytes", json_integer((json_int_t)h->decoded_len));
	h->status = dwm_chat_run(t->req, t->log_entry, &h->msgs, &h->sse);
	later(h, 0);
}

static int start(struct lws *wsi, struct dwm_pss *pss)
{
	struct dwm_http *h;
	char spec[512];
	json_t *out = NULL;
	int status;

	http_free(pss->http);
	pss->http = h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->wsi = wsi;
	h->close_after = -1;
	if (method_of(wsi, h->method, sizeof(h->method), &h->path))
		return -1;
	h->headers = dwm_lws_headers(wsi);
	h->fault = dwm_cfg.fault;
	if (lws_hdr_custom_copy(wsi, spec, sizeof(spec), "x-mock-fault:", 13) >= 0) {
		struct dwm_fault f = {0};

		if (dwm_fault_parse(&f, spec))
			h->bad_fault = 1;
		dwm_fault_merge(&h->fault, &f);
	}
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, 120);
	/* lws reads a body for these; answer once it is complete */
	if (!strcmp(h->method, "POST") || !strcmp(h->method, "PUT") || !strcmp(h->method, "PATCH"))
		return 0;
	status = dwm_control_route(h->method, h->path, NULL, 0, &out);
	answer(h, status, out);
	return 0;
}

static int body_done(struct dwm_http *h)
{
	json_t *out = NULL;
	int status;

	lws_set_timeout(h->wsi, NO_PENDING_TIMEOUT, 0);
	if (ends_with(h->path, "/responses")) {
		respond(h);
		return 0;
	}
	if (ends_with(h->path, "/chat/completions")) {
		chat_respond(h);
		return 0;
	}
	status = dwm_control_route(h->method, h->path, h->body, h->len, &out);
	answer(h, status, out);
	return 0;
}

static int body_piece(struct dwm_http *h, const char *in, size_t len)
{
	if (h->too_big || h->len + len > dwm_cfg.max_body) {
		h->too_big = 1;
		return 0;
	}
	if (h->len + len + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 65536;
		char *b;

		while (cap < h->len + len + 1)
			cap *= 2;
		if (!(b = realloc(h->body, cap)))
			return -1;
		h->body = b;
		h->cap = cap;
	}
	memcpy(h->body + h->len, in, len);
	h->len += len;
	return 0;
}

static int send_headers(struct dwm_http *h)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	json_t *eh = h->status != 200 ? h->turn.error_headers : NULL, *v;
	const char *rid_err = json_string_value(json_object_get(eh, "x-request-id")), *k;
	char *rid = rid_err ? strdup(rid_err) : dwm_id_hex("req_", 32);
	int bad;

	bad = lws_add_http_header_status(h->wsi, (unsigned int)h->status, &p, end) ||
	      lws_add_http_header_by_token(h->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					   (const unsigned char *)(h->sse ? "text/event-stream; charset=utf-8"
									  : "application/json"),
					   h->sse ? 32 : 16, &p, end) ||
	      lws_add_http_header_by_name(h->wsi, (const unsigned char *)"x-request-id:",
					  (const unsigned char *)rid, (int)strlen(rid), &p, end) ||
	      lws_add_http_header_by_name(h->wsi, (const unsigned char *)"openai-version:",
					  (const unsigned char *)"2020-10-01", 10, &p, end) ||
	      lws_add_http_header_by_name(h->wsi, (const unsigned char *)"openai-processing-ms:",
					  (const unsigned char *)"12", 2, &p, end);
	free(rid);
	if (bad)
		return -1;
	/* an error's retry-after, x-ratelimit-*... as the service sends them */
	json_object_foreach(eh, k, v) {
		char name[96];

		if (!strcmp(k, "x-request-id"))
			continue;
		snprintf(name, sizeof(name), "%s:", k);
		if (lws_add_http_header_by_name(h->wsi, (const unsigned char *)name,
						(const unsigned char *)json_string_value(v),
						(int)strlen(json_string_value(v)), &p, end))
			return -1;
	}
	if (h->sse) {
		if (lws_add_http_header_by_token(h->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
						 (const unsigned char *)"chunked", 7, &p, end) ||
		    lws_add_http_header_by_token(h->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
						 (const unsigned char *)"no-cache", 8, &p, end))
			return -1;
	} else if (lws_add_http_header_content_length(h->wsi, h->out_len, &p, end)) {
		return -1;
	}
	if (lws_finalize_http_header(h->wsi, &p, end))
		return -1;
	if (lws_write(h->wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		return -1;
	h->headers_sent = 1;
	return 0;
}

static int set_out(struct dwm_http *h, const char *s, size_t len)
{
	free(h->out);
	h->out = malloc(LWS_PRE + len + 1);
	if (!h->out)
		return -1;
	memcpy(h->out + LWS_PRE, s, len);
	h->out_len = len;
	h->out_off = 0;
	return 0;
}

/* serialise the next message into h->out; 1 when there is none left */
static int next_out(struct dwm_http *h)
{
	json_t *m;
	char *json, *framed = NULL;
	const char *type;
	int n, r;

	if (h->next >= json_array_size(h->msgs)) {
		if (!h->sse || h->finishing)
			return 1;
		h->finishing = 1;
		return set_out(h, "0\r\n\r\n", 5);
	}
	m = json_array_get(h->msgs, h->next++);
	if (!(json = json_dumps(m, DWM_JSON_FLAGS | JSON_ENCODE_ANY)))
		return -1;
	if (!h->sse) {
		h->finishing = 1;
		r = set_out(h, json, strlen(json));
		free(json);
		return r;
	}
	if (h->chat) {
		/* a chat chunk, or the closing [DONE] */
		const char *d = json_is_string(m) ? json_string_value(m) : json;

		n = asprintf(&framed, "%zx\r\ndata: %s\n\n\r\n", strlen(d) + 8, d);
		free(json);
		if (n < 0)
			return -1;
		r = set_out(h, framed, (size_t)n);
		free(framed);
		return r;
	}
	/* one SSE block ("event: T\ndata: J\n\n") as one chunk */
	type = json_string_value(json_object_get(m, "type"));
	if (!type)
		type = "";
	n = asprintf(&framed, "%zx\r\nevent: %s\ndata: %s\n\n\r\n", strlen(type) + strlen(json) + 16, type,
		     json);
	free(json);
	if (n < 0)
		return -1;
	r = set_out(h, framed, (size_t)n);
	free(framed);
	return r;
}

static int complete(struct dwm_http *h)
{
	json_object_set_new(h->turn.log_entry, "keepalives", json_integer(h->keepalives));
	if (h->status == 200)
		dwm_turn_commit(&h->turn);
	json_decref(h->msgs);
	h->msgs = NULL;
	/* the wsi may carry another request now */
	return lws_http_transaction_completed(h->wsi) ? -1 : 0;
}

static int writeable(struct dwm_http *h)
{
	size_t n;
	int r, last;

	if (h->keepalive_due && !h->abort) {
		static const char ka[] = "2d\r\nevent: keepalive\ndata: {\"type\":\"keepalive\"}\n\n\r\n";
		unsigned char buf[LWS_PRE + sizeof(ka)];

		h->keepalive_due = 0;
		memcpy(buf + LWS_PRE, ka, sizeof(ka) - 1);
		if (lws_write(h->wsi, buf + LWS_PRE, sizeof(ka) - 1, LWS_WRITE_HTTP) != (int)sizeof(ka) - 1)
			return -1;
		h->keepalives++;
		tick(h);
		return 0;
	}
	if (!h->msgs || h->waiting)
		return 0;
	/* close_after_events: drop the connection once what was allowed is out */
	if (h->abort)
		return -1;
	if (!h->headers_sent) {
		if (!h->sse && h->close_after >= 0)
			return -1;
		if (!h->sse && next_out(h))
			return -1;
		if (send_headers(h))
			return -1;
		h->abort = h->sse && h->close_after == 0;
		later(h, h->after_headers_ms);
		return 0;
	}
	if (!h->out || h->out_off == h->out_len) {
		r = next_out(h);
		if (r < 0)
			return -1;
		if (r == 1)
			return complete(h);
	}
	n = h->out_len - h->out_off;
	if (n > PIECE)
		n = PIECE;
	last = h->out_off + n == h->out_len;
	if (lws_write(h->wsi, h->out + LWS_PRE + h->out_off, n,
		      last && h->finishing ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	h->out_off += n;
	if (!last) {
		lws_callback_on_writable(h->wsi);
		return 0;
	}
	if (h->finishing)
		return complete(h);
	h->sent++;
	if (h->close_after >= 0 && (int)h->sent >= h->close_after) {
		h->abort = 1;
		lws_callback_on_writable(h->wsi);
		return 0;
	}
	if ((h->turn.fault.set & DWM_F_STALL_AFTER) && !h->stalled &&
	    (int)h->sent >= h->turn.fault.stall_after_events) {
		h->stalled = 1;
		later(h, (h->turn.fault.set & DWM_F_STALL_MS) && h->turn.fault.stall_ms ? h->turn.fault.stall_ms : -1);
		return 0;
	}
	later(h, h->slow_ms);
	return 0;
}

int dwm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, struct dwm_pss *pss, void *in,
		      size_t len)
{
	struct dwm_http *h = pss ? pss->http : NULL;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return start(wsi, pss);
	case LWS_CALLBACK_HTTP_BODY:
		return h ? body_piece(h, in, len) : -1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return h ? body_done(h) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return h ? writeable(h) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) {
			http_free(pss->http);
			pss->http = NULL;
		}
		return 0;
	default:
		return 0;
	}
}
