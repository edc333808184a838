/* Request bodies sent with a Content-Encoding (issue 13, item 2; upstream-protocol.md section 2,
 * "Compressed request bodies": Codex sends `zstd` when signed in with ChatGPT, some proxies gzip).
 * Decoding uses the standard libraries (zlib, libzstd, libbrotli) and is bounded by the caller's
 * limit on the DECODED size, so a decompression bomb costs no more than the limit. */
#ifndef DW_BODY_DECODE_H
#define DW_BODY_DECODE_H

#include <stddef.h>

#include "translate/buf.h"

#define DW_DECODE_OK 0
#define DW_DECODE_EUNKNOWN (-1) /* an encoding we do not know: forward the request unchanged */
#define DW_DECODE_ETOO_LARGE (-2) /* the decoded body exceeds the limit: 413 */
#define DW_DECODE_ECORRUPT (-3) /* the bytes are not valid for their encoding: 400 */
#define DW_DECODE_ENOMEM (-4)

/* 1 when the Content-Encoding value [enc, enc+enc_len) is absent, empty or only `identity`. */
int dw_body_decode_is_identity(const char *enc, size_t enc_len);

/* Decodes [p, p+n), encoded with the Content-Encoding list [enc, enc+enc_len) (codings applied in
 * the order listed, so undone from the last; case-insensitive; `identity` allowed anywhere;
 * `gzip`/`x-gzip`, `deflate` (zlib-wrapped, or raw as some clients send it), `zstd`, `br`), into
 * `out` (reset first; owned by the caller). At most `limit` decoded bytes at every stage.
 * Returns DW_DECODE_OK or a negative DW_DECODE_E* code, with a static reason in *err. On error,
 * `out` holds nothing useful (the caller frees it either way). */
int dw_body_decode(dw_buf_t *out, const char *enc, size_t enc_len, const char *p, size_t n, size_t limit,
                   const char **err);

#endif
