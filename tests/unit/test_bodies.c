/* state/bodies: kept bodies key a new body's items only where the bytes are the same. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "state/bodies.h"
#include "state/transcripts.h"
#include "translate/request.h"

static dw_digest_t cred_a = {{1}}, cred_b = {{2}};

/* A body kept the way offload.c keeps one: parsed, every item hashed. */
static dw_body_t *keep(dw_bodies_t *b, const dw_digest_t *cred, const char *json, dw_body_t *replaces, uint64_t now)
{
    size_t n = strlen(json);
    char *p = malloc(n);
    memcpy(p, json, n);
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&rq, p, n, 1 << 20, &err), 0, "%s", err.message);
    dw_digest_t *keys = malloc(rq.items.n * sizeof(*keys));
    for (size_t i = 0; i < rq.items.n; i++)
        dw_transcripts_item_key(rq.items.v[i].p, rq.items.v[i].n, &keys[i]);
    dw_body_t *e = dw_bodies_put(b, cred, p, n, &rq, keys, replaces, now);
    size_t nitems = rq.items.n;
    dw_request_free(&rq);
    if (e == NULL) {
        free(p);
        free(keys);
    } else {
        cr_assert_eq(e->nitems, nitems);
    }
    return e;
}

/* Bytes whose scan the last reuse() skipped: 0 when it scanned the body whole. */
static size_t skipped;

/* A new body read as offload.c reads it: resumed from the kept body it continues from its first byte
 * (dw_bodies_continued), if any. Asserts that this gives what a whole scan gives. *known, *same: the
 * continued body and the bytes shared with it. */
static void parse_as_offloaded(dw_body_t *const *cand, size_t nc, const char *json, dw_request_t *rq,
                               dw_body_t **known, size_t *same)
{
    size_t n = strlen(json);
    dw_request_t whole;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&whole, json, n, 1 << 20, &err), 0, "%s", err.message);
    *known = dw_bodies_continued(cand, nc, json, n, same);
    dw_json_resume_t at;
    skipped = 0;
    if (*known != NULL && dw_bodies_resume_at(*known, *same, &at) == 0) {
        cr_assert_eq(dw_request_parse_from(rq, json, n, 1 << 20, &at, *same, &err), 0, "%s", err.message);
        skipped = dw_json_resume_offset(&at);
    } else {
        cr_assert_eq(dw_request_parse(rq, json, n, 1 << 20, &err), 0, "%s", err.message);
    }
    cr_assert_eq(rq->items.n, whole.items.n);
    cr_assert_eq(rq->members.n, whole.members.n);
    cr_assert(!memcmp(rq->items.v, whole.items.v, whole.items.n * sizeof(*whole.items.v)));
    cr_assert(!memcmp(rq->members.v, whole.members.v, whole.members.n * sizeof(*whole.members.v)));
    dw_request_free(&whole);
}

/* Keys a new body against cand[0..nc), read as offload.c reads it: checks every key given is the
 * item's hash and that comparing the bodies again (no known candidate) keys the same items; returns
 * the `have` flags as a string ("110..."). */
static void reuse(dw_body_t *const *cand, size_t nc, const char *json, char *flags, dw_body_t **replaces)
{
    dw_request_t rq;
    dw_body_t *known;
    size_t same;
    parse_as_offloaded(cand, nc, json, &rq, &known, &same);
    dw_digest_t keys[16], keys2[16];
    uint8_t have[16] = {0}, have2[16] = {0};
    cr_assert(rq.items.n <= 16);
    dw_body_t *chosen, *chosen2, *replaces2;
    size_t keyed = dw_bodies_reuse(cand, nc, known, same, &rq.items, keys, have, &chosen, replaces);
    cr_assert(*replaces == NULL || *replaces == chosen);
    size_t keyed2 = dw_bodies_reuse(cand, nc, NULL, 0, &rq.items, keys2, have2, &chosen2, &replaces2);
    /* the two ways may choose different candidates (both safe); where they choose one, they agree */
    if (chosen == chosen2)
        cr_assert(keyed2 == keyed && !memcmp(have, have2, rq.items.n) && *replaces == replaces2);
    size_t count = 0;
    for (size_t i = 0; i < rq.items.n; i++) {
        flags[i] = have[i] ? '1' : '0';
        if (have[i]) {
            dw_digest_t d;
            dw_transcripts_item_key(rq.items.v[i].p, rq.items.v[i].n, &d);
            cr_assert(dw_digest_eq(&d, &keys[i]), "item %zu: a reused key is that item's hash", i);
            count++;
        }
    }
    flags[rq.items.n] = '\0';
    cr_assert_eq(keyed, count);
    dw_request_free(&rq);
}

