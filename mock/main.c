/*
 * deltawire-mock: flags (each also read from DELTAWIRE_MOCK_<FLAG>), the lws
 * context, and the service loop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "server.h"

struct dwm_config dwm_cfg = {
	.host = "127.0.0.1",
	.port = 8788,
	.max_conn_age = 3600,
	.ws_pong_timeout = 10,
	.tool_turns = 2,
	.max_message = (size_t)16 << 20,
	.max_body = (size_t)128 << 20,
	.pm_deflate = 1,
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fputs("usage: deltawire-mock [flags]\n"
	      "  --listen HOST:PORT          where to listen (127.0.0.1:8788)\n"
	      "  --tls-cert FILE --tls-key FILE  serve https/wss\n"
	      "  --max-conn-age SECONDS      WebSocket connection lifetime (3600), then\n"
	      "                              websocket_connection_limit_reached\n"
	      "  --tool-turns N --args-bytes N --text-bytes N  shape the scripted model\n"
	      "  --max-message-bytes N       a WebSocket message of N bytes or more closes the socket\n"
	      "                              with 1009 before any event (16777216, the service's 16 MiB)\n"
	      "  --max-body-bytes N          HTTP bodies above N (decoded) get 413 (134217728)\n"
	      "  --sse-keepalive SECONDS     during SSE silence, a {\"type\":\"keepalive\"} event this often (0: off)\n"
	      "  --ws-ping-interval SECONDS  ping WebSocket clients this often (0: off)\n"
	      "  --ws-pong-timeout SECONDS   then close with 1011 \"keepalive ping timeout\" (10)\n"
	      "  --permessage-deflate 0|1    accept permessage-deflate (1)\n"
	      "  --log-headers A,B           also log these request headers (lws 4.1 cannot list them all)\n"
	      "Faults, run-wide (also per request: x-mock-fault, metadata.mock_fault, POST /__mock/fault):\n"
	      "  --refuse-upgrade STATUS     answer upgrades with STATUS\n"
	      "  --close-after-events N      drop the connection after N events\n"
	      "  --first-event-delay-ms MS   wait before the first event\n"
	      "  --slow-ms MS                wait between events\n"
	      "  --error-status STATUS       fail requests with STATUS (429: rate limit, 5xx: server_error)\n"
	      "  --error-after-events N      fail mid-stream after N events (error_status or 500)\n"
	      "  --error-shape S             WebSocket envelope layout: nested|status_code|flat|headers|headers_top,\n"
	      "                              joined by '+'\n"
	      "  --retry-after-ms MS         retry-after / retry-after-ms on errors (429: 1000)\n"
	      "  --done-event                terminal event named response.done (response.status says which)\n"
	      "  --forget-cache              drop the WebSocket cache before each request\n"
	      "  --black-hole                after a response the WebSocket never reads or writes again, no FIN\n"
	      "  --stall-after-events N      stop sending after N events ...\n"
	      "  --stall-ms MS               ... for MS (0: forever)\n"
	      "  --refuse-stream-id          stream_id gets \"Unsupported parameter: stream_id\" (ChatGPT backend)\n"
	      "  --ignore-stream-id          stream_id is dropped unread: one lane, events unnamed (a server\n"
	      "                              that drops unknown fields; not the service)\n"
	      "Every flag can also be given as DELTAWIRE_MOCK_<FLAG> (upper case, '-' as '_').\n",
	      f);
}

static int parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-')
		return -1;
	*out = (size_t)n;
	return 0;
}

static int parse_int(const char *v, int *out)
{
	size_t n;

	if (parse_size(v, &n) || n > 1000000000)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	size_t hlen;

	if (!colon || colon == v || (hlen = (size_t)(colon - v)) >= sizeof(dwm_cfg.host))
		return -1;
	memcpy(dwm_cfg.host, v, hlen);
	dwm_cfg.host[hlen] = '\0';
	return parse_int(colon + 1, &dwm_cfg.port) || dwm_cfg.port > 65535 ? -1 : 0;
}

static int parse_seconds(const char *v, double *out)
{
	char *end;

	*out = strtod(v, &end);
	return *end || end == v || *out < 0 ? -1 : 0;
}

/* "a,b,c": header names the log should also capture */
static int parse_names(const char *v)
{
	while (*v) {
		size_t n = strcspn(v, ","), i;
		char *name;

		if (n) {
			if (n >= sizeof(dwm_cfg.log_headers[0]) ||
			    dwm_cfg.n_log_headers == sizeof(dwm_cfg.log_headers) / sizeof(dwm_cfg.log_headers[0]))
				return -1;
			name = dwm_cfg.log_headers[dwm_cfg.n_log_headers++];
			for (i = 0; i < n; i++)
				name[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
			name[n] = '\0';
		}
		v += n + (v[n] == ',');
	}
	return 0;
}

/* flags that take no value (a value of 0/false turns them off) */
static const char *bool_flags[] = {"forget-cache", "done-event", "black-hole", "refuse-stream-id",
				   "ignore-stream-id"};

static int is_bool_flag(const char *flag)
{
	size_t i;

	for (i = 0; i < sizeof(bool_flags) / sizeof(bool_flags[0]); i++)
		if (!strcmp(flag, bool_flags[i]))
			return 1;
	return 0;
}

/* a fault flag is its fault field with '-' as '_': one parser for every source */
static int set_fault(const char *flag, const char *v)
{
	char spec[128], *p;
	struct dwm_fault f = {0};

	if (is_bool_flag(flag))
		v = !v || (strcmp(v, "0") && strcmp(v, "false")) ? "1" : "0";
	if (!v || snprintf(spec, sizeof(spec), "%s=%s", flag, v) >= (int)sizeof(spec))
		return -1;
	for (p = spec; *p != '='; p++)
		if (*p == '-')
			*p = '_';
	if (dwm_fault_parse(&f, spec))
		return -1;
	dwm_fault_merge(&dwm_cfg.fault, &f);
	return 0;
}

static int apply(const char *flag, const char *v)
{
	if (!v && !is_bool_flag(flag))
		return -1;
	if (!strcmp(flag, "listen"))
		return parse_listen(v);
	if (!strcmp(flag, "tls-cert")) {
		dwm_cfg.tls_cert = v;
		return 0;
	}
	if (!strcmp(flag, "tls-key")) {
		dwm_cfg.tls_key = v;
		return 0;
	}
	if (!strcmp(flag, "max-conn-age"))
		return parse_seconds(v, &dwm_cfg.max_conn_age);
	if (!strcmp(flag, "tool-turns"))
		return parse_int(v, &dwm_cfg.tool_turns);
	if (!strcmp(flag, "args-bytes"))
		return parse_size(v, &dwm_cfg.args_bytes);
	if (!strcmp(flag, "text-bytes"))
		return parse_size(v, &dwm_cfg.text_bytes);
	if (!strcmp(flag, "max-message-bytes"))
		return parse_size(v, &dwm_cfg.max_message);
	if (!strcmp(flag, "max-body-bytes"))
		return parse_size(v, &dwm_cfg.max_body);
	if (!strcmp(flag, "sse-keepalive"))
		return parse_seconds(v, &dwm_cfg.sse_keepalive);
	if (!strcmp(flag, "ws-ping-interval"))
		return parse_seconds(v, &dwm_cfg.ws_ping_interval);
	if (!strcmp(flag, "ws-pong-timeout"))
		return parse_seconds(v, &dwm_cfg.ws_pong_timeout);
	if (!strcmp(flag, "permessage-deflate"))
		return parse_int(v, &dwm_cfg.pm_deflate);
	if (!strcmp(flag, "log-headers"))
		return parse_names(v);
	return set_fault(flag, v);
}

static const char *flags[] = {"listen", "tls-cert", "tls-key", "max-conn-age", "tool-turns",
			      "args-bytes", "text-bytes", "max-message-bytes", "max-body-bytes",
			      "sse-keepalive", "ws-ping-interval", "ws-pong-timeout", "permessage-deflate",
			      "log-headers",
			      "refuse-upgrade", "close-after-events", "first-event-delay-ms", "error-status",
			      "forget-cache", "slow-ms", "error-after-events", "error-shape", "retry-after-ms",
			      "done-event", "black-hole", "stall-after-events", "stall-ms", "refuse-stream-id",
			      "ignore-stream-id"};

/* environment first, so that the command line wins */
static int from_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char name[64], *p;
		const char *v;

		snprintf(name, sizeof(name), "DELTAWIRE_MOCK_%s", flags[i]);
		for (p = name; *p; p++)
			*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		if ((v = getenv(name)) && *v && apply(flags[i], v)) {
			fprintf(stderr, "deltawire-mock: bad %s=%s\n", name, v);
			return -1;
		}
	}
	return 0;
}

