/*
 * Canonical item forms: parse with jansson, erase the cosmetic differences
 * real clients introduce, then dump each field once, sorted and compact,
 * straight into SHA-256: the required fields into the core digest, each
 * optional field into its own. Only items never seen before come here; the
 * state layer caches the result by the item's raw bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/buf.h"
#include "translate/canon.h"
#include "translate/json_scan.h"

/* domains, hashed with their NUL */
static const char item_domain[] = "dw-item-v2";
static const char core_domain[] = "dw-core-v2";
static const char field_domain[] = "dw-field-v2";

#define PARSE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)

/* ---- the schema: what an echo must keep --------------------------------- */

typedef struct {
    const char *type;
    const char *const *required; /* NULL-terminated; "type" is always required */
} item_schema_t;

#define REQ(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Required fields of each input item type (openai-python ResponseInputItemParam and the params it
 * unions; for "message" the least any of its three variants requires), plus the payloads the schema
 * marks optional only because they have alternatives or may be pending. */
static const item_schema_t schemas[] = {
    {"message", REQ("role", "content")},
    {"reasoning", REQ("id", "summary")},
    {"function_call", REQ("call_id", "name", "arguments")},
    {"function_call_output", REQ("call_id", "output")},
    {"custom_tool_call", REQ("call_id", "name", "input")},
    {"custom_tool_call_output", REQ("call_id", "output")},
    {"computer_call", REQ("id", "call_id", "pending_safety_checks", "status", "action", "actions")},
    {"computer_call_output", REQ("call_id", "output")},
    {"web_search_call", REQ("id", "action", "status")},
    {"file_search_call", REQ("id", "queries", "status", "results")},
    {"code_interpreter_call", REQ("id", "code", "container_id", "outputs", "status")},
    {"image_generation_call", REQ("id", "result", "status")},
    {"local_shell_call", REQ("id", "call_id", "action", "status")},
    {"local_shell_call_output", REQ("id", "output")},
    {"shell_call", REQ("call_id", "action")},
    {"shell_call_output", REQ("call_id", "output")},
    {"apply_patch_call", REQ("call_id", "operation", "status")},
    {"apply_patch_call_output", REQ("call_id", "status", "output")},
    {"mcp_list_tools", REQ("id", "server_label", "tools", "error")},
    {"mcp_approval_request", REQ("id", "server_label", "name", "arguments")},
    {"mcp_approval_response", REQ("approval_request_id", "approve", "reason")},
    {"mcp_call", REQ("id", "server_label", "name", "arguments", "output", "error")},
    {"tool_search_call", REQ("arguments")},
    {"tool_search_output", REQ("tools")},
    {"additional_tools", REQ("role", "tools")},
    {"compaction", REQ("encrypted_content")},
    {"compaction_trigger", REQ("type")},
    {"item_reference", REQ("id")},
    {"program", REQ("id", "call_id", "code", "fingerprint")},
    {"program_output", REQ("id", "call_id", "result", "status")},
};

static int is_type(const char *type, const char *name)
{
    return type != NULL && strcmp(type, name) == 0;
}

static int in_list(const char *const *list, const char *key)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, key) == 0)
            return 1;
    return 0;
}

/* 1 if an echo must carry the field whenever the server's item has it. */
static int is_required(const char *type, const char *key)
{
    if (strcmp(key, "type") == 0)
        return 1;
    for (size_t i = 0; i < sizeof schemas / sizeof *schemas; i++)
        if (is_type(type, schemas[i].type))
            return in_list(schemas[i].required, key);
    return strcmp(key, "id") != 0 && strcmp(key, "status") != 0; /* a type this table does not know */
}

/* ---- normalisation ------------------------------------------------------- */

/* The member's string, or NULL unless it is a string without U+0000 (which a C string would cut:
 * "item_reference\u0000" is not "item_reference"). */
