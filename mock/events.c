/*
 * Response objects and the streamed event sequence. Every item appears three
 * times (deltas, output_item.done, response.completed.output) and clients
 * echo different copies, so all three are built from the same final item.
 */
#include <stdlib.h>
#include <string.h>
#include "mock.h"

static void echo(json_t *o, const json_t *req, const char *key, json_t *dflt)
{
	json_t *v = json_object_get(req, key);

	if (v && !json_is_null(v)) {
		json_object_set(o, key, v);
		json_decref(dflt);
	} else {
		json_object_set_new(o, key, dflt);
	}
}

json_t *dwm_response_base(const json_t *req, const char *id, long created_at, const char *status)
{
	json_t *o = json_object(), *r = json_object_get(req, "reasoning");
	json_t *effort = json_object_get(r, "effort"), *summary = json_object_get(r, "summary");

	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "object", json_string("response"));
	json_object_set_new(o, "created_at", json_integer(created_at));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "background", json_false());
	json_object_set_new(o, "error", json_null());
	json_object_set_new(o, "incomplete_details", json_null());
	echo(o, req, "instructions", json_null());
	echo(o, req, "max_output_tokens", json_null());
	echo(o, req, "max_tool_calls", json_null());
	echo(o, req, "model", json_null());
	json_object_set_new(o, "output", json_array());
	echo(o, req, "parallel_tool_calls", json_true());
	/* exactly as the request sent it: proxies are checked on this */
	echo(o, req, "previous_response_id", json_null());
	echo(o, req, "prompt_cache_key", json_null());
	if (json_object_get(req, "prompt_cache_retention"))
		echo(o, req, "prompt_cache_retention", json_null());
	json_object_set_new(o, "reasoning", json_pack("{s:O, s:O}", "effort", effort ? effort : json_null(),
						      "summary", summary ? summary : json_null()));
	echo(o, req, "safety_identifier", json_null());
	echo(o, req, "service_tier", json_string("default"));
	echo(o, req, "store", json_true());
	echo(o, req, "temperature", json_integer(1));
	echo(o, req, "text", json_pack("{s:{s:s}, s:s}", "format", "type", "text", "verbosity", "medium"));
	echo(o, req, "tool_choice", json_string("auto"));
	echo(o, req, "tools", json_array());
	echo(o, req, "top_logprobs", json_integer(0));
	echo(o, req, "top_p", json_integer(1));
	echo(o, req, "truncation", json_string("disabled"));
	json_object_set_new(o, "usage", json_null());
	echo(o, req, "user", json_null());
	echo(o, req, "metadata", json_object());
	return o;
}

json_t *dwm_split_deltas(const char *text, size_t max_parts)
{
	json_t *out = json_array();
	size_t len = strlen(text), words = 0, i, start = 0, target = 0;

	for (i = 0; i < len; i++)
		if (text[i] == ' ')
			words++;
	if (len && text[len - 1] != ' ')
		words++;
	/* long padded texts: fewer, bigger deltas instead of one per word */
	if (max_parts && words > max_parts)
		target = (len + max_parts - 1) / max_parts;
	for (i = 0; i < len; i++) {
		if (text[i] != ' ' && i + 1 != len)
			continue;
		if (i + 1 - start < target && i + 1 != len)
			continue;
		json_array_append_new(out, json_stringn(text + start, i + 1 - start));
		start = i + 1;
	}
	return out;
}

#define MAX_DELTAS 64

static json_t *ev(json_t *events, const char *type)
{
	json_t *e = json_pack("{s:s}", "type", type);

	json_array_append_new(events, e);
	return e;
}

static json_t *ev_item(json_t *events, const char *type, const json_t *item, size_t idx)
{
	json_t *e = ev(events, type);

	json_object_set_new(e, "item_id", json_copy(json_object_get(item, "id")));
	json_object_set_new(e, "output_index", json_integer((json_int_t)idx));
	return e;
}

