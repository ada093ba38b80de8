/* conn.h - one client connection: framing, the in-order reply queue, limits.
 *
 * Replies leave in request order even when requests complete out of order
 * (Redis round trips, password checks): each request takes a slot in the
 * connection's FIFO when it is read, and a reply is written only once every
 * earlier slot has its reply.  When the connection goes away first, its
 * outstanding requests become orphans (req->conn == NULL): whoever completes
 * them frees them through the same request_reply_* call.
 */
#ifndef HOTLINE_CONN_H
#define HOTLINE_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <jansson.h>

#include "addr_throttle.h"
#include "config.h"
#include "log.h"
#include "proto.h"

struct server;
struct tail_sub;
struct tls;

/* Told the outcome of a request that has no client to answer (a replay). */
typedef void request_observer_fn(void *arg, const char *err_code /* NULL = OK */, const char *line);

struct request {
	struct request *next;
	struct conn *conn; /* NULL once the connection has gone, or for a replay */
	struct server *srv;
	char user[CONFIG_NAME_MAX + 1]; /* who the request acts as */
	enum role role;
	char replayed_by[CONFIG_NAME_MAX + 1]; /* the replay account acting as `user`; "" otherwise */
	int verb; /* index in the command table, -1 before lookup */
	uint64_t started_ns; /* when the line was read, for the latency histogram */
	request_observer_fn *observer;
	void *observer_arg;
	long long replay_at_ms; /* a spooled write replayed: when it happened; 0 = live */
	void (*on_written)(void *arg); /* after the reply is queued on the socket (TAIL starts pushing) */
	void *on_written_arg;
	char *reply;       /* formatted line, set when done */
	size_t reply_len;
	bool done;
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) flush_entry; /* in the server's write queue (flush_queued) */
	struct server *srv;
	struct bufferevent *bev;
	uint64_t id;
	char peer[64];
	struct addr_key addr; /* what failed AUTHs are counted under (auth.c) */

	struct proto_framer framer;
	enum role role;
	char user[CONFIG_NAME_MAX + 1];
	unsigned auth_failures;

	struct request *head, *tail; /* reply FIFO */
	unsigned n_pending;          /* slots without a reply yet */

	struct event *timer; /* auth / idle timeout */
	struct tail_sub *tails[2]; /* live tails by stream (tail.c) */
	bool processing;     /* inside conn_process_input: don't recurse */
	bool barrier;        /* a session-changing request (AUTH) is in flight: read no further lines */
	bool read_paused;    /* max_pending reached */
	bool close_when_flushed;
	bool eof; /* the client half-closed: answer what it sent, then close */
	bool closed;
	bool tls;         /* accepted on the TLS listener */
	bool tls_open;    /* ... and its handshake has completed */
	bool tls_failed;  /* a TLS error: no close_notify on the way out */
	bool flush_queued; /* output waits for the end of this loop iteration */
};

TAILQ_HEAD(conn_list, conn);

/* glibc's sys/queue.h lacks the _SAFE iterator (BSD has it). */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                                           \
	for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

struct conn *conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *addr, int addrlen);

/* The same over TLS with tls's current context: requests are read once the
 * handshake completes; a failed handshake closes the connection (logged,
 * counted in srv->tls_handshake_failures).  The auth deadline also bounds
 * the handshake.  Takes the socket, closing it on failure (NULL). */
struct conn *conn_new_tls(struct server *srv, evutil_socket_t fd, const struct sockaddr *addr, int addrlen,
                          struct tls *tls);

/* The one close path: logs why, stops I/O, orphans pending requests and
 * hands the memory to the server's reaper (never freed inside its own
 * callback). */
void conn_close(struct conn *c, const char *reason);

/* Read no more requests; close once every reply has been written. */
void conn_close_after_replies(struct conn *c);

/* Hold back further lines until conn_release_barrier: the next request's
 * meaning depends on this one's outcome (AUTH changes the role). */
void conn_set_barrier(struct conn *c);
void conn_release_barrier(struct conn *c);

/* Push a server-initiated line ("* kind {json}") then close once written. */
void conn_say_goodbye(struct conn *c, const char *reason);

/* A fresh reply slot at the tail of c's FIFO. NULL on allocation failure. */
struct request *conn_request_new(struct conn *c, int verb);

/* A request acting as user/role with no client connection (spool replay):
 * its reply goes to observer, then the request is freed. */
struct request *request_new_detached(struct server *srv, const char *user, enum role role, int verb,
                                     request_observer_fn *observer, void *arg);

/* Complete a request.  Takes ownership of nothing but the request itself
 * (body is borrowed).  Safe on orphans: they are freed. */
void request_reply_ok(struct request *req, const json_t *body);
void request_reply_err(struct request *req, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void request_reply_verr(struct request *req, const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Set the role after a successful AUTH (raises the line cap, switches the
 * timeout from the auth deadline to the idle timeout). */
void conn_set_identity(struct conn *c, const char *user, enum role role);
void conn_clear_identity(struct conn *c);

/* Re-apply limits from the current config (after a reload). */
void conn_apply_limits(struct conn *c);

/* Queue a server-pushed line ("* kind {json}\n"); false when it would
 * take the output past `cap` bytes (nothing queued then). */
bool conn_push(struct conn *c, const char *line, size_t len, size_t cap);
size_t conn_output_pending(const struct conn *c);

/* Write what is queued for c (plaintext connections write their output
 * themselves, once per loop iteration; see conn.c).  Only the server's
 * write queue calls this. */
void conn_flush(struct conn *c);

/* Drop every orphan and free c; only the server's reaper calls this. */
void conn_free(struct conn *c);

/* Per-connection log lines, prefixed with the connection id, peer and user. */
#define clog(c, level, fmt, ...)                                                                            \
	log_msg(level, "conn %llu %s%s%s: " fmt, (unsigned long long)(c)->id, (c)->peer,                      \
	        (c)->user[0] ? " user=" : "", (c)->user, ##__VA_ARGS__)
#define clog_info(c, ...) clog(c, LOG_LEVEL_INFO, __VA_ARGS__)
#define clog_warn(c, ...) clog(c, LOG_LEVEL_WARN, __VA_ARGS__)
#define clog_debug(c, ...)                                                                                   \
	do {                                                                                                 \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                            \
			clog(c, LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
	} while (0)

#endif
