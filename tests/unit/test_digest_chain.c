#include <string.h>
#include <criterion/criterion.h>
#include "translate/digest.h"
#include "state/chain.h"

/* Lowercase hex of a digest, NUL-terminated. */
static void hex_of(const dw_digest_t *d, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof d->b; i++) {
        out[2 * i] = hex[d->b[i] >> 4];
        out[2 * i + 1] = hex[d->b[i] & 15];
    }
    out[64] = '\0';
}

Test(digest, known_vectors)
{
    dw_digest_t d;
    char hex[65];
    dw_digest_bytes(&d, "abc", 3);
    hex_of(&d, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    dw_digest_bytes(&d, "", 0);
    hex_of(&d, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(digest, streaming_equals_one_shot)
{
    static char buf[100000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 7);
    dw_digest_t a, b;
    dw_digest_ctx_t c;
    dw_digest_bytes(&a, buf, sizeof buf);
    dw_digest_init(&c);
    dw_digest_update(&c, buf, 1);
    dw_digest_update(&c, buf + 1, 4095);
    dw_digest_update(&c, buf + 4096, sizeof buf - 4096);
    dw_digest_final(&c, &b);
    cr_assert(dw_digest_eq(&a, &b));
    b.b[31] ^= 1;
    cr_assert(!dw_digest_eq(&a, &b));
}

static void chain_of(const dw_digest_t *cred, const char *const *items, size_t n, dw_digest_t *link)
{
    dw_chain_seed(link, cred);
    for (size_t i = 0; i < n; i++) {
        dw_digest_t d;
        dw_digest_bytes(&d, items[i], strlen(items[i]));
        dw_chain_next(link, &d);
    }
}

Test(chain, order_content_and_credential_matter)
{
    dw_digest_t cred1, cred2, a, b;
    dw_digest_bytes(&cred1, "key-1", 5);
    dw_digest_bytes(&cred2, "key-2", 5);
    const char *ab[] = {"a", "b"}, *ba[] = {"b", "a"}, *abc[] = {"a", "b", "c"};

    chain_of(&cred1, ab, 2, &a);
    chain_of(&cred1, ab, 2, &b);
    cr_assert(dw_digest_eq(&a, &b));
    chain_of(&cred1, ba, 2, &b);
    cr_assert(!dw_digest_eq(&a, &b), "order must matter");
    chain_of(&cred2, ab, 2, &b);
    cr_assert(!dw_digest_eq(&a, &b), "credentials must matter");
    chain_of(&cred1, abc, 3, &b);
    cr_assert(!dw_digest_eq(&a, &b));
    chain_of(&cred1, abc, 1, &b);
    cr_assert(!dw_digest_eq(&a, &b));
}

Test(chain, seed_is_domain_separated)
{
    dw_digest_t cred, seed, plain;
    dw_digest_bytes(&cred, "k", 1);
    dw_chain_seed(&seed, &cred);
    dw_digest_bytes(&plain, cred.b, sizeof cred.b);
    cr_assert(!dw_digest_eq(&seed, &plain));
}
