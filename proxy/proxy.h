/* The process-wide state of one deltawire worker: configuration, the shared libuv loop, the
 * upstream side and the shadow transcripts. */
#ifndef DW_PROXY_H
#define DW_PROXY_H

#include <h2o.h>

#include "proxy/config.h"
#include "proxy/pool.h"
#include "proxy/upstream.h"
#include "state/transcripts.h"

typedef struct {
    const dw_config_t *cfg;
    uv_loop_t *loop;
    dw_upstream_t *upstream;
    dw_pool_t *pool;
    dw_transcripts_t *transcripts;
    size_t inflight;
} dw_proxy_t;

#endif
