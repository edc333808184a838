/*
 * Canonical item digests.
 *
 * Every input item is identified by the SHA-256 of a canonical form that
 * erases the cosmetic differences real clients introduce when they echo
 * server output (see tests/fixtures/clients/README.md), and keeps
 * everything that changes meaning. Canonical form: jansson parse,
 * normalise, dump compact with sorted keys and ASCII escapes, hash with the
 * domain prefix "dw-item-v1\0".
 *
 * Normalisation:
 *  1. key order at every level (sorted on dump);
 *  2. an object with "role" but no "type" gets type "message";
 *  3. "status" is dropped on every item; "id" is dropped on message,
 *     function_call, function_call_output, custom_tool_call and
 *     custom_tool_call_output (reasoning and every other type keep it);
 *  4. reasoning: "content": null is dropped;
 *  5. message: string content s becomes [{"type": "output_text" for the
 *     assistant, else "input_text", "text": s}]; in content parts "parsed"
 *     is dropped, and "annotations"/"logprobs" when they are [];
 *  6. function_call / custom_tool_call: "parsed_arguments" is dropped.
 * Everything else is semantic and kept. A non-object item is hashed as its
 * canonical JSON.
 *
 * Known-field projection (for items recorded from the server, which may
 * carry fields a client drops): message keeps type,id,status,role,content,
 * phase; reasoning keeps type,id,summary,content,encrypted_content,status;
 * function_call keeps type,id,status,call_id,name,arguments,namespace;
 * custom_tool_call keeps type,id,status,call_id,name,input,namespace; other
 * types are not projected. The projection is then normalised and hashed
 * like any item.
 *
 * Numbers go through jansson: integers beyond 64 bits make the item fail
 * (-1); reals are compared by their double value. Duplicate keys inside an
 * item also fail. Callers treat -1 as "cannot diff this request".
 */
#ifndef DW_TRANSLATE_CANON_H
#define DW_TRANSLATE_CANON_H

#include <stddef.h>
#include "translate/digest.h"

typedef struct {
    dw_digest_t digest;      /* canonical form */
    dw_digest_t proj_digest; /* canonical form of the known-field projection (== digest when nothing was dropped) */
    char *id;                /* the item's string "id" if any, malloc'd and freed by dw_canon_clear, else NULL */
    unsigned strip : 1;      /* item has parsed/parsed_arguments: forward a copy made by dw_canon_strip */
    unsigned is_reference : 1; /* {"type":"item_reference",...} */
} dw_canon_t;

/* Fills *out (which owns out->id afterwards). Returns 0, or -1 if raw is
 * not valid JSON jansson can represent, or on allocation failure. */
int dw_canon_item(const char *raw, size_t n, dw_canon_t *out);

/* Frees out->id and zeroes *c. */
void dw_canon_clear(dw_canon_t *c);

/* The digest dw_canon_item gives {"type":"item_reference","id":id}, so a
 * recorder can alias references to the item they name. */
void dw_canon_ref_digest(const char *id, dw_digest_t *out);

/* A compact copy of the item without the fields rules 5 and 6 drop
 * (parsed, parsed_arguments); other fields keep their order. *out is
 * malloc'd, NUL-terminated, *outn its length; the caller frees it.
 * Returns 0 or -1 (invalid JSON, allocation failure). */
int dw_canon_strip(const char *raw, size_t n, char **out, size_t *outn);

#endif
