/*
 * DOM-free JSON scanning: a recursive-descent validator that records spans,
 * plus fast skippers for spans that are already known to be valid.
 *
 * Most bytes of a conversation history sit inside long strings, so string
 * bodies are scanned 16 bytes at a time (SSE2) for the bytes that need a
 * closer look: '"', '\\', control characters and non-ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "translate/json_scan.h"

/* ---- growable arrays ---------------------------------------------------- */

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *nv = realloc(*v, ncap * elem);
    if (nv == NULL)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int members_push(dw_members_t *m, dw_span_t key, dw_span_t value)
{
    if (grow((void **)&m->v, &m->cap, m->n + 1, sizeof *m->v) != 0)
        return -1;
    m->v[m->n].key = key;
    m->v[m->n].value = value;
    m->n++;
    return 0;
}

static int spans_push(dw_spans_t *s, dw_span_t span)
{
    if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != 0)
        return -1;
    s->v[s->n++] = span;
    return 0;
}

void dw_members_free(dw_members_t *m)
{
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

void dw_spans_free(dw_spans_t *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* ---- shared helpers ----------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at p (bounds checked by the caller) or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

#ifdef __SSE2__
/* Offset of the first byte in the 16 at p that ends a run of plain string
 * bytes, or 16 if there is none. Plain means not '"' or '\\' and, when
 * validating, also not < 0x20 and not >= 0x80 (UTF-8 gets checked). */
static int block_stop(const char *p, int validating)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('"')), _mm_cmpeq_epi8(b, _mm_set1_epi8('\\')));
    int mask;
    if (validating) {
        const __m128i c1f = _mm_set1_epi8(0x1f);
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_max_epu8(b, c1f), c1f));
        mask = _mm_movemask_epi8(hit) | _mm_movemask_epi8(b);
    } else {
        mask = _mm_movemask_epi8(hit);
    }
    return mask ? __builtin_ctz((unsigned)mask) : 16;
}
#endif

/* ---- validation --------------------------------------------------------- */

typedef struct {
    const char *end;
    const char *err; /* first offending byte */
    int nomem;
} scanner_t;

static const char *fail(scanner_t *s, const char *at)
{
    s->err = at;
    return NULL;
}

/* One UTF-8 sequence starting with a byte >= 0x80 (RFC 3629 table). */
static const char *scan_utf8(scanner_t *s, const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t left = (size_t)(s->end - p);
    unsigned char c = u[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else
        return fail(s, p);
    if (left < len)
        return fail(s, s->end);
    if (u[1] < lo || u[1] > hi)
        return fail(s, p + 1);
    for (size_t i = 2; i < len; i++)
        if ((u[i] & 0xc0) != 0x80)
            return fail(s, p + i);
    return p + len;
}

/* An escape; p is at the backslash. */
static const char *scan_escape(scanner_t *s, const char *p)
{
    if (s->end - p < 2)
        return fail(s, s->end);
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        break;
    default:
        return fail(s, p + 1);
    }
    if (s->end - p < 6)
        return fail(s, s->end);
    long cu = hex4(p + 2);
    if (cu < 0)
        return fail(s, p + 2);
    if (cu >= 0xdc00 && cu <= 0xdfff)
        return fail(s, p); /* lone low surrogate */
    if (cu < 0xd800 || cu > 0xdbff)
        return p + 6;
    /* high surrogate: a low one must follow */
    if (s->end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return fail(s, p);
    long lo = hex4(p + 8);
    if (lo < 0xdc00 || lo > 0xdfff)
        return fail(s, p + 6);
    return p + 12;
}

/* A string body; p is just after the opening quote. Returns the byte after
 * the closing quote. */
static const char *scan_string(scanner_t *s, const char *p)
{
    const char *end = s->end;
    for (;;) {
#ifdef __SSE2__
        while (end - p >= 16) {
            int stop = block_stop(p, 1);
            p += stop;
            if (stop < 16)
                break;
        }
#endif
        if (p >= end)
            return fail(s, end);
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c == '\\')
            p = scan_escape(s, p);
        else if (c < 0x20)
            return fail(s, p);
        else if (c < 0x80)
            p++;
        else
            p = scan_utf8(s, p);
        if (p == NULL)
            return NULL;
    }
}

static const char *scan_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *scan_number(scanner_t *s, const char *p)
{
    const char *end = s->end, *q;
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return fail(s, p);
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p = scan_digits(p, end);
    else
        return fail(s, p);
    if (p < end && *p == '.') {
        q = scan_digits(p + 1, end);
        if (q == p + 1)
            return fail(s, q);
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = scan_digits(p, end);
        if (q == p)
            return fail(s, q);
        p = q;
    }
    return p;
}

