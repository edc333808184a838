/* deltawire: the process. One libuv loop shared by the h2o front end and the lws upstream. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/demo.h"
#include "proxy/frontend.h"
#include "proxy/log.h"
#include "proxy/proxy.h"

/* Shadow-transcript bounds besides --max-conversations: raw-item cache entries, aliases. */
#define DW_MAX_ITEMS_CACHED (1u << 18)
#define DW_MAX_ALIASES (1u << 18)

typedef struct {
    dw_proxy_t px;
    dw_frontend_t *fe;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain;
    uv_timer_t memory_sweep;
    int stopping;
    uint64_t drain_started_ms;
} dw_main_t;

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void on_drain_tick(uv_timer_t *t)
{
    dw_main_t *m = t->data;
    uint64_t waited = uv_now(t->loop) - m->drain_started_ms;
    if (m->px.inflight > 0 && waited < (uint64_t)(m->px.cfg->drain_timeout * 1000))
        return;
    if (m->px.inflight > 0)
        dw_log(DW_LOG_WARN, "\"event\":\"drain_timeout\",\"message\":\"in-flight responses cut at the drain timeout\"");
    uv_timer_stop(t);
    dw_upstream_shutdown(m->px.upstream);
    /* let lws and h2o run their close callbacks before the loop stops */
    uv_timer_start(t, on_stop_timer, 50, 0);
}

/* Every 10 s: kept bodies unused for --idle-timeout go, and the heap's free pages go back to the
 * system (see the mallopt calls in main): the blocks that growing tables leave behind, and the
 * bodies of turns that are over. */
static void on_memory_sweep(uv_timer_t *t)
{
    dw_main_t *m = t->data;
    if (m->px.bodies != NULL)
        dw_bodies_sweep(m->px.bodies, uv_now(t->loop));
    malloc_trim(0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    dw_main_t *m = s->data;
    (void)signum;
    if (m->stopping)
        return;
    m->stopping = 1;
    m->px.draining = 1;
    m->drain_started_ms = uv_now(s->loop);
    dw_frontend_stop_accepting(m->fe);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_timer_start(&m->drain, on_drain_tick, 0, 20);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "demo") == 0)
        return dw_demo_main(argc - 1, argv + 1);
    dw_config_t cfg;
    int rc = dw_config_load(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    dw_log_level = cfg.log_level;
    /* Each turn brings a body of up to megabytes, read by h2o and copied for the thread pool. Served
     * from mmap, as glibc does above 128 KiB, every page of each is a fresh page fault (18% of the
     * CPU of a 4 MB history turn under perf); from the heap they reuse the last turn's pages.
     * 32 MiB is glibc's largest threshold. Free memory at the heap's top beyond 32 MiB goes back at
     * once, the rest within 10 s (on_memory_sweep). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);

    static dw_main_t m;
    uv_loop_t *loop = uv_default_loop();
    m.px.cfg = &cfg;
    m.px.loop = loop;

    char ws_path[600];
    snprintf(ws_path, sizeof(ws_path), "%s/responses", cfg.up_base_path);
    m.px.upstream = dw_upstream_new(loop, cfg.up_tls, cfg.up_host, cfg.up_port, ws_path, cfg.upstream_ca,
                                     cfg.upstream_deflate);
    m.px.transcripts = dw_transcripts_new(cfg.max_conversations, DW_MAX_ITEMS_CACHED, DW_MAX_ALIASES);
    /* --body-memory 0: none, and no body is copied to be kept */
    m.px.bodies = cfg.body_memory > 0 ? dw_bodies_new(cfg.body_memory, (uint64_t)(cfg.idle_timeout * 1000)) : NULL;
    if (m.px.upstream == NULL || m.px.transcripts == NULL || (m.px.bodies == NULL && cfg.body_memory > 0))
        return 1;
    uv_timer_init(loop, &m.memory_sweep);
    m.memory_sweep.data = &m;
    uv_timer_start(&m.memory_sweep, on_memory_sweep, 10000, 10000);
    uv_unref((uv_handle_t *)&m.memory_sweep);
    dw_upstream_keepalive(m.px.upstream, cfg.upstream_ping_interval, cfg.upstream_pong_timeout);
    m.px.pool = dw_pool_new(loop, &cfg, m.px.upstream, dw_proxy_conn_closed, &m.px);
    if (m.px.pool == NULL)
        return 1;

    int port = 0;
    m.fe = dw_frontend_start(&m.px, &port);
    if (m.fe == NULL)
        return 1;
    dw_config_default_instance(&cfg, port);

    uv_signal_init(loop, &m.sigterm);
    uv_signal_init(loop, &m.sigint);
    m.sigterm.data = m.sigint.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_timer_init(loop, &m.drain);
    m.drain.data = &m;

    fprintf(stderr, "deltawire: listening on %s:%d, upstream %s\n", cfg.listen_host, port, cfg.upstream);
    fflush(stderr);
    uv_run(loop, UV_RUN_DEFAULT);

    dw_buf_t summary = {0};
    if (dw_metrics_summary(&summary, &m.px.metrics) == 0)
        fprintf(stderr, "deltawire: %.*s\n", (int)summary.len, summary.p);
    dw_buf_free(&summary);

    /* The h2o context is left to the exit: idle keep-alive connections may still be linked to it,
     * and h2o 2.2 asserts when a context with live connections is disposed. */
    dw_pool_free(m.px.pool);
    dw_upstream_free(m.px.upstream);
    dw_transcripts_free(m.px.transcripts);
    dw_bodies_free(m.px.bodies);
    return 0;
}
