/* Loading the captured client fixtures (tests/fixtures/clients) in tests. */
#ifndef DW_TESTS_FIXTURE_H
#define DW_TESTS_FIXTURE_H

#include <stddef.h>
#include "translate/json_scan.h"

/* A file's bytes: malloc'd (caller frees) and NUL-terminated, or NULL if
 * the file does not exist. path is relative to $DW_FIXTURES_DIR. */
char *fx_read(const char *path, size_t *n);

/* Turn t of fixture dir: the request body and its "input" item spans, or
 * the response body and its "output" item spans. Return 0, or -1 if the
 * file is missing; the spans point into *body (caller frees both). */
int fx_request(const char *dir, int t, char **body, dw_spans_t *items);
int fx_response(const char *dir, int t, char **body, dw_spans_t *items);

/* Number of turn-N.json files in dir. */
int fx_turns(const char *dir);

/* The "id" string of the response in body (static buffer). */
const char *fx_response_id(const char *body);

#endif
