/*
 * Random ids shaped like the real API's: resp_/rs_/msg_/fc_/ctc_ + 48 hex,
 * call_ + 16 alphanumerics. Not cryptographic; they only need to be unique.
 */
#include <stdlib.h>
#include <string.h>
#include "mock.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void dwm_ids_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

/* splitmix64: tiny, good enough spread for ids */
static uint64_t next64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static char *with_random(const char *prefix, size_t n, const char *alphabet, size_t alen)
{
	size_t plen = strlen(prefix), i;
	char *s = malloc(plen + n + 1);

	if (!s)
		return NULL;
	memcpy(s, prefix, plen);
	for (i = 0; i < n; i++)
		s[plen + i] = alphabet[next64() % alen];
	s[plen + n] = '\0';
	return s;
}

char *dwm_id_hex(const char *prefix, size_t nhex)
{
	return with_random(prefix, nhex, "0123456789abcdef", 16);
}

char *dwm_id_call(void)
{
	static const char an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	return with_random("call_", 16, an, sizeof(an) - 1);
}

int dwm_stream_id_ok(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0, i;

	if (!n || n > 256)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}
