/*
 * The process-wide store of store=true responses: any connection (and HTTP)
 * may continue from them, and item_reference resolves against their items.
 */
#include <string.h>
#include "mock.h"

static json_t *responses; /* id -> {"response","chain","bytes"} */
static json_t *items;     /* item id -> item */

static void ensure(void)
{
	if (!responses) {
		responses = json_object();
		items = json_object();
	}
}

static void index_items(const json_t *list)
{
	json_t *it;
	size_t i;

	json_array_foreach(list, i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));

		if (id && strcmp(json_string_value(json_object_get(it, "type")) ?: "", "item_reference"))
			json_object_set(items, id, it);
	}
}

void dwm_store_put(const char *id, json_t *response, json_t *chain, size_t chain_bytes)
{
	ensure();
	json_object_set_new(responses, id,
			    json_pack("{s:O, s:O, s:I}", "response", response, "chain", chain, "bytes",
				      (json_int_t)chain_bytes));
	index_items(chain);
}

json_t *dwm_store_chain(const char *id, size_t *chain_bytes)
{
	json_t *r = responses ? json_object_get(responses, id) : NULL;

	if (!r)
		return NULL;
	if (chain_bytes)
		*chain_bytes = (size_t)json_integer_value(json_object_get(r, "bytes"));
	return json_object_get(r, "chain");
}

json_t *dwm_store_response(const char *id)
{
	return responses ? json_object_get(json_object_get(responses, id), "response") : NULL;
}

json_t *dwm_store_item(const char *id)
{
	return items ? json_object_get(items, id) : NULL;
}

int dwm_store_delete(const char *id)
{
	return responses ? json_object_del(responses, id) : -1;
}

void dwm_store_reset(void)
{
	json_decref(responses);
	json_decref(items);
	responses = items = NULL;
}
