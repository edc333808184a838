/*
 * deltawire-mock: a scripted stand-in for the OpenAI Responses API (HTTP and
 * WebSocket mode on one port). It is the test oracle for the proxy, so it
 * shares no code with translate/ or state/.
 */
#ifndef DWM_MOCK_H
#define DWM_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define DWM_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

enum dwm_transport { DWM_HTTP, DWM_WS };

/* ---- ids.c: realistic random ids ---- */
void dwm_ids_seed(uint64_t seed);
/* prefix followed by nhex random hex digits; caller frees */
char *dwm_id_hex(const char *prefix, size_t nhex);
/* "call_" followed by 16 random alphanumerics; caller frees */
char *dwm_id_call(void);
/* a valid stream_id (lane name): a string of 1-256 characters of [A-Za-z0-9_.-] (the guide) */
int dwm_stream_id_ok(const json_t *v);

/* ---- faults.c: fault injection specs ---- */
enum {
	DWM_F_REFUSE_UPGRADE = 1 << 0,
	DWM_F_CLOSE_AFTER = 1 << 1,
	DWM_F_FIRST_DELAY = 1 << 2,
	DWM_F_ERROR_STATUS = 1 << 3,
	DWM_F_FORGET_CACHE = 1 << 4,
	DWM_F_SLOW = 1 << 5,
	DWM_F_ERROR_SHAPE = 1 << 6,
	DWM_F_RETRY_AFTER = 1 << 7,
	DWM_F_ERROR_AFTER = 1 << 8,
	DWM_F_DONE_EVENT = 1 << 9,
	DWM_F_BLACK_HOLE = 1 << 10,
	DWM_F_STALL_AFTER = 1 << 11,
	DWM_F_STALL_MS = 1 << 12,
	DWM_F_REFUSE_STREAM_ID = 1 << 13,
	DWM_F_IGNORE_STREAM_ID = 1 << 14,
};

/* error_shape bits: how a WebSocket error envelope is laid out (all seen from the service) */
enum {
	DWM_ES_STATUS_CODE = 1 << 0, /* "status_code" instead of "status" */
	DWM_ES_FLAT = 1 << 1,        /* code, message, param at the top level, no "error" object */
	DWM_ES_HEADERS = 1 << 2,     /* the error's HTTP headers as error.headers (top level when flat) */
	DWM_ES_HEADERS_TOP = 1 << 3, /* the error's HTTP headers as a top-level "headers" map */
};

struct dwm_fault {
	unsigned set; /* DWM_F_* bits of the fields that were given */
	int refuse_upgrade;
	int close_after_events;
	int first_event_delay_ms;
	int error_status;
	int forget_cache;
	int slow_ms;
	int error_shape;        /* DWM_ES_* bits; names "status_code+flat+headers+headers_top" */
	int retry_after_ms;     /* retry-after / retry-after-ms on the error (429 defaults to 1000) */
	int error_after_events; /* fail mid-stream after this many events */
	int done_event;         /* terminal event named response.done */
	int black_hole;         /* after this response the connection never reads or writes again */
	int stall_after_events; /* stop sending after this many events ... */
	int stall_ms;           /* ... for this long (0: forever) */
	int refuse_stream_id;   /* stream_id gets "Unsupported parameter" (the ChatGPT backend) */
	int ignore_stream_id;   /* stream_id is dropped unread: every request on the default lane, its
				 * events unnamed (a compatible server that drops unknown fields) */
};

