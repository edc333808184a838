/*
 * Fault injection. A fault can come from the command line (run-wide), the
 * x-mock-fault header (per HTTP request, or per WS connection when sent on
 * the upgrade), metadata.mock_fault in a body (survives a field-forwarding
 * proxy), or POST /__mock/fault (the next `count` requests).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mock.h"

static const struct {
	const char *name;
	unsigned bit;
	size_t off;
} fields[] = {
	{"refuse_upgrade", DWM_F_REFUSE_UPGRADE, offsetof(struct dwm_fault, refuse_upgrade)},
	{"close_after_events", DWM_F_CLOSE_AFTER, offsetof(struct dwm_fault, close_after_events)},
	{"first_event_delay_ms", DWM_F_FIRST_DELAY, offsetof(struct dwm_fault, first_event_delay_ms)},
	{"error_status", DWM_F_ERROR_STATUS, offsetof(struct dwm_fault, error_status)},
	{"forget_cache", DWM_F_FORGET_CACHE, offsetof(struct dwm_fault, forget_cache)},
	{"slow_ms", DWM_F_SLOW, offsetof(struct dwm_fault, slow_ms)},
	{"error_shape", DWM_F_ERROR_SHAPE, offsetof(struct dwm_fault, error_shape)},
	{"retry_after_ms", DWM_F_RETRY_AFTER, offsetof(struct dwm_fault, retry_after_ms)},
	{"error_after_events", DWM_F_ERROR_AFTER, offsetof(struct dwm_fault, error_after_events)},
	{"done_event", DWM_F_DONE_EVENT, offsetof(struct dwm_fault, done_event)},
	{"black_hole", DWM_F_BLACK_HOLE, offsetof(struct dwm_fault, black_hole)},
	{"stall_after_events", DWM_F_STALL_AFTER, offsetof(struct dwm_fault, stall_after_events)},
	{"stall_ms", DWM_F_STALL_MS, offsetof(struct dwm_fault, stall_ms)},
	{"refuse_stream_id", DWM_F_REFUSE_STREAM_ID, offsetof(struct dwm_fault, refuse_stream_id)},
	{"ignore_stream_id", DWM_F_IGNORE_STREAM_ID, offsetof(struct dwm_fault, ignore_stream_id)},
};

static const struct {
	const char *name;
	int bit;
} shapes[] = {
	{"nested", 0},
	{"status_code", DWM_ES_STATUS_CODE},
	{"flat", DWM_ES_FLAT},
	{"headers", DWM_ES_HEADERS},
	{"headers_top", DWM_ES_HEADERS_TOP},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int *field_ptr(struct dwm_fault *f, size_t i)
{
	return (int *)((char *)f + fields[i].off);
}

static int set_field(struct dwm_fault *f, const char *name, size_t nlen, long v)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		if (strlen(fields[i].name) == nlen && !strncmp(fields[i].name, name, nlen)) {
			*field_ptr(f, i) = (int)v;
			f->set |= fields[i].bit;
			return 0;
		}
	}
	return -1;
}

static int parse_value(const char *v, size_t len, long *out)
{
	char buf[32], *end;

	if (len == 4 && !strncasecmp(v, "true", 4)) {
		*out = 1;
		return 0;
	}
	if (len == 5 && !strncasecmp(v, "false", 5)) {
		*out = 0;
		return 0;
	}
	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	*out = strtol(buf, &end, 10);
	return *end || *out < 0 ? -1 : 0;
}

/* "flat+status_code+headers" (also ',' or '|' between names) as DWM_ES_* bits */
static int parse_shape(const char *v, size_t len, long *out)
{
	const char *end = v + len;

	*out = 0;
	while (v < end) {
		size_t n = strcspn(v, "+,|"), i;

		if (v + n > end)
			n = (size_t)(end - v);
		for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
			if (strlen(shapes[i].name) == n && !strncmp(shapes[i].name, v, n))
				break;
		if (i == sizeof(shapes) / sizeof(shapes[0]))
			return -1;
		*out |= shapes[i].bit;
		v += n + (v + n < end);
	}
	return 0;
}

