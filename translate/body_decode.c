#include "translate/body_decode.h"

#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

enum coding { C_IDENTITY, C_GZIP, C_DEFLATE, C_ZSTD, C_BR, C_UNKNOWN };

#define DW_DECODE_MAX_CODINGS 4 /* more stacked codings than any client sends: refuse as unknown */
#define CHUNK (64u * 1024)

static enum coding coding_of(const char *p, size_t n)
{
    static const struct {
        const char *name;
        enum coding c;
    } names[] = {{"identity", C_IDENTITY}, {"gzip", C_GZIP}, {"x-gzip", C_GZIP}, {"deflate", C_DEFLATE},
                 {"zstd", C_ZSTD},         {"br", C_BR}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && strncasecmp(names[i].name, p, n) == 0)
            return names[i].c;
    return C_UNKNOWN;
}

/* Splits the comma-separated list into codings, identity dropped. Returns the count, or -1 when a
 * coding is unknown or there are too many. */
static int parse_list(const char *enc, size_t len, enum coding *v)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (enc[i] == ' ' || enc[i] == '\t' || enc[i] == ','))
            i++;
        size_t start = i;
        while (i < len && enc[i] != ',' && enc[i] != ' ' && enc[i] != '\t')
            i++;
        if (i == start)
            break;
        enum coding c = coding_of(enc + start, i - start);
        if (c == C_UNKNOWN || n == DW_DECODE_MAX_CODINGS)
            return -1;
        if (c != C_IDENTITY)
            v[n++] = c;
        while (i < len && (enc[i] == ' ' || enc[i] == '\t'))
            i++;
        if (i < len && enc[i] != ',')
            return -1; /* parameters (";q=") or garbage: not a Content-Encoding we know */
    }
    return n;
}

int dw_body_decode_is_identity(const char *enc, size_t enc_len)
{
    enum coding v[DW_DECODE_MAX_CODINGS];
    return enc == NULL || enc_len == 0 || parse_list(enc, enc_len, v) == 0;
}

/* Grows out by up to CHUNK bytes of room, never past limit (+1, to detect overflow). */
static int room(dw_buf_t *out, size_t limit, size_t *avail)
{
    size_t want = CHUNK;
    if (out->len >= limit + 1)
        return DW_DECODE_ETOO_LARGE;
    if (want > limit + 1 - out->len)
        want = limit + 1 - out->len;
    if (dw_buf_reserve(out, want) != 0)
        return DW_DECODE_ENOMEM;
    *avail = want;
    return 0;
}

static int inflate_all(dw_buf_t *out, const char *p, size_t n, size_t limit, int window_bits, const char **err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, window_bits) != Z_OK)
        return DW_DECODE_ENOMEM;
    z.next_in = (Bytef *)p;
    int rc = Z_OK;
    size_t left = n;
    while (rc != Z_STREAM_END) {
        size_t avail;
        int r = room(out, limit, &avail);
        if (r != 0) {
            inflateEnd(&z);
            *err = r == DW_DECODE_ETOO_LARGE ? "the decoded body exceeds the limit" : "out of memory";
            return r;
        }
        uInt in_now = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
        z.avail_in = in_now;
        z.next_out = (Bytef *)out->p + out->len;
        z.avail_out = (uInt)avail;
        rc = inflate(&z, Z_NO_FLUSH);
        left -= in_now - z.avail_in;
        out->len += avail - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && left == 0)
            break; /* input ended before the stream did */
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&z);
    if (out->len > limit) {
        *err = "the decoded body exceeds the limit";
        return DW_DECODE_ETOO_LARGE;
    }
    if (rc != Z_STREAM_END || left != 0) {
        *err = "the body is not valid for its Content-Encoding";
        return DW_DECODE_ECORRUPT;
    }
    return 0;
}

static int gunzip(dw_buf_t *out, const char *p, size_t n, size_t limit, const char **err)
{
    return inflate_all(out, p, n, limit, 16 + MAX_WBITS, err);
}

/* "deflate" means zlib-wrapped (RFC 9110), but clients send raw deflate too: a zlib header has a
 * valid checksum in its first two bytes, raw deflate almost never does. */
static int inflate_deflate(dw_buf_t *out, const char *p, size_t n, size_t limit, const char **err)
{
    int zlib_wrapped = n >= 2 && (p[0] & 0x0f) == 8 && (((unsigned char)p[0] << 8) | (unsigned char)p[1]) % 31 == 0;
    return inflate_all(out, p, n, limit, zlib_wrapped ? MAX_WBITS : -MAX_WBITS, err);
}

