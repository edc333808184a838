/* translate/buf: growth, JSON string escaping, and the out-of-memory contract (buffer unchanged). */
#include <stdint.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "translate/buf.h"

/* Under ASan, a failed huge allocation returns NULL (as glibc does) instead of aborting, so the
 * out-of-memory paths below are exercised the same way in every build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void assert_bytes(const dw_buf_t *b, const char *want)
{
    cr_assert_eq(b->len, strlen(want), "len %zu, want %zu (%.*s)", b->len, strlen(want), (int)b->len, b->p);
    cr_assert(memcmp(b->p, want, b->len) == 0, "got %.*s, want %s", (int)b->len, b->p, want);
}

Test(buf, starts_empty_and_appends)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append(&b, "", 0), 0);
    cr_assert_null(b.p, "an empty append allocates nothing");
    cr_assert_eq(dw_buf_append_str(&b, "abc"), 0);
    cr_assert_eq(dw_buf_append(&b, "defg", 2), 0);
    assert_bytes(&b, "abcde");
    cr_assert_geq(b.cap, b.len);
    dw_buf_free(&b);
    cr_assert_null(b.p);
    cr_assert_eq(b.len + b.cap, 0);
}

Test(buf, grows_past_many_doublings_and_keeps_content)
{
    dw_buf_t b = {0};
    char chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)('a' + i % 26);
    for (int i = 0; i < 3000; i++)
        cr_assert_eq(dw_buf_append(&b, chunk, sizeof chunk), 0);
    cr_assert_eq(b.len, 3000 * sizeof chunk);
    for (int i = 0; i < 3000; i++)
        cr_assert(memcmp(b.p + (size_t)i * sizeof chunk, chunk, sizeof chunk) == 0, "chunk %d differs", i);
    dw_buf_free(&b);
}

Test(buf, reserve_gives_room_without_changing_len)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append_str(&b, "xy"), 0);
    cr_assert_eq(dw_buf_reserve(&b, 5000), 0);
    cr_assert_eq(b.len, 2);
    cr_assert_geq(b.cap - b.len, 5000);
    char *p = b.p;
    cr_assert_eq(dw_buf_reserve(&b, 10), 0);
    cr_assert_eq(b.p, p, "room that exists is not reallocated");
    dw_buf_free(&b);
}

Test(buf, reset_keeps_allocation)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append_str(&b, "hello"), 0);
    size_t cap = b.cap;
    dw_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, cap);
    cr_assert_eq(dw_buf_append_str(&b, "x"), 0);
    assert_bytes(&b, "x");
    dw_buf_free(&b);
    dw_buf_free(&b); /* freeing twice is harmless: the buffer is empty after the first */
}

Test(buf, json_string_escapes)
{
    dw_buf_t b = {0};
    const char in[] = "q\"b\\s/\x01\n\r\t\x1f\x7f caf\xc3\xa9";
    cr_assert_eq(dw_buf_append_json_string(&b, in, sizeof in - 1), 0);
    assert_bytes(&b, "\"q\\\"b\\\\s/\\u0001\\u000a\\u000d\\u0009\\u001f\x7f caf\xc3\xa9\"");
    /* and a JSON parser reads back the original bytes */
    json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v);
    cr_assert_eq(json_string_length(v), sizeof in - 1);
    cr_assert(memcmp(json_string_value(v), in, sizeof in - 1) == 0);
    json_decref(v);
    dw_buf_free(&b);
}

Test(buf, json_string_keeps_nul_and_empty)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append_json_string(&b, "", 0), 0);
    cr_assert_eq(dw_buf_append_json_string(&b, "a\0b", 3), 0);
    assert_bytes(&b, "\"\"\"a\\u0000b\"");
    dw_buf_free(&b);
}

Test(buf, json_string_worst_case_fits)
{
    /* every byte a control character: 6 output bytes each, the reserve's worst case */
    dw_buf_t b = {0};
    char in[300];
    memset(in, 0x01, sizeof in);
    cr_assert_eq(dw_buf_append_json_string(&b, in, sizeof in), 0);
    cr_assert_eq(b.len, sizeof in * 6 + 2);
    cr_assert_leq(b.len, b.cap);
    dw_buf_free(&b);
}

Test(buf, out_of_memory_leaves_buffer_unchanged)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append_str(&b, "keep"), 0);
    char *p = b.p;
    size_t cap = b.cap;
    cr_assert_eq(dw_buf_reserve(&b, SIZE_MAX / 4), -1);
    cr_assert_eq(dw_buf_append(&b, "x", SIZE_MAX / 4), -1, "the reserve fails before any byte is read");
    cr_assert_eq(b.p, p);
    cr_assert_eq(b.cap, cap);
    assert_bytes(&b, "keep");
    dw_buf_free(&b);
}

Test(buf, sizes_that_overflow_are_refused)
{
    /* len + extra and n * 6 + 2 would wrap around: refused, never a short buffer or an endless loop */
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append_str(&b, "keep"), 0);
    cr_assert_eq(dw_buf_reserve(&b, SIZE_MAX), -1);
    cr_assert_eq(dw_buf_reserve(&b, SIZE_MAX - 2), -1);
    cr_assert_eq(dw_buf_reserve(&b, SIZE_MAX / 2 + 2), -1);
    cr_assert_eq(dw_buf_append_json_string(&b, "x", SIZE_MAX / 6 + 1), -1);
    assert_bytes(&b, "keep");
    dw_buf_free(&b);
}