static const char *str_member(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

/* Free-form JSON, where null is a value like any other (rule 2). */
static int is_opaque_key(const char *key)
{
    static const char *const opaque[] = {"parameters", "input_schema", "schema", "arguments", NULL};
    return in_list(opaque, key);
}

/* The integer a real spells (rule 1), or NULL to keep it. New reference. */
static json_t *integral(const json_t *v)
{
    if (!json_is_real(v))
        return NULL;
    double d = json_real_value(v);
    if (d != floor(d) || fabs(d) >= 9007199254740992.0)
        return NULL;
    return json_integer((json_int_t)d);
}

/* Rules 1 and 2, in place, at every level below v. Returns 0 or -1 (no memory). */
static int normalise_tree(json_t *v, int opaque)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *m;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, m) {
            json_t *num = integral(m);
            if (num != NULL) {
                if (json_object_set_new(v, key, num) != 0)
                    return -1;
            } else if (json_is_null(m) && !opaque) {
                json_object_del(v, key);
            } else if (normalise_tree(m, opaque || is_opaque_key(key)) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_t *num = integral(e);
            if (num != NULL) {
                if (json_array_set_new(v, i, num) != 0)
                    return -1;
            } else if (normalise_tree(e, opaque) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int is_call(const char *type)
{
    return is_type(type, "function_call") || is_type(type, "custom_tool_call");
}

/* A member that is there and not null (rule 2). */
static int has(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v != NULL && !json_is_null(v);
}

/* The item's type, with rule 3, before normalisation. */
static const char *effective_type(const json_t *item)
{
    if (!has(item, "type") && has(item, "role"))
        return "message";
    return str_member(item, "type");
}

/* Removes the client-side parse results (rule 5) that must neither count
 * nor go upstream. Returns 1 if anything was removed. */
static int drop_parsed(json_t *item, const char *type)
{
    int dropped = 0;
    if (is_call(type))
        dropped |= json_object_del(item, "parsed_arguments") == 0;
    if (is_type(type, "message")) {
        json_t *parts = json_object_get(item, "content"), *part;
        size_t i;
        json_array_foreach(parts, i, part)
            dropped |= json_object_del(part, "parsed") == 0;
    }
    return dropped;
}

static void drop_if_empty_array(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_array(v) && json_array_size(v) == 0)
        json_object_del(o, key);
}

/* Rules 1-5 on an item object. Returns 1 if parsed/parsed_arguments were
 * dropped, 0 if not, -1 on no memory. */
static int normalise(json_t *item)
{
    int stripped = drop_parsed(item, effective_type(item));
    if (normalise_tree(item, 0) != 0)
        return -1;
    if (json_object_get(item, "type") == NULL) {
        const char *type = json_object_get(item, "role") != NULL                              ? "message"
                           : json_object_size(item) == 1 && json_object_get(item, "id") != NULL ? "item_reference"
                                                                                                 : NULL;
        if (type != NULL && json_object_set_new(item, "type", json_string(type)) != 0)
            return -1;
    }
    const char *type = str_member(item, "type");
    if (is_type(type, "message")) {
        json_t *content = json_object_get(item, "content");
        if (json_is_string(content)) {
            const char *kind = is_type(str_member(item, "role"), "assistant") ? "output_text" : "input_text";
            json_t *parts = json_pack("[{s:s,s:O}]", "type", kind, "text", content);
            if (parts == NULL || json_object_set_new(item, "content", parts) != 0)
                return -1;
        } else {
            json_t *part;
            size_t i;
            json_array_foreach(content, i, part) {
                drop_if_empty_array(part, "annotations");
                drop_if_empty_array(part, "logprobs");
            }
        }
    }
    return stripped;
}

/* ---- digests ------------------------------------------------------------- */

static int hash_chunk(const char *buf, size_t n, void *ud)
{
    dw_digest_update(ud, buf, n);
    return 0;
}

static int dump_into(dw_digest_ctx_t *c, const json_t *j)
{
    return json_dump_callback(j, hash_chunk, c, CANON_FLAGS);
}

/* The digests' framing, one place for both paths: a core is H(core_domain, its object's bytes); an
 * optional field H(field_domain, key, NUL, value's bytes); the caller adds the bytes. */
static void core_begin(dw_digest_ctx_t *c)
{
    dw_digest_init(c);
    dw_digest_update(c, core_domain, sizeof core_domain);
}

static void field_begin(dw_digest_ctx_t *c, const char *key, size_t key_n)
{
    dw_digest_init(c);
    dw_digest_update(c, field_domain, sizeof field_domain);
    dw_digest_update(c, key, key_n + 1);
}

static int core_of(const json_t *j, dw_digest_t *out)
{
    dw_digest_ctx_t c;
    core_begin(&c);
    if (dump_into(&c, j) != 0)
        return -1;
    dw_digest_final(&c, out);
    return 0;
}

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(dw_digest_t));
}

/* identity = H(domain, core, sorted field digests) */
static void identity_of(dw_form_t *f, dw_digest_t *fields, size_t n)
{
    if (n > 1) /* fields is NULL when n is 0, and qsort may not be passed NULL */
        qsort(fields, n, sizeof *fields, cmp_digest);
    dw_digest_ctx_t c;
    dw_digest_init(&c);
    dw_digest_update(&c, item_domain, sizeof item_domain);
    dw_digest_update(&c, f->core.b, sizeof f->core.b);
    for (size_t i = 0; i < n; i++)
        dw_digest_update(&c, fields[i].b, sizeof fields[i].b);
    dw_digest_final(&c, &f->digest);
    if (n > DW_CANON_OPT_MAX) {
        f->opt_overflow = 1;
        return;
    }
    f->n_opt = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        memcpy(f->opt[i], fields[i].b, DW_CANON_OPT_LEN);
}