/* "k=v;k=v" as in the x-mock-fault header; 0 or -1 on a bad spec */
int dwm_fault_parse(struct dwm_fault *f, const char *spec);
/* {"k":v,...} as posted to /__mock/fault; ignores "count" */
int dwm_fault_from_json(struct dwm_fault *f, const json_t *obj);
/* fields set in src override dst */
void dwm_fault_merge(struct dwm_fault *dst, const struct dwm_fault *src);
/* the set fields as an object, or json_null() when none is set */
json_t *dwm_fault_to_json(const struct dwm_fault *f);
/* control endpoint state: the next `count` requests / upgrade attempts */
int dwm_fault_control_set(const json_t *obj);
void dwm_fault_control_reset(void);
/* merge the pending control fault into f (consuming one use); 1 if applied */
int dwm_fault_control_take_request(struct dwm_fault *f);
/* status to refuse this upgrade with (consuming one use), or 0 */
int dwm_fault_control_take_upgrade(void);

/* ---- decode.c: Content-Encoding of request bodies (pure) ---- */
/* undo `encoding` (a Content-Encoding value: zstd, gzip, deflate, br, identity, or a list)
 * on in[0..len); *out (caller frees) gets at most max bytes. 0, -1 when the coding is unknown
 * or the data corrupt, -2 when the decoded body would pass max (stops one byte past it). */
int dwm_decode_body(const char *encoding, const char *in, size_t len, size_t max, char **out,
		    size_t *out_len);

/* ---- model.c: the deterministic scripted model (pure) ---- */
struct dwm_model_opts {
	int tool_turns;    /* tool-call turns before the final message */
	size_t args_bytes; /* pad tool arguments/input to about this size */
	size_t text_bytes; /* pad message text to about this size */
};

/* tools from req.tools (namespaces flattened) and additional_tools items of
 * full_input; each copy gets "_ns" when it came from a namespace */
json_t *dwm_model_collect_tools(const json_t *req, const json_t *full_input);
/* the tool the script calls, or NULL (borrowed from tools) */
const json_t *dwm_model_pick_tool(const json_t *tools);
/* output items (with fresh ids) for this turn */
json_t *dwm_model_plan(const json_t *req, const json_t *full_input, const struct dwm_model_opts *o);

/* ---- chat.c: POST .../chat/completions from the same scripted model ---- */
/* the model's input items for a Chat `messages` array (new reference) */
json_t *dwm_chat_items(const json_t *messages);
/* answers req (NULL: not JSON): returns the status; *msgs: one body, or with *sse the chunks and
 * a final "[DONE]" string; fills log_entry's endpoint, full_input and response_id */
int dwm_chat_run(const json_t *req, json_t *log_entry, json_t **msgs, int *sse);

/* ---- events.c: response objects and event sequences (pure) ---- */
/* the response object echoing req, with empty output and no usage */
json_t *dwm_response_base(const json_t *req, const char *id, long created_at, const char *status);
/* every event from response.created to response.completed, numbered from 0;
 * the last event's response is the final response object */
json_t *dwm_events_build(const json_t *req, const char *id, long created_at, json_t *output,
			 size_t input_tokens);
/* words (trailing space kept), coalesced into at most max_parts pieces */
json_t *dwm_split_deltas(const char *text, size_t max_parts);

/* ---- store.c: store=true responses and their items ---- */
/* keeps the response, its chain (input followed by output) and its size */
void dwm_store_put(const char *id, json_t *response, json_t *chain, size_t chain_bytes);
json_t *dwm_store_chain(const char *id, size_t *chain_bytes); /* borrowed or NULL */
json_t *dwm_store_response(const char *id); /* borrowed or NULL */
json_t *dwm_store_item(const char *id);     /* borrowed or NULL */
int dwm_store_delete(const char *id);
void dwm_store_reset(void);

/* ---- script.c: queued canned outputs ---- */
int dwm_script_push(const json_t *body); /* {"responses":[{"output":[...]}]} */
json_t *dwm_script_pop(json_t **entry); /* output array (new ref) or NULL; *entry: the entry (new ref) */
void dwm_script_shape(json_t *events, const json_t *entry); /* its "listed"/"terminal"; entry may be NULL */
void dwm_script_reset(void);