#define T1 "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}"

/* A store holding T1 for cred_a, picked into cand[0]. */
static dw_bodies_t *kept_t1(dw_body_t **cand)
{
    dw_bodies_t *b = dw_bodies_new(1 << 20, 1000);
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 0));
    cr_assert_eq(dw_bodies_pick(b, &cred_a, cand, 4), 1);
    return b;
}

Test(bodies, a_continuation_reuses_every_earlier_key_and_replaces_its_body)
{
    dw_body_t *cand[4];
    dw_bodies_t *b = kept_t1(cand);
    char flags[17];
    dw_body_t *replaces;
    /* other top-level members before `input` move it: offsets count from the first item */
    reuse(cand, 1,
          "{\"model\":\"m\",\"instructions\":\"longer\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
          "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}",
          flags, &replaces);
    cr_assert_str_eq(flags, "110");
    cr_assert_eq(replaces, cand[0]);
    dw_bodies_unref(cand[0]);
    dw_bodies_free(b);
}

Test(bodies, a_changed_byte_unkeys_its_item_and_everything_after_it)
{
    dw_bodies_t *b = dw_bodies_new(1 << 20, 1000);
    dw_bodies_unref(keep(b, &cred_a,
                         "{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"},"
                         "{\"role\":\"user\",\"content\":\"c\"}]}",
                         NULL, 0));
    dw_body_t *cand[4];
    cr_assert_eq(dw_bodies_pick(b, &cred_a, cand, 4), 1);
    char flags[17];
    dw_body_t *replaces;
    reuse(cand, 1,
          "{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"B\"},"
          "{\"role\":\"user\",\"content\":\"c\"}]}",
          flags, &replaces);
    cr_assert_str_eq(flags, "100", "the third item has the same bytes but is past the common prefix");
    cr_assert_null(replaces);
    /* the same value spelled another way is other bytes: hashed, not reused */
    reuse(cand, 1, "{\"input\":[{\"role\":\"user\",\"content\":\"\\u0061\"}]}", flags, &replaces);
    cr_assert_str_eq(flags, "0");
    /* whitespace between items shifts the offsets: only the items before it are reused */
    reuse(cand, 1,
          "{\"input\":[{\"role\":\"user\",\"content\":\"a\"}, {\"role\":\"user\",\"content\":\"b\"}]}", flags,
          &replaces);
    cr_assert_str_eq(flags, "10");
    /* an item cut short inside the prefix has another length */
    reuse(cand, 1, "{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\"}]}", flags, &replaces);
    cr_assert_str_eq(flags, "10");
    dw_bodies_unref(cand[0]);
    dw_bodies_free(b);
}

Test(bodies, the_continued_conversation_is_found_among_several_of_one_key)
{
    dw_bodies_t *b = dw_bodies_new(1 << 20, 1000);
    dw_bodies_unref(keep(b, &cred_a, "{\"input\":[{\"role\":\"user\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"x1\"}]}", NULL, 0));
    dw_bodies_unref(keep(b, &cred_a, "{\"input\":[{\"role\":\"user\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"y22\"}]}", NULL, 1));
    dw_bodies_unref(keep(b, &cred_b, "{\"input\":[{\"role\":\"user\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"x1\"},{\"role\":\"user\",\"content\":\"z\"}]}", NULL, 2));
    dw_body_t *cand[4];
    size_t nc = dw_bodies_pick(b, &cred_a, cand, 4);
    cr_assert_eq(nc, 2, "another key's body is never a candidate");
    char flags[17];
    dw_body_t *replaces;
    reuse(cand, nc,
          "{\"input\":[{\"role\":\"user\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"x1\"},{\"role\":\"user\",\"content\":\"z\"}]}",
          flags, &replaces);
    cr_assert_str_eq(flags, "110", "the older body of the key continues here, not the most recent");
    cr_assert_eq(replaces, cand[1]);
    /* nothing continues: the most recent is compared, and shares the first item */
    reuse(cand, nc, "{\"input\":[{\"role\":\"user\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"q\"}]}", flags,
          &replaces);
    cr_assert_str_eq(flags, "10");
    cr_assert_null(replaces);
    for (size_t i = 0; i < nc; i++)
        dw_bodies_unref(cand[i]);
    dw_bodies_free(b);
}

