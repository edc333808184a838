/* Body decoding: every coding round-trips, stacked codings undo in order, bombs stop at the limit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "translate/body_decode.h"

static const char body[] = "{\"model\":\"gpt-5.5\",\"input\":[{\"role\":\"user\",\"content\":\"hello \\u00e9\"}]}";

static dw_buf_t zlib_encode(const char *p, size_t n, int window_bits)
{
    dw_buf_t out = {0};
    z_stream z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    cr_assert_eq(dw_buf_reserve(&out, deflateBound(&z, n) + 32), 0);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out.p;
    z.avail_out = (uInt)out.cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.len = out.cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static dw_buf_t zstd_encode(const char *p, size_t n)
{
    dw_buf_t out = {0};
    cr_assert_eq(dw_buf_reserve(&out, ZSTD_compressBound(n)), 0);
    out.len = ZSTD_compress(out.p, out.cap, p, n, 3);
    cr_assert(!ZSTD_isError(out.len));
    return out;
}

static dw_buf_t br_encode(const char *p, size_t n)
{
    dw_buf_t out = {0};
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    cr_assert_eq(dw_buf_reserve(&out, cap), 0);
    size_t len = cap;
    cr_assert(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, n, (const uint8_t *)p, &len, (uint8_t *)out.p));
    out.len = len;
    return out;
}

static void expect_body(const char *enc, dw_buf_t in)
{
    dw_buf_t out = {0};
    const char *err = NULL;
    int rc = dw_body_decode(&out, enc, strlen(enc), in.p, in.len, 1 << 20, &err);
    cr_assert_eq(rc, DW_DECODE_OK, "%s: %d %s", enc, rc, err ? err : "");
    cr_assert_eq(out.len, sizeof(body) - 1, "%s", enc);
    cr_assert(memcmp(out.p, body, out.len) == 0, "%s", enc);
    dw_buf_free(&out);
}

Test(body_decode, each_coding_round_trips)
{
    dw_buf_t gz = zlib_encode(body, sizeof(body) - 1, 16 + MAX_WBITS);
    dw_buf_t zl = zlib_encode(body, sizeof(body) - 1, MAX_WBITS);
    dw_buf_t raw = zlib_encode(body, sizeof(body) - 1, -MAX_WBITS);
    dw_buf_t zs = zstd_encode(body, sizeof(body) - 1);
    dw_buf_t br = br_encode(body, sizeof(body) - 1);
    expect_body("gzip", gz);
    expect_body("x-gzip", gz);
    expect_body("GZip", gz);
    expect_body("deflate", zl);
    expect_body("deflate", raw); /* raw deflate, as some clients send it */
    expect_body("zstd", zs);
    expect_body("br", br);
    expect_body("identity, zstd", zs);
    dw_buf_t plain = {(char *)body, sizeof(body) - 1, 0};
    expect_body("", plain);
    expect_body("identity", plain);
    dw_buf_free(&gz);
    dw_buf_free(&zl);
    dw_buf_free(&raw);
    dw_buf_free(&zs);
    dw_buf_free(&br);
}

Test(body_decode, stacked_codings_undo_from_the_last)
{
    /* "gzip, zstd": gzip was applied first, then zstd */
    dw_buf_t gz = zlib_encode(body, sizeof(body) - 1, 16 + MAX_WBITS);
    dw_buf_t both = zstd_encode(gz.p, gz.len);
    expect_body("gzip, zstd", both);
    dw_buf_t out = {0};
    const char *err;
    cr_assert_neq(dw_body_decode(&out, "zstd, gzip", 10, both.p, both.len, 1 << 20, &err), DW_DECODE_OK);
    dw_buf_free(&out);
    dw_buf_free(&gz);
    dw_buf_free(&both);
}

Test(body_decode, identity_detection)
{
    cr_assert(dw_body_decode_is_identity(NULL, 0));
    cr_assert(dw_body_decode_is_identity("identity", 8));
    cr_assert(dw_body_decode_is_identity(" identity , identity", 20));
    cr_assert(!dw_body_decode_is_identity("gzip", 4));
    cr_assert(!dw_body_decode_is_identity("compress", 8));
}

