/*
 * The scripted model, ported from the fake server the client fixtures were
 * captured with: turn 0 reasoning + tool call, later tool turns reasoning +
 * "Running it once more" message + tool call, then reasoning + final message.
 * The turn is the number of *_call_output items after the last user message,
 * so it works the same whether history came in full or through a chain.
 */
#include <stdlib.h>
#include <string.h>
#include "mock.h"

static void flatten(const json_t *tools, const char *ns, json_t *out)
{
	size_t i;
	json_t *t;

	if (!json_is_array(tools))
		return;
	json_array_foreach(tools, i, t) {
		const char *type = json_string_value(json_object_get(t, "type"));
		json_t *inner = json_object_get(t, "tools");

		if (!json_is_object(t))
			continue;
		if (type && !strcmp(type, "namespace") && json_is_array(inner)) {
			flatten(inner, json_string_value(json_object_get(t, "name")), out);
		} else {
			json_t *c = json_copy(t);

			if (ns)
				json_object_set_new(c, "_ns", json_string(ns));
			json_array_append_new(out, c);
		}
	}
}

json_t *dwm_model_collect_tools(const json_t *req, const json_t *full_input)
{
	json_t *out = json_array(), *it;
	size_t i;

	flatten(json_object_get(req, "tools"), NULL, out);
	json_array_foreach(full_input, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));

		if (type && !strcmp(type, "additional_tools"))
			flatten(json_object_get(it, "tools"), NULL, out);
	}
	return out;
}

static int str_is(const json_t *v, const char *s)
{
	const char *x = json_string_value(v);

	return x && !strcmp(x, s);
}

const json_t *dwm_model_pick_tool(const json_t *tools)
{
	static const char *pref[] = {"exec_command", "shell_command", "shell", "run_shell", "bash",
				     "local_shell"};
	static const char *hints[] = {"shell", "exec", "command", "bash"};
	const json_t *t, *first = NULL;
	size_t i, p;

	/* Codex's "responses-lite" shell is JavaScript in the custom tool `exec` */
	json_array_foreach(tools, i, t) {
		const char *d = json_string_value(json_object_get(t, "description"));

		if (str_is(json_object_get(t, "type"), "custom") &&
		    str_is(json_object_get(t, "name"), "exec") && d && strstr(d, "exec_command"))
			return t;
	}
	for (p = 0; p < sizeof(pref) / sizeof(pref[0]); p++)
		json_array_foreach(tools, i, t)
			if ((str_is(json_object_get(t, "type"), "function") ||
			     !json_object_get(t, "type")) &&
			    str_is(json_object_get(t, "name"), pref[p]))
				return t;
	json_array_foreach(tools, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));

		if (!name || !(str_is(json_object_get(t, "type"), "function") ||
			       !json_object_get(t, "type")))
			continue;
		if (!first)
			first = t;
		for (p = 0; p < sizeof(hints) / sizeof(hints[0]); p++)
			if (strcasestr(name, hints[p]))
				return t;
	}
	return first;
}

