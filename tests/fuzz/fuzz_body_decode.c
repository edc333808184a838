/*
 * Request body decoding (translate/body_decode.c, issue 13 item 2) on any
 * bytes and any Content-Encoding value, and on real compressed data:
 *  - arbitrary input: a known result code, a reason on every error, never
 *    more decoded bytes than the limit, no crash or undefined behaviour
 *    (a decompression bomb costs at most the limit);
 *  - round trip: data compressed with zlib (gzip, zlib-wrapped and raw
 *    deflate), zstd or brotli, one or two codings deep, in any letter case,
 *    decodes back to itself; with one coding, a limit of exactly its size
 *    passes and one byte less is ETOO_LARGE.
 *
 * Input: byte 0 bit 0 picks the mode. Arbitrary: bits 1-7 scale the limit,
 * byte 1 is the length of the Content-Encoding value that follows, the
 * rest is the body. Round trip: bits 1-3 and 4-6 pick the codings (the
 * second may be none), bit 7 upper-cases the names; the rest is the data.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>
#include "translate/body_decode.h"

#define FUZZ_NAME "fuzz_body_decode"
#include "fuzz_check.h"

enum { GZIP, XGZIP, ZLIB, RAW, ZSTD, BR, NCODING };
static const char *const names[] = {"gzip", "x-gzip", "deflate", "deflate", "zstd", "br"};

/* Compresses [p, p+n) into a malloc'd buffer. */
static uint8_t *compress_with(int coding, const uint8_t *p, size_t n, size_t *outn)
{
    if (coding == ZSTD) {
        size_t cap = ZSTD_compressBound(n);
        uint8_t *out = malloc(cap);
        CHECK(out != NULL, "oom");
        *outn = ZSTD_compress(out, cap, p, n, 3);
        CHECK(!ZSTD_isError(*outn), "zstd");
        return out;
    }
    if (coding == BR) {
        size_t cap = BrotliEncoderMaxCompressedSize(n);
        cap = cap ? cap : 64;
        uint8_t *out = malloc(cap);
        CHECK(out != NULL, "oom");
        *outn = cap;
        CHECK(BrotliEncoderCompress(BROTLI_MIN_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, n, p, outn, out),
              "brotli");
        return out;
    }
    z_stream z = {0};
    int bits = coding == RAW ? -MAX_WBITS : coding == ZLIB ? MAX_WBITS : 16 + MAX_WBITS;
    CHECK(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) == Z_OK, "zlib");
    size_t cap = deflateBound(&z, n) + 32;
    uint8_t *out = malloc(cap);
    CHECK(out != NULL, "oom");
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    *outn = z.total_out;
    deflateEnd(&z);
    return out;
}

static void arbitrary(uint8_t mode, const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t enc_len = data[0] < size - 1 ? data[0] : size - 1;
    const char *enc = (const char *)data + 1;
    const char *p = enc + enc_len;
    size_t n = size - 1 - enc_len, limit = (size_t)(mode >> 1) * 1024;
    dw_buf_t out = {0};
    const char *err = NULL;
    int rc = dw_body_decode(&out, enc, enc_len, p, n, limit, &err);
    CHECK(rc == DW_DECODE_OK || rc == DW_DECODE_EUNKNOWN || rc == DW_DECODE_ETOO_LARGE || rc == DW_DECODE_ECORRUPT,
          "result %d", rc);
    if (rc == DW_DECODE_OK)
        CHECK(out.len <= limit, "decoded %zu bytes, limit %zu", out.len, limit);
    else
        CHECK(err != NULL && *err != '\0', "error %d without a reason", rc);
    if (dw_body_decode_is_identity(enc, enc_len)) {
        CHECK(rc == (n <= limit ? DW_DECODE_OK : DW_DECODE_ETOO_LARGE), "identity gives %d", rc);
        if (rc == DW_DECODE_OK)
            CHECK(out.len == n && (n == 0 || memcmp(out.p, p, n) == 0), "identity changes the body");
    }
    dw_buf_free(&out);
}

static void round_trip(uint8_t mode, const uint8_t *data, size_t n)
{
    int first = (mode >> 1 & 7) % NCODING, second = (mode >> 4 & 7);
    int upper = mode >> 7;
    uint8_t *once, *twice = NULL;
    size_t once_n, twice_n = 0;
    once = compress_with(first, data, n, &once_n);
    char enc[64];
    if (second < NCODING) {
        twice = compress_with(second, once, once_n, &twice_n);
        snprintf(enc, sizeof enc, "%s, %s", names[first], names[second]);
    } else {
        snprintf(enc, sizeof enc, second == 6 ? "%s" : "identity ,%s", names[first]);
    }
    for (char *c = enc; upper && *c; c++)
        *c = (char)toupper((unsigned char)*c);
    const char *body = (const char *)(twice ? twice : once);
    size_t body_n = twice ? twice_n : once_n;

    /* every stage fits: the compressed stage may be larger than the data */
    size_t limit = 2 * (n > once_n ? n : once_n) + 1024;
    dw_buf_t out = {0};
    const char *err = NULL;
    int rc = dw_body_decode(&out, enc, strlen(enc), body, body_n, limit, &err);
    CHECK(rc == DW_DECODE_OK, "%s: %d (%s) on %zu bytes", enc, rc, err ? err : "", n);
    CHECK(out.len == n && (n == 0 || memcmp(out.p, data, n) == 0), "%s does not round-trip", enc);
    if (twice == NULL) {
        rc = dw_body_decode(&out, enc, strlen(enc), body, body_n, n, &err);
        CHECK(rc == DW_DECODE_OK && out.len == n, "%s at a limit of exactly %zu bytes: %d", enc, n, rc);
        if (n > 0) {
            rc = dw_body_decode(&out, enc, strlen(enc), body, body_n, n - 1, &err);
            CHECK(rc == DW_DECODE_ETOO_LARGE, "%s: %zu bytes pass a limit of %zu: %d", enc, n, n - 1, rc);
        }
    }
    dw_buf_free(&out);
    free(once);
    free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        round_trip(data[0], data + 1, size - 1);
    else
        arbitrary(data[0], data + 1, size - 1);
    return 0;
}
