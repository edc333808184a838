/*
 * One generating request, whichever transport carried it: validate, rebuild
 * the full input (chain + new items, item_references resolved), pick the
 * output (script queue or model) and build the event sequence.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mock.h"

json_t *dwm_error_obj(const char *type, const char *code, const char *param, const char *msg)
{
	return json_pack("{s:s, s:o, s:s, s:o}", "type", type, "code", code ? json_string(code) : json_null(),
			 "message", msg, "param", param ? json_string(param) : json_null());
}

/* the HTTP headers the service gives with this error: an x-request-id always, retry-after and
 * retry-after-ms when asked or on 429, and the x-ratelimit-* family on 429 */
static json_t *error_headers(const struct dwm_turn *t, int status)
{
	char *rid = dwm_id_hex("req_", 32), v[32];
	json_t *h = json_pack("{s:s}", "x-request-id", rid);
	int ms = (t->fault.set & DWM_F_RETRY_AFTER) ? t->fault.retry_after_ms : status == 429 ? 1000 : -1;

	free(rid);
	if (ms >= 0) {
		snprintf(v, sizeof(v), "%d", (ms + 999) / 1000);
		json_object_set_new(h, "retry-after", json_string(v));
		snprintf(v, sizeof(v), "%d", ms);
		json_object_set_new(h, "retry-after-ms", json_string(v));
	}
	if (status == 429) {
		snprintf(v, sizeof(v), "%ds", ms > 0 ? (ms + 999) / 1000 : 1);
		json_object_set_new(h, "x-ratelimit-limit-requests", json_string("500"));
		json_object_set_new(h, "x-ratelimit-remaining-requests", json_string("0"));
		json_object_set_new(h, "x-ratelimit-reset-requests", json_string(v));
		json_object_set_new(h, "x-ratelimit-limit-tokens", json_string("30000"));
		json_object_set_new(h, "x-ratelimit-remaining-tokens", json_string("0"));
		json_object_set_new(h, "x-ratelimit-reset-tokens", json_string(v));
	}
	return h;
}

void dwm_turn_fail(struct dwm_turn *t, int status, const char *type, const char *code,
		   const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *logged;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(t->error);
	json_decref(t->error_headers);
	t->error = dwm_error_obj(type, code, param, msg);
	t->error_headers = error_headers(t, status);
	t->status = status;
	logged = json_copy(t->error);
	json_object_set_new(logged, "status", json_integer(status));
	json_object_set_new(t->log_entry, "error", logged);
}

json_t *dwm_error_ws(const struct dwm_turn *t)
{
	int shape = (t->fault.set & DWM_F_ERROR_SHAPE) ? t->fault.error_shape : 0;
	json_t *e = json_pack("{s:s}", "type", "error"), *detail;

	json_object_set_new(e, shape & DWM_ES_STATUS_CODE ? "status_code" : "status", json_integer(t->status));
	if (shape & DWM_ES_FLAT) {
		/* the ChatGPT backend's form: the detail beside "type", which the error type cannot share */
		json_object_set(e, "code", json_object_get(t->error, "code"));
		json_object_set(e, "message", json_object_get(t->error, "message"));
		json_object_set(e, "param", json_object_get(t->error, "param"));
		detail = e;
	} else {
		detail = json_deep_copy(t->error);
		json_object_set_new(e, "error", detail);
	}
	if (shape & DWM_ES_HEADERS_TOP)
		json_object_set_new(e, "headers", json_deep_copy(t->error_headers));
	else if (shape & DWM_ES_HEADERS)
		json_object_set_new(detail, "headers", json_deep_copy(t->error_headers));
	if (t->midstream > 0)
		json_object_set_new(e, "sequence_number", json_integer(t->midstream));
	return e;
}

json_t *dwm_error_sse(const struct dwm_turn *t)
{
	return json_pack("{s:s, s:O, s:O, s:O, s:i}", "type", "error", "code", json_object_get(t->error, "code"),
			 "message", json_object_get(t->error, "message"), "param",
			 json_object_get(t->error, "param"), "sequence_number", t->midstream);
}

json_t *dwm_error_http(const json_t *e)
{
	return json_pack("{s:{s:O, s:O, s:O, s:O}}", "error", "message", json_object_get(e, "message"),
			 "type", json_object_get(e, "type"), "param", json_object_get(e, "param"), "code",
			 json_object_get(e, "code"));
}

/* the error an error_status fault asks for */
static void fault_error(struct dwm_turn *t, int s)
{
	if (s == 429)
		dwm_turn_fail(t, s, "requests", "rate_limit_exceeded", NULL, "Rate limit reached (mock fault).");
	else if (s >= 500)
		dwm_turn_fail(t, s, "server_error", "server_error", NULL,
			      "The server had an error while processing your request. Sorry about that! "
			      "(mock fault)");
	else
		dwm_turn_fail(t, s, "invalid_request_error", "mock_fault", NULL, "Request rejected (mock fault).");
}

