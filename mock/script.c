/*
 * Canned outputs for replaying captured traffic: each generating request
 * takes the next queued output verbatim instead of asking the model.
 */
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
		json_array_append(queue, json_object_get(r, "output"));
	return 0;
}

json_t *dwm_script_pop(void)
{
	json_t *out;

	if (!json_array_size(queue))
		return NULL;
	out = json_deep_copy(json_array_get(queue, 0));
	json_array_remove(queue, 0);
	return out;
}

void dwm_script_reset(void)
{
	json_decref(queue);
	queue = NULL;
}
