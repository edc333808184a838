/*
 * Canonical item forms: what an input item means, with the cosmetic
 * differences real clients introduce erased (tests/fixtures/clients/README.md)
 * and every value kept.
 *
 * Normalisation (jansson parse, then):
 *  1. key order at every level (sorted when dumped), string escapes (dumped
 *     as ASCII escapes), number spelling (a real with an integral value
 *     below 2^53 becomes that integer; other reals compare by their double);
 *  2. a member whose value is null is absent, at every level except inside
 *     free-form JSON (the values of "parameters", "input_schema", "schema"
 *     and "arguments"), since the API treats an unset optional field as null;
 *  3. an object with "role" but no "type" gets type "message"; one whose
 *     only member is "id" gets type "item_reference";
 *  4. message: string content s becomes [{"type": "output_text" for the
 *     assistant, else "input_text", "text": s}]; in content parts
 *     "annotations"/"logprobs" that are [] are dropped;
 *  5. client-side parse results are dropped: "parsed" in message content
 *     parts, "parsed_arguments" on function_call / custom_tool_call.
 * Nothing else is dropped: "id", "status" and unknown fields count.
 *
 * Echoes. The API's input schema (openai-python
 * types/responses/response_input_item_param.py and the params it unions)
 * requires some fields of each item type; the others are optional. A client
 * echoing a server output item may leave out what is optional, never change
 * anything. So each item gets two digests:
 *  - core: the canonical form restricted to "type" and the required fields
 *    (plus the payload of computer_call, action/actions, and the results of
 *    mcp_call and file_search_call, which the schema marks optional);
 *  - digest (identity): H(core, the set of optional fields), where each
 *    optional field counts as H(key, canonical value).
 * An echo C matches a server item S exactly when core(C) == core(S) and
 * every optional field of C is one of S's (dw_canon_within). Types the
 * table does not know treat "id" and "status" as optional, all else as
 * required.
 *
 * Each field's bytes are dumped once, so the cost is linear in the item.
 * Integers beyond 64 bits and duplicate keys make an item fail (-1): the
 * caller then cannot diff the request and sends it in full.
 */
#ifndef DW_TRANSLATE_CANON_H
#define DW_TRANSLATE_CANON_H

#include <stddef.h>
#include <stdint.h>
#include "translate/digest.h"

#define DW_CANON_OPT_MAX 8  /* optional fields listed per item */
#define DW_CANON_OPT_LEN 16 /* bytes of each field's digest kept for the subset check */

/* An item's canonical form, fixed size, owns nothing. */
typedef struct {
    dw_digest_t digest;  /* identity: the whole canonical form */
    dw_digest_t core;    /* "type" and the required fields */
    uint8_t n_opt;       /* optional fields listed in opt, sorted */
    uint8_t opt_overflow; /* the item has more than DW_CANON_OPT_MAX optional fields (opt lists none) */
    uint8_t strip;       /* has parsed/parsed_arguments: forward a copy made by dw_canon_strip */
    uint8_t is_reference; /* {"type":"item_reference",...} */
    uint8_t opt[DW_CANON_OPT_MAX][DW_CANON_OPT_LEN]; /* per optional field: H(key, value), truncated */
} dw_form_t;

typedef struct {
    dw_form_t form;
    char *id; /* the item's string "id" if any, malloc'd and freed by dw_canon_clear, else NULL */
} dw_canon_t;

/* Fills *out (which owns out->id afterwards). Returns 0, or -1 if raw is
 * not valid JSON jansson can represent, or on allocation failure. */
int dw_canon_item(const char *raw, size_t n, dw_canon_t *out);
/* dw_canon_item takes two paths to one result. The scan path writes, from the scanner's spans, the
 * bytes jansson's dump would; it declines (returns 1, *out zeroed) whatever it does not cover (a
 * real number, "-0", an integer beyond 64 bits, a duplicate key, a key with U+0000, an item that is
 * not an object), and the DOM path, jansson, decides. Each alone, for tests and fuzzing, which
 * check that the two agree on every input the scan path takes. */
int dw_canon_item_scan(const char *raw, size_t n, dw_canon_t *out);
int dw_canon_item_dom(const char *raw, size_t n, dw_canon_t *out);

/* Frees out->id and zeroes *c. */
void dw_canon_clear(dw_canon_t *c);

/* 1 if the item c is the item s with optional fields left out (or exactly
 * s): same core, and every optional field of c is one of s's. 0 when it
 * cannot be shown (c has optional fields and s overflowed its list). */
int dw_canon_within(const dw_form_t *c, const dw_form_t *s);

/* The core dw_canon_item gives {"type":"item_reference","id":id}, so a
 * recorder can let references resolve to the item they name. */
void dw_canon_ref_core(const char *id, dw_digest_t *out);

/* A compact copy of the item without the fields rule 5 drops (parsed,
 * parsed_arguments); other fields keep their order. *out is malloc'd,
 * NUL-terminated, *outn its length; the caller frees it. Returns 0 or -1
 * (invalid JSON, allocation failure). */
int dw_canon_strip(const char *raw, size_t n, char **out, size_t *outn);

#endif
