/* replay_plan.h - the request that re-drives one log entry into a daemon
 * (`hotline replay --to`), as the recorded agent, through a replay account
 * (proto/PROTOCOL.md, "Replay accounts").
 *
 * Each entry maps back to the request that produced it: CALL <event> with
 * the call's fields, COMPLAINT <action> with the complaint's, and a
 * recorded claim (`assign`, what `next` logs) to `COMPLAINT next` naming
 * the complaint.  The request_id is a function of the entry's stream and
 * id, so a replay interrupted and run again never logs an entry twice.
 * Pure (no I/O): the entry text in, the request out.
 */
#ifndef HOTLINE_REPLAY_PLAN_H
#define HOTLINE_REPLAY_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "log_source.h"

#define REPLAY_ID_MAX 64 /* call and complaint ids: 1..64 of [A-Za-z0-9_.-] */

enum replay_verdict {
	REPLAY_SEND,           /* send the request */
	REPLAY_SKIP_REJECTED,  /* a spooled write the rules refused when it was logged: it changed nothing */
	REPLAY_SKIP_LOST,      /* a lost record (lost_record.h): no request produced it, it changed nothing */
	REPLAY_SKIP_UNKNOWN,   /* an event no request produces */
	REPLAY_SKIP_MALFORMED, /* not an entry a daemon writes (why says what is wrong) */
};

struct replay_request {
	enum replay_verdict verdict;
	const char *why;     /* REPLAY_SKIP_MALFORMED / _UNKNOWN: what is wrong, for messages */
	const char *verb;    /* "CALL" or "COMPLAINT" */
	const char *sub;     /* the event or action; "next" for a recorded `assign` */
	json_t *args;        /* the JSON object to send (owned), request_id and as included */
	enum log_stream stream;
	char subject[REPLAY_ID_MAX + 1]; /* the recorded call_id or complaint_id */
	char agent[REPLAY_ID_MAX + 1];   /* the recorded agent ("as") */
	char event[32];                  /* the recorded event, for messages (cut short) */
	bool opens_complaint;            /* COMPLAINT open: its reply names the new complaint id */
};

/* Plan the request for one entry of `stream` with stream id `id`.  The
 * request's complaint_id is the recorded one: the caller maps it to the
 * id the target daemon gave (replay_request_set_complaint).  Always fills
 * rq (free it with replay_request_free). */
void replay_plan(enum log_stream stream, const char *id, const char *entry, size_t entry_len,
                 struct replay_request *rq);
void replay_request_free(struct replay_request *rq);

/* The request_id of the entry: "rp-<stream>-<id>" (at most 64 characters
 * for any stream id Redis makes). */
void replay_request_id(enum log_stream stream, const char *id, char out[REPLAY_ID_MAX + 1]);

/* Name the complaint as the target daemon knows it. */
void replay_request_set_complaint(struct replay_request *rq, const char *complaint_id);

/* The call the entry belongs to: its call_id (calls), or the call a
 * complaint was opened about (COMPLAINT open with call_id); NULL else. */
const char *replay_request_call(const struct replay_request *rq);

/* "VERB sub {json}", malloc'd; NULL when out of memory. */
char *replay_request_line(const struct replay_request *rq);

#endif