static size_t env_bytes(const json_t *meta, const char *key, size_t dflt)
{
	const char *s = json_string_value(json_object_get(meta, key));
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return dflt;
	v = strtoull(s, &end, 10);
	return *end ? dflt : (size_t)v;
}

void dwm_model_opts_for(const json_t *req, struct dwm_model_opts *o)
{
	json_t *meta = json_object_get(req, "metadata");

	o->tool_turns = dwm_cfg.tool_turns;
	o->args_bytes = env_bytes(meta, "mock_args_bytes", dwm_cfg.args_bytes);
	o->text_bytes = env_bytes(meta, "mock_text_bytes", dwm_cfg.text_bytes);
}

int dwm_fault_from_metadata(const json_t *req, struct dwm_fault *f)
{
	const char *spec = json_string_value(json_object_get(json_object_get(req, "metadata"), "mock_fault"));
	struct dwm_fault m = {0};

	if (!spec)
		return 0;
	if (dwm_fault_parse(&m, spec))
		return -1;
	dwm_fault_merge(f, &m);
	return 0;
}

static int validate(struct dwm_turn *t)
{
	json_t *req = t->req, *v, *it;
	size_t i;

	if (!json_is_object(req)) {
		dwm_turn_fail(t, 400, "invalid_request_error", NULL, NULL,
			      "We could not parse the JSON body of your request. (HINT: This likely means you "
			      "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)");
		return -1;
	}
	if (t->transport == DWM_HTTP) {
		/* WebSocket-only fields: the HTTP API rejects any field it does not know this way
		 * (inferred from its unknown-field answer; upstream-protocol.md section 2 says only that
		 * it refuses them) */
		static const char *ws_only[] = {"generate", "stream_id"};

		for (i = 0; i < sizeof(ws_only) / sizeof(ws_only[0]); i++)
			if (json_object_get(req, ws_only[i])) {
				dwm_turn_fail(t, 400, "invalid_request_error", "unknown_parameter", ws_only[i],
					      "Unknown parameter: '%s'.", ws_only[i]);
				return -1;
			}
	}
	if (t->transport == DWM_WS) {
		const char *type = json_string_value(json_object_get(req, "type"));

		if (!type || strcmp(type, "response.create")) {
			dwm_turn_fail(t, 400, "invalid_request_error", "unknown_event_type", "type",
				      "Unsupported event type '%s'. Supported: 'response.create'.",
				      type ? type : "");
			return -1;
		}
		if (json_is_true(json_object_get(req, "background"))) {
			dwm_turn_fail(t, 400, "invalid_request_error", "unsupported_parameter", "background",
				      "background is not supported in WebSocket mode.");
			return -1;
		}
	}
	v = json_object_get(req, "model");
	if (!v || json_is_null(v)) {
		dwm_turn_fail(t, 400, "invalid_request_error", "missing_required_parameter", "model",
			      "Missing required parameter: 'model'.");
		return -1;
	}
	if (!json_is_string(v)) {
		dwm_turn_fail(t, 400, "invalid_request_error", "invalid_type", "model",
			      "Invalid type for 'model': expected a string.");
		return -1;
	}
	v = json_object_get(req, "input");
	if (v && !json_is_null(v) && !json_is_string(v) && !json_is_array(v)) {
		dwm_turn_fail(t, 400, "invalid_request_error", "invalid_type", "input",
			      "Invalid type for 'input': expected one of a string or array of input items.");
		return -1;
	}
	json_array_foreach(v, i, it) {
		if (!json_is_object(it)) {
			char param[32];

			snprintf(param, sizeof(param), "input[%zu]", i);
			dwm_turn_fail(t, 400, "invalid_request_error", "invalid_type", param,
				      "Invalid type for '%s': expected an input item object.", param);
			return -1;
		}
	}
	v = json_object_get(req, "previous_response_id");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		dwm_turn_fail(t, 400, "invalid_request_error", "invalid_type", "previous_response_id",
			      "Invalid type for 'previous_response_id': expected a string.");
		return -1;
	}
	return 0;
}

/* the chain the previous response held, or NULL when it cannot be found */
static json_t *base_chain(struct dwm_turn *t, const char *prev, size_t *bytes)
{
	/* a WS connection remembers its last response; anything else needs store=true */
	if (t->transport == DWM_WS && t->cache_id && t->cache_chain && !strcmp(t->cache_id, prev)) {
		*bytes = t->cache_bytes;
		return t->cache_chain;
	}
	return dwm_store_chain(prev, bytes);
}

