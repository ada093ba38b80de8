/* listener.h - one listening socket (evconnlistener) feeding the server. */
#ifndef HOTLINE_LISTENER_H
#define HOTLINE_LISTENER_H

#include "config.h"

struct server;
struct listener;
struct tls;

/* Bind and listen; logs "listening on HOST:PORT" with the real port (the
 * kernel picks it when the config says 0).  NULL on failure (logged). */
struct listener *listener_new(struct server *srv, const struct config_listen *cfg);

/* The same for TLS connections with tls's current context (tls.h; not
 * owned); logs "listening on HOST:PORT (tls)". */
struct listener *listener_new_tls(struct server *srv, const struct config_listen *cfg, struct tls *tls);
void listener_free(struct listener *l);

#endif