Test(body_decode, unknown_codings_are_not_guessed)
{
    dw_buf_t out = {0};
    const char *err = NULL;
    cr_assert_eq(dw_body_decode(&out, "compress", 8, "x", 1, 100, &err), DW_DECODE_EUNKNOWN);
    cr_assert_not_null(err);
    cr_assert_eq(dw_body_decode(&out, "gzip;q=1", 8, "x", 1, 100, &err), DW_DECODE_EUNKNOWN);
    cr_assert_eq(dw_body_decode(&out, "gzip, gzip, gzip, gzip, gzip", 28, "x", 1, 100, &err), DW_DECODE_EUNKNOWN);
    dw_buf_free(&out);
}

Test(body_decode, corrupt_and_truncated_bodies_are_refused)
{
    dw_buf_t out = {0};
    const char *err;
    dw_buf_t gz = zlib_encode(body, sizeof(body) - 1, 16 + MAX_WBITS);
    dw_buf_t zs = zstd_encode(body, sizeof(body) - 1);
    dw_buf_t br = br_encode(body, sizeof(body) - 1);
    cr_assert_eq(dw_body_decode(&out, "gzip", 4, gz.p, gz.len - 5, 1 << 20, &err), DW_DECODE_ECORRUPT);
    cr_assert_eq(dw_body_decode(&out, "zstd", 4, zs.p, zs.len - 3, 1 << 20, &err), DW_DECODE_ECORRUPT);
    cr_assert_eq(dw_body_decode(&out, "br", 2, br.p, br.len - 2, 1 << 20, &err), DW_DECODE_ECORRUPT);
    cr_assert_eq(dw_body_decode(&out, "gzip", 4, body, sizeof(body) - 1, 1 << 20, &err), DW_DECODE_ECORRUPT);
    cr_assert_eq(dw_body_decode(&out, "zstd", 4, body, sizeof(body) - 1, 1 << 20, &err), DW_DECODE_ECORRUPT);
    cr_assert_eq(dw_body_decode(&out, "zstd", 4, "", 0, 1 << 20, &err), DW_DECODE_ECORRUPT);
    /* trailing bytes after a complete gzip member */
    dw_buf_append(&gz, "junk", 4);
    cr_assert_eq(dw_body_decode(&out, "gzip", 4, gz.p, gz.len, 1 << 20, &err), DW_DECODE_ECORRUPT);
    dw_buf_free(&out);
    dw_buf_free(&gz);
    dw_buf_free(&zs);
    dw_buf_free(&br);
}

/* 64 MiB of zeros compresses to a few KB: decoding stops at the limit, with memory near it. */
Test(body_decode, bombs_stop_at_the_limit)
{
    size_t big = 64u << 20, limit = 1u << 20;
    char *zeros = calloc(1, big);
    cr_assert_not_null(zeros);
    dw_buf_t bombs[4] = {zlib_encode(zeros, big, 16 + MAX_WBITS), zlib_encode(zeros, big, MAX_WBITS),
                         zstd_encode(zeros, big), br_encode(zeros, big)};
    const char *names[4] = {"gzip", "deflate", "zstd", "br"};
    free(zeros);
    for (int i = 0; i < 4; i++) {
        cr_assert_lt(bombs[i].len, big / 100, "%s bomb is not small", names[i]);
        dw_buf_t out = {0};
        const char *err = NULL;
        int rc = dw_body_decode(&out, names[i], strlen(names[i]), bombs[i].p, bombs[i].len, limit, &err);
        cr_assert_eq(rc, DW_DECODE_ETOO_LARGE, "%s: %d", names[i], rc);
        cr_assert_leq(out.cap, 4 * limit, "%s allocated %zu bytes for a %zu limit", names[i], out.cap, limit);
        dw_buf_free(&out);
        dw_buf_free(&bombs[i]);
    }
}

Test(body_decode, exactly_the_limit_is_allowed)
{
    size_t n = 4096;
    char *p = malloc(n);
    memset(p, 'a', n);
    dw_buf_t zs = zstd_encode(p, n);
    dw_buf_t out = {0};
    const char *err;
    cr_assert_eq(dw_body_decode(&out, "zstd", 4, zs.p, zs.len, n, &err), DW_DECODE_OK);
    cr_assert_eq(out.len, n);
    cr_assert_eq(dw_body_decode(&out, "zstd", 4, zs.p, zs.len, n - 1, &err), DW_DECODE_ETOO_LARGE);
    cr_assert_eq(dw_body_decode(&out, "", 0, p, n, n - 1, &err), DW_DECODE_ETOO_LARGE);
    dw_buf_free(&out);
    dw_buf_free(&zs);
    free(p);
}