/* Splits a normalised item into its core and its optional fields. */
static int form_of_object(const json_t *item, dw_form_t *f)
{
    const char *type = str_member(item, "type");
    json_t *core = json_object();
    dw_digest_t *fields = malloc((json_object_size(item) + 1) * sizeof *fields);
    size_t n = 0;
    int rc = core != NULL && fields != NULL ? 0 : -1;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)item, key, v) {
        if (rc != 0)
            break;
        if (is_required(type, key)) {
            rc = json_object_set(core, key, v);
            continue;
        }
        dw_digest_ctx_t c;
        field_begin(&c, key, strlen(key));
        if ((rc = dump_into(&c, v)) == 0)
            dw_digest_final(&c, &fields[n++]);
    }
    if (rc == 0)
        rc = core_of(core, &f->core);
    if (rc == 0)
        identity_of(f, fields, n);
    json_decref(core);
    free(fields);
    return rc;
}

/* ---- long strings: hashed before jansson sees them ---------------------- */

/* Decoded bytes from which a string value is stood in for by its digest. jansson reads and writes
 * strings at 10-20 ns a byte; a 40 KB answer cost about 1 ms per response (bench/RESULTS.md). The
 * length decoded, not as spelled: a value written raw by one client and escaped past the threshold
 * by another (Go's \u003c for '<', Python's \u00e9 for an accent) keeps one form. */
#define LONG_STRING 256

typedef struct {
    dw_digest_ctx_t c;
    size_t n; /* decoded bytes hashed */
} decoded_t;

static int hash_decoded(const char *buf, size_t n, void *ud)
{
    decoded_t *d = ud;
    dw_digest_update(&d->c, buf, n);
    d->n += n;
    return 0;
}

/* The stand-in for the string value s, if it gets one: "\u0000" and the hex SHA-256 of its decoded
 * bytes (STAND_IN bytes, quotes included, into out), for a value of LONG_STRING decoded bytes or
 * more, or one that starts with U+0000 (nul). Equal for equal values however escaped, different for
 * different ones; no value left as it is starts with U+0000, so a stand-in equals only another
 * stand-in. Returns 1, 0 for a short value (left as it is), or -1 when s is not a valid string. */
#define STAND_IN (8 + 2 * sizeof(dw_digest_t))
static int stand_in(dw_span_t s, int nul, char out[STAND_IN])
{
    size_t off;
    decoded_t d = {.n = 0};
    dw_digest_t h;
    if (dw_json_validate(s.p, s.n, &off) != 0)
        return -1; /* the value as jansson would refuse it: the item fails as it would have */
    dw_digest_init(&d.c);
    if (dw_json_string_each(s, hash_decoded, &d) != 0)
        return -1;
    if (d.n < LONG_STRING && !nul)
        return 0;
    dw_digest_final(&d.c, &h);
    static const char digits[] = "0123456789abcdef";
    memcpy(out, "\"\\u0000", 7);
    for (size_t i = 0; i < sizeof h.b; i++) {
        out[7 + 2 * i] = digits[h.b[i] >> 4];
        out[7 + 2 * i + 1] = digits[h.b[i] & 15];
    }
    out[STAND_IN - 1] = '"';
    return 1;
}

/* Where the string whose characters start at raw[i] closes, or n: the first '"' after an even run
 * of backslashes. memchr finds the quotes: a byte-wise walk was a quarter of a 35 KB tool output's
 * canonical form. */
static size_t string_end(const char *raw, size_t i, size_t n)
{
    const size_t start = i;
    for (;;) {
        const char *q = memchr(raw + i, '"', n - i);
        if (q == NULL)
            return n;
        size_t at = (size_t)(q - raw), k = at;
        while (k > start && raw[k - 1] == '\\')
            k--;
        if ((at - k) % 2 == 0)
            return at;
        i = at + 1;
    }
}

/* raw with every long string value (and every one that starts with U+0000) stood in for by
 * stand_in, into out. Keys stay, and so do the values of "id" members: the item's id is read from
 * the parsed item (dw_canon_t.id, references), and a member's values are either always stood in for
 * or never, so equality holds either way. Returns 1 if out holds the result, 0 if nothing was stood
 * in for (raw is used as it is), -1 on malformed input or no memory. */
static int stand_in_long_strings(const char *raw, size_t n, dw_buf_t *out)
{
    /* spelled in fewer raw bytes (quotes included), a value decodes to fewer than LONG_STRING */
    if (n < LONG_STRING + 2 && memmem(raw, n, "\\u0000", 6) == NULL)
        return 0;
    size_t copied = 0, i = 0, id_value = (size_t)-1; /* where the value of an "id" member starts */
    int any = 0;
    while (i < n) {
        const char *q = memchr(raw + i, '"', n - i);
        if (q == NULL)
            break;
        size_t from = (size_t)(q - raw), to = string_end(raw, from + 1, n);
        if (to >= n)
            return -1;
        to++; /* past the closing quote */
        size_t k = (size_t)(dw_json_skip_ws(raw + to, raw + n) - raw);
        int key = k < n && raw[k] == ':';
        if (key && dw_json_key_eq((dw_span_t){raw + from + 1, to - from - 2}, "id")) {
            id_value = (size_t)(dw_json_skip_ws(raw + k + 1, raw + n) - raw);
        }
        int nul = to - from >= 8 && memcmp(raw + from, "\"\\u0000", 7) == 0;
        char s[STAND_IN];
        int candidate = !key && from != id_value && (to - from >= LONG_STRING + 2 || nul);
        int rc = candidate ? stand_in((dw_span_t){raw + from, to - from}, nul, s) : 0;
        if (rc < 0)
            return -1;
        if (rc == 1) {
            if (dw_buf_append(out, raw + copied, from - copied) != 0 || dw_buf_append(out, s, sizeof s) != 0)
                return -1;
            copied = to;
            any = 1;
        }
        i = to;
    }
    if (!any)
        return 0;
    return dw_buf_append(out, raw + copied, n - copied) == 0 ? 1 : -1;
}