Test(bodies, the_budget_and_the_ttl_drop_the_least_recently_used_while_pickers_keep_reading)
{
    size_t one = strlen(T1) + 2 * (sizeof(dw_span_t) + sizeof(dw_digest_t)) + 2 * sizeof(dw_member_t);
    dw_bodies_t *b = dw_bodies_new(2 * one, 100);
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 0));
    dw_body_t *held;
    cr_assert_eq(dw_bodies_pick(b, &cred_a, &held, 1), 1);
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 10));
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 20)); /* the first goes: over the budget */
    size_t n, bytes;
    dw_bodies_counts(b, &n, &bytes);
    cr_assert_eq(n, 2);
    cr_assert_eq(bytes, 2 * one);
    cr_assert(memcmp(held->p, T1, strlen(T1)) == 0, "a picked body stays readable after it is dropped");
    dw_bodies_unref(held); /* freed here (ASan and valgrind check) */
    dw_bodies_sweep(b, 115);
    dw_bodies_counts(b, &n, &bytes);
    cr_assert_eq(n, 1, "the one unused for over 100 ms is gone");
    dw_bodies_sweep(b, 121);
    dw_bodies_counts(b, &n, &bytes);
    cr_assert_eq(n, 0);
    cr_assert_eq(bytes, 0);
    dw_bodies_t *none = dw_bodies_new(0, 100);
    cr_assert_null(keep(none, &cred_a, T1, NULL, 0), "a budget of 0 keeps nothing");
    dw_bodies_free(none);
    dw_bodies_free(b);
}

Test(bodies, a_body_compared_with_is_used_and_outlives_one_only_put_before_it)
{
    size_t one = strlen(T1) + 2 * (sizeof(dw_span_t) + sizeof(dw_digest_t)) + 2 * sizeof(dw_member_t);
    dw_bodies_t *b = dw_bodies_new(2 * one, 100);
    dw_body_t *first = keep(b, &cred_a, T1, NULL, 0);
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 10));
    dw_bodies_touch(b, first, 20); /* compared with: the second is now the least recently used */
    dw_bodies_unref(keep(b, &cred_a, T1, NULL, 30));
    dw_body_t *cand[4];
    size_t nc = dw_bodies_pick(b, &cred_a, cand, 4);
    cr_assert_eq(nc, 2);
    cr_assert_eq(cand[1], first, "the touched body stayed, behind the newest");
    for (size_t i = 0; i < nc; i++)
        dw_bodies_unref(cand[i]);
    dw_bodies_sweep(b, 125);
    size_t n, bytes;
    dw_bodies_counts(b, &n, &bytes);
    cr_assert_eq(n, 1, "touched at 20, it is unused for over 100 ms at 125; the newest (30) is not");
    dw_bodies_unref(first);
    dw_bodies_free(b);
}

Test(bodies, a_continuation_from_the_first_byte_is_scanned_from_its_first_new_item)
{
    dw_body_t *cand[4];
    dw_bodies_t *b = kept_t1(cand);
    char flags[17];
    dw_body_t *replaces;
    const char *next = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
                       "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}],\"store\":false}";
    reuse(cand, 1, next, flags, &replaces);
    cr_assert_str_eq(flags, "110");
    cr_assert_eq(skipped, (size_t)(strstr(next, ",{\"role\":\"user\",\"content\":\"c") - next),
                 "resumed past the last item both share");
    /* the second item changed: resumed past the first only */
    reuse(cand, 1,
          "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"B\"}]}",
          flags, &replaces);
    cr_assert_str_eq(flags, "10");
    cr_assert_eq(skipped, 0, "the last item differs: not a continuation");
    /* a changed member before the input: nothing is shared past an item */
    reuse(cand, 1,
          "{\"model\":\"M\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}",
          flags, &replaces);
    cr_assert_str_eq(flags, "11");
    cr_assert_eq(skipped, 0);
    dw_bodies_unref(cand[0]);
    dw_bodies_free(b);
}

/* A pick walks its key's bodies only: against a model (every listed body, most recently used first),
 * a pick of each key gives that key's bodies in that order, through puts, touches, drops for the
 * budget and sweeps, with many keys. */
