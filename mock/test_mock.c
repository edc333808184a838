/* Unit tests for the pure parts of the mock: scripted model, events, faults. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <criterion/criterion.h>
#include "mock.h"

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	cr_assert_not_null(j, "bad test json: %s", e.text);
	return j;
}

static const struct dwm_model_opts two_turns = {.tool_turns = 2};

static const char *type_at(const json_t *items, size_t i)
{
	return json_string_value(json_object_get(json_array_get(items, i), "type"));
}

static int has_prefix(const json_t *v, const char *prefix, size_t hexlen)
{
	const char *s = json_string_value(v);

	return s && !strncmp(s, prefix, strlen(prefix)) && strlen(s) == strlen(prefix) + hexlen;
}

Test(model, first_turn_calls_preferred_function_tool)
{
	json_t *req = load("{\"model\":\"m\",\"include\":[\"reasoning.encrypted_content\"],\"tools\":["
			   "{\"type\":\"function\",\"name\":\"other\",\"parameters\":{}},"
			   "{\"type\":\"function\",\"name\":\"run_shell\",\"parameters\":{\"properties\":"
			   "{\"command\":{\"type\":\"string\"}}}}]}");
	json_t *in = load("[{\"role\":\"user\",\"content\":\"Run echo hello twice\"}]");
	json_t *out = dwm_model_plan(req, in, &two_turns), *call;

	cr_assert_eq(json_array_size(out), 2);
	cr_assert_str_eq(type_at(out, 0), "reasoning");
	cr_assert(has_prefix(json_object_get(json_array_get(out, 0), "id"), "rs_", 48));
	cr_assert_not_null(json_object_get(json_array_get(out, 0), "encrypted_content"));
	call = json_array_get(out, 1);
	cr_assert_str_eq(type_at(out, 1), "function_call");
	cr_assert(has_prefix(json_object_get(call, "id"), "fc_", 48));
	cr_assert(has_prefix(json_object_get(call, "call_id"), "call_", 16));
	cr_assert_str_eq(json_string_value(json_object_get(call, "name")), "run_shell");
	cr_assert_str_eq(json_string_value(json_object_get(call, "arguments")), "{\"command\":\"echo hello\"}");
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

Test(model, no_encrypted_content_unless_included)
{
	json_t *req = load("{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"bash\"}]}");
	json_t *in = load("[{\"role\":\"user\",\"content\":\"hi\"}]");
	json_t *out = dwm_model_plan(req, in, &two_turns);

	cr_assert_null(json_object_get(json_array_get(out, 0), "encrypted_content"));
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

Test(model, codex_exec_custom_tool_in_additional_tools_namespace)
{
	json_t *req = load("{\"model\":\"m\"}");
	json_t *in = load("[{\"type\":\"additional_tools\",\"role\":\"developer\",\"tools\":[{\"type\":\"namespace\","
			  "\"name\":\"functions\",\"tools\":[{\"type\":\"custom\",\"name\":\"exec\",\"description\":"
			  "\"runs JS; tools.exec_command(...)\"}]}]},"
			  "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"go\"}]}]");
	json_t *out = dwm_model_plan(req, in, &two_turns), *call = json_array_get(out, 1);

	cr_assert_str_eq(type_at(out, 1), "custom_tool_call");
	cr_assert(has_prefix(json_object_get(call, "id"), "ctc_", 48));
	cr_assert_str_eq(json_string_value(json_object_get(call, "name")), "exec");
	cr_assert(strstr(json_string_value(json_object_get(call, "input")), "tools.exec_command"));
	cr_assert_null(json_object_get(call, "namespace"));
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

Test(model, namespaced_function_names_its_namespace)
{
	json_t *req = load("{\"model\":\"m\",\"tools\":[{\"type\":\"namespace\",\"name\":\"box\",\"tools\":["
			   "{\"type\":\"function\",\"name\":\"exec_command\",\"parameters\":{\"properties\":"
			   "{\"cmd\":{},\"yield_time_ms\":{}}}}]}]}");
	json_t *in = load("[{\"role\":\"user\",\"content\":\"go\"}]");
	json_t *out = dwm_model_plan(req, in, &two_turns), *call = json_array_get(out, 1);

	cr_assert_str_eq(json_string_value(json_object_get(call, "namespace")), "box");
	cr_assert_str_eq(json_string_value(json_object_get(call, "arguments")),
			 "{\"cmd\":\"echo hello\",\"yield_time_ms\":1000}");
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

Test(model, turns_follow_tool_outputs_after_last_user_message)
{
	json_t *req = load("{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"shell\"}]}");
	json_t *t2 = load("[{\"role\":\"user\",\"content\":\"go\"},{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"x\"}]");
	json_t *t3 = load("[{\"role\":\"user\",\"content\":\"go\"},{\"type\":\"function_call_output\"},"
			  "{\"type\":\"function_call_output\"}]");
	json_t *notools = load("[{\"role\":\"user\",\"content\":\"go\"},{\"type\":\"function_call_output\"},"
			       "{\"role\":\"user\",\"content\":\"Now say hi, no tools.\"}]");
	json_t *o2 = dwm_model_plan(req, t2, &two_turns);
	json_t *o3 = dwm_model_plan(req, t3, &two_turns);
	json_t *o4 = dwm_model_plan(req, notools, &two_turns);

	cr_assert_eq(json_array_size(o2), 3);
	cr_assert_str_eq(type_at(o2, 1), "message");
	cr_assert(strstr(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(o2, 1),
		"content"), 0), "text")), "Running it once more"));
	cr_assert_str_eq(type_at(o2, 2), "function_call");
	cr_assert_eq(json_array_size(o3), 2);
	cr_assert_str_eq(type_at(o3, 1), "message");
	cr_assert_eq(json_array_size(o4), 2);
	cr_assert_str_eq(type_at(o4, 1), "message");
	json_decref(req);
	json_decref(t2);
	json_decref(t3);
	json_decref(notools);
	json_decref(o2);
	json_decref(o3);
	json_decref(o4);
}

Test(model, padding_reaches_requested_sizes)
{
	json_t *req = load("{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"name\":\"shell\",\"parameters\":"
			   "{\"properties\":{\"command\":{\"type\":\"array\"}}}}]}");
	json_t *in = load("[{\"role\":\"user\",\"content\":\"go\"},{\"type\":\"function_call_output\"}]");
	struct dwm_model_opts o = {.tool_turns = 2, .args_bytes = 5000, .text_bytes = 3000};
	json_t *out = dwm_model_plan(req, in, &o), *args, *parsed;
	const char *text;
	json_error_t e;

	text = json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(out, 1), "content"), 0),
						 "text"));
	cr_assert_geq(strlen(text), 3000);
	cr_assert_lt(strlen(text), 3100);
	args = json_object_get(json_array_get(out, 2), "arguments");
	cr_assert_geq(json_string_length(args), 4990);
	cr_assert_leq(json_string_length(args), 5010);
	parsed = json_loads(json_string_value(args), 0, &e);
	cr_assert_not_null(parsed);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(parsed, "command"), 0)), "bash");
	json_decref(parsed);
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

Test(events, sequence_is_complete_and_consistent)
{
	json_t *req = load("{\"model\":\"gpt-5.5\",\"store\":false,\"previous_response_id\":\"resp_x\","
			   "\"tools\":[{\"type\":\"function\",\"name\":\"shell\"}]}");
	json_t *in = load("[{\"role\":\"user\",\"content\":\"go\"},{\"type\":\"function_call_output\"}]");
	json_t *out = dwm_model_plan(req, in, &two_turns);
	json_t *ev = dwm_events_build(req, "resp_abc", 1000, out, 10), *e, *final;
	size_t i, n = json_array_size(ev);
	char text[512] = "", args[512] = "";
	const char *first_types[] = {"response.created", "response.in_progress", "response.output_item.added",
				     "response.reasoning_summary_part.added"};

	for (i = 0; i < 4; i++)
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, i), "type")), first_types[i]);
	json_array_foreach(ev, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));

		cr_assert_eq(json_integer_value(json_object_get(e, "sequence_number")), (json_int_t)i);
		if (!strcmp(type, "response.output_text.delta"))
			strcat(text, json_string_value(json_object_get(e, "delta")));
		if (!strcmp(type, "response.function_call_arguments.delta"))
			strcat(args, json_string_value(json_object_get(e, "delta")));
		if (!strcmp(type, "response.output_item.done")) {
			size_t idx = (size_t)json_integer_value(json_object_get(e, "output_index"));

			cr_assert(json_equal(json_object_get(e, "item"), json_array_get(out, idx)));
		}
	}
	e = json_array_get(ev, n - 1);
	cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "response.completed");
	final = json_object_get(e, "response");
	cr_assert(json_equal(json_object_get(final, "output"), out));
	cr_assert_str_eq(json_string_value(json_object_get(final, "status")), "completed");
	cr_assert_str_eq(json_string_value(json_object_get(final, "previous_response_id")), "resp_x");
	cr_assert(json_is_false(json_object_get(final, "store")));
	cr_assert_not_null(json_object_get(json_object_get(final, "usage"), "total_tokens"));
	cr_assert_str_eq(text, json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(out, 1),
		"content"), 0), "text")));
	cr_assert_str_eq(args, json_string_value(json_object_get(json_array_get(out, 2), "arguments")));
	json_decref(req);
	json_decref(in);
	json_decref(out);
	json_decref(ev);
}

Test(events, response_base_defaults)
{
	json_t *req = load("{\"model\":\"m\"}");
	json_t *r = dwm_response_base(req, "resp_1", 5, "in_progress");

	cr_assert(json_is_true(json_object_get(r, "store")));
	cr_assert(json_is_null(json_object_get(r, "previous_response_id")));
	cr_assert_eq(json_array_size(json_object_get(r, "tools")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(r, "tool_choice")), "auto");
	json_decref(req);
	json_decref(r);
}

Test(events, split_deltas_rejoins_and_coalesces)
{
	json_t *d = dwm_split_deltas("a bb ccc", 64), *v;
	char big[4001];
	size_t i, total = 0;

	cr_assert_eq(json_array_size(d), 3);
	cr_assert_str_eq(json_string_value(json_array_get(d, 0)), "a ");
	json_decref(d);
	for (i = 0; i < 4000; i++)
		big[i] = i % 5 == 4 ? ' ' : 'x';
	big[4000] = '\0';
	d = dwm_split_deltas(big, 64);
	cr_assert_leq(json_array_size(d), 65);
	json_array_foreach(d, i, v)
		total += json_string_length(v);
	cr_assert_eq(total, 4000);
	json_decref(d);
}

Test(faults, parse_merge_and_json)
{
	struct dwm_fault a = {0}, b = {0};
	json_t *j, *o;

	cr_assert_eq(dwm_fault_parse(&a, "close_after_events=3;first_event_delay_ms=200;forget_cache=1"), 0);
	cr_assert_eq(a.close_after_events, 3);
	cr_assert(a.set & DWM_F_FORGET_CACHE);
	cr_assert_eq(dwm_fault_parse(&b, "bogus=1"), -1);
	memset(&b, 0, sizeof(b));
	o = load("{\"error_status\":503,\"forget_cache\":true,\"count\":2}");
	cr_assert_eq(dwm_fault_from_json(&b, o), 0);
	dwm_fault_merge(&a, &b);
	cr_assert_eq(a.error_status, 503);
	j = dwm_fault_to_json(&a);
	cr_assert_eq(json_integer_value(json_object_get(j, "close_after_events")), 3);
	cr_assert_eq(json_integer_value(json_object_get(j, "error_status")), 503);
	json_decref(j);
	json_decref(o);
}

Test(faults, control_counts_requests_and_upgrades_separately)
{
	json_t *o = load("{\"refuse_upgrade\":426,\"slow_ms\":5,\"count\":1}");
	struct dwm_fault f = {0};

	cr_assert_eq(dwm_fault_control_set(o), 0);
	cr_assert_eq(dwm_fault_control_take_upgrade(), 426);
	cr_assert_eq(dwm_fault_control_take_upgrade(), 0);
	cr_assert_eq(dwm_fault_control_take_request(&f), 1);
	cr_assert_eq(f.slow_ms, 5);
	cr_assert_eq(f.set & DWM_F_REFUSE_UPGRADE, 0);
	cr_assert_eq(dwm_fault_control_take_request(&f), 0);
	json_decref(o);
}

Test(faults, error_shape_names_and_new_fields)
{
	struct dwm_fault f = {0};
	json_t *j, *o;

	cr_assert_eq(dwm_fault_parse(&f, "error_shape=flat+status_code;retry_after_ms=2500;black_hole=true"), 0);
	cr_assert_eq(f.error_shape, DWM_ES_FLAT | DWM_ES_STATUS_CODE);
	cr_assert_eq(f.retry_after_ms, 2500);
	cr_assert_eq(f.black_hole, 1);
	cr_assert_eq(dwm_fault_parse(&f, "error_shape=headers_top"), 0);
	cr_assert_eq(f.error_shape, DWM_ES_HEADERS_TOP);
	cr_assert_eq(dwm_fault_parse(&f, "error_shape=6"), 0);
	cr_assert_eq(f.error_shape, DWM_ES_FLAT | DWM_ES_HEADERS);
	cr_assert_neq(dwm_fault_parse(&f, "error_shape=round"), 0);
	cr_assert_neq(dwm_fault_parse(&f, "stall_ms=flat"), 0, "names only for error_shape");
	o = load("{\"error_shape\":\"nested,headers\",\"stall_after_events\":3,\"stall_ms\":0}");
	memset(&f, 0, sizeof(f));
	cr_assert_eq(dwm_fault_from_json(&f, o), 0);
	cr_assert_eq(f.error_shape, DWM_ES_HEADERS);
	cr_assert(f.set & DWM_F_STALL_MS, "a zero is still a given field");
	j = dwm_fault_to_json(&f);
	cr_assert_eq(json_integer_value(json_object_get(j, "stall_after_events")), 3);
	json_decref(j);
	json_decref(o);
}

static void roundtrip(const char *enc, const char *data, size_t dlen, const char *packed, size_t plen)
{
	char *out;
	size_t out_len;

	cr_assert_eq(dwm_decode_body(enc, packed, plen, 1 << 20, &out, &out_len), 0, "%s", enc);
	cr_assert_eq(out_len, dlen, "%s", enc);
	cr_assert_eq(memcmp(out, data, dlen), 0, "%s", enc);
	free(out);
}

Test(decode, zstd_gzip_deflate_identity_and_lists)
{
	static const char data[] = "{\"model\":\"gpt-5.5\",\"input\":\"hello hello hello hello hello\"}";
	size_t dlen = sizeof(data) - 1;
	char z[512], g[512], both[1024];
	size_t zlen = ZSTD_compress(z, sizeof(z), data, dlen, 3), glen;
	z_stream s;

	cr_assert(!ZSTD_isError(zlen));
	roundtrip("zstd", data, dlen, z, zlen);
	roundtrip("identity", data, dlen, data, dlen);
	roundtrip("", data, dlen, data, dlen);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)data;
	s.avail_in = (uInt)dlen;
	s.next_out = (Bytef *)g;
	s.avail_out = sizeof(g);
	cr_assert_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
	glen = sizeof(g) - s.avail_out;
	deflateEnd(&s);
	roundtrip("gzip", data, dlen, g, glen);
	roundtrip("x-gzip", data, dlen, g, glen);
	/* "gzip, zstd": gzip applied first, then zstd */
	zlen = ZSTD_compress(both, sizeof(both), g, glen, 3);
	roundtrip("gzip, zstd", data, dlen, both, zlen);
	glen = sizeof(g);
	cr_assert_eq(compress((Bytef *)g, (uLongf *)&glen, (const Bytef *)data, dlen), Z_OK);
	roundtrip("deflate", data, dlen, g, glen);
}

