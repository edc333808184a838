/*
 * Chained digests over a transcript.
 *
 * The link after items i1..ik is H(...H(H(seed || i1) || i2)... || ik), so a
 * link identifies the whole prefix, in order, and no client can make two
 * different prefixes meet without a SHA-256 collision. The seed is derived
 * from the caller's credential digest, which binds every chain, and so
 * every record keyed by a link, to those credentials.
 */
#ifndef DW_STATE_CHAIN_H
#define DW_STATE_CHAIN_H

#include "translate/digest.h"

/* *link = H("dw-chain-v1\0" || cred) */
void dw_chain_seed(dw_digest_t *link, const dw_digest_t *cred);

/* *link = H(*link || item) */
void dw_chain_next(dw_digest_t *link, const dw_digest_t *item);

#endif