Test(bodies, a_pick_gives_its_keys_bodies_most_recent_first_among_many_keys)
{
    enum { KEYS = 7, OPS = 3000, MAXB = 64 };
    dw_digest_t creds[KEYS];
    for (int i = 0; i < KEYS; i++)
        creds[i] = (dw_digest_t){{(uint8_t)(10 + i)}};
    size_t one = strlen(T1) + 2 * (sizeof(dw_span_t) + sizeof(dw_digest_t)) + 2 * sizeof(dw_member_t);
    dw_bodies_t *b = dw_bodies_new(40 * one, 500);
    dw_body_t *model[MAXB]; /* listed, most recently used first */
    size_t n = 0;
    uint64_t now = 0;
    unsigned seed = 12345;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 16) % 100;
        now += (seed >> 8) % 3;
        if (r < 60 || n == 0) {
            dw_body_t *e = keep(b, &creds[(seed >> 4) % KEYS], T1, NULL, now);
            cr_assert_not_null(e);
            if (n == 40) /* over the budget: the least recently used went */
                n--;
            memmove(model + 1, model, n * sizeof(*model));
            model[0] = e;
            n++;
            dw_bodies_unref(e);
        } else if (r < 90) {
            size_t i = (seed >> 4) % n;
            dw_body_t *e = model[i];
            dw_bodies_touch(b, e, now);
            memmove(model + 1, model, i * sizeof(*model));
            model[0] = e;
        } else {
            now += 200;
            while (n > 0 && now - model[n - 1]->used_ms > 500) /* before the sweep frees them */
                n--;
            dw_bodies_sweep(b, now);
        }
        for (int k = 0; k < KEYS; k++) {
            dw_body_t *got[MAXB];
            size_t m = dw_bodies_pick(b, &creds[k], got, MAXB), j = 0;
            for (size_t i = 0; i < n; i++)
                if (dw_digest_eq(&model[i]->cred, &creds[k])) {
                    cr_assert(j < m && got[j] == model[i], "op %d key %d: body %zu of the key differs", op, k, j);
                    j++;
                }
            cr_assert_eq(j, m, "op %d key %d: %zu picked, %zu listed", op, k, m, j);
            for (size_t i = 0; i < m; i++)
                dw_bodies_unref(got[i]);
        }
        size_t count, bytes;
        dw_bodies_counts(b, &count, &bytes);
        cr_assert_eq(count, n);
    }
    dw_bodies_free(b);
}

Test(bodies, a_number_item_at_the_end_of_the_shared_bytes_resumes_the_scan_before_it)
{
    dw_bodies_t *b = dw_bodies_new(1 << 20, 1000);
    dw_bodies_unref(keep(b, &cred_a, "{\"model\":\"m\",\"input\":[{\"a\":1},5]}", NULL, 0));
    dw_body_t *cand[4];
    cr_assert_eq(dw_bodies_pick(b, &cred_a, cand, 4), 1);
    char flags[17];
    dw_body_t *replaces;
    /* the 5 ends where the shared bytes do, but the byte after it decides where it ends: a scan
     * resumed past it would fall back to a whole one, while the skipped bytes counted it as skipped */
    const char *next = "{\"model\":\"m\",\"input\":[{\"a\":1},5,{\"b\":2}]}";
    reuse(cand, 1, next, flags, &replaces);
    cr_assert_str_eq(flags, "110");
    cr_assert_eq(skipped, (size_t)(strstr(next, ",5") - next), "resumed past the last item whose end is shared");
    dw_bodies_unref(cand[0]);
    dw_bodies_free(b);
}

/* A new body read as offload.c reads it after taking kept body e's buffer over: the bytes it shares
 * with e compared, the buffer taken (dw_bodies_take), the rest copied in, the scan resumed from e and
 * the keys copied from it. Asserts that this gives what a whole scan of a plain copy gives, and every
 * item of e keyed and replaced. Returns the buffer (the caller's), or NULL when the take is refused. */