static const char *scan_literal(scanner_t *s, const char *p, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p + i >= s->end || p[i] != lit[i])
            return fail(s, p + i);
    return p + n;
}

static const char *scan_value(scanner_t *s, const char *p, int depth);

/* One element at p; its span goes to elems when that is not NULL. */
static const char *scan_element(scanner_t *s, const char *p, int depth, dw_spans_t *elems)
{
    const char *v = p;
    p = scan_value(s, p, depth);
    if (p != NULL && elems && spans_push(elems, (dw_span_t){v, (size_t)(p - v)}) != 0) {
        s->nomem = 1;
        return fail(s, v);
    }
    return p;
}

/* The rest of an array, p just past an element: more elements, then ']'. */
static const char *scan_array_rest(scanner_t *s, const char *p, int depth, dw_spans_t *elems)
{
    const char *end = s->end;
    for (;;) {
        p = dw_json_skip_ws(p, end);
        if (p >= end)
            return fail(s, p);
        if (*p == ']')
            return p + 1;
        if (*p != ',')
            return fail(s, p);
        p = scan_element(s, dw_json_skip_ws(p + 1, end), depth, elems);
        if (p == NULL)
            return NULL;
    }
}

/* p is at '['. Element spans go to elems when it is not NULL. */
static const char *scan_array(scanner_t *s, const char *p, int depth, dw_spans_t *elems)
{
    const char *end = s->end;
    if (depth > DW_JSON_MAX_DEPTH)
        return fail(s, p);
    p = dw_json_skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    p = scan_element(s, p, depth, elems);
    return p != NULL ? scan_array_rest(s, p, depth, elems) : NULL;
}

/* One member at p (its key's opening quote): to members when that is not NULL; the elements of an
 * array value go to elems when the key is array_key. */
static const char *scan_member(scanner_t *s, const char *p, int depth, dw_members_t *members,
                               const char *array_key, dw_spans_t *elems)
{
    const char *end = s->end;
    if (p >= end || *p != '"')
        return fail(s, p);
    const char *k = p + 1;
    p = scan_string(s, k);
    if (p == NULL)
        return NULL;
    dw_span_t key = {k, (size_t)(p - 1 - k)};
    p = dw_json_skip_ws(p, end);
    if (p >= end || *p != ':')
        return fail(s, p);
    p = dw_json_skip_ws(p + 1, end);
    const char *v = p;
    if (array_key && p < end && *p == '[' && dw_json_key_eq(key, array_key))
        p = scan_array(s, p, depth + 1, elems);
    else
        p = scan_value(s, p, depth);
    if (p != NULL && members && members_push(members, key, (dw_span_t){v, (size_t)(p - v)}) != 0) {
        s->nomem = 1;
        return fail(s, v);
    }
    return p;
}

/* The rest of an object, p just past a member's value: more members, then '}'. As scan_member. */
static const char *scan_object_rest(scanner_t *s, const char *p, int depth, dw_members_t *members,
                                    const char *array_key, dw_spans_t *elems)
{
    const char *end = s->end;
    for (;;) {
        p = dw_json_skip_ws(p, end);
        if (p >= end)
            return fail(s, p);
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            return fail(s, p);
        p = scan_member(s, dw_json_skip_ws(p + 1, end), depth, members, array_key, elems);
        if (p == NULL)
            return NULL;
    }
}

/* p is at '{'. As scan_member. */
static const char *scan_object(scanner_t *s, const char *p, int depth, dw_members_t *members,
                               const char *array_key, dw_spans_t *elems)
{
    const char *end = s->end;
    if (depth > DW_JSON_MAX_DEPTH)
        return fail(s, p);
    p = dw_json_skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    p = scan_member(s, p, depth, members, array_key, elems);
    return p != NULL ? scan_object_rest(s, p, depth, members, array_key, elems) : NULL;
}

/* depth: nesting of the container that holds this value. */
static const char *scan_value(scanner_t *s, const char *p, int depth)
{
    if (p >= s->end)
        return fail(s, p);
    switch (*p) {
    case '{': return scan_object(s, p, depth + 1, NULL, NULL, NULL);
    case '[': return scan_array(s, p, depth + 1, NULL);
    case '"': return scan_string(s, p + 1);
    case 't': return scan_literal(s, p, "true", 4);
    case 'f': return scan_literal(s, p, "false", 5);
    case 'n': return scan_literal(s, p, "null", 4);
    default: return scan_number(s, p);
    }
}

