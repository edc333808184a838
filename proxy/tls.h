/* TLS contexts of the h2o side: the client context of the HTTP path to the upstream (passthrough,
 * fallback, background, --transport http) and the server context for clients (--tls-cert).
 * The WebSocket path's TLS is libwebsockets' own (upstream.c), which checks the host name itself. */
#ifndef DW_TLS_H
#define DW_TLS_H

#include <openssl/ssl.h>

/* A client context that verifies the upstream's chain against the system CAs plus ca_file (""
 * for none) AND that the certificate names `host` (a DNS name, or an IPv4/IPv6 literal, matched
 * against the IP SANs). The name is pinned in the context's verify parameters, which every SSL
 * made from it inherits: h2o 2.2.5 checks the name itself only when no handshake output is
 * pending, which under TLS 1.3 is never (security issue, item 1), so we never rely on it.
 * Returns a new context (caller frees with SSL_CTX_free), or NULL with a reason in *err
 * (static string). */
SSL_CTX *dw_tls_client_ctx(const char *host, const char *ca_file, const char **err);

/* A server context for clients: TLS 1.2 or later, HTTP/2 first over ALPN. Returns a new context,
 * or NULL with a reason in *err (static string). */
SSL_CTX *dw_tls_server_ctx(const char *cert_file, const char *key_file, const char **err);

#endif