/* ---- the same form without a DOM ----------------------------------------- */

/* jansson costs ~8 µs for a 200-byte item (parse, then dump per field), and an item is
 * canonicalised on the path of every request that brings a new one and of every response
 * (bench/RESULTS.md, session 5). The scan path below writes the very bytes jansson's dump would,
 * from the scanner's spans, for items whose every number is an integer jansson keeps as spelled;
 * anything else (a real, "-0", an integer beyond 64 bits, a duplicate key, a key with U+0000)
 * returns SCAN_NO and the DOM path above decides. dw_canon_item_dom is the reference it is
 * checked against (tests/unit/test_canon.c, tests/fuzz/fuzz_canon.c). */
enum { SCAN_NOMEM = -1, SCAN_OK = 0, SCAN_NO = 1 };

/* One object member, its key decoded (NUL-terminated, in its object's key buffer). */
typedef struct {
    char *key;
    size_t key_n;
    dw_span_t value;
} scan_member_t;

typedef struct {
    scan_member_t *v;
    size_t n;
    char *keys; /* every key, decoded, one allocation */
} scan_members_t;

static void scan_members_free(scan_members_t *m)
{
    free(m->v);
    free(m->keys);
    m->v = NULL;
    m->keys = NULL;
    m->n = 0;
}

typedef struct {
    char *p;
    size_t n;
} sink_t;

static int append_decoded(const char *p, size_t n, void *ud)
{
    sink_t *k = ud;
    memcpy(k->p + k->n, p, n); /* a string decodes to at most its raw length */
    k->n += n;
    return 0;
}

/* jansson's comparison of keys: bytes, then the shorter first. */
static int cmp_member(const scan_member_t *x, const scan_member_t *y)
{
    int c = memcmp(x->key, y->key, x->key_n < y->key_n ? x->key_n : y->key_n);
    return c != 0 ? c : (x->key_n > y->key_n) - (x->key_n < y->key_n);
}

/* The members of object span obj, keys decoded, sorted (insertion: an item's objects have a few
 * members); SCAN_NO on a duplicate key or one with U+0000 (jansson refuses both). */
static int scan_members(dw_span_t obj, scan_members_t *out)
{
    dw_members_t m = {0};
    *out = (scan_members_t){0};
    int got = dw_json_object_members(obj, &m);
    if (got != 0) {
        dw_members_free(&m);
        return got == DW_JSON_ENOMEM ? SCAN_NOMEM : SCAN_NO;
    }
    size_t room = 0;
    for (size_t i = 0; i < m.n; i++)
        room += m.v[i].key.n + 1;
    int rc = SCAN_OK;
    if (m.n > 0 && ((out->v = malloc(m.n * sizeof(*out->v))) == NULL || (out->keys = malloc(room)) == NULL))
        rc = SCAN_NOMEM;
    sink_t k = {out->keys, 0};
    for (size_t i = 0; rc == SCAN_OK && i < m.n; i++) {
        dw_span_t key = m.v[i].key;
        char *at = k.p + k.n;
        if (memchr(key.p, '\\', key.n) == NULL) {
            memcpy(at, key.p, key.n);
            k.n += key.n;
        } else if (dw_json_string_each((dw_span_t){key.p - 1, key.n + 2}, append_decoded, &k) != 0) {
            rc = SCAN_NO;
            break;
        }
        scan_member_t mb = {at, (size_t)(k.p + k.n - at), m.v[i].value};
        k.p[k.n++] = '\0';
        if (memchr(mb.key, '\0', mb.key_n) != NULL) {
            rc = SCAN_NO;
            break;
        }
        size_t j = out->n;
        for (; j > 0; j--) {
            int c = cmp_member(&out->v[j - 1], &mb);
            if (c == 0)
                rc = SCAN_NO;
            if (c <= 0)
                break;
            out->v[j] = out->v[j - 1];
        }
        out->v[j] = mb;
        out->n++;
    }
    dw_members_free(&m);
    if (rc != SCAN_OK)
        scan_members_free(out);
    return rc;
}

static int append_buf(const char *p, size_t n, void *ud)
{
    return dw_buf_append(ud, p, n) == 0 ? 0 : SCAN_NOMEM;
}