/* Whitespace, then nothing: the end of a valid document. */
static int scan_tail(scanner_t *s, const char *p)
{
    p = dw_json_skip_ws(p, s->end);
    if (p != s->end) {
        s->err = p;
        return -1;
    }
    return 0;
}

int dw_json_validate(const char *p, size_t n, size_t *err_off)
{
    if (n == 0) { /* no value; and p may be NULL, where p + 0 is undefined */
        *err_off = 0;
        return DW_JSON_ESYNTAX;
    }
    scanner_t s = {.end = p + n};
    const char *q = scan_value(&s, dw_json_skip_ws(p, s.end), 0);
    if (q == NULL || scan_tail(&s, q) != 0) {
        *err_off = (size_t)(s.err - p);
        return DW_JSON_ESYNTAX;
    }
    return 0;
}

/* The end of a scan from q (NULL: failed): the result as dw_json_scan_object returns it. */
static int scan_end(scanner_t *s, const char *p, const char *q, int is_object, size_t *err_off)
{
    if (q == NULL || scan_tail(s, q) != 0) {
        if (s->nomem)
            return DW_JSON_ENOMEM;
        *err_off = (size_t)(s->err - p);
        return DW_JSON_ESYNTAX;
    }
    return is_object ? 0 : DW_JSON_ENOTOBJECT;
}

int dw_json_scan_object(const char *p, size_t n, const char *array_key,
                        dw_members_t *members, dw_spans_t *elems, size_t *err_off)
{
    if (n == 0) { /* as in dw_json_validate */
        *err_off = 0;
        return DW_JSON_ESYNTAX;
    }
    scanner_t s = {.end = p + n};
    const char *q = dw_json_skip_ws(p, s.end);
    int is_object = q < s.end && *q == '{';

    if (is_object)
        q = scan_object(&s, q, 1, members, array_key, elems);
    else
        q = scan_value(&s, q, 0);
    return scan_end(&s, p, q, is_object, err_off);
}

int dw_json_resume_at(const char *doc, const dw_members_t *members, const dw_spans_t *elems,
                      const char *array_key, size_t k, dw_json_resume_t *at)
{
    size_t found = members->n;
    for (size_t i = 0; i < members->n; i++) {
        if (!dw_json_key_eq(members->v[i].key, array_key))
            continue;
        if (found != members->n)
            return -1; /* two: the elements of both are in elems */
        found = i;
    }
    if (found == members->n || dw_json_kind(members->v[found].value) != '[' || k >= elems->n)
        return -1;
    *at = (dw_json_resume_t){.doc = doc, .before = members->v, .nbefore = found, .key = members->v[found].key,
                             .array = members->v[found].value.p, .elems = elems->v, .nelems = k + 1};
    return 0;
}

int dw_json_ends_within(const char *doc, dw_span_t elem, size_t same)
{
    size_t end = (size_t)(elem.p + elem.n - doc);
    /* an object, array or string ends at its last byte; a number or literal at the byte after it,
     * which must then be shared too */
    return end < same || (end == same && (*elem.p == '{' || *elem.p == '[' || *elem.p == '"'));
}

size_t dw_json_resume_offset(const dw_json_resume_t *at)
{
    const dw_span_t *last = &at->elems[at->nelems - 1];
    return (size_t)(last->p + last->n - at->doc);
}

int dw_json_scan_object_from(const char *p, size_t n, const char *array_key, const dw_json_resume_t *at,
                             size_t same, dw_members_t *members, dw_spans_t *elems, size_t *err_off)
{
    if (at->nelems == 0 || !dw_json_ends_within(at->doc, at->elems[at->nelems - 1], same) || same > n)
        return dw_json_scan_object(p, n, array_key, members, elems, err_off);
    size_t resume = dw_json_resume_offset(at);
    scanner_t s = {.end = p + n};
    if (grow((void **)&members->v, &members->cap, members->n + at->nbefore + 1, sizeof *members->v) != 0 ||
        grow((void **)&elems->v, &elems->cap, elems->n + at->nelems, sizeof *elems->v) != 0)
        return DW_JSON_ENOMEM;
    /* the same bytes at the same offsets: the spans of the shared part, moved onto p */
    for (size_t i = 0; i < at->nbefore; i++) {
        const dw_member_t *m = &at->before[i];
        members->v[members->n++] = (dw_member_t){{p + (m->key.p - at->doc), m->key.n},
                                                 {p + (m->value.p - at->doc), m->value.n}};
    }
    for (size_t i = 0; i < at->nelems; i++)
        elems->v[elems->n++] = (dw_span_t){p + (at->elems[i].p - at->doc), at->elems[i].n};
    const char *array = p + (at->array - at->doc);
    const char *q = scan_array_rest(&s, p + resume, 2, elems);
    if (q != NULL) {
        /* cannot fail: room was made above */
        (void)members_push(members, (dw_span_t){p + (at->key.p - at->doc), at->key.n},
                           (dw_span_t){array, (size_t)(q - array)});
        q = scan_object_rest(&s, q, 1, members, array_key, elems);
    }
    return scan_end(&s, p, q, 1, err_off);
}

