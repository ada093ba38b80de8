/* projection.h - what one log entry does to the projections (proto/LOG.md,
 * "Projections"): the fields it sets in its call's or complaint's state
 * hash and the writes to the other derived keys (calls:open, the complaint
 * queues and history, the customer's open complaints and recent contacts).
 *
 * Computed from the entry and the record's state before it, nothing else:
 * the daemon builds its live updates with this (cmd_call.c,
 * cmd_complaint.c; the writes run inside the atomic append) and `hotline
 * replay --rebuild` recomputes them from the streams, so a rebuilt key
 * equals the live one by construction.  A decision the entry does not
 * record therefore cannot reach the state.  Pure: no I/O.
 */
#ifndef HOTLINE_PROJECTION_H
#define HOTLINE_PROJECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "journal_ops.h"
#include "keys.h"

#define PROJECTION_CONTACTS_KEPT 50
/* An ended call's state hash is kept this long after the end entry's ts. */
#define PROJECTION_ENDED_CALL_TTL_MS (7LL * 24 * 3600 * 1000)

struct projection {
	char state_key[KEY_MAX]; /* <p>call:<id> or <p>complaint:<id> */
	json_t *fields;          /* state hash fields this entry sets (strings), "v" not included */
	json_t *state;           /* the state after the entry: before + fields, without "v" */
	bool fresh;              /* offer/open: a new record, whatever the state hash held before */
	struct journal_ops ops;  /* writes to the other derived keys, in order */
};

/* Project one entry (its JSON object and its exact stored text, which the
 * complaint history keeps) given before, the record's state hash as an
 * object of strings ({} when none).  Returns 1 with *out filled, 0 when the
 * entry changes nothing (a spooled write the rules rejected), -1 when it
 * cannot be projected (err says why).  *out needs projection_free after 1. */
int projection_compute(const char *prefix, enum journal_stream stream, const json_t *entry,
                       const char *entry_text, const json_t *before, struct projection *out, char *err,
                       size_t err_len);
void projection_free(struct projection *p);

/* The state version after p: before's "v" + 1, or 1 for a fresh record
 * (what the daemon's compare-and-set append writes). */
long long projection_version(const struct projection *p, const json_t *before);

/* HSET <state_key> <fields...> v <version>: the state hash write the
 * daemon's append makes itself, for a rebuild. */
void projection_state_write(const struct projection *p, const json_t *before, struct journal_ops *ops);

/* The complaint summary a POP shows (customer:<id>:open_complaints). */
json_t *projection_complaint_card(const char *complaint_id, const json_t *state);

/* A numeric string field of a state object (0 when absent or empty). */
int64_t projection_field_i64(const json_t *obj, const char *key);

#endif