/* The decoded bytes of the string span s, into out (NUL-terminated, not counted). */
static int decode(dw_span_t s, dw_buf_t *out)
{
    dw_buf_reset(out);
    int rc = dw_json_string_each(s, append_buf, out);
    if (rc != 0)
        return rc == SCAN_NOMEM ? SCAN_NOMEM : SCAN_NO;
    return dw_buf_append(out, "", 1) == 0 ? (out->len--, SCAN_OK) : SCAN_NOMEM;
}

static const scan_member_t *find_member(const scan_members_t *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0 && m->v[i].key_n == strlen(key))
            return &m->v[i];
    return NULL;
}

/* The decoded string of member key of m, if it is a string without U+0000 (str_member's rule),
 * into buf; else NULL. */
static const char *scan_str_member(const scan_members_t *m, const char *key, dw_buf_t *buf)
{
    const scan_member_t *mb = find_member(m, key);
    if (mb == NULL || dw_json_kind(mb->value) != '"' || decode(mb->value, buf) != SCAN_OK ||
        memchr(buf->p, '\0', buf->len) != NULL)
        return NULL;
    return buf->p;
}

/* Decoded UTF-8 bytes as jansson dumps them with JSON_ENSURE_ASCII. */
static int enc_bytes(const char *p, size_t n, dw_buf_t *out)
{
    if (dw_buf_append(out, "\"", 1) != 0)
        return SCAN_NOMEM;
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (dw_buf_append(out, p + run, i - run) != 0)
            return SCAN_NOMEM;
        char seq[16];
        const char *text = seq;
        size_t len = 2;
        uint32_t cp = c;
        size_t step = 1;
        if (c >= 0x80) { /* valid UTF-8: the scanner checked it */
            step = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            cp = c & (step == 4 ? 0x07 : step == 3 ? 0x0F : 0x1F);
            for (size_t j = 1; j < step; j++)
                cp = cp << 6 | ((unsigned char)p[i + j] & 0x3F);
        }
        switch (cp) {
        case '\\': text = "\\\\"; break;
        case '"': text = "\\\""; break;
        case '\b': text = "\\b"; break;
        case '\f': text = "\\f"; break;
        case '\n': text = "\\n"; break;
        case '\r': text = "\\r"; break;
        case '\t': text = "\\t"; break;
        default:
            if (cp < 0x10000) {
                snprintf(seq, sizeof seq, "\\u%04X", (unsigned)cp);
                len = 6;
            } else {
                cp -= 0x10000;
                snprintf(seq, sizeof seq, "\\u%04X\\u%04X", (unsigned)(0xD800 | ((cp >> 10) & 0x3FF)),
                         (unsigned)(0xDC00 | (cp & 0x3FF)));
                len = 12;
            }
        }
        if (dw_buf_append(out, text, len) != 0)
            return SCAN_NOMEM;
        i += step;
        run = i;
    }
    return dw_buf_append(out, p + run, n - run) == 0 && dw_buf_append(out, "\"", 1) == 0 ? SCAN_OK : SCAN_NOMEM;
}

static int enc_string(dw_span_t s, dw_buf_t *out)
{
    /* as spelled when nothing in it is escaped or needs to be */
    size_t i = 1;
    while (i + 1 < s.n && (unsigned char)s.p[i] >= 0x20 && (unsigned char)s.p[i] < 0x80 && s.p[i] != '\\')
        i++;
    if (i + 1 == s.n)
        return dw_buf_append(out, s.p, s.n) == 0 ? SCAN_OK : SCAN_NOMEM;
    dw_buf_t d = {0};
    int rc = decode(s, &d);
    if (rc == SCAN_OK)
        rc = enc_bytes(d.p, d.len, out);
    dw_buf_free(&d);
    return rc;
}

/* An integer as jansson keeps it: as spelled, unless "-0" (read as 0) or beyond 64 bits. */
static int enc_number(dw_span_t v, dw_buf_t *out)
{
    size_t i = v.p[0] == '-';
    if (v.n - i > 19 || strspn(v.p + i, "0123456789") != v.n - i || (v.n - i == 1 && v.p[i] == '0' && i))
        return SCAN_NO;
    if (v.n - i == 19) {
        char tmp[21];
        memcpy(tmp, v.p, v.n);
        tmp[v.n] = '\0';
        errno = 0;
        (void)strtoll(tmp, NULL, 10);
        if (errno != 0)
            return SCAN_NO;
    }
    return dw_buf_append(out, v.p, v.n) == 0 ? SCAN_OK : SCAN_NOMEM;
}

static int enc_value(dw_span_t v, int opaque, dw_buf_t *out);

