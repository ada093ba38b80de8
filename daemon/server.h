/* server.h - the daemon's one owner of shared state: the event loop, the
 * live config, listeners, connections, the Redis link, the password pool
 * and the counters.  Signals arrive here through libevent. */
#ifndef HOTLINE_SERVER_H
#define HOTLINE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "stats.h"

struct listener;
struct tls;
struct redis_link;
struct pwhash_pool;
struct journal;
struct spooler;
struct tailer;
struct metrics;
struct durability;
struct sentinel;
struct loss;
struct addr_throttle;

struct server {
	struct event_base *base;
	struct config *cfg; /* live config; replaced whole on reload */

	struct listener *listeners[CONFIG_MAX_LISTEN];
	size_t n_listeners;
	struct listener *tls_listener; /* NULL when tls.listen is not set */
	struct tls *tls;               /* its certificate, reloaded on SIGHUP */
	uint64_t tls_handshake_failures;

	struct conn_list conns;
	struct conn_list reap; /* closed, to free after this loop iteration */
	struct event *reaper;
	TAILQ_HEAD(, conn) flushq; /* with output to write at the end of this loop iteration */
	struct event *flusher;
	uint64_t next_conn_id;

	struct sentinel *sentinel; /* NULL unless redis.sentinels is set */
	struct redis_link *redis;
	struct journal *journal;
	struct loss *loss; /* acknowledged entries Redis may have lost */
	struct spooler *spooler;
	struct tailer *tailer;
	struct metrics *metrics; /* the Prometheus endpoint; NULL when off */
	struct durability *durability; /* Redis's persistence settings, redis.durability */
	struct pwhash_pool *pwhash;
	struct addr_throttle *auth_throttle; /* failed AUTHs per source address */
	char instance_name[128]; /* "hotlined:<host>:<pid>": its Redis client name, and in lost records */
	char dummy_hash[256]; /* checked for unknown users so timing reveals nothing */

	struct stats stats;

	struct event *sig_hup, *sig_term, *sig_int, *watchdog;
	struct event *drain_deadline;
	bool shutting_down;
	int exit_code;
};

/* Build everything from cfg (takes ownership).  NULL on failure (logged). */
struct server *server_new(struct config *cfg);
int server_run(struct server *srv); /* returns the process exit code */
void server_free(struct server *srv);

/* Called by conn.c. */
void server_conn_closed(struct server *srv, struct conn *c);
/* Write c's output once the callbacks of this loop iteration have run, so
 * every reply they produced for it leaves in one system call. */
void server_schedule_flush(struct server *srv, struct conn *c);
/* True when the daemon is draining and c may be let go. */
void server_conn_idle(struct server *srv, struct conn *c);

#endif
