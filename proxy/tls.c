#include "proxy/tls.h"

#include <arpa/inet.h>

#include <h2o.h>
#include <openssl/x509v3.h>

/* Pins the expected name: an IP literal must match an IP SAN, anything else a DNS SAN (no
 * partial wildcards such as "f*.example.com"). */
static int pin_host(SSL_CTX *ctx, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, host, 0) == 1 ? 0 : -1;
}

SSL_CTX *dw_tls_client_ctx(const char *host, const char *ca_file, const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        *err = "cannot create a TLS client context";
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_verify_paths(ctx);
    if (ca_file[0] != '\0' && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        *err = "cannot load the --upstream-ca file";
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (pin_host(ctx, host) != 0) {
        *err = "cannot set the upstream host name for certificate verification";
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *dw_tls_server_ctx(const char *cert_file, const char *key_file, const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        *err = "cannot create a TLS server context";
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        *err = "cannot use the --tls-cert certificate with the --tls-key key";
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}