/* One member "key":value, and a comma before it unless first. */
static int enc_member(const scan_member_t *mb, int opaque, int first, dw_buf_t *out)
{
    int rc = first || dw_buf_append(out, ",", 1) == 0 ? enc_bytes(mb->key, mb->key_n, out) : SCAN_NOMEM;
    if (rc == SCAN_OK)
        rc = dw_buf_append(out, ":", 1) == 0 ? enc_value(mb->value, opaque || is_opaque_key(mb->key), out) : SCAN_NOMEM;
    return rc;
}

/* Rule 2 for the members of an object: null members go, except in free-form JSON. */
static int kept(const scan_member_t *mb, int opaque)
{
    return opaque || !dw_json_is_null(mb->value);
}

/* A value rule 5 drops (parsed, parsed_arguments) is never written, but jansson still reads it:
 * an item fails on a duplicate key, a key with U+0000, or a number it cannot hold anywhere in it.
 * SCAN_OK if the scan path takes the value, else what enc_value says (the DOM path decides). */
static int enc_dropped(dw_span_t v)
{
    dw_buf_t scratch = {0};
    int rc = enc_value(v, 1, &scratch);
    dw_buf_free(&scratch);
    return rc;
}

/* An empty array: rule 4 drops a part's "annotations" and "logprobs" then. */
static int is_empty_array(dw_span_t v)
{
    dw_span_t t = dw_json_trim(v);
    return t.n >= 2 && t.p[0] == '[' && dw_json_skip_ws(t.p + 1, t.p + t.n) == t.p + t.n - 1;
}

/* parsed: NULL, or the object is a message's content part, with rules 4 and 5: "parsed" goes (read
 * all the same; *parsed is set), and so do empty "annotations" and "logprobs". */
static int enc_object(dw_span_t v, int opaque, int *parsed, dw_buf_t *out)
{
    scan_members_t m;
    int rc = scan_members(v, &m);
    if (rc != SCAN_OK)
        return rc;
    rc = dw_buf_append(out, "{", 1) == 0 ? SCAN_OK : SCAN_NOMEM;
    int first = 1;
    for (size_t i = 0; rc == SCAN_OK && i < m.n; i++) {
        const scan_member_t *mb = &m.v[i];
        if (parsed != NULL && strcmp(mb->key, "parsed") == 0) {
            *parsed = 1;
            rc = enc_dropped(mb->value);
            continue;
        }
        if (!kept(mb, opaque) ||
            (parsed != NULL && is_empty_array(mb->value) && (strcmp(mb->key, "annotations") == 0 || strcmp(mb->key, "logprobs") == 0)))
            continue;
        rc = enc_member(mb, opaque, first, out);
        first = 0;
    }
    scan_members_free(&m);
    return rc == SCAN_OK && dw_buf_append(out, "}", 1) != 0 ? SCAN_NOMEM : rc;
}

/* parsed: NULL, or the array is a message's content, whose objects are parts (enc_object). */
static int enc_array(dw_span_t v, int opaque, int *parsed, dw_buf_t *out)
{
    dw_spans_t e = {0};
    int rc = dw_json_array_elems(v, &e) == 0 ? SCAN_OK : SCAN_NOMEM;
    if (rc == SCAN_OK)
        rc = dw_buf_append(out, "[", 1) == 0 ? SCAN_OK : SCAN_NOMEM;
    for (size_t i = 0; rc == SCAN_OK && i < e.n; i++) {
        if (i > 0 && dw_buf_append(out, ",", 1) != 0)
            rc = SCAN_NOMEM;
        else if (parsed != NULL && dw_json_kind(e.v[i]) == '{')
            rc = enc_object(dw_json_trim(e.v[i]), 0, parsed, out);
        else
            rc = enc_value(e.v[i], opaque, out);
    }
    dw_spans_free(&e);
    return rc == SCAN_OK && dw_buf_append(out, "]", 1) != 0 ? SCAN_NOMEM : rc;
}

/* The canonical bytes of a value (rules 1 and 2 below it), as jansson's dump with CANON_FLAGS. */
static int enc_value(dw_span_t v, int opaque, dw_buf_t *out)
{
    v = dw_json_trim(v);
    switch (dw_json_kind(v)) {
    case '{': return enc_object(v, opaque, NULL, out);
    case '[': return enc_array(v, opaque, NULL, out);
    case '"': return enc_string(v, out);
    case '0': return enc_number(v, out);
    case 't':
    case 'f':
    case 'n': return dw_buf_append(out, v.p, v.n) == 0 ? SCAN_OK : SCAN_NOMEM;
    default: return SCAN_NO;
    }
}

/* "key":value (value: its canonical bytes) into the core's digest, after a comma unless it is the
 * first (*first is cleared). scratch: for the key's bytes. */
static int core_member(dw_digest_ctx_t *core, int *first, const char *key, size_t key_n, const dw_buf_t *value,
                       dw_buf_t *scratch)
{
    dw_buf_reset(scratch);
    int rc = enc_bytes(key, key_n, scratch);
    if (rc != SCAN_OK || dw_buf_append(scratch, ":", 1) != 0)
        return SCAN_NOMEM;
    if (!*first)
        dw_digest_update(core, ",", 1);
    dw_digest_update(core, scratch->p, scratch->len);
    dw_digest_update(core, value->p, value->len);
    *first = 0;
    return SCAN_OK;
}

