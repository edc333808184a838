/* The chat-visible projection of a Responses output: see chat_project.h. */
#include "translate/chat_project.h"

#include <string.h>

#include "translate/canon.h"
#include "translate/chat_events.h"

/* 1 if the projected item is the recorded output item as an echo may carry it (the rules of
 * translate/canon.h: optional fields such as id and status may be left out, nothing changed). */
static int same_item(dw_span_t mine, dw_span_t theirs, int *err)
{
    dw_canon_t a, b;
    if (dw_canon_item(mine.p, mine.n, &a) != 0) {
        *err = 1;
        return 0;
    }
    if (dw_canon_item(theirs.p, theirs.n, &b) != 0) {
        dw_canon_clear(&a);
        *err = 1;
        return 0;
    }
    int same = dw_canon_within(&a.form, &b.form);
    dw_canon_clear(&a);
    dw_canon_clear(&b);
    return same;
}

int dw_chat_project(dw_span_t output, int legacy_functions, dw_chat_projection_t *pj)
{
    int hidden = 0, ncalls = 0;
    char reason[DW_CHAT_REASON_MAX];
    dw_chat_items_t st = {0};
    memset(pj, 0, sizeof *pj);

    if (dw_chat_message(output, legacy_functions, &pj->message, &hidden, &ncalls) != 0)
        return DW_CHAT_ENOMEM;
    pj->hidden = hidden != 0;
    if (dw_buf_append_str(&pj->items, "["))
        return DW_CHAT_ENOMEM;
    int rc = dw_chat_message_items(&pj->items, (dw_span_t){pj->message.p, pj->message.len}, 0, &st, reason);
    if (rc != DW_CHAT_OK)
        return rc;
    if (dw_buf_append_str(&pj->items, "]") ||
        dw_json_array_elems((dw_span_t){pj->items.p, pj->items.len}, &pj->spans) != 0)
        return DW_CHAT_ENOMEM;

    dw_spans_t out = {0};
    if (dw_json_array_elems(output, &out) != 0) {
        dw_spans_free(&out);
        return DW_CHAT_ENOMEM;
    }
    int exact = !pj->hidden && out.n == pj->spans.n, err = 0;
    for (size_t i = 0; exact && i < out.n; i++)
        exact = same_item(pj->spans.v[i], out.v[i], &err);
    dw_spans_free(&out);
    pj->exact = exact != 0;
    return err ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

void dw_chat_projection_free(dw_chat_projection_t *pj)
{
    dw_buf_free(&pj->message);
    dw_buf_free(&pj->items);
    dw_spans_free(&pj->spans);
    memset(pj, 0, sizeof *pj);
}