static int append_new_items(struct dwm_turn *t, json_t *full)
{
	json_t *input = json_object_get(t->req, "input"), *it;
	size_t i;

	if (json_is_string(input)) {
		json_array_append_new(full, json_pack("{s:s, s:s, s:O}", "type", "message", "role", "user",
						      "content", input));
		return 0;
	}
	json_array_foreach(input, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));

		if (type && !strcmp(type, "item_reference")) {
			const char *id = json_string_value(json_object_get(it, "id"));
			json_t *ref = id ? dwm_store_item(id) : NULL;

			if (!ref) {
				char param[32];

				snprintf(param, sizeof(param), "input[%zu]", i);
				dwm_turn_fail(t, 400, "invalid_request_error", "item_not_found", param,
					      "Item with id '%s' not found.", id ? id : "");
				return -1;
			}
			it = ref;
		}
		json_array_append(full, it);
	}
	return 0;
}

static size_t context_bytes(const json_t *v)
{
	return v ? json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS) : 0;
}

int dwm_turn_run(struct dwm_turn *t)
{
	json_t *full, *output, *last, *scripted = NULL;
	const char *prev;
	size_t base_bytes = 0, in_tokens;
	char *id;
	long now;

	t->status = 200;
	if (validate(t))
		return -1;
	prev = json_string_value(json_object_get(t->req, "previous_response_id"));
	full = json_array();
	if (prev) {
		json_t *base = base_chain(t, prev, &base_bytes);

		if (!base) {
			json_decref(full);
			dwm_turn_fail(t, 400, "invalid_request_error", "previous_response_not_found",
				      "previous_response_id", "Previous response with id '%s' not found.", prev);
			return -1;
		}
		json_array_extend(full, base);
	}
	if (append_new_items(t, full)) {
		json_decref(full);
		return -1;
	}
	json_object_set_new(t->log_entry, "full_input", json_copy(full));
	if ((t->fault.set & DWM_F_ERROR_AFTER) ? !t->fault.error_after_events
					       : (t->fault.set & DWM_F_ERROR_STATUS)) {
		json_decref(full);
		fault_error(t, (t->fault.set & DWM_F_ERROR_STATUS) ? t->fault.error_status : 500);
		return -1;
	}
	if (json_is_false(json_object_get(t->req, "generate")))
		output = json_array();
	else if (!(output = dwm_script_pop(&scripted)))
		output = dwm_model_plan(t->req, full, &t->model);

	id = dwm_id_hex("resp_", 48);
	now = (long)time(NULL);
	/* the model reads the whole context, however it arrived: count the reconstructed input and
	 * the re-sent instructions and tools, not the request's bytes */
	in_tokens = (context_bytes(full) + context_bytes(json_object_get(t->req, "instructions")) +
		     context_bytes(json_object_get(t->req, "tools"))) / 4 + 1;
	t->events = dwm_events_build(t->req, id, now, output, in_tokens);
	dwm_script_shape(t->events, scripted);
	json_decref(scripted);
	last = json_array_get(t->events, json_array_size(t->events) - 1);
	t->response = json_object_get(last, "response");
	json_array_extend(full, output);
	t->chain = full;
	t->chain_bytes = base_bytes + t->bytes +
			 4 * (size_t)json_integer_value(
				     json_object_get(json_object_get(t->response, "usage"), "output_tokens"));
	t->store = !json_is_false(json_object_get(t->req, "store"));
	if ((t->fault.set & DWM_F_DONE_EVENT) && t->fault.done_event)
		json_object_set_new(last, "type", json_string("response.done"));
	if ((t->fault.set & DWM_F_ERROR_AFTER) &&
	    (size_t)t->fault.error_after_events < json_array_size(t->events)) {
		/* the response fails after the events that went out: the transport adds the error */
		t->midstream = t->fault.error_after_events;
		fault_error(t, (t->fault.set & DWM_F_ERROR_STATUS) ? t->fault.error_status : 500);
		while (json_array_size(t->events) > (size_t)t->midstream)
			json_array_remove(t->events, json_array_size(t->events) - 1);
		t->response = NULL;
	}
	json_object_set_new(t->log_entry, "response_id", json_string(id));
	free(id);
	json_decref(output);
	return 0;
}

void dwm_turn_commit(struct dwm_turn *t)
{
	if (t->store && t->response && !t->error)
		dwm_store_put(json_string_value(json_object_get(t->response, "id")), t->response, t->chain,
			      t->chain_bytes);
}

void dwm_turn_clear(struct dwm_turn *t)
{
	json_decref(t->req);
	json_decref(t->log_entry);
	json_decref(t->error);
	json_decref(t->error_headers);
	json_decref(t->events);
	json_decref(t->chain);
	memset(t, 0, sizeof(*t));
}
