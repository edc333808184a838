/*
 * Canned outputs for replaying captured traffic: each generating request
 * takes the next queued output verbatim instead of asking the model.
 *
 * An entry may also shape the terminal event, to play upstreams that
 * misbehave or stop early: "listed": n makes the final response object list
 * only the first n output items (all are still streamed and cached), and
 * "terminal": "incomplete" ends with response.incomplete (status
 * "incomplete", incomplete_details.reason "max_output_tokens").
 */
#include <string.h>
#include "mock.h"

static json_t *queue;

int dwm_script_push(const json_t *body)
{
	json_t *list = json_object_get(body, "responses"), *r;
	size_t i;

	if (!json_is_array(list))
		return -1;
	json_array_foreach(list, i, r)
		if (!json_is_array(json_object_get(r, "output")))
			return -1;
	if (!queue)
		queue = json_array();
	json_array_foreach(list, i, r)
		json_array_append(queue, r);
	return 0;
}

json_t *dwm_script_pop(json_t **entry)
{
	json_t *out;

	if (!json_array_size(queue))
		return NULL;
	*entry = json_incref(json_array_get(queue, 0));
	out = json_deep_copy(json_object_get(*entry, "output"));
	json_array_remove(queue, 0);
	return out;
}

void dwm_script_shape(json_t *events, const json_t *entry)
{
	json_t *last = json_array_get(events, json_array_size(events) - 1);
	json_t *resp = json_object_get(last, "response"), *output = json_object_get(resp, "output");
	json_t *listed = entry ? json_object_get(entry, "listed") : NULL;
	const char *terminal = entry ? json_string_value(json_object_get(entry, "terminal")) : NULL;

	if (json_is_integer(listed)) {
		json_t *fewer = json_array();
		size_t i;

		for (i = 0; i < json_array_size(output) && (json_int_t)i < json_integer_value(listed); i++)
			json_array_append(fewer, json_array_get(output, i));
		json_object_set_new(resp, "output", fewer);
	}
	if (terminal && !strcmp(terminal, "incomplete")) {
		json_object_set_new(last, "type", json_string("response.incomplete"));
		json_object_set_new(resp, "status", json_string("incomplete"));
		json_object_set_new(resp, "incomplete_details", json_pack("{s:s}", "reason", "max_output_tokens"));
	}
}

void dwm_script_reset(void)
{
	json_decref(queue);
	queue = NULL;
}
