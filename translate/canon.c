/*
 * Canonical item digests: parse with jansson, erase the cosmetic
 * differences real clients introduce, dump sorted and compact straight into
 * SHA-256. Only items never seen before come here; the proxy caches the
 * result by the item's raw bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/canon.h"

static const char item_domain[] = "dw-item-v1"; /* hashed with its NUL */

#define PARSE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)

static int hash_chunk(const char *buf, size_t n, void *ud)
{
    dw_digest_update(ud, buf, n);
    return 0;
}

static int digest_json(const json_t *j, dw_digest_t *out)
{
    dw_digest_ctx_t c;
    dw_digest_init(&c);
    dw_digest_update(&c, item_domain, sizeof item_domain);
    if (json_dump_callback(j, hash_chunk, &c, CANON_FLAGS) != 0)
        return -1;
    dw_digest_final(&c, out);
    return 0;
}

static const char *str_member(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)); /* NULL unless a string */
}

/* The item's type, with rule 2: "role" and no "type" means a message. */
static const char *effective_type(const json_t *item)
{
    if (json_object_get(item, "type") == NULL && json_object_get(item, "role") != NULL)
        return "message";
    return str_member(item, "type");
}

static int is_type(const char *type, const char *name)
{
    return type != NULL && strcmp(type, name) == 0;
}

static int is_call(const char *type)
{
    return is_type(type, "function_call") || is_type(type, "custom_tool_call");
}

/* Removes the client-side parse results (rules 5 and 6) that must neither
 * count nor go upstream. Returns 1 if anything was removed. */
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

/* Rules 2-6 on an item object (key order is rule 1, done by the dump).
 * Returns 1 if parsed/parsed_arguments were dropped, -1 on no memory. */
static int normalise(json_t *item)
{
    if (json_object_get(item, "type") == NULL && json_object_get(item, "role") != NULL &&
        json_object_set_new(item, "type", json_string("message")) != 0)
        return -1;
    const char *type = str_member(item, "type");
    int stripped = drop_parsed(item, type);

    json_object_del(item, "status");
    if (is_type(type, "message") || is_call(type) || is_type(type, "function_call_output") ||
        is_type(type, "custom_tool_call_output"))
        json_object_del(item, "id");

    if (is_type(type, "reasoning") && json_is_null(json_object_get(item, "content")))
        json_object_del(item, "content");

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

/* Known fields per type, NULL-terminated; NULL for unprojected types. */
static const char *const *known_fields(const char *type)
{
    static const char *const message[] = {"type", "id", "status", "role", "content", "phase", NULL};
    static const char *const reasoning[] = {"type", "id", "summary", "content", "encrypted_content", "status", NULL};
    static const char *const function_call[] = {"type", "id", "status", "call_id", "name", "arguments", "namespace", NULL};
    static const char *const custom_tool_call[] = {"type", "id", "status", "call_id", "name", "input", "namespace", NULL};

    if (is_type(type, "message"))
        return message;
    if (is_type(type, "reasoning"))
        return reasoning;
    if (is_type(type, "function_call"))
        return function_call;
    if (is_type(type, "custom_tool_call"))
        return custom_tool_call;
    return NULL;
}

/* Digest of the known-field projection of a normalised item. Normalising
 * and projecting commute (each rule looks only at kept fields), so the
 * projection is taken from the normalised item. */
static int projection_digest(const json_t *item, const dw_digest_t *full, dw_digest_t *out)
{
    const char *const *keep = known_fields(str_member(item, "type"));
    *out = *full;
    if (keep == NULL)
        return 0;
    json_t *proj = json_object();
    if (proj == NULL)
        return -1;
    for (; *keep != NULL; keep++) {
        json_t *v = json_object_get(item, *keep);
        if (v != NULL && json_object_set(proj, *keep, v) != 0) {
            json_decref(proj);
            return -1;
        }
    }
    int rc = 0;
    if (json_object_size(proj) != json_object_size(item))
        rc = digest_json(proj, out);
    json_decref(proj);
    return rc;
}

int dw_canon_item(const char *raw, size_t n, dw_canon_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *item = json_loadb(raw, n, PARSE_FLAGS, NULL);
    if (item == NULL)
        return -1;

    int rc = 0;
    if (json_is_object(item)) {
        json_t *id = json_object_get(item, "id");
        out->is_reference = is_type(str_member(item, "type"), "item_reference");
        /* An id with U+0000 cannot be a C string; it is simply not exposed. */
        if (json_is_string(id) && strlen(json_string_value(id)) == json_string_length(id) &&
            (out->id = strdup(json_string_value(id))) == NULL)
            rc = -1;
        int stripped = rc == 0 ? normalise(item) : -1;
        out->strip = stripped == 1;
        if (stripped < 0 || digest_json(item, &out->digest) != 0 ||
            projection_digest(item, &out->digest, &out->proj_digest) != 0)
            rc = -1;
    } else if (digest_json(item, &out->digest) == 0) {
        out->proj_digest = out->digest;
    } else {
        rc = -1;
    }
    json_decref(item);
    if (rc != 0)
        dw_canon_clear(out);
    return rc;
}

void dw_canon_clear(dw_canon_t *c)
{
    free(c->id);
    memset(c, 0, sizeof *c);
}

void dw_canon_ref_digest(const char *id, dw_digest_t *out)
{
    json_t *ref = json_pack("{s:s,s:s}", "type", "item_reference", "id", id);
    /* Only an id that is not UTF-8 fails here; no item has the zero digest. */
    if (ref == NULL || digest_json(ref, out) != 0)
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