/* ---- skipping validated JSON -------------------------------------------- */

/* The byte after the closing quote of a valid string body starting at p,
 * or NULL if the buffer ends first. */
static const char *skip_string(const char *p, const char *end)
{
    for (;;) {
#ifdef __SSE2__
        while (end - p >= 16) {
            int stop = block_stop(p, 0);
            p += stop;
            if (stop < 16)
                break;
        }
#endif
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        p += *p == '\\' ? 2 : 1;
    }
}

/* The byte after a valid value at p, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p + 1, end);
    if (*p != '{' && *p != '[') {
        while (p < end && !dw_json_is_ws(*p) && *p != ',' && *p != '}' && *p != ']')
            p++;
        return p;
    }
    size_t depth = 0;
    while (p < end) {
        switch (*p) {
        case '"':
            p = skip_string(p + 1, end);
            if (p == NULL)
                return NULL;
            continue;
        case '{': case '[':
            depth++;
            break;
        case '}': case ']':
            if (--depth == 0)
                return p + 1;
            break;
        }
        p++;
    }
    return NULL;
}

/* Walks a validated container at span v opening with open/close; calls
 * back for each member (key.p != NULL) or element. */
typedef int (*walk_cb)(void *ud, dw_span_t key, dw_span_t value);

static int walk(dw_span_t v, char open, char close, walk_cb cb, void *ud)
{
    if (v.n == 0) /* before any arithmetic: the span may be {NULL, 0} */
        return DW_JSON_ENOTOBJECT;
    const char *end = v.p + v.n;
    const char *p = dw_json_skip_ws(v.p, end);
    if (p >= end || *p != open)
        return DW_JSON_ENOTOBJECT;
    p = dw_json_skip_ws(p + 1, end);
    if (p < end && *p == close)
        return 0;
    for (;;) {
        dw_span_t key = {NULL, 0};
        if (open == '{') {
            if (p >= end || *p != '"')
                return DW_JSON_ESYNTAX;
            const char *q = skip_string(p + 1, end);
            if (q == NULL)
                return DW_JSON_ESYNTAX;
            key = (dw_span_t){p + 1, (size_t)(q - 1 - (p + 1))};
            p = dw_json_skip_ws(q, end);
            if (p >= end || *p != ':')
                return DW_JSON_ESYNTAX;
            p = dw_json_skip_ws(p + 1, end);
        }
        const char *q = skip_value(p, end);
        if (q == NULL || q == p)
            return DW_JSON_ESYNTAX;
        int rc = cb(ud, key, (dw_span_t){p, (size_t)(q - p)});
        if (rc != 0)
            return rc;
        p = dw_json_skip_ws(q, end);
        if (p < end && *p == close)
            return 0;
        if (p >= end || *p != ',')
            return DW_JSON_ESYNTAX;
        p = dw_json_skip_ws(p + 1, end);
    }
}

static int collect_member(void *ud, dw_span_t key, dw_span_t value)
{
    return members_push(ud, key, value) == 0 ? 0 : DW_JSON_ENOMEM;
}

static int collect_elem(void *ud, dw_span_t key, dw_span_t value)
{
    (void)key;
    return spans_push(ud, value) == 0 ? 0 : DW_JSON_ENOMEM;
}

int dw_json_object_members(dw_span_t obj, dw_members_t *out)
{
    return walk(obj, '{', '}', collect_member, out);
}

int dw_json_array_elems(dw_span_t arr, dw_spans_t *out)
{
    return walk(arr, '[', ']', collect_elem, out);
}

struct get_state {
    const char *key;
    size_t key_len;
    dw_span_t *val;
};

/* Stops the walk (returns 1) at the first matching key. */
static int match_member(void *ud, dw_span_t key, dw_span_t value)
{
    struct get_state *g = ud;
    if (!dw_json_key_eqn(key, g->key, g->key_len))
        return 0;
    *g->val = value;
    return 1;
}

int dw_json_object_get(dw_span_t obj, const char *key, dw_span_t *val)
{
    struct get_state g = {key, strlen(key), val};
    return walk(obj, '{', '}', match_member, &g) == 1;
}