Test(decode, corrupt_unknown_and_bombs)
{
	static char zeros[4 << 20];
	size_t cap = ZSTD_compressBound(sizeof(zeros)), zlen;
	char *z = malloc(cap), *out;
	size_t out_len;

	cr_assert_eq(dwm_decode_body("snappy", "abc", 3, 100, &out, &out_len), -1);
	cr_assert_eq(dwm_decode_body("gzip", "abc", 3, 100, &out, &out_len), -1);
	cr_assert_eq(dwm_decode_body("zstd", "abc", 3, 100, &out, &out_len), -1);
	cr_assert_eq(dwm_decode_body("identity", "abcdef", 6, 5, &out, &out_len), -2);
	zlen = ZSTD_compress(z, cap, zeros, sizeof(zeros), 1);
	cr_assert_eq(dwm_decode_body("zstd", z, zlen, 1 << 20, &out, &out_len), -2);
	cr_assert_null(out);
	cr_assert_eq(dwm_decode_body("zstd", z, zlen - 1, sizeof(zeros), &out, &out_len), -1, "truncated");
	cr_assert_eq(dwm_decode_body("zstd", z, zlen, sizeof(zeros), &out, &out_len), 0, "exactly the limit");
	cr_assert_eq(out_len, sizeof(zeros));
	free(out);
	free(z);
}

Test(ids, stream_id_names)
{
	static const char *good[] = {"a", "lane-1", "A.b_c-9"};
	static const char *bad[] = {"", "a b", "lane/1", "\xc3\xbc"};
	char longest[258];
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = json_string(good[i]);
		cr_assert(dwm_stream_id_ok(v), "%s", good[i]);
		json_decref(v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_string(bad[i]);
		cr_assert_not(dwm_stream_id_ok(v), "%s", bad[i]);
		json_decref(v);
	}
	memset(longest, 'x', 257);
	longest[256] = '\0';
	v = json_string(longest);
	cr_assert(dwm_stream_id_ok(v), "256 characters");
	json_decref(v);
	longest[256] = 'x';
	longest[257] = '\0';
	v = json_string(longest);
	cr_assert_not(dwm_stream_id_ok(v), "257 characters");
	json_decref(v);
	v = json_integer(42);
	cr_assert_not(dwm_stream_id_ok(v));
	json_decref(v);
	cr_assert_not(dwm_stream_id_ok(NULL));
}