/* "echo hello" plus a shell comment, so padded calls still run */
static json_t *shell_string(size_t want, size_t used)
{
	size_t base = strlen("echo hello"), pad;
	char *s;
	json_t *j;

	if (!want || want <= used + 2)
		return json_string("echo hello");
	pad = want - used - 2;
	s = malloc(base + 2 + pad + 1);
	memcpy(s, "echo hello #", base + 2);
	memset(s + base + 2, 'x', pad);
	s[base + 2 + pad] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static char *args_for_tool(const json_t *tool, size_t want)
{
	json_t *props = json_object_get(json_object_get(tool, "parameters"), "properties");
	json_t *args, *cmd;
	const char *key = NULL;
	int as_array = 0;
	char *s;
	size_t used;

	if (json_object_get(props, "cmd"))
		key = "cmd";
	else if (json_object_get(props, "command")) {
		key = "command";
		as_array = str_is(json_object_get(json_object_get(props, "command"), "type"), "array");
	} else if (json_object_get(props, "script"))
		key = "script";
	else if (json_object_get(props, "input"))
		key = "input";
	else if (json_object_size(props))
		key = json_object_iter_key(json_object_iter(props));

	/* build once unpadded to learn the size, then once padded */
	args = json_object();
	if (key)
		json_object_set_new(args, key, json_string("echo hello"));
	if (json_object_get(props, "yield_time_ms"))
		json_object_set_new(args, "yield_time_ms", json_integer(1000));
	if (as_array)
		json_object_set_new(args, key, json_pack("[ss s]", "bash", "-lc", "echo hello"));
	s = json_dumps(args, DWM_JSON_FLAGS);
	used = strlen(s);
	if (key && want > used + 2) {
		free(s);
		cmd = shell_string(want, used);
		if (as_array)
			json_array_set_new(json_object_get(args, key), 2, cmd);
		else
			json_object_set_new(args, key, cmd);
		s = json_dumps(args, DWM_JSON_FLAGS);
	}
	json_decref(args);
	return s;
}

static json_t *custom_input(const json_t *tool, size_t want)
{
	const char *base = str_is(json_object_get(tool, "name"), "exec")
				   ? "const r = await tools.exec_command({ cmd: \"echo hello\" });\ntext(r);"
				   : "echo hello";
	size_t blen = strlen(base), pad;
	char *s;
	json_t *j;

	if (want <= blen + 4)
		return json_string(base);
	pad = want - blen - 4;
	s = malloc(want + 1);
	memcpy(s, base, blen);
	memcpy(s + blen, "\n// ", 4);
	memset(s + blen + 4, 'x', pad);
	s[want] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static json_t *padded_text(const char *base, size_t want)
{
	static const char filler[] = " lorem ipsum dolor sit amet";
	size_t blen = strlen(base), len = blen, flen = sizeof(filler) - 1;
	char *s;
	json_t *j;

	if (want <= blen)
		return json_string(base);
	s = malloc(want + flen + 1);
	memcpy(s, base, blen);
	while (len < want) {
		memcpy(s + len, filler, flen);
		len += flen;
	}
	s[len] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static json_t *with_id(const char *prefix, const char *type)
{
	char *id = dwm_id_hex(prefix, 48);
	json_t *o = json_pack("{s:s, s:s}", "id", id, "type", type);

	free(id);
	return o;
}

static json_t *reasoning_item(const char *summary, int encrypted)
{
	json_t *o = with_id("rs_", "reasoning");

	json_object_set_new(o, "summary", json_pack("[{s:s, s:s}]", "type", "summary_text", "text", summary));
	if (encrypted) {
		char *enc = dwm_id_hex("gAAAAAB", 120);

		json_object_set_new(o, "encrypted_content", json_string(enc));
		free(enc);
	}
	return o;
}

static json_t *message_item(const char *text, size_t want)
{
	json_t *o = with_id("msg_", "message");
	json_t *part = json_pack("{s:s, s:[], s:[]}", "type", "output_text", "annotations", "logprobs");

	json_object_set_new(part, "text", padded_text(text, want));
	json_object_set_new(o, "status", json_string("completed"));
	json_object_set_new(o, "content", json_pack("[o]", part));
	json_object_set_new(o, "role", json_string("assistant"));
	return o;
}

static json_t *call_item(const json_t *tool, size_t want)
{
	int custom = str_is(json_object_get(tool, "type"), "custom");
	json_t *o = with_id(custom ? "ctc_" : "fc_", custom ? "custom_tool_call" : "function_call");
	const char *ns = json_string_value(json_object_get(tool, "_ns"));
	char *call = dwm_id_call();

	json_object_set_new(o, "status", json_string("completed"));
	if (custom) {
		json_object_set_new(o, "call_id", json_string(call));
		json_object_set_new(o, "input", custom_input(tool, want));
	} else {
		char *args = args_for_tool(tool, want);

		json_object_set_new(o, "arguments", json_string(args));
		json_object_set_new(o, "call_id", json_string(call));
		free(args);
	}
	json_object_set(o, "name", json_object_get(tool, "name"));
	/* "functions" is Codex's default namespace; the API names only others */
	if (ns && strcmp(ns, "functions"))
		json_object_set_new(o, "namespace", json_string(ns));
	free(call);
	return o;
}

static int is_user_message(const json_t *it)
{
	json_t *type = json_object_get(it, "type");

	return str_is(json_object_get(it, "role"), "user") && (!type || str_is(type, "message"));
}

static int wants_no_tools(const json_t *msg)
{
	static const char *words[] = {"no tools", "just answer", "title"};
	json_t *c = json_object_get(msg, "content"), *part;
	size_t i, w;

	if (json_is_string(c)) {
		for (w = 0; w < 3; w++)
			if (strcasestr(json_string_value(c), words[w]))
				return 1;
		return 0;
	}
	json_array_foreach(c, i, part) {
		const char *t = json_string_value(json_object_get(part, "text"));

		for (w = 0; t && w < 3; w++)
			if (strcasestr(t, words[w]))
				return 1;
	}
	return 0;
}

static int include_has(const json_t *req, const char *what)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(req, "include"), i, v)
		if (str_is(v, what))
			return 1;
	return 0;
}

json_t *dwm_model_plan(const json_t *req, const json_t *full_input, const struct dwm_model_opts *o)
{
	json_t *tools = dwm_model_collect_tools(req, full_input), *out = json_array(), *it;
	const json_t *tool = dwm_model_pick_tool(tools);
	int enc = include_has(req, "reasoning.encrypted_content");
	size_t i, n = json_array_size(full_input), last_user = n, outputs = 0;
	int stage;

	for (i = n; i-- > 0;)
		if (is_user_message(json_array_get(full_input, i))) {
			last_user = i;
			break;
		}
	for (i = last_user == n ? 0 : last_user + 1; i < n; i++) {
		const char *type = json_string_value(json_object_get(json_array_get(full_input, i), "type"));

		if (type && (!strcmp(type, "function_call_output") ||
			     !strcmp(type, "custom_tool_call_output")))
			outputs++;
	}
	it = last_user == n ? NULL : json_array_get(full_input, last_user);
	stage = (int)outputs;
	if (!tool || (it && wants_no_tools(it)) || stage >= o->tool_turns) {
		json_array_append_new(out, reasoning_item("Both runs printed hello; answering.", enc));
		json_array_append_new(out, message_item("Done: `echo hello` printed \"hello\" both times.",
							o->text_bytes));
	} else if (stage == 0) {
		json_array_append_new(out, reasoning_item("Planning to run echo hello.", enc));
		json_array_append_new(out, call_item(tool, o->args_bytes));
	} else {
		json_array_append_new(out, reasoning_item("Ran once; running again to confirm.", enc));
		json_array_append_new(out,
				      message_item("The first run printed hello. Running it once more to confirm.",
						   o->text_bytes));
		json_array_append_new(out, call_item(tool, o->args_bytes));
	}
	json_decref(tools);
	return out;
}