static int from_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL, *eq;
		char flag[64];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) || strlen(a) >= sizeof(flag) + 2)
			goto bad;
		snprintf(flag, sizeof(flag), "%s", a + 2);
		if ((eq = strchr(a, '='))) {
			flag[eq - a - 2] = '\0';
			v = eq + 1;
		} else if (!is_bool_flag(flag)) {
			if (i + 1 >= argc)
				goto bad;
			v = argv[++i];
		}
		if (apply(flag, v))
			goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "deltawire-mock: bad argument '%s'\n", argv[i]);
	usage(stderr);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct lws_protocols protocols[] = {
		{"deltawire-mock", dwm_callback, sizeof(struct dwm_pss), DWM_WS_RX_BUFFER, 0, NULL, 0},
		{NULL, NULL, 0, 0, 0, NULL, 0},
	};
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	uint64_t seed;
	int port;

	if (from_env() || from_args(argc, argv))
		return 2;
	if (!dwm_cfg.tls_cert != !dwm_cfg.tls_key) {
		fprintf(stderr, "deltawire-mock: --tls-cert and --tls-key go together\n");
		return 2;
	}
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	dwm_ids_seed(seed);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lws_set_log_level(LLL_ERR, NULL);

	memset(&info, 0, sizeof(info));
	info.port = dwm_cfg.port;
	info.iface = dwm_cfg.host;
	info.protocols = protocols;
	if (dwm_cfg.pm_deflate)
		info.extensions = dwm_ws_extensions;
	info.max_http_header_data = 32768;
	info.pt_serv_buf_size = 65536;
	info.timeout_secs = 120;
	info.keepalive_timeout = 120;
	if (strchr(dwm_cfg.host, '.'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (dwm_cfg.tls_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = dwm_cfg.tls_cert;
		info.ssl_private_key_filepath = dwm_cfg.tls_key;
		/* SSE is framed by hand for HTTP/1.1, so never negotiate h2 */
		info.alpn = "http/1.1";
	}
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "deltawire-mock: cannot listen on %s:%d\n", dwm_cfg.host, dwm_cfg.port);
		return 1;
	}
	vh = lws_get_vhost_by_name(ctx, "default");
	port = vh ? lws_get_vhost_listen_port(vh) : dwm_cfg.port;
	fprintf(stderr, "deltawire-mock: listening on %s:%d\n", dwm_cfg.host, port);
	fflush(stderr);

	while (!stopping)
		if (lws_service(ctx, 0) < 0)
			break;
	lws_context_destroy(ctx);
	dwm_log_reset();
	dwm_store_reset();
	dwm_script_reset();
	return 0;
}
