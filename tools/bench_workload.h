/* bench_workload.h - what `hotline bench` asks: the request mixes, for
 * hotlined's line protocol and, with --resp, the Redis commands hotlined
 * itself issues for the same work, so Redis and a RESP proxy can be driven
 * with the equivalent load by the same generator.
 *
 * A workload is a sequence of steps (one line request each) making up one
 * transaction:
 *   ping       PING
 *   pop        POP {"customer_id"} (or {"phone"} with a phones file)
 *   call       CALL offer, CALL answer, CALL end of a new call
 *   complaint  COMPLAINT open, ack, resolve of a new complaint
 *   mixed      per call: POP by phone (or id) naming the call, CALL offer,
 *              answer, on complaint_pct % of calls COMPLAINT open (by the
 *              customer found, with the call id), CALL end
 *   idle       nothing: connections log in and stay idle (memory figures)
 * A flow runs one transaction at a time, each step after the previous
 * reply (a complaint's id is only known from its open).  A connection runs
 * as many flows as its pipeline depth.
 *
 * In RESP mode a step is the Redis round trips hotlined makes for it (see
 * BENCHMARKS.md for the list and how it was checked with MONITOR): one for
 * a POP by id, two for a POP by phone and for each CALL or COMPLAINT event
 * (read the state, then the atomic append: EVALSHA of hotlined's own
 * journal script with an entry chained onto this connection's own stream,
 * so the script does all its checks and writes).
 *
 * Everything here is pure (no I/O, no clock): the caller passes the time.
 */
#ifndef HOTLINE_BENCH_WORKLOAD_H
#define HOTLINE_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_buf.h"
#include "bench_resp.h"

enum bench_kind { BENCH_PING, BENCH_POP, BENCH_CALL, BENCH_COMPLAINT, BENCH_MIXED, BENCH_IDLE, BENCH_KIND_COUNT };

enum bench_step {
	STEP_PING,
	STEP_POP,
	STEP_OFFER,
	STEP_ANSWER,
	STEP_END,
	STEP_OPEN,
	STEP_ACK,
	STEP_RESOLVE,
	STEP_COUNT,
	STEP_DONE = STEP_COUNT /* the transaction is over */
};

#define BENCH_ID_MAX 64
#define BENCH_ERR_CODE_MAX 32

int bench_kind_from_name(const char *name); /* -1 when unknown */
const char *bench_kind_name(enum bench_kind k);
/* What one transaction of the workload is called ("call", "complaint"), or
 * NULL when a transaction is one request. */
const char *bench_kind_transaction(enum bench_kind k);
const char *bench_step_name(enum bench_step s); /* "POP", "CALL offer", ... */

/* The workload of a run: read-only, shared by every thread. */
struct bench_workload {
	enum bench_kind kind;
	bool resp;
	unsigned long customers; /* demo ids C000001.. as `hotline demo-data N` makes them */
	char *const *phones;     /* with n_phones > 0, POPs are by phone (normalised numbers) */
	size_t n_phones;
	unsigned complaint_pct; /* mixed: calls that open a complaint */
	char run[16];           /* this run's token, in every call and complaint id */
	/* RESP mode */
	char prefix[64];  /* hotlined's redis.key_prefix */
	unsigned recent;  /* hotlined's pop.recent */
	char sha[41];     /* SHA-1 of the journal script (EVALSHA) */
};

/* Sets kind-independent defaults; the caller fills the rest. */
void bench_workload_init(struct bench_workload *wl);
/* The journal script's SHA-1 into wl->sha (RESP mode). */
void bench_workload_set_sha(struct bench_workload *wl);
/* The journal script, for EVAL when Redis answers EVALSHA with NOSCRIPT. */
const char *bench_journal_script(void);

/* The head of a log stream as this connection's emulated writer sees it. */
struct bench_chain {
	unsigned gen; /* a refused append starts a fresh stream */
	uint64_t seq;
	char hash[65];
};

/* One connection: who it is and, in RESP mode, its own log streams. */
struct bench_session {
	const struct bench_workload *wl;
	char user[65];
	char tag[24]; /* unique per connection within the run */
	uint64_t rng;
	uint64_t next_txn;
	struct bench_chain chain[2]; /* calls, complaints */
};

void bench_session_init(struct bench_session *s, const struct bench_workload *wl, const char *user,
                        unsigned thread, unsigned conn, uint64_t seed);

/* The time as entries carry it. */
struct bench_now {
	long long ms;  /* Unix milliseconds */
	char ts[32];   /* RFC 3339 UTC with milliseconds */
	char iso_s[32]; /* the same to the second, for complaint deadlines a day ahead */
};
void bench_now_set(struct bench_now *now, long long unix_ms);

struct bench_flow {
	enum bench_step step;
	unsigned phase; /* RESP: round trip within the step */
	bool complaint; /* mixed: this call opens a complaint */
	bool failed;    /* RESP: a reply of this phase was an error */
	char err[BENCH_ERR_CODE_MAX];
	char customer_id[BENCH_ID_MAX + 1];
	char phone[BENCH_ID_MAX + 1];
	char call_id[BENCH_ID_MAX + 1];
	char complaint_id[BENCH_ID_MAX + 1];
	char tier[16];
	long long leg_at_ms;
	long long due_s;
	unsigned stream; /* RESP: which chain the pending append advanced */
};

/* Start the next transaction on f. */
void bench_flow_begin(struct bench_session *s, struct bench_flow *f);

/* Line mode: append the request of f's current step (with its LF). */
bool bench_flow_line(const struct bench_session *s, const struct bench_flow *f, struct bench_buf *out);

enum bench_result {
	BENCH_PENDING,    /* RESP: more replies of this round trip to come */
	BENCH_NEXT_PHASE, /* RESP: send the step's next round trip */
	BENCH_STEP_OK,    /* the step succeeded; f->step is the next one (or STEP_DONE) */
	BENCH_STEP_ERR,   /* the step failed with code f->err; the transaction is abandoned (STEP_DONE) */
};

/* Line mode: the reply line (no LF) to f's current step. */
enum bench_result bench_flow_line_reply(struct bench_session *s, struct bench_flow *f, const char *line,
                                        size_t len);

/* RESP mode: append the commands of f's current round trip; returns how
 * many replies to expect (0 when the buffer is full). */
unsigned bench_flow_resp(struct bench_session *s, struct bench_flow *f, const struct bench_now *now,
                         struct bench_buf *out);

/* RESP mode: reply i (0-based) of the n expected for the round trip. */
enum bench_result bench_flow_resp_reply(struct bench_session *s, struct bench_flow *f, unsigned i, unsigned n,
                                        const struct resp_reply *r);

#endif