/* dw_canon_item for raw (stand-ins already in), without a DOM; SCAN_NO when the DOM path must
 * decide. The rules in the order normalise() applies them. */
static int form_by_scan(const char *raw, size_t n, dw_canon_t *out)
{
    size_t off;
    dw_span_t item = dw_json_trim((dw_span_t){raw, n});
    if (dw_json_kind(item) != '{' || dw_json_validate(raw, n, &off) != 0)
        return SCAN_NO;
    scan_members_t m;
    int rc = scan_members(item, &m);
    if (rc != SCAN_OK)
        return rc;
    dw_buf_t type_buf = {0}, role_buf = {0}, id_buf = {0}, v = {0};
    dw_digest_t *fields = malloc((m.n + 1) * sizeof(*fields));
    if (fields == NULL || dw_buf_reserve(&v, n + 64) != 0) {
        free(fields);
        scan_members_free(&m);
        return SCAN_NOMEM;
    }
    const scan_member_t *type_m = find_member(&m, "type"), *role_m = find_member(&m, "role");
    const scan_member_t *id_m = find_member(&m, "id");
    int has_type = type_m != NULL && !dw_json_is_null(type_m->value);
    int has_role = role_m != NULL && !dw_json_is_null(role_m->value);
    /* rule 3: the type an item without one has (a lone id: what is left once nulls go; no
     * parsed_arguments to drop, as the item is no call). It is also the effective type rule 5
     * reads before nulls go: "message" for a role and no type, else the type's string. */
    size_t left = 0;
    for (size_t i = 0; i < m.n; i++)
        left += kept(&m.v[i], 0);
    const char *type = has_type ? scan_str_member(&m, "type", &type_buf)
                       : has_role ? "message"
                       : left == 1 && id_m != NULL && kept(id_m, 0) ? "item_reference"
                                                                   : NULL;
    int synth = !has_type && type != NULL, call = is_call(type), msg = is_type(type, "message");
    int stripped = call && find_member(&m, "parsed_arguments") != NULL;
    const char *role = msg ? scan_str_member(&m, "role", &role_buf) : NULL;
    dw_digest_ctx_t core;
    core_begin(&core);
    dw_digest_update(&core, "{", 1);
    int core_first = 1;
    size_t nf = 0;
    dw_buf_t key_buf = {0};
    /* the synthesised "type" sorts among the members like any key */
    scan_member_t synth_m = {(char *)"type", 4, {NULL, 0}};
    for (size_t i = 0; rc == SCAN_OK && i <= m.n; i++) {
        const scan_member_t *mb = i < m.n ? &m.v[i] : NULL;
        if (synth && (mb == NULL || cmp_member(&synth_m, mb) < 0)) {
            dw_buf_reset(&v);
            rc = enc_bytes(type, strlen(type), &v);
            if (rc == SCAN_OK)
                rc = core_member(&core, &core_first, "type", 4, &v, &key_buf);
            synth = 0;
        }
        if (mb == NULL || rc != SCAN_OK)
            break;
        if (call && strcmp(mb->key, "parsed_arguments") == 0) {
            rc = enc_dropped(mb->value);
            continue;
        }
        if (!kept(mb, 0))
            continue;
        dw_buf_reset(&v);
        if (msg && strcmp(mb->key, "content") == 0 && dw_json_kind(mb->value) == '"') {
            /* rule 4: [{"text":content,"type":kind}] */
            const char *kind = is_type(role, "assistant") ? "output_text" : "input_text";
            rc = dw_buf_append_str(&v, "[{\"text\":") == 0 ? enc_string(dw_json_trim(mb->value), &v) : SCAN_NOMEM;
            if (rc == SCAN_OK && (dw_buf_append_str(&v, ",\"type\":\"") != 0 || dw_buf_append_str(&v, kind) != 0 ||
                                  dw_buf_append_str(&v, "\"}]") != 0))
                rc = SCAN_NOMEM;
        } else if (msg && strcmp(mb->key, "content") == 0 && dw_json_kind(mb->value) == '[') {
            rc = enc_array(dw_json_trim(mb->value), 0, &stripped, &v);
        } else {
            rc = enc_value(mb->value, is_opaque_key(mb->key), &v);
        }
        if (rc != SCAN_OK)
            break;
        if (is_required(type, mb->key)) {
            rc = core_member(&core, &core_first, mb->key, mb->key_n, &v, &key_buf);
        } else {
            dw_digest_ctx_t c;
            field_begin(&c, mb->key, mb->key_n);
            dw_digest_update(&c, v.p, v.len);
            dw_digest_final(&c, &fields[nf++]);
        }
    }
    if (rc == SCAN_OK) {
        dw_form_t *f = &out->form;
        dw_digest_update(&core, "}", 1);
        dw_digest_final(&core, &f->core);
        identity_of(f, fields, nf);
        f->strip = stripped;
        f->is_reference = is_type(type, "item_reference");
        if (id_m != NULL && dw_json_kind(id_m->value) == '"' && decode(id_m->value, &id_buf) == SCAN_OK &&
            memchr(id_buf.p, '\0', id_buf.len) == NULL && (out->id = strdup(id_buf.p)) == NULL)
            rc = SCAN_NOMEM;
    }
    free(fields);
    dw_buf_free(&type_buf);
    dw_buf_free(&role_buf);
    dw_buf_free(&id_buf);
    dw_buf_free(&key_buf);
    dw_buf_free(&v);
    scan_members_free(&m);
    return rc;
}

