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
	.tool_turns = 2,
	.max_message = (size_t)128 << 20,
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fputs("usage: deltawire-mock [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n"
	      "  [--max-conn-age SECONDS] [--tool-turns N] [--args-bytes N] [--text-bytes N]\n"
	      "  [--max-message-bytes N] [--refuse-upgrade STATUS] [--close-after-events N]\n"
	      "  [--first-event-delay-ms MS] [--error-status STATUS] [--forget-cache] [--slow-ms MS]\n"
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

static int set_fault_field(unsigned bit, int *field, const char *v)
{
	if (parse_int(v, field))
		return -1;
	dwm_cfg.fault.set |= bit;
	return 0;
}

static int apply(const char *flag, const char *v)
{
	char *end;

	if (!strcmp(flag, "forget-cache")) {
		dwm_cfg.fault.set |= DWM_F_FORGET_CACHE;
		dwm_cfg.fault.forget_cache = !v || (strcmp(v, "0") && strcmp(v, "false"));
		return 0;
	}
	if (!v)
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
	if (!strcmp(flag, "max-conn-age")) {
		dwm_cfg.max_conn_age = strtod(v, &end);
		return *end || end == v || dwm_cfg.max_conn_age < 0 ? -1 : 0;
	}
	if (!strcmp(flag, "tool-turns"))
		return parse_int(v, &dwm_cfg.tool_turns);
	if (!strcmp(flag, "args-bytes"))
		return parse_size(v, &dwm_cfg.args_bytes);
	if (!strcmp(flag, "text-bytes"))
		return parse_size(v, &dwm_cfg.text_bytes);
	if (!strcmp(flag, "max-message-bytes"))
		return parse_size(v, &dwm_cfg.max_message);
	if (!strcmp(flag, "refuse-upgrade"))
		return set_fault_field(DWM_F_REFUSE_UPGRADE, &dwm_cfg.fault.refuse_upgrade, v);
	if (!strcmp(flag, "close-after-events"))
		return set_fault_field(DWM_F_CLOSE_AFTER, &dwm_cfg.fault.close_after_events, v);
	if (!strcmp(flag, "first-event-delay-ms"))
		return set_fault_field(DWM_F_FIRST_DELAY, &dwm_cfg.fault.first_event_delay_ms, v);
	if (!strcmp(flag, "error-status"))
		return set_fault_field(DWM_F_ERROR_STATUS, &dwm_cfg.fault.error_status, v);
	if (!strcmp(flag, "slow-ms"))
		return set_fault_field(DWM_F_SLOW, &dwm_cfg.fault.slow_ms, v);
	return -1;
}

static const char *flags[] = {"listen", "tls-cert", "tls-key", "max-conn-age", "tool-turns",
			      "args-bytes", "text-bytes", "max-message-bytes", "refuse-upgrade",
			      "close-after-events", "first-event-delay-ms", "error-status",
			      "forget-cache", "slow-ms"};

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
		} else if (strcmp(flag, "forget-cache")) {
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
		{"deltawire-mock", dwm_callback, sizeof(struct dwm_pss), 65536, 0, NULL, 0},
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