/* ---- reqlog.c: what tests read back through /__mock/log ---- */
json_t *dwm_log_request(enum dwm_transport t, int conn, size_t bytes, const json_t *req,
			json_t *headers, const struct dwm_fault *fault); /* new reference */
/* the upgrade's entry (new reference): the connection adds what happens to it later */
json_t *dwm_log_handshake(int conn, int status, json_t *headers);
json_t *dwm_log_get(void);
json_t *dwm_handshakes_get(void);
void dwm_log_reset(void);

/* ---- turn.c: one response.create / POST /responses, transport-neutral ---- */
struct dwm_turn {
	/* in */
	enum dwm_transport transport;
	json_t *req;          /* parsed body, NULL when it was not valid JSON */
	size_t bytes;         /* body / frame size */
	json_t *log_entry;    /* owned reference */
	struct dwm_fault fault;
	const char *cache_id; /* ws: the connection's cached response */
	json_t *cache_chain;
	size_t cache_bytes;
	struct dwm_model_opts model;
	/* out */
	int status;      /* 200, or the error's status */
	json_t *error;   /* {"type","code","message","param"} on failure */
	json_t *error_headers; /* the HTTP headers that error carries (x-request-id, retry-after...) */
	int midstream;   /* > 0: the error comes after this many events (the events stay) */
	json_t *events;  /* on success */
	json_t *response; /* final response object (borrowed from events) */
	json_t *chain;   /* full input followed by the output */
	size_t chain_bytes; /* about what the chain would take serialised */
	int store;
};

int dwm_turn_run(struct dwm_turn *t);
void dwm_turn_fail(struct dwm_turn *t, int status, const char *type, const char *code,
		   const char *param, const char *fmt, ...);
/* record a delivered response in the store when store=true */
void dwm_turn_commit(struct dwm_turn *t);
void dwm_turn_clear(struct dwm_turn *t);
/* the WebSocket error envelope in the fault's error_shape: {"type":"error","status":S,"error":{...}}
 * by default, "status_code" for "status", the detail flat at the top level, the error's headers
 * under "error" or at the top level, and "sequence_number" when it comes mid-stream */
json_t *dwm_error_ws(const struct dwm_turn *t);
/* the HTTP API's flat mid-stream SSE event: {"type":"error","code","message","param","sequence_number"} */
json_t *dwm_error_sse(const struct dwm_turn *t);
/* {"error":{message,type,param,code}} */
json_t *dwm_error_http(const json_t *error);
json_t *dwm_error_obj(const char *type, const char *code, const char *param, const char *msg);

/* ---- control.c: the /__mock/ endpoints and other non-generating routes ---- */
/* answers GET/POST/DELETE for non-/responses-creating paths; status + body */
int dwm_control_route(const char *method, const char *path, const char *body, size_t len,
		      json_t **out);

/* ---- main.c (flags) and turn.c (per-request overrides) ---- */
struct dwm_config {
	char host[128];
	int port;
	const char *tls_cert;
	const char *tls_key;
	double max_conn_age;
	int tool_turns;
	size_t args_bytes;
	size_t text_bytes;
	size_t max_message; /* a WS message this big or bigger is refused with 1009 */
	size_t max_body;    /* largest accepted HTTP body (decoded) */
	double sse_keepalive; /* seconds of SSE silence between keepalive events; 0: none */
	double ws_ping_interval; /* seconds; 0: the mock never pings */
	double ws_pong_timeout;
	int pm_deflate;     /* accept permessage-deflate */
	char log_headers[16][64]; /* more request header names to log (lower case) */
	size_t n_log_headers;
	struct dwm_fault fault; /* run-wide */
};

extern struct dwm_config dwm_cfg;

/* model options from flags, overridden by metadata.mock_*_bytes */
void dwm_model_opts_for(const json_t *req, struct dwm_model_opts *o);
/* metadata.mock_fault merged into f; 0 or -1 when it does not parse */
int dwm_fault_from_metadata(const json_t *req, struct dwm_fault *f);

#endif