/* paths: SCAN_PATH, DOM_PATH or both (the scan path first). Returns 0, -1, or SCAN_NO when the
 * scan path alone declines. */
enum { SCAN_PATH = 1, DOM_PATH = 2 };
static int canon(const char *raw, size_t n, dw_canon_t *out, int paths)
{
    memset(out, 0, sizeof *out);
    dw_buf_t shrunk = {0};
    int rc = stand_in_long_strings(raw, n, &shrunk);
    if (rc < 0) {
        dw_buf_free(&shrunk);
        return -1;
    }
    if (rc == 1) {
        raw = shrunk.p;
        n = shrunk.len;
    }
    rc = paths & SCAN_PATH ? form_by_scan(raw, n, out) : SCAN_NO;
    if (rc != SCAN_NO || !(paths & DOM_PATH)) {
        dw_buf_free(&shrunk);
        if (rc != SCAN_OK)
            dw_canon_clear(out);
        return rc == SCAN_NOMEM ? -1 : rc;
    }
    memset(out, 0, sizeof *out);
    json_t *item = json_loadb(raw, n, PARSE_FLAGS, NULL);
    dw_buf_free(&shrunk);
    if (item == NULL)
        return -1;

    rc = 0;
    dw_form_t *f = &out->form;
    if (json_is_object(item)) {
        int stripped = normalise(item);
        f->strip = stripped == 1;
        f->is_reference = is_type(str_member(item, "type"), "item_reference");
        json_t *id = json_object_get(item, "id");
        /* An id with U+0000 cannot be a C string; it is simply not exposed. */
        if (stripped < 0 ||
            (json_is_string(id) && strlen(json_string_value(id)) == json_string_length(id) &&
             (out->id = strdup(json_string_value(id))) == NULL) ||
            form_of_object(item, f) != 0)
            rc = -1;
    } else {
        json_t *num = integral(item);
        if (num != NULL) {
            json_decref(item);
            item = num;
        }
        if (normalise_tree(item, 0) != 0 || core_of(item, &f->core) != 0)
            rc = -1;
        else
            identity_of(f, NULL, 0);
    }
    json_decref(item);
    if (rc != 0)
        dw_canon_clear(out);
    return rc;
}

int dw_canon_item(const char *raw, size_t n, dw_canon_t *out)
{
    return canon(raw, n, out, SCAN_PATH | DOM_PATH);
}

int dw_canon_item_dom(const char *raw, size_t n, dw_canon_t *out)
{
    return canon(raw, n, out, DOM_PATH);
}

int dw_canon_item_scan(const char *raw, size_t n, dw_canon_t *out)
{
    return canon(raw, n, out, SCAN_PATH);
}

void dw_canon_clear(dw_canon_t *c)
{
    free(c->id);
    memset(c, 0, sizeof *c);
}

int dw_canon_within(const dw_form_t *c, const dw_form_t *s)
{
    if (dw_digest_eq(&c->digest, &s->digest))
        return 1;
    if (!dw_digest_eq(&c->core, &s->core) || c->opt_overflow)
        return 0;
    for (size_t i = 0; i < c->n_opt; i++) {
        size_t j = 0;
        while (j < s->n_opt && memcmp(c->opt[i], s->opt[j], DW_CANON_OPT_LEN) != 0)
            j++;
        if (j == s->n_opt)
            return 0; /* a field s lacks, or holds with another value (or s's list overflowed) */
    }
    return 1;
}

void dw_canon_ref_core(const char *id, dw_digest_t *out)
{
    json_t *ref = json_pack("{s:s,s:s}", "type", "item_reference", "id", id);
    /* Only an id that is not UTF-8 fails here; no item has the zero digest. */
    if (ref == NULL || core_of(ref, out) != 0)
        memset(out, 0, sizeof *out);
    json_decref(ref);
}

int dw_canon_strip(const char *raw, size_t n, char **out, size_t *outn)
{
    json_t *item = json_loadb(raw, n, PARSE_FLAGS, NULL);
    if (item == NULL)
        return -1;
    if (json_is_object(item))
        drop_parsed(item, effective_type(item));
    *out = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(item);
    if (*out == NULL)
        return -1;
    *outn = strlen(*out);
    return 0;
}
