/*
 * POST .../chat/completions: a minimal Chat Completions endpoint driven by
 * the same scripted model (model.c, or the script queue), so a proxy that
 * forwards a chat request unchanged gets a faithful answer. Messages become
 * the model's input items here with the mock's own reading of the Chat API
 * (no code shared with translate/); the answer drops what a Chat client never
 * sees (reasoning items). Shapes: openai-node's ChatCompletion and
 * ChatCompletionChunk; `n` choices are n independent plans; the stream ends
 * with "data: [DONE]".
 */
#include <string.h>
#include <time.h>
#include "mock.h"

static json_t *chat_error(int *status, const char *code, const char *param, const char *msg)
{
	*status = 400;
	return json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", msg, "type",
			 "invalid_request_error", "param", param, "code", code);
}

/* the text of a content that is a string or an array of text parts */
static json_t *text_of(const json_t *c)
{
	json_t *p;
	size_t i;

	if (json_is_string(c) || !json_is_array(c))
		return json_is_string(c) ? json_incref((json_t *)c) : json_string("");
	json_t *s = json_string("");
	json_array_foreach(c, i, p) {
		const char *t = json_string_value(json_object_get(p, "text"));
		char *joined;

		if (!t)
			continue;
		if (asprintf(&joined, "%s%s", json_string_value(s), t) < 0)
			break;
		json_decref(s);
		s = json_string(joined);
		free(joined);
	}
	return s;
}

/* the model's input items for the messages */
json_t *dwm_chat_items(const json_t *messages)
{
	json_t *items = json_array(), *m, *tc;
	size_t i, k;

	json_array_foreach(messages, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		json_t *content = json_object_get(m, "content");

		if (!role)
			continue;
		if (!strcmp(role, "tool")) {
			json_array_append_new(items, json_pack("{s:s, s:O, s:o}", "type", "function_call_output",
							       "call_id", json_object_get(m, "tool_call_id"),
							       "output", text_of(content)));
			continue;
		}
		if (content && !json_is_null(content) && !(json_is_string(content) && !*json_string_value(content)))
			json_array_append_new(items, json_pack("{s:s, s:s, s:o}", "type", "message", "role", role,
							       "content", text_of(content)));
		json_array_foreach(json_object_get(m, "tool_calls"), k, tc) {
			json_t *fn = json_object_get(tc, "function");

			json_array_append_new(items, json_pack("{s:s, s:O, s:O, s:O}", "type", "function_call",
							       "call_id", json_object_get(tc, "id"), "name",
							       json_object_get(fn, "name"), "arguments",
							       json_object_get(fn, "arguments")));
		}
	}
	return items;
}

/* Chat tools {type, function:{name, parameters}} as the model reads Responses tools */
static json_t *model_req(const json_t *req)
{
	json_t *tools = json_array(), *t;
	size_t i;

	json_array_foreach(json_object_get(req, "tools"), i, t) {
		json_t *fn = json_object_get(t, "function");

		if (json_is_object(fn))
			json_array_append_new(tools, json_pack("{s:s, s:O, s:O*}", "type", "function", "name",
							       json_object_get(fn, "name"), "parameters",
							       json_object_get(fn, "parameters")));
	}
	return json_pack("{s:o, s:O*}", "tools", tools, "metadata", json_object_get(req, "metadata"));
}

/* the assistant message of one plan's output (reasoning dropped), and whether it calls tools */
static json_t *message_of(const json_t *output, int *calls)
{
	json_t *msg = json_pack("{s:s, s:n, s:n, s:[]}", "role", "assistant", "content", "refusal", "annotations");
	json_t *tcs = json_array(), *it, *part;
	char *text = NULL;
	size_t i, k;

	json_array_foreach(output, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));

		if (type && !strcmp(type, "message"))
			json_array_foreach(json_object_get(it, "content"), k, part) {
				const char *t = json_string_value(json_object_get(part, "text"));
				char *joined;

				if (t && asprintf(&joined, "%s%s", text ? text : "", t) >= 0) {
					free(text);
					text = joined;
				}
			}
		else if (type && !strcmp(type, "function_call"))
			json_array_append_new(tcs, json_pack("{s:O, s:s, s:{s:O, s:O}}", "id",
							     json_object_get(it, "call_id"), "type", "function",
							     "function", "name", json_object_get(it, "name"),
							     "arguments", json_object_get(it, "arguments")));
	}
	if (text)
		json_object_set_new(msg, "content", json_string(text));
	free(text);
	*calls = (int)json_array_size(tcs);
	if (*calls)
		json_object_set_new(msg, "tool_calls", tcs);
	else
		json_decref(tcs);
	return msg;
}

static json_t *chunk(const char *id, long created, const json_t *model, json_t *choices, int usage_null)
{
	json_t *c = json_pack("{s:s, s:s, s:i, s:O, s:o}", "id", id, "object", "chat.completion.chunk", "created",
			      (json_int_t)created, "model", model, "choices", choices);

	if (usage_null)
		json_object_set_new(c, "usage", json_null());
	return c;
}

static json_t *delta_choice(size_t index, json_t *delta, const char *finish)
{
	return json_pack("{s:i, s:o, s:n, s:s?}", "index", (json_int_t)index, "delta", delta, "logprobs",
			 "finish_reason", finish);
}

