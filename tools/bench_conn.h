/* bench_conn.h - one `hotline bench` connection: its explicit state, and
 * the one driver that moves it on socket readiness.
 *
 *   IDLE -> CONNECTING -> (line) WAIT_AUTH -> AUTHING -> READY
 *                         (RESP) PRIMING --------------> READY
 *   READY -> RUNNING -> DONE          any -> FAILED (logged in the loop)
 *
 * Raw libevent events with direct read()/write() (no bufferevents): each
 * readiness costs one read, all complete replies in it are handled, and the
 * requests they unblock leave in one write, so the generator spends as few
 * system calls per request as the servers it measures.
 *
 * A connection runs `pipeline` flows (bench_workload.h); each has at most
 * one round trip outstanding, and replies arrive in request order, so a
 * FIFO of (flow, replies expected) says whose each reply is.
 */
#ifndef HOTLINE_BENCH_CONN_H
#define HOTLINE_BENCH_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "bench_buf.h"
#include "bench_loop.h"
#include "bench_workload.h"

enum bench_conn_state {
	BC_IDLE,
	BC_CONNECTING,
	BC_WAIT_AUTH,
	BC_AUTHING,
	BC_PRIMING,
	BC_READY,
	BC_RUNNING,
	BC_DONE,
	BC_FAILED,
};

struct bench_pending {
	unsigned flow;
	unsigned short expect, got; /* replies of this round trip */
	bool measured;
};

struct bench_flow_clock {
	uint64_t step_start, txn_start;
	bool step_measured, txn_measured, txn_failed;
};

struct bench_conn {
	struct bench_loop *loop;
	unsigned index; /* global: names its account and its ids */
	int fd;
	enum bench_conn_state state;
	struct event *ev_read, *ev_write;
	bool writing;
	struct bench_buf in, out;
	struct bench_session session;
	struct bench_flow *flows;
	struct bench_flow_clock *clocks;
	unsigned n_flows;
	struct bench_pending *fifo; /* ring, n_flows long */
	unsigned fifo_head, fifo_count;
	unsigned prime_replies; /* RESP login: replies still owed */
	uint64_t retry_at_ns;   /* WAIT_AUTH after rate_limited: not before */
};

int bench_conn_init(struct bench_conn *c, struct bench_loop *l, unsigned index);
void bench_conn_free(struct bench_conn *c);

/* Open the socket and start connecting (IDLE -> CONNECTING). */
void bench_conn_connect(struct bench_conn *c);
/* Send AUTH (WAIT_AUTH -> AUTHING). */
void bench_conn_auth(struct bench_conn *c);
/* Start the flows (READY -> RUNNING). */
void bench_conn_start(struct bench_conn *c, uint64_t now);
/* The loop began stopping: finish now when nothing is in flight. */
void bench_conn_stop(struct bench_conn *c);
/* Drain deadline: count what is still owed as unanswered and close. */
void bench_conn_abandon(struct bench_conn *c);

#endif
