/*
 * A DOM-free JSON scanner.
 *
 * Request bodies carry whole conversation histories (megabytes), and a DOM
 * parser costs ~16 ns/byte. The scanner validates a document in one pass and
 * hands out spans (pointer + length into the caller's buffer) for the parts
 * the proxy needs; nothing is decoded or copied unless asked for.
 *
 * Validation is RFC 8259 strict: one value with optional surrounding
 * whitespace, no trailing commas, no comments, numbers per the grammar,
 * escapes incl. \uXXXX, control characters rejected inside strings, valid
 * UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). \u escapes
 * of unpaired surrogates are rejected too, as jansson does, so that jansson
 * (translate/canon.h) reads what the scanner accepts, except integers beyond
 * 64 bits and object keys containing \u0000, which jansson cannot represent:
 * items with those cannot be canonicalised, and their request goes in full.
 * Nesting is limited to DW_JSON_MAX_DEPTH.
 */
#ifndef DW_TRANSLATE_JSON_SCAN_H
#define DW_TRANSLATE_JSON_SCAN_H

#include <stddef.h>

#define DW_JSON_MAX_DEPTH 512

#define DW_JSON_ESYNTAX    (-1)
#define DW_JSON_ENOTOBJECT (-2)
#define DW_JSON_ENOMEM     (-3)

/* JSON whitespace (RFC 8259 section 2: space, tab, LF, CR). Inline: the scanner's hottest test. */
static inline int dw_json_is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The first byte of [p, end) that is not JSON whitespace, or end. */
static inline const char *dw_json_skip_ws(const char *p, const char *end)
{
    while (p < end && dw_json_is_ws(*p))
        p++;
    return p;
}

/* Bytes inside a caller-owned buffer. */
typedef struct {
    const char *p;
    size_t n;
} dw_span_t;

/* key: raw bytes between the quotes (escapes NOT decoded); value: the raw value bytes. */
typedef struct {
    dw_span_t key;
    dw_span_t value;
} dw_member_t;

/* Growable arrays. Start zeroed ({0}); appended to, never reset, by the
 * functions below; dw_members_free()/dw_spans_free() free v and re-zero. */
typedef struct {
    dw_member_t *v;
    size_t n, cap;
} dw_members_t;

typedef struct {
    dw_span_t *v;
    size_t n, cap;
} dw_spans_t;

void dw_members_free(dw_members_t *m);
void dw_spans_free(dw_spans_t *s);

/* Validates that [p, p+n) is exactly one JSON value. Returns 0, or -1 with
 * *err_off set to the offset of the offending byte. */
int dw_json_validate(const char *p, size_t n, size_t *err_off);

/*
 * Validates the whole document in one pass and, if the top level is an
 * object, appends its members to *members in document order. For the member
 * whose decoded key equals array_key (may be NULL) and whose value is an
 * array, each element's span is appended to *elems.
 *
 * Duplicate top-level keys are all recorded, in order; the caller decides
 * what they mean (deltawire should refuse to diff such a request). If
 * array_key occurs more than once, elems gets the elements of every
 * occurrence, so callers must check for duplicates first.
 *
 * Returns 0, DW_JSON_ESYNTAX (*err_off set), DW_JSON_ENOTOBJECT (valid JSON,
 * not an object) or DW_JSON_ENOMEM. On error the arrays may hold a partial
 * result; the caller still frees them.
 */
int dw_json_scan_object(const char *p, size_t n, const char *array_key,
                        dw_members_t *members, dw_spans_t *elems, size_t *err_off);

/*
 * Where dw_json_scan_object of a document `doc` stood just past element
 * elems[nelems - 1] of its array_key member: the members before that
 * member, the member's raw key and '[', and the elements so far, all as that
 * scan gave them (spans into doc; everything borrowed). Made by
 * dw_json_resume_at.
 */
typedef struct {
    const char *doc;
    const dw_member_t *before;
    size_t nbefore;
    dw_span_t key;
    const char *array;
    const dw_span_t *elems;
    size_t nelems;
} dw_json_resume_t;