static int parse_field_value(const char *name, size_t nlen, const char *v, size_t len, long *out)
{
	if (!parse_value(v, len, out))
		return 0;
	if (nlen == 11 && !strncmp(name, "error_shape", 11))
		return parse_shape(v, len, out);
	return -1;
}

int dwm_fault_parse(struct dwm_fault *f, const char *spec)
{
	const char *p = spec;

	while (*p) {
		const char *end = strchr(p, ';'), *eq;
		size_t len;
		long v;

		if (!end)
			end = p + strlen(p);
		while (*p == ' ')
			p++;
		len = (size_t)(end - p);
		if (len) {
			eq = memchr(p, '=', len);
			if (!eq || parse_field_value(p, (size_t)(eq - p), eq + 1, (size_t)(end - eq - 1), &v) ||
			    set_field(f, p, (size_t)(eq - p), v))
				return -1;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

int dwm_fault_from_json(struct dwm_fault *f, const json_t *obj)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return -1;
	json_object_foreach((json_t *)obj, k, v) {
		long n;

		if (!strcmp(k, "count"))
			continue;
		if (json_is_boolean(v))
			n = json_is_true(v);
		else if (json_is_integer(v) && json_integer_value(v) >= 0)
			n = (long)json_integer_value(v);
		else if (!json_is_string(v) ||
			 parse_field_value(k, strlen(k), json_string_value(v), json_string_length(v), &n))
			return -1;
		if (set_field(f, k, strlen(k), n))
			return -1;
	}
	return 0;
}

void dwm_fault_merge(struct dwm_fault *dst, const struct dwm_fault *src)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (src->set & fields[i].bit)
			*field_ptr(dst, i) = *field_ptr((struct dwm_fault *)src, i);
	dst->set |= src->set;
}

json_t *dwm_fault_to_json(const struct dwm_fault *f)
{
	json_t *o;
	size_t i;

	if (!f || !f->set)
		return json_null();
	o = json_object();
	for (i = 0; i < NFIELDS; i++)
		if (f->set & fields[i].bit)
			json_object_set_new(o, fields[i].name,
					    json_integer(*field_ptr((struct dwm_fault *)f, i)));
	return o;
}

static struct dwm_fault ctl;
static long ctl_requests, ctl_upgrades;

int dwm_fault_control_set(const json_t *obj)
{
	struct dwm_fault f = {0};
	json_t *count = json_object_get(obj, "count");
	long n = 1;

	if (dwm_fault_from_json(&f, obj))
		return -1;
	if (count) {
		if (!json_is_integer(count) || json_integer_value(count) < 0)
			return -1;
		n = (long)json_integer_value(count);
	}
	ctl = f;
	/* upgrade refusals are counted in upgrade attempts, the rest in requests */
	ctl_upgrades = (f.set & DWM_F_REFUSE_UPGRADE) ? n : 0;
	ctl_requests = (f.set & ~(unsigned)DWM_F_REFUSE_UPGRADE) ? n : 0;
	return 0;
}

void dwm_fault_control_reset(void)
{
	memset(&ctl, 0, sizeof(ctl));
	ctl_requests = ctl_upgrades = 0;
}

int dwm_fault_control_take_request(struct dwm_fault *f)
{
	struct dwm_fault r = ctl;

	if (ctl_requests <= 0)
		return 0;
	ctl_requests--;
	r.set &= ~(unsigned)DWM_F_REFUSE_UPGRADE;
	dwm_fault_merge(f, &r);
	return 1;
}

int dwm_fault_control_take_upgrade(void)
{
	if (ctl_upgrades <= 0)
		return 0;
	ctl_upgrades--;
	return ctl.refuse_upgrade;
}