static const char *sval(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* the item as output_item.added shows it: in progress, nothing streamed yet */
static json_t *added_form(const json_t *item, const char *type)
{
	json_t *a = json_copy((json_t *)item);

	if (json_object_get(a, "status"))
		json_object_set_new(a, "status", json_string("in_progress"));
	if (!strcmp(type, "reasoning")) {
		json_object_set_new(a, "summary", json_array());
		json_object_del(a, "content");
	} else if (!strcmp(type, "message")) {
		json_object_set_new(a, "content", json_array());
	} else if (!strcmp(type, "function_call")) {
		json_object_set_new(a, "arguments", json_string(""));
	} else if (!strcmp(type, "custom_tool_call")) {
		json_object_set_new(a, "input", json_string(""));
	}
	return a;
}

static void text_deltas(json_t *events, const char *type, const json_t *item, size_t idx,
			const char *index_key, size_t index, const char *text, const char *obf)
{
	json_t *parts = dwm_split_deltas(text, MAX_DELTAS), *p;
	size_t i;

	json_array_foreach(parts, i, p) {
		json_t *e = ev_item(events, type, item, idx);

		json_object_set_new(e, index_key, json_integer((json_int_t)index));
		json_object_set(e, "delta", p);
		if (!strcmp(type, "response.output_text.delta"))
			json_object_set_new(e, "logprobs", json_array());
		json_object_set_new(e, "obfuscation", json_string(obf));
	}
	json_decref(parts);
}

static void reasoning_events(json_t *events, const json_t *item, size_t idx)
{
	json_t *part, *e;
	size_t i;

	json_array_foreach(json_object_get(item, "summary"), i, part) {
		const char *text = sval(part, "text");

		e = ev_item(events, "response.reasoning_summary_part.added", item, idx);
		json_object_set_new(e, "summary_index", json_integer((json_int_t)i));
		json_object_set_new(e, "part", json_pack("{s:s, s:s}", "type", "summary_text", "text", ""));
		text_deltas(events, "response.reasoning_summary_text.delta", item, idx, "summary_index", i,
			    text, "xxx");
		e = ev_item(events, "response.reasoning_summary_text.done", item, idx);
		json_object_set_new(e, "summary_index", json_integer((json_int_t)i));
		json_object_set_new(e, "text", json_string(text));
		e = ev_item(events, "response.reasoning_summary_part.done", item, idx);
		json_object_set_new(e, "summary_index", json_integer((json_int_t)i));
		json_object_set_new(e, "part", json_pack("{s:s, s:s}", "type", "summary_text", "text", text));
	}
	json_array_foreach(json_object_get(item, "content"), i, part) {
		const char *text = sval(part, "text");

		text_deltas(events, "response.reasoning_text.delta", item, idx, "content_index", i, text,
			    "xxx");
		e = ev_item(events, "response.reasoning_text.done", item, idx);
		json_object_set_new(e, "content_index", json_integer((json_int_t)i));
		json_object_set_new(e, "text", json_string(text));
	}
}

static void message_events(json_t *events, const json_t *item, size_t idx)
{
	json_t *part, *e, *empty;
	size_t i;

	json_array_foreach(json_object_get(item, "content"), i, part) {
		int is_text = !strcmp(sval(part, "type"), "output_text");

		empty = json_copy(part);
		if (json_object_get(empty, "text"))
			json_object_set_new(empty, "text", json_string(""));
		e = ev_item(events, "response.content_part.added", item, idx);
		json_object_set_new(e, "content_index", json_integer((json_int_t)i));
		json_object_set_new(e, "part", empty);
		if (is_text) {
			text_deltas(events, "response.output_text.delta", item, idx, "content_index", i,
				    sval(part, "text"), "xyz");
			e = ev_item(events, "response.output_text.done", item, idx);
			json_object_set_new(e, "content_index", json_integer((json_int_t)i));
			json_object_set(e, "text", json_object_get(part, "text"));
			json_object_set_new(e, "logprobs", json_array());
		}
		e = ev_item(events, "response.content_part.done", item, idx);
		json_object_set_new(e, "content_index", json_integer((json_int_t)i));
		json_object_set(e, "part", part);
	}
}

static void call_events(json_t *events, const json_t *item, size_t idx, const char *field,
			const char *delta_type, const char *done_type)
{
	const char *s = sval(item, field);
	size_t len = strlen(s), mid = len / 2;
	json_t *e;

	/* the fake server split arguments in two; keep that shape */
	if (!strcmp(field, "arguments")) {
		while (mid < len && (s[mid] & 0xC0) == 0x80)
			mid++;
		e = ev_item(events, delta_type, item, idx);
		json_object_set_new(e, "delta", json_stringn(s, mid));
		json_object_set_new(e, "obfuscation", json_string("ab"));
		e = ev_item(events, delta_type, item, idx);
		json_object_set_new(e, "delta", json_string(s + mid));
		json_object_set_new(e, "obfuscation", json_string("cd"));
	} else {
		e = ev_item(events, delta_type, item, idx);
		json_object_set_new(e, "delta", json_string(s));
		json_object_set_new(e, "obfuscation", json_string("ab"));
	}
	e = ev_item(events, done_type, item, idx);
	json_object_set(e, field, json_object_get(item, field));
}

json_t *dwm_events_build(const json_t *req, const char *id, long created_at, json_t *output,
			 size_t input_tokens)
{
	json_t *events = json_array(), *inprog = dwm_response_base(req, id, created_at, "in_progress");
	json_t *final = dwm_response_base(req, id, created_at, "completed"), *item, *e;
	size_t i, out_bytes = 0, reasoning = 0;

	e = ev(events, "response.created");
	json_object_set(e, "response", inprog);
	e = ev(events, "response.in_progress");
	json_object_set_new(e, "response", inprog);
	json_array_foreach(output, i, item) {
		const char *type = sval(item, "type");
		char *dump = json_dumps(item, DWM_JSON_FLAGS);

		out_bytes += dump ? strlen(dump) : 0;
		free(dump);
		e = ev(events, "response.output_item.added");
		json_object_set_new(e, "output_index", json_integer((json_int_t)i));
		json_object_set_new(e, "item", added_form(item, type));
		if (!strcmp(type, "reasoning")) {
			reasoning++;
			reasoning_events(events, item, i);
		} else if (!strcmp(type, "message")) {
			message_events(events, item, i);
		} else if (!strcmp(type, "function_call")) {
			call_events(events, item, i, "arguments", "response.function_call_arguments.delta",
				    "response.function_call_arguments.done");
		} else if (!strcmp(type, "custom_tool_call")) {
			call_events(events, item, i, "input", "response.custom_tool_call_input.delta",
				    "response.custom_tool_call_input.done");
		}
		e = ev(events, "response.output_item.done");
		json_object_set_new(e, "output_index", json_integer((json_int_t)i));
		json_object_set(e, "item", item);
	}
	json_object_set_new(final, "completed_at", json_integer(created_at + 1));
	json_object_set(final, "output", output);
	{
		json_int_t out_tok = (json_int_t)(out_bytes / 4) + 1;
		json_int_t rs_tok = reasoning ? 16 : 0;

		json_object_set_new(final, "usage",
				    json_pack("{s:I, s:{s:i}, s:I, s:{s:I}, s:I}", "input_tokens",
					      (json_int_t)input_tokens, "input_tokens_details", "cached_tokens",
					      0, "output_tokens", out_tok + rs_tok, "output_tokens_details",
					      "reasoning_tokens", rs_tok, "total_tokens",
					      (json_int_t)input_tokens + out_tok + rs_tok));
	}
	e = ev(events, "response.completed");
	json_object_set_new(e, "response", final);
	json_array_foreach(events, i, e)
		json_object_set_new(e, "sequence_number", json_integer((json_int_t)i));
	return events;
}