/* ---- decoding ----------------------------------------------------------- */

/* Decodes the valid escape at p (the backslash) into UTF-8 at out (4 bytes
 * room). Returns the bytes written and advances *pp; -1 if malformed. */
static int decode_escape(const char **pp, const char *end, char *out)
{
    const char *p = *pp;
    if (end - p < 2)
        return -1;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = memchr(from, p[1], sizeof from - 1);
    if (p[1] != '\0' && e != NULL) {
        out[0] = to[e - from];
        *pp = p + 2;
        return 1;
    }
    if (p[1] != 'u' || end - p < 6)
        return -1;
    long cp = hex4(p + 2);
    if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
        return -1;
    p += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return -1;
        long lo = hex4(p + 2);
        if (lo < 0xdc00 || lo > 0xdfff)
            return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int dw_json_key_eqn(dw_span_t raw_key, const char *lit, size_t litn)
{
    /* the common cases first, without a pass over the key: a raw key as long as the literal holds
     * no escape that matches (an escape is longer than what it decodes to), a shorter one cannot
     * match, and a longer one only through an escape */
    if (raw_key.n <= litn)
        return raw_key.n == litn && (litn == 0 || memcmp(raw_key.p, lit, litn) == 0);
    const char *p = raw_key.p, *end = raw_key.p + raw_key.n;
    if (memchr(p, '\\', raw_key.n) == NULL)
        return 0;
    while (p < end) {
        char buf[4];
        int k;
        if (*p == '\\') {
            k = decode_escape(&p, end, buf);
            if (k < 0)
                return 0;
        } else {
            buf[0] = *p++;
            k = 1;
        }
        if ((size_t)k > litn || memcmp(buf, lit, (size_t)k) != 0)
            return 0;
        lit += k;
        litn -= (size_t)k;
    }
    return litn == 0;
}

int dw_json_key_eq(dw_span_t raw_key, const char *lit)
{
    return dw_json_key_eqn(raw_key, lit, strlen(lit));
}

/* The span without surrounding whitespace. An empty span may be {NULL, 0} (an absent member), and
 * NULL + 0 is undefined: it is returned as it is. */
dw_span_t dw_json_trim(dw_span_t v)
{
    if (v.n == 0)
        return v;
    const char *p = dw_json_skip_ws(v.p, v.p + v.n), *end = v.p + v.n;
    while (end > p && dw_json_is_ws(end[-1]))
        end--;
    return (dw_span_t){p, (size_t)(end - p)};
}

char *dw_json_string_dup(dw_span_t s)
{
    s = dw_json_trim(s);
    if (s.n < 2 || s.p[0] != '"' || s.p[s.n - 1] != '"')
        return NULL;
    const char *p = s.p + 1, *end = s.p + s.n - 1;
    char *out = malloc((size_t)(end - p) + 1), *o = out;
    if (out == NULL)
        return NULL;
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        int k = decode_escape(&p, end, o);
        if (k < 0 || (k == 1 && *o == '\0')) {
            free(out);
            return NULL;
        }
        o += k;
    }
    *o = '\0';
    return out;
}

int dw_json_string_each(dw_span_t s, int (*cb)(const char *p, size_t n, void *ud), void *ud)
{
    s = dw_json_trim(s);
    if (s.n < 2 || s.p[0] != '"' || s.p[s.n - 1] != '"')
        return -1;
    const char *p = s.p + 1, *end = s.p + s.n - 1;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        const char *run_end = bs != NULL ? bs : end;
        int rc;
        if (run_end > p && (rc = cb(p, (size_t)(run_end - p), ud)) != 0)
            return rc;
        if (bs == NULL)
            break;
        char o[4];
        p = bs;
        int k = decode_escape(&p, end, o);
        if (k < 0)
            return -1;
        if ((rc = cb(o, (size_t)k, ud)) != 0)
            return rc;
    }
    return 0;
}

char dw_json_kind(dw_span_t v)
{
    v = dw_json_trim(v);
    if (v.n == 0)
        return 0;
    char c = v.p[0];
    return c == '-' || (c >= '0' && c <= '9') ? '0' : c;
}

static int is_lit(dw_span_t v, const char *lit)
{
    v = dw_json_trim(v);
    return v.n == strlen(lit) && memcmp(v.p, lit, v.n) == 0;
}

int dw_json_is_null(dw_span_t v)
{
    return is_lit(v, "null");
}

int dw_json_is_true(dw_span_t v)
{
    return is_lit(v, "true");
}

int dw_json_is_false(dw_span_t v)
{
    return is_lit(v, "false");
}