/* the chunks of one choice's message */
static void stream_choice(json_t *msgs, const char *id, long created, const json_t *model, size_t index,
			  const json_t *msg, const char *finish, int usage_null)
{
	json_t *content = json_object_get(msg, "content"), *tc, *words, *w;
	size_t i;

	json_array_append_new(msgs, chunk(id, created, model,
					  json_pack("[o]", delta_choice(index, json_pack("{s:s, s:s, s:n}", "role",
											 "assistant", "content", "",
											 "refusal"),
									NULL)),
					  usage_null));
	if (json_is_string(content)) {
		words = dwm_split_deltas(json_string_value(content), 64);
		json_array_foreach(words, i, w)
			json_array_append_new(msgs, chunk(id, created, model,
							  json_pack("[o]", delta_choice(index, json_pack("{s:O}", "content", w), NULL)),
							  usage_null));
		json_decref(words);
	}
	json_array_foreach(json_object_get(msg, "tool_calls"), i, tc) {
		json_t *fn = json_object_get(tc, "function");

		json_array_append_new(
			msgs, chunk(id, created, model,
				    json_pack("[o]", delta_choice(index,
								  json_pack("{s:[{s:i, s:O, s:s, s:{s:O, s:s}}]}", "tool_calls",
									    "index", (json_int_t)i, "id", json_object_get(tc, "id"),
									    "type", "function", "function", "name",
									    json_object_get(fn, "name"), "arguments", ""),
								  NULL)),
				    usage_null));
		json_array_append_new(
			msgs, chunk(id, created, model,
				    json_pack("[o]", delta_choice(index,
								  json_pack("{s:[{s:i, s:{s:O}}]}", "tool_calls", "index",
									    (json_int_t)i, "function", "arguments",
									    json_object_get(fn, "arguments")),
								  NULL)),
				    usage_null));
	}
	json_array_append_new(msgs, chunk(id, created, model, json_pack("[o]", delta_choice(index, json_object(), finish)),
					  usage_null));
}

int dwm_chat_run(const json_t *req, json_t *log_entry, json_t **msgs, int *sse)
{
	json_t *messages = json_object_get(req, "messages"), *model = json_object_get(req, "model");
	json_t *items, *mreq, *choices, *usage, *n_v = json_object_get(req, "n");
	size_t n = json_is_integer(n_v) && json_integer_value(n_v) > 1 ? (size_t)json_integer_value(n_v) : 1, i;
	int status = 200, stream = json_is_true(json_object_get(req, "stream"));
	int include_usage = json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
	struct dwm_model_opts o;
	size_t out_tokens = 0, in_tokens;
	long created = (long)time(NULL);
	char *id;

	*sse = 0;
	if (!json_is_object(req)) {
		*msgs = json_pack("[o]", chat_error(&status, NULL, NULL, "We could not parse the JSON body of your request."));
		return status;
	}
	if (!json_is_string(model)) {
		*msgs = json_pack("[o]", chat_error(&status, "missing_required_parameter", "model",
						   "you must provide a model parameter"));
		return status;
	}
	if (!json_is_array(messages) || !json_array_size(messages)) {
		*msgs = json_pack("[o]", chat_error(&status, "missing_required_parameter", "messages",
						   "Missing required parameter: 'messages'."));
		return status;
	}
	items = dwm_chat_items(messages);
	json_object_set_new(log_entry, "endpoint", json_string("chat"));
	json_object_set(log_entry, "full_input", items);
	mreq = model_req(req);
	dwm_model_opts_for(req, &o);
	id = dwm_id_hex("chatcmpl-", 29);
	choices = json_array();
	for (i = 0; i < n; i++) {
		json_t *scripted = NULL, *output = dwm_script_pop(&scripted), *msg, *c;
		int calls;

		if (!output)
			output = dwm_model_plan(mreq, items, &o);
		msg = message_of(output, &calls);
		out_tokens += json_dumpb(msg, NULL, 0, JSON_COMPACT) / 4 + 1;
		c = json_pack("{s:i, s:o, s:n, s:s}", "index", (json_int_t)i, "message", msg, "logprobs",
			      "finish_reason", calls ? "tool_calls" : "stop");
		if (json_is_true(json_object_get(req, "logprobs")))
			json_object_set_new(c, "logprobs", json_pack("{s:[], s:n}", "content", "refusal"));
		json_array_append_new(choices, c);
		json_decref(output);
		json_decref(scripted);
	}
	in_tokens = json_dumpb(items, NULL, 0, JSON_COMPACT) / 4 + 1;
	usage = json_pack("{s:i, s:i, s:i, s:{s:i}, s:{s:i}}", "prompt_tokens", (json_int_t)in_tokens,
			  "completion_tokens", (json_int_t)out_tokens, "total_tokens", (json_int_t)(in_tokens + out_tokens),
			  "prompt_tokens_details", "cached_tokens", 0, "completion_tokens_details", "reasoning_tokens", 0);
	json_object_set_new(log_entry, "response_id", json_string(id));
	if (!stream) {
		*msgs = json_pack("[{s:s, s:s, s:i, s:O, s:o, s:o, s:s}]", "id", id, "object", "chat.completion",
				  "created", (json_int_t)created, "model", model, "choices", choices, "usage", usage,
				  "service_tier", "default");
	} else {
		json_t *c;

		*sse = 1;
		*msgs = json_array();
		json_array_foreach(choices, i, c)
			stream_choice(*msgs, id, created, model, i, json_object_get(c, "message"),
				      json_string_value(json_object_get(c, "finish_reason")), include_usage);
		if (include_usage)
			json_array_append_new(*msgs, json_pack("{s:s, s:s, s:i, s:O, s:[], s:o}", "id", id, "object",
							       "chat.completion.chunk", "created", (json_int_t)created,
							       "model", model, "choices", "usage", usage));
		else
			json_decref(usage);
		json_array_append_new(*msgs, json_string("[DONE]"));
		json_decref(choices);
	}
	free(id);
	json_decref(items);
	json_decref(mreq);
	return status;
}
