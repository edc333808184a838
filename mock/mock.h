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

/* ---- faults.c: fault injection specs ---- */
enum {
	DWM_F_REFUSE_UPGRADE = 1 << 0,
	DWM_F_CLOSE_AFTER = 1 << 1,
	DWM_F_FIRST_DELAY = 1 << 2,
	DWM_F_ERROR_STATUS = 1 << 3,
	DWM_F_FORGET_CACHE = 1 << 4,
	DWM_F_SLOW = 1 << 5,
};

struct dwm_fault {
	unsigned set; /* DWM_F_* bits of the fields that were given */
	int refuse_upgrade;
	int close_after_events;
	int first_event_delay_ms;
	int error_status;
	int forget_cache;
	int slow_ms;
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
void dwm_log_handshake(int conn, int status, json_t *headers);
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
/* {"type":"error","status":S,"error":{...}} / {"error":{message,type,param,code}} */
json_t *dwm_error_ws(const struct dwm_turn *t);
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
	size_t max_message; /* largest accepted body / WS message */
	struct dwm_fault fault; /* run-wide */
};

extern struct dwm_config dwm_cfg;

/* model options from flags, overridden by metadata.mock_*_bytes */
void dwm_model_opts_for(const json_t *req, struct dwm_model_opts *o);
/* metadata.mock_fault merged into f; 0 or -1 when it does not parse */
int dwm_fault_from_metadata(const json_t *req, struct dwm_fault *f);

#endif
