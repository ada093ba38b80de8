/* bench_loop.h - one event loop of `hotline bench` (one per --threads) and
 * the run configuration they share.
 *
 * A loop owns a slice of the connections.  It first connects and logs them
 * in (a bounded number at a time: Argon2id checks are slow on purpose and
 * the daemon refuses more than limits.max_auth_inflight at once), then,
 * once every loop is ready, runs the workload: optional warmup (nothing
 * recorded), then a duration or a share of the request count, then a
 * drain during which no transaction is started and the replies still owed
 * come in.  Login is never part of the figures.
 */
#ifndef HOTLINE_BENCH_LOOP_H
#define HOTLINE_BENCH_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "bench_stats.h"
#include "bench_workload.h"

#define BENCH_SECRET_MAX 512
#define BENCH_DRAIN_S    10 /* replies still owed after the end are waited for this long */

/* The run, read-only once the loops start. */
struct bench_config {
	struct bench_workload wl;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char target[300]; /* as shown */
	unsigned connections, pipeline, threads;
	double warmup_s, duration_s;
	unsigned long long requests; /* 0: run for duration_s */
	char users_prefix[32];
	unsigned users; /* accounts <prefix>0001..: connection i logs in as account i % users + 1 */
	char secret[BENCH_SECRET_MAX];
	uint64_t seed;
	bool quiet;
};

struct bench_conn;

struct bench_loop {
	const struct bench_config *cfg;
	unsigned index;
	struct event_base *base;
	struct bench_conn *conns;
	unsigned n_conns, first_conn; /* global index of conns[0] */
	struct bench_stats *stats;

	/* login */
	unsigned next_to_connect, connecting, auth_inflight, auth_limit;
	unsigned *auth_queue; /* ring of conns waiting to send AUTH */
	unsigned auth_head, auth_count;
	unsigned settled; /* ready or failed */
	struct event *tick, *pump_ev;
	bool logging_in;

	/* run */
	bool measuring, stopping;
	unsigned long long budget; /* measured requests still to start (with --requests) */
	unsigned active;           /* connections that started the run */
	unsigned done;             /* ... and have nothing more to do */
	struct event *warmup_timer, *end_timer, *drain_timer, *stop_ev;
	char first_error[300];     /* why a connection failed, once */
	struct bench_now wall;     /* RESP entries' time, formatted once per millisecond */
};

/* Set up a loop for conns [first, first + n).  0, or -1 (out of memory). */
int bench_loop_init(struct bench_loop *l, const struct bench_config *cfg, unsigned index, unsigned first,
                    unsigned n);
/* Connect and log in every connection; returns when each is ready or failed. */
void bench_loop_login(struct bench_loop *l);
/* Run the workload (all loops call this at the same moment). */
void bench_loop_run(struct bench_loop *l);
void bench_loop_free(struct bench_loop *l);

/* For bench_conn.c: a connection settled (ready or failed) during login,
 * finished (nothing in flight while stopping), or may log in now. */
void bench_loop_settled(struct bench_loop *l);
void bench_loop_conn_done(struct bench_loop *l);
void bench_loop_auth_done(struct bench_loop *l);
void bench_loop_auth_retry(struct bench_loop *l, unsigned conn);
/* A measured request started: false when the request budget is spent. */
bool bench_loop_take_request(struct bench_loop *l);
uint64_t bench_now_ns(void);

#endif
