/*
 * What the mock saw, for tests: one entry per generating request in arrival
 * order (filled in further once the request has been answered), and one per
 * WebSocket upgrade attempt.
 */
#include "mock.h"

static json_t *log_entries, *handshakes;

/* the body's top-level field names in the order sent (what a client and a proxy compare) */
static json_t *fields_of(const json_t *req)
{
	json_t *names = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)req, k, v)
		json_array_append_new(names, json_string(k));
	return names;
}

json_t *dwm_log_request(enum dwm_transport t, int conn, size_t bytes, const json_t *req,
			json_t *headers, const struct dwm_fault *fault)
{
	json_t *e, *input = json_object_get(req, "input"), *v;

	if (!log_entries)
		log_entries = json_array();
	e = json_object();
	json_object_set_new(e, "seq", json_integer((json_int_t)json_array_size(log_entries) + 1));
	json_object_set_new(e, "transport", json_string(t == DWM_WS ? "ws" : "http"));
	json_object_set_new(e, "conn", t == DWM_WS ? json_integer(conn) : json_null());
	json_object_set_new(e, "bytes", json_integer((json_int_t)bytes));
	json_object_set_new(e, "items", json_is_array(input)    ? json_integer((json_int_t)json_array_size(input))
					: json_is_string(input) ? json_integer(1)
								: json_integer(0));
	v = json_object_get(req, "previous_response_id");
	json_object_set_new(e, "previous_response_id", v ? json_copy(v) : json_null());
	v = json_object_get(req, "store");
	json_object_set_new(e, "store", json_boolean(!json_is_false(v)));
	v = json_object_get(req, "generate");
	json_object_set_new(e, "generate", json_boolean(!json_is_false(v)));
	v = json_object_get(req, "stream");
	json_object_set_new(e, "stream", t == DWM_WS ? json_null() : json_boolean(json_is_true(v)));
	v = json_object_get(req, "model");
	json_object_set_new(e, "model", v ? json_copy(v) : json_null());
	v = json_object_get(req, "stream_id");
	json_object_set_new(e, "stream_id", v ? json_copy(v) : json_null());
	v = json_object_get(req, "client_metadata");
	json_object_set_new(e, "client_metadata", v ? json_copy(v) : json_null());
	json_object_set_new(e, "fields", fields_of(req));
	json_object_set_new(e, "content_encoding", json_null());
	json_object_set_new(e, "decoded_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(e, "full_input", json_null());
	json_object_set_new(e, "response_id", json_null());
	json_object_set_new(e, "error", json_null());
	json_object_set_new(e, "headers", headers ? headers : json_object());
	json_object_set_new(e, "fault", dwm_fault_to_json(fault));
	json_array_append(log_entries, e);
	return e;
}

json_t *dwm_log_handshake(int conn, int status, json_t *headers)
{
	json_t *e = json_pack("{s:i, s:i, s:o}", "conn", conn, "status", status, "headers",
			      headers ? headers : json_object());

	if (!handshakes)
		handshakes = json_array();
	json_array_append(handshakes, e);
	return e;
}

json_t *dwm_log_get(void)
{
	return log_entries ? json_incref(log_entries) : json_array();
}

json_t *dwm_handshakes_get(void)
{
	return handshakes ? json_incref(handshakes) : json_array();
}

void dwm_log_reset(void)
{
	json_decref(log_entries);
	json_decref(handshakes);
	log_entries = handshakes = NULL;
}