static char *take_and_read(dw_bodies_t *b, dw_body_t *e, const char *json, size_t *skipped_to)
{
    size_t n = strlen(json), lim = n < e->n ? n : e->n;
    size_t same = dw_bodies_common_prefix(json, e->p, lim);
    size_t items_before = e->nitems;
    char *p = dw_bodies_take(b, e, same, n);
    if (p == NULL)
        return NULL;
    cr_assert(e->p == p && e->n == same && e->nitems == items_before);
    memcpy(p + same, json + same, n - same);
    dw_request_t whole, rq;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&whole, json, n, 1 << 20, &err), 0, "%s", err.message);
    dw_json_resume_t at;
    cr_assert_eq(dw_bodies_resume_at(e, same, &at), 0);
    cr_assert_eq(dw_request_parse_from(&rq, p, n, 1 << 20, &at, same, &err), 0, "%s", err.message);
    *skipped_to = dw_json_resume_offset(&at);
    cr_assert_eq(rq.items.n, whole.items.n);
    cr_assert_eq(rq.members.n, whole.members.n);
    for (size_t i = 0; i < rq.items.n; i++)
        cr_assert(rq.items.v[i].p - p == whole.items.v[i].p - json && rq.items.v[i].n == whole.items.v[i].n);
    for (size_t i = 0; i < rq.members.n; i++)
        cr_assert(rq.members.v[i].key.p - p == whole.members.v[i].key.p - json &&
                  rq.members.v[i].value.p - p == whole.members.v[i].value.p - json &&
                  rq.members.v[i].value.n == whole.members.v[i].value.n);
    dw_digest_t keys[16];
    uint8_t have[16] = {0};
    cr_assert(rq.items.n <= 16);
    dw_body_t *chosen, *replaces;
    cr_assert_eq(dw_bodies_reuse(NULL, 0, e, same, &rq.items, keys, have, &chosen, &replaces), items_before);
    cr_assert(chosen == e && replaces == e);
    for (size_t i = 0; i < items_before; i++) {
        dw_digest_t d;
        dw_transcripts_item_key(rq.items.v[i].p, rq.items.v[i].n, &d);
        cr_assert(have[i] && dw_digest_eq(&d, &keys[i]), "item %zu: its own key", i);
    }
    dw_request_free(&whole);
    dw_request_free(&rq);
    return p;
}

#define T1_NEXT                                                                                                     \
    "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}," \
    "{\"role\":\"user\",\"content\":\"c\"}],\"store\":false}"

Test(bodies, a_kept_body_is_taken_over_only_by_its_sole_picker_and_leaves_the_store)
{
    dw_body_t *cand[4], *other;
    dw_bodies_t *b = kept_t1(cand);
    size_t n, bytes, skipped_to;
    dw_bodies_counts(b, &n, &bytes);
    cr_assert(n == 1 && bytes > strlen(T1));
    /* another job holds it too (a worker may be reading it): not taken, nothing changes */
    cr_assert_eq(dw_bodies_pick(b, &cred_a, &other, 1), 1);
    const char *old_p = cand[0]->p;
    cr_assert_not(dw_bodies_takeable(cand[0]));
    cr_assert_null(take_and_read(b, cand[0], T1_NEXT, &skipped_to));
    cr_assert(cand[0]->p == old_p && cand[0]->n == strlen(T1) && cand[0]->nmembers == 2);
    size_t n2, bytes2;
    dw_bodies_counts(b, &n2, &bytes2);
    cr_assert(n2 == 1 && bytes2 == bytes);
    dw_bodies_unref(other);
    /* the sole picker takes it: out of the store, its cost out of the budget, no longer picked */
    cr_assert(dw_bodies_takeable(cand[0]));
    char *p = take_and_read(b, cand[0], T1_NEXT, &skipped_to);
    cr_assert_not_null(p);
    cr_assert_eq(skipped_to, strlen(T1) - strlen("]}"), "resumed past T1's last item");
    dw_bodies_counts(b, &n2, &bytes2);
    cr_assert(n2 == 0 && bytes2 == 0);
    cr_assert_eq(dw_bodies_pick(b, &cred_a, &other, 1), 0);
    cr_assert_not(dw_bodies_takeable(cand[0]), "taken once");
    cr_assert_null(dw_bodies_take(b, cand[0], 10, strlen(T1_NEXT)));
    /* the new body is kept in its buffer; the taken entry goes with its last reference, the buffer
     * stays (ASan: no double free, no leak) */
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&rq, p, strlen(T1_NEXT), 1 << 20, &err), 0);
    dw_digest_t *keys = malloc(rq.items.n * sizeof(*keys));
    for (size_t i = 0; i < rq.items.n; i++)
        dw_transcripts_item_key(rq.items.v[i].p, rq.items.v[i].n, &keys[i]);
    dw_body_t *e = dw_bodies_put(b, &cred_a, p, strlen(T1_NEXT), &rq, keys, cand[0], 1);
    cr_assert_not_null(e);
    dw_request_free(&rq);
    dw_bodies_unref(cand[0]);
    dw_bodies_counts(b, &n2, &bytes2);
    cr_assert(n2 == 1 && bytes2 == strlen(T1_NEXT) + 3 * (sizeof(dw_span_t) + sizeof(dw_digest_t)) +
                                       3 * sizeof(dw_member_t));
    cr_assert(memcmp(e->p, T1_NEXT, strlen(T1_NEXT)) == 0);
    dw_bodies_unref(e);
    dw_bodies_free(b);
}

