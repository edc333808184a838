/*
 * Content-Encoding of HTTP request bodies: Codex sends zstd when signed in with
 * ChatGPT, other clients and proxies gzip or deflate (upstream-protocol.md,
 * section 2, "Compressed request bodies"); the service decodes them, so the
 * mock does too, with the standard libraries, never past the body limit.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <brotli/decode.h>
#include "mock.h"

#define CHUNK 65536

struct sink {
	char *buf;
	size_t len, cap, max;
};

/* room for `want` more bytes; -2 past the limit */
static int grow(struct sink *s, size_t want)
{
	size_t cap = s->cap ? s->cap : CHUNK;
	char *b;

	if (s->len + want > s->max)
		want = s->max - s->len + 1; /* one byte over proves the bomb */
	while (cap < s->len + want)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	if (!(b = realloc(s->buf, cap)))
		return -1;
	s->buf = b;
	s->cap = cap;
	return 0;
}

static int inflate_body(const char *in, size_t len, int window_bits, struct sink *s)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, window_bits) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	do {
		if (grow(s, CHUNK)) {
			inflateEnd(&z);
			return -1;
		}
		z.next_out = (Bytef *)s->buf + s->len;
		z.avail_out = (uInt)(s->cap - s->len);
		r = inflate(&z, Z_NO_FLUSH);
		s->len = s->cap - z.avail_out;
		if (s->len > s->max) {
			inflateEnd(&z);
			return -2;
		}
	} while (r == Z_OK);
	inflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

static int zstd_body(const char *in, size_t len, struct sink *s)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer ib = {in, len, 0};
	size_t r = 1;

	if (!d)
		return -1;
	while (ib.pos < ib.size || r != 0) {
		ZSTD_outBuffer ob;

		if (grow(s, CHUNK))
			break;
		ob.dst = s->buf + s->len;
		ob.size = s->cap - s->len;
		ob.pos = 0;
		r = ZSTD_decompressStream(d, &ob, &ib);
		s->len += ob.pos;
		if (ZSTD_isError(r) || s->len > s->max || (!ob.pos && ib.pos == ib.size && r))
			break;
	}
	ZSTD_freeDStream(d);
	if (s->len > s->max)
		return -2;
	return ZSTD_isError(r) || r != 0 || ib.pos < ib.size ? -1 : 0;
}

static int brotli_body(const char *in, size_t len, struct sink *s)
{
	BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
	const uint8_t *next_in = (const uint8_t *)in;
	size_t avail_in = len;
	BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;

	if (!d)
		return -1;
	while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
		uint8_t *next_out;
		size_t avail_out;

		if (grow(s, CHUNK))
			break;
		next_out = (uint8_t *)s->buf + s->len;
		avail_out = s->cap - s->len;
		r = BrotliDecoderDecompressStream(d, &avail_in, &next_in, &avail_out, &next_out, NULL);
		s->len = s->cap - avail_out;
		if (s->len > s->max)
			break;
	}
	BrotliDecoderDestroyInstance(d);
	if (s->len > s->max)
		return -2;
	return r == BROTLI_DECODER_RESULT_SUCCESS && !avail_in ? 0 : -1;
}

static int decode_one(const char *enc, size_t elen, const char *in, size_t len, struct sink *s)
{
	if (elen == 4 && !strncasecmp(enc, "zstd", 4))
		return zstd_body(in, len, s);
	if ((elen == 4 && !strncasecmp(enc, "gzip", 4)) || (elen == 6 && !strncasecmp(enc, "x-gzip", 6)))
		return inflate_body(in, len, 15 + 16, s);
	if (elen == 7 && !strncasecmp(enc, "deflate", 7)) {
		/* RFC 9110 says zlib-wrapped; some clients send raw deflate */
		int r = inflate_body(in, len, 15, s);

		if (r == -1) {
			s->len = 0;
			r = inflate_body(in, len, -15, s);
		}
		return r;
	}
	if (elen == 2 && !strncasecmp(enc, "br", 2))
		return brotli_body(in, len, s);
	return -1;
}

int dwm_decode_body(const char *encoding, const char *in, size_t len, size_t max, char **out,
		    size_t *out_len)
{
	char *cur = NULL;
	const char *end = encoding + strlen(encoding);
	size_t cur_len = len;

	*out = NULL;
	*out_len = 0;
	/* codings are listed in the order they were applied: undo them from the last */
	while (end > encoding) {
		const char *start = end, *e;
		struct sink s = {NULL, 0, 0, max};
		int r;

		while (start > encoding && start[-1] != ',')
			start--;
		e = end;
		end = start > encoding ? start - 1 : encoding;
		while (start < e && (*start == ' ' || *start == '\t'))
			start++;
		while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == start || ((size_t)(e - start) == 8 && !strncasecmp(start, "identity", 8)))
			continue;
		r = decode_one(start, (size_t)(e - start), cur ? cur : in, cur_len, &s);
		free(cur);
		if (r) {
			free(s.buf);
			return r;
		}
		cur = s.buf;
		cur_len = s.len;
	}
	if (!cur) {
		if (len > max)
			return -2;
		if (!(cur = malloc(len + 1)))
			return -1;
		memcpy(cur, in, len);
	}
	*out = cur;
	*out_len = cur_len;
	return 0;
}