/*
 * The point just past element k of doc's array_key array, from what
 * dw_json_scan_object of doc appended to members and elems (borrowed by
 * *at). Returns 0, or -1 when doc has no single array_key member whose value
 * is an array with an element k.
 */
int dw_json_resume_at(const char *doc, const dw_members_t *members, const dw_spans_t *elems,
                      const char *array_key, size_t k, dw_json_resume_t *at);

/*
 * Element elem of doc (a span into it) ends within doc's first `same`
 * bytes as a resumed scan needs: its last byte does, and for a number or
 * literal, which the byte after it ends, that byte too. 1 or 0.
 */
int dw_json_ends_within(const char *doc, dw_span_t elem, size_t same);

/* The offset in at->doc just past the element `at` stands after (nelems >= 1). */
size_t dw_json_resume_offset(const dw_json_resume_t *at);

/*
 * dw_json_scan_object of p[0..n) for a document whose first `same` bytes
 * are doc's (the caller compared them): the part up to the element `at`
 * stands at is taken as scanned, its spans moved onto p, and the scan goes
 * on from there. Appends to members and elems, and returns, what
 * dw_json_scan_object would; falls back to it when `same` exceeds n or does
 * not reach the element's end (for a number or literal: the byte after it,
 * which ends it). Work: the bytes after the element.
 */
int dw_json_scan_object_from(const char *p, size_t n, const char *array_key, const dw_json_resume_t *at,
                             size_t same, dw_members_t *members, dw_spans_t *elems, size_t *err_off);

/*
 * The following take spans that were already validated (e.g. values
 * returned by dw_json_scan_object) and only skip, they do not re-validate.
 * Leading/trailing whitespace in the span is allowed.
 * Return 0, DW_JSON_ENOTOBJECT (the span is not an object / array),
 * DW_JSON_ENOMEM, or DW_JSON_ESYNTAX if the span turns out malformed after
 * all (never for validated input; nothing is read outside the span).
 */
int dw_json_object_members(dw_span_t obj, dw_members_t *out);
int dw_json_array_elems(dw_span_t arr, dw_spans_t *out);

/* First top-level member of the validated object obj whose decoded key
 * equals key. Returns 1 and fills *val if found, else 0. */
int dw_json_object_get(dw_span_t obj, const char *key, dw_span_t *val);

/* 1 if the raw (escaped) key bytes decode to the NUL-terminated literal, which holds no backslash
 * (a key name as the API spells it). */
int dw_json_key_eq(dw_span_t raw_key, const char *lit);
/* The same for a literal of litn bytes (its length known, e.g. sizeof - 1 of a string literal). */
int dw_json_key_eqn(dw_span_t raw_key, const char *lit, size_t litn);

/* Decoded copy of a validated string value (span includes the quotes).
 * Returns a malloc'd NUL-terminated string the caller frees, or NULL if the
 * span is not a string, contains \u0000 (cannot be NUL-terminated
 * faithfully), or memory ran out. */
char *dw_json_string_dup(dw_span_t s);

/* The decoded bytes of the string value s (span includes the quotes; U+0000 allowed), given to cb
 * in runs: the raw bytes between escapes as they are, each escape decoded. Returns 0, -1 when s is
 * not a string or holds a malformed escape, or the first non-zero value cb returns. */
int dw_json_string_each(dw_span_t s, int (*cb)(const char *p, size_t n, void *ud), void *ud);

/* v without the JSON whitespace around it (an empty span as it is). */
dw_span_t dw_json_trim(dw_span_t v);

/* First significant byte: '{', '[', '"', 't', 'f', 'n', '0' for any
 * number, or 0 for an empty span. */
char dw_json_kind(dw_span_t v);

int dw_json_is_null(dw_span_t v);
int dw_json_is_true(dw_span_t v);
int dw_json_is_false(dw_span_t v);

#endif