Test(bodies, a_kept_body_is_taken_only_when_every_item_of_it_is_shared)
{
    dw_bodies_t *b = dw_bodies_new(1 << 20, 1000);
    const char *kept = "{\"model\":\"m\",\"input\":[{\"a\":1},5],\"tools\":[{\"type\":\"function\",\"name\":\"long\"}]}";
    dw_bodies_unref(keep(b, &cred_a, kept, NULL, 0));
    dw_body_t *cand[4];
    cr_assert_eq(dw_bodies_pick(b, &cred_a, cand, 4), 1);
    size_t skipped_to;
    /* the last item changed: not taken, and nothing changes */
    cr_assert_null(take_and_read(b, cand[0], "{\"model\":\"m\",\"input\":[{\"a\":1},6]}", &skipped_to));
    /* the 5 ends where the shared bytes do: the byte after it, which ends it, is not shared */
    cr_assert_null(take_and_read(b, cand[0], "{\"model\":\"m\",\"input\":[{\"a\":1},56]}", &skipped_to));
    cr_assert_null(dw_bodies_take(b, cand[0], strlen(kept), strlen(kept) - 1), "more shared than the new body has");
    size_t n, bytes;
    dw_bodies_counts(b, &n, &bytes);
    cr_assert_eq(n, 1);
    cr_assert_eq(cand[0]->nmembers, 3);
    /* a shorter body sharing every item: the buffer shrinks */
    char *p = take_and_read(b, cand[0], "{\"model\":\"m\",\"input\":[{\"a\":1},5]}", &skipped_to);
    cr_assert_not_null(p);
    cr_assert_eq(cand[0]->nmembers, 2, "the tools' bytes are the new body's: that member is not read any more");
    dw_bodies_unref(cand[0]);
    free(p);
    /* the new body goes on in its input past the last item: the input is cut where the shared bytes
     * end */
    dw_bodies_unref(keep(b, &cred_b, "{\"model\":\"m\",\"input\":[{\"a\":1},{\"b\":5}],\"tools\":[{\"name\":\"long\"}]}",
                         NULL, 0));
    cr_assert_eq(dw_bodies_pick(b, &cred_b, cand, 4), 1);
    p = take_and_read(b, cand[0], "{\"model\":\"m\",\"input\":[{\"a\":1},{\"b\":5},7]}", &skipped_to);
    cr_assert_not_null(p);
    cr_assert_eq(cand[0]->nmembers, 2);
    cr_assert_eq(cand[0]->members[1].value.n, strlen("[{\"a\":1},{\"b\":5}"));
    dw_bodies_unref(cand[0]);
    free(p);
    dw_bodies_counts(b, &n, &bytes);
    cr_assert(n == 0 && bytes == 0);
    dw_bodies_free(b);
}

Test(bodies, a_picked_body_dropped_from_the_store_meanwhile_is_taken_by_its_last_holder)
{
    dw_body_t *cand[4];
    dw_bodies_t *b = kept_t1(cand);
    dw_bodies_sweep(b, 5000); /* dropped: the pick's reference is the last */
    size_t n, bytes, skipped_to;
    dw_bodies_counts(b, &n, &bytes);
    cr_assert(n == 0 && bytes == 0);
    cr_assert(dw_bodies_takeable(cand[0]));
    char *p = take_and_read(b, cand[0], T1_NEXT, &skipped_to);
    cr_assert_not_null(p);
    dw_bodies_counts(b, &n, &bytes);
    cr_assert(n == 0 && bytes == 0, "counted once, when it was dropped");
    dw_bodies_unref(cand[0]);
    free(p);
    dw_bodies_free(b);
}
