/* journal.h - appends events to the log streams in Redis.
 *
 * One append is one EVALSHA of a Lua script (journal_script.h) that, in
 * one atomic step: returns the original reply when the idempotency key
 * exists; checks the state version of the call or complaint (compare and
 * set, so concurrent daemons cannot both move the same call); checks that
 * the stream's last entry is the one the hash chain was computed against;
 * XADDs the entry with seq, prev and hash (chain.h); runs the follow-up
 * writes that keep the projections current; and records the reply under
 * the idempotency key.
 *
 * The daemon computes SHA-256 itself (Redis's Lua has only SHA-1) from a
 * cached head per stream, advanced optimistically so appends pipeline.
 * When the head turns out stale (another daemon wrote, Redis restarted),
 * the stream resyncs: it waits for its in-flight appends, adopts the real
 * head and resends what failed, in the original order.
 *
 * A head below the highest seq this daemon has seen, that entry being gone,
 * means Redis lost the newest entries (a failover to a replica that lagged,
 * a restart without AOF).  The chain then continues after the highest seq
 * seen, so the loss stays visible to the audit as a gap in seq
 * (proto/HA.md), and each lost entry this daemon had acknowledged is named
 * in its log (loss.h).
 *
 * With redis.wait, an append to a listed stream is answered only after a
 * WAIT for the replicas returns; appends that completed while a WAIT was
 * out share the next one, so at most one WAIT is in flight.
 */
#ifndef HOTLINE_JOURNAL_H
#define HOTLINE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "journal_ops.h"

struct server;
struct journal;

const char *journal_stream_name(enum journal_stream s); /* "calls", "complaints" */
/* -1 when unknown. */
int journal_stream_from_name(const char *s, size_t len);

enum journal_outcome {
	JOURNAL_APPENDED,    /* id set */
	JOURNAL_DUPLICATE,   /* the request_id was seen: id and reply are the original ones */
	JOURNAL_STALE_STATE, /* state version moved: state holds the current HGETALL */
	JOURNAL_UNAVAILABLE, /* Redis link lost before an answer: outcome unknown */
	JOURNAL_FAILED,      /* Redis refused the script (error logged) */
};

struct journal_result {
	enum journal_outcome outcome;
	const char *id;     /* stream entry id */
	const char *reply;  /* JOURNAL_DUPLICATE: the original reply body (JSON) */
	long long rank;     /* 1-based rank of rank_member in rank_zset, or 0 */
	redisReply *state;  /* JOURNAL_STALE_STATE: field/value array */
	bool waited;        /* JOURNAL_APPENDED after a WAIT (redis.wait) */
	long long replicas; /* ... which this many replicas acknowledged */
};

typedef void journal_done_fn(const struct journal_result *res, void *arg);

struct journal_append {
	enum journal_stream stream;
	char *state_key;   /* the call or complaint hash; compare-and-set on its "v" field */
	char *expect_v;    /* expected "v" ("0" = must not exist yet) */
	char *idem_key;    /* "" = none */
	unsigned idem_ttl_s;
	char *entry;       /* the event as JSON text */
	char *reply;       /* reply body to remember for retries (JSON text) */
	char *rank_zset, *rank_member; /* optional: report this member's rank */
	char *label;       /* optional: what the entry is, by ids only, for loss reports */
	char *request_id;  /* optional: the client's request_id, for loss reports */
	struct journal_ops ops;
};

struct journal *journal_new(struct server *srv);
void journal_free(struct journal *j);

/* Called when the Redis link comes up: (re)load the script, forget heads. */
void journal_link_up(struct journal *j);

/* Take ownership of a (its strings are freed by the journal) and append it;
 * done is called exactly once. */
void journal_submit(struct journal *j, struct journal_append *a, journal_done_fn *done, void *arg);

/* Entries appended since start, per stream (for STATS / metrics). */
unsigned long long journal_appended(const struct journal *j, enum journal_stream s);
/* WAITs sent, and those that returned fewer replicas than redis.wait.replicas. */
unsigned long long journal_waits(const struct journal *j);
unsigned long long journal_waits_short(const struct journal *j);

#endif
