/* The h2o front end: listener, HTTP/1.1 and cleartext HTTP/2, routing to the exchange. */
#ifndef DW_FRONTEND_H
#define DW_FRONTEND_H

#include "proxy/proxy.h"

typedef struct dw_frontend dw_frontend_t;

/* Starts listening on cfg's address. Returns NULL on failure (message printed). On success the
 * bound port (useful with port 0) is in *bound_port. */
dw_frontend_t *dw_frontend_start(dw_proxy_t *px, int *bound_port);
/* Stops accepting new connections; requests in flight go on. */
void dw_frontend_stop_accepting(dw_frontend_t *fe);

#endif
