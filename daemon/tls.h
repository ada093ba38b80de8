/* tls.h - the TLS listener's OpenSSL context and the OpenSSL side of its
 * connections (libevent's bufferevent_openssl).
 *
 * The context (certificate chain + key, TLS 1.2 or later) is built from the
 * config at start and rebuilt on SIGHUP.  A rebuilt context serves only new
 * connections: each connection's SSL holds a reference to the context it
 * was accepted with, so existing sessions go on undisturbed.  When the new
 * certificate or key does not load, the previous context stays in use.
 */
#ifndef HOTLINE_TLS_H
#define HOTLINE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"

struct tls;

/* Load cfg->certificate and cfg->key; logs what was loaded.  NULL on
 * failure (logged). */
struct tls *tls_new(const struct config_tls *cfg);

/* Build a new context from cfg and use it for new connections; on failure
 * log it and keep the previous one.  True when the new one is in use. */
bool tls_reload(struct tls *t, const struct config_tls *cfg);

void tls_free(struct tls *t);

/* A server-side TLS bufferevent on an accepted socket, in the handshake
 * (state ACCEPTING), with deferred callbacks and dirty shutdowns allowed.
 * Takes the socket: on failure (NULL) it is closed. */
struct bufferevent *tls_bufferevent_new(struct tls *t, struct event_base *base, evutil_socket_t fd);

/* Why a TLS bufferevent failed, from the OpenSSL errors it recorded (they
 * are consumed); `fallback` when it recorded none. */
void tls_error_text(struct bufferevent *bev, const char *fallback, char *out, size_t outlen);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" of an established session. */
void tls_describe_session(struct bufferevent *bev, char *out, size_t outlen);

/* libevent 2.1's OpenSSL bufferevent stops reading at the input high-water
 * mark even when OpenSSL already holds decrypted bytes, and re-enabling
 * reading then only waits for the socket, which stays quiet while the
 * client waits for its replies.  Call after draining input: when reading is
 * on, there is room under the high-water mark and OpenSSL has bytes
 * pending, the bufferevent's read handler is run once more. */
void tls_resume_reading(struct bufferevent *bev);

/* Send close_notify without waiting (best effort, before closing). */
void tls_shutdown(struct bufferevent *bev);

#endif
