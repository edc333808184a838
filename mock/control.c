/*
 * Routes that do not generate: the /__mock/ test controls, GET /models,
 * GET and DELETE /responses/{id} (so a proxy's passthrough can be tested),
 * and the OpenAI-shaped 404 for anything else.
 */
#include <stdio.h>
#include <string.h>
#include "mock.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* the {id} of ".../responses/{id}", or NULL */
static const char *response_id_of(const char *path)
{
	const char *p = strstr(path, "/responses/");

	if (!p)
		return NULL;
	p += strlen("/responses/");
	return *p && !strchr(p, '/') ? p : NULL;
}

static json_t *http_error(const char *type, const char *code, const char *fmt, const char *a,
			  const char *b)
{
	char msg[512];
	json_t *e, *out;

	snprintf(msg, sizeof(msg), fmt, a, b);
	e = dwm_error_obj(type, code, NULL, msg);
	out = dwm_error_http(e);
	json_decref(e);
	return out;
}

static json_t *models(void)
{
	static const char *ids[] = {"gpt-5.5", "gpt-5.4", "gpt-6.1-sol"};
	json_t *data = json_array();
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", ids[i], "object", "model",
						      "created", 1700000000, "owned_by", "openai"));
	return json_pack("{s:s, s:o}", "object", "list", "data", data);
}

static int control(const char *method, const char *what, const char *body, size_t len, json_t **out)
{
	json_t *in = NULL;
	json_error_t err;
	int post = !strcmp(method, "POST"), ok = 0;

	if (!strcmp(what, "log") && !post) {
		*out = dwm_log_get();
		return 200;
	}
	if (!strcmp(what, "handshakes") && !post) {
		*out = dwm_handshakes_get();
		return 200;
	}
	if (!post)
		return 0;
	if (!strcmp(what, "reset")) {
		dwm_log_reset();
		dwm_script_reset();
		dwm_fault_control_reset();
		dwm_store_reset();
		*out = json_pack("{s:b}", "ok", 1);
		return 200;
	}
	if (strcmp(what, "script") && strcmp(what, "fault"))
		return 0;
	in = json_loadb(body ? body : "", len, 0, &err);
	if (in)
		ok = !strcmp(what, "script") ? !dwm_script_push(in) : !dwm_fault_control_set(in);
	json_decref(in);
	if (!ok) {
		*out = http_error("invalid_request_error", "invalid_mock_control", "Bad /__mock/%s body%s.", what,
				  "");
		return 400;
	}
	*out = json_pack("{s:b}", "ok", 1);
	return 200;
}

int dwm_control_route(const char *method, const char *path, const char *body, size_t len, json_t **out)
{
	const char *id;
	int status;

	if (!strncmp(path, "/__mock/", 8) && (status = control(method, path + 8, body, len, out)))
		return status;
	if (!strcmp(method, "GET") && ends_with(path, "/models")) {
		*out = models();
		return 200;
	}
	if ((id = response_id_of(path)) && (!strcmp(method, "GET") || !strcmp(method, "DELETE"))) {
		json_t *r = dwm_store_response(id);

		if (!r) {
			*out = http_error("invalid_request_error", NULL, "Response with id '%s' not found.%s", id,
					  "");
			return 404;
		}
		if (!strcmp(method, "GET")) {
			*out = json_incref(r);
		} else {
			*out = json_pack("{s:s, s:s, s:b}", "id", id, "object", "response", "deleted", 1);
			dwm_store_delete(id);
		}
		return 200;
	}
	*out = http_error("invalid_request_error", NULL, "Invalid URL (%s %s)", method, path);
	return 404;
}