static int unzstd(dw_buf_t *out, const char *p, size_t n, size_t limit, const char **err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (d == NULL)
        return DW_DECODE_ENOMEM;
    /* a frame may ask for a window of up to 2 GiB: never allocate more than the limit allows */
    size_t wlog = 10;
    while (wlog < 27 && ((size_t)1 << wlog) < limit)
        wlog++;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, (int)wlog);
    ZSTD_inBuffer in = {p, n, 0};
    size_t ret = 1;
    int rc = 0;
    while (rc == 0) {
        size_t avail;
        if ((rc = room(out, limit, &avail)) != 0)
            break;
        ZSTD_outBuffer o = {out->p + out->len, avail, 0};
        ret = ZSTD_decompressStream(d, &o, &in);
        out->len += o.pos;
        if (ZSTD_isError(ret)) {
            /* compressors size the window to the content: a window beyond the limit means a body
             * beyond it */
            rc = ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge ? DW_DECODE_ETOO_LARGE
                                                                                    : DW_DECODE_ECORRUPT;
            break;
        }
        if (in.pos == in.size && o.pos < avail)
            break; /* all input consumed and flushed */
    }
    ZSTD_freeDCtx(d);
    if (rc == DW_DECODE_ETOO_LARGE || out->len > limit) {
        *err = "the decoded body exceeds the limit";
        return DW_DECODE_ETOO_LARGE;
    }
    if (rc == DW_DECODE_ENOMEM) {
        *err = "out of memory";
        return rc;
    }
    if (rc != 0 || ret != 0) {
        *err = "the body is not valid for its Content-Encoding";
        return DW_DECODE_ECORRUPT;
    }
    return 0;
}

static int unbrotli(dw_buf_t *out, const char *p, size_t n, size_t limit, const char **err)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (s == NULL)
        return DW_DECODE_ENOMEM;
    const uint8_t *next_in = (const uint8_t *)p;
    size_t avail_in = n;
    BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    int rc = 0;
    while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        size_t avail;
        if ((rc = room(out, limit, &avail)) != 0)
            break;
        uint8_t *next_out = (uint8_t *)out->p + out->len;
        size_t before = avail;
        r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail, &next_out, NULL);
        out->len += before - avail;
    }
    BrotliDecoderDestroyInstance(s);
    if (rc == DW_DECODE_ETOO_LARGE || out->len > limit) {
        *err = "the decoded body exceeds the limit";
        return DW_DECODE_ETOO_LARGE;
    }
    if (rc == DW_DECODE_ENOMEM) {
        *err = "out of memory";
        return rc;
    }
    if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in != 0) {
        *err = "the body is not valid for its Content-Encoding";
        return DW_DECODE_ECORRUPT;
    }
    return 0;
}

int dw_body_decode(dw_buf_t *out, const char *enc, size_t enc_len, const char *p, size_t n, size_t limit,
                   const char **err)
{
    enum coding v[DW_DECODE_MAX_CODINGS];
    int k = parse_list(enc, enc_len, v);
    dw_buf_reset(out);
    if (k < 0) {
        *err = "unknown Content-Encoding";
        return DW_DECODE_EUNKNOWN;
    }
    if (k == 0) {
        if (n > limit) {
            *err = "the decoded body exceeds the limit";
            return DW_DECODE_ETOO_LARGE;
        }
        return dw_buf_append(out, p, n) == 0 ? 0 : (*err = "out of memory", DW_DECODE_ENOMEM);
    }
    /* one stage per coding, undone from the last listed, alternating between two buffers */
    dw_buf_t stage[2] = {{0}, {0}};
    const char *src = p;
    size_t src_n = n;
    int rc = 0, cur = 0;
    for (int i = k - 1; i >= 0 && rc == 0; i--, cur ^= 1) {
        dw_buf_t *dst = &stage[cur];
        dw_buf_reset(dst);
        if (v[i] == C_GZIP)
            rc = gunzip(dst, src, src_n, limit, err);
        else if (v[i] == C_DEFLATE)
            rc = inflate_deflate(dst, src, src_n, limit, err);
        else if (v[i] == C_ZSTD)
            rc = unzstd(dst, src, src_n, limit, err);
        else
            rc = unbrotli(dst, src, src_n, limit, err);
        src = dst->p ? dst->p : "";
        src_n = dst->len;
    }
    if (rc == DW_DECODE_ENOMEM)
        *err = "out of memory";
    if (rc == 0) {
        /* the last stage written is the body */
        dw_buf_free(out);
        *out = stage[cur ^ 1];
        stage[cur ^ 1] = (dw_buf_t){0};
    }
    dw_buf_free(&stage[0]);
    dw_buf_free(&stage[1]);
    return rc;
}
