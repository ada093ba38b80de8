/* logwrite.h - the life of one logged write (CALL and COMPLAINT verbs).
 *
 *   1. read:   HGETALL of the call's/complaint's state hash, the original
 *              reply of a repeated request_id, and whatever else the verb
 *              asks for (logwrite_read), all pipelined;
 *   2. decide: the verb checks the transition and builds the entry, the
 *              new state and the projection updates (ops->decide);
 *   3. append: the journal appends atomically, compare-and-set on the
 *              state version; if another writer moved the state meanwhile,
 *              decide runs again on the fresh state (bounded);
 *   4. reply:  OK with the stream entry id, or the error.
 *
 * The verb embeds struct logwrite as its first member and frees itself in
 * ops->free, which runs exactly once, after the reply.
 */
#ifndef HOTLINE_LOGWRITE_H
#define HOTLINE_LOGWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config.h"
#include "conn.h"
#include "journal.h"
#include "keys.h"

#define LOGWRITE_ID_MAX 64
#define LOGWRITE_MAX_ATTEMPTS 8

struct logwrite;

struct logwrite_ops {
	/* All reads are in; state is the state hash as an object ({} if none). */
	void (*decide)(struct logwrite *w, const json_t *state);
	void (*free)(struct logwrite *w);
	/* While Redis is away: check the write against the state this daemon
	 * last spooled for the same record (known_state NULL when it spooled
	 * nothing for it) and say the state it leads to.  False (reply sent)
	 * when the rules refuse it.  Builds the spooled reply body in *reply. */
	bool (*spool)(struct logwrite *w, const char *known_state, char next_state[32], json_t **reply);
};

typedef void logwrite_read_fn(struct logwrite *w, const redisReply *reply);

struct logwrite {
	const struct logwrite_ops *ops;
	struct request *req;
	struct server *srv;
	char user[CONFIG_NAME_MAX + 1]; /* who acts: the logged agent */
	enum role role;
	char replayed_by[CONFIG_NAME_MAX + 1]; /* the replay account acting as user; "" otherwise */
	char request_id[LOGWRITE_ID_MAX + 1];
	/* What the spool stores to replay this write: the verb and its arguments. */
	const char *verb;
	char sub[16];
	json_t *args; /* borrowed from the verb */
	char record[LOGWRITE_ID_MAX + 8]; /* "calls:<id>" / "complaints:<id>": spooled-state key */
	long long at_ms; /* replay: when the agent did it; 0 = now */
	bool replay;
	char state_key[KEY_MAX];
	char expect_v[24];
	json_t *state;
	char *reply_text; /* the reply body, kept until the append succeeds */
	unsigned reads_pending;
	unsigned attempts;
	bool failed;   /* a read failed: answer unavailable */
	bool answered; /* the reply was sent during the read phase */
};

void logwrite_init(struct logwrite *w, struct request *req, const struct logwrite_ops *ops);
/* Whose request_ids these are: the authenticated user (a replay account's
 * own, not the recorded agent's). */
const char *logwrite_idem_user(const struct logwrite *w);
/* What to store in the spool if this write cannot reach Redis now. */
void logwrite_describe(struct logwrite *w, const char *verb, const char *sub, json_t *args, const char *record);

/* Argument checks: each replies ERR bad_request and returns false on a bad
 * value.  "name" = 1..64 of [A-Za-z0-9_.@-]; "key part" = [A-Za-z0-9_.-]. */
bool logwrite_take_request_id(struct logwrite *w, const json_t *args);
bool logwrite_take_id(struct request *req, const json_t *args, const char *key, bool required,
                      char out[LOGWRITE_ID_MAX + 1]);
bool logwrite_check_text(struct request *req, const json_t *args, const char *key, bool required, size_t max);
bool logwrite_check_name(struct request *req, const json_t *args, const char *key, bool required);
bool logwrite_check_key_part(struct request *req, const json_t *args, const char *key, bool required);
/* Normalises the phone in place (args is modified) with the config's rules. */
bool logwrite_check_phone(struct logwrite *w, json_t *args, const char *key, bool required);

/* Begin: read state_key (NULL: the verb finds it later with
 * logwrite_read_state) and the request_id's original reply; `extra`, when
 * given, is called at once with a NULL reply to queue the verb's own reads.
 * Decide runs when every read is in. */
void logwrite_start(struct logwrite *w, const char *state_key, logwrite_read_fn *extra);
void logwrite_read_state(struct logwrite *w, const char *state_key);
/* During the read phase (or from a read callback): one more read. */
void logwrite_read(struct logwrite *w, int argc, const char **argv, logwrite_read_fn *fn);

/* Entry helpers.  logwrite_now writes RFC 3339 UTC with milliseconds and
 * returns Unix milliseconds. */
long long logwrite_now(const struct logwrite *w, char out[40]);
json_t *logwrite_entry(struct logwrite *w, const char *event_key, const char *event, const char *id_key,
                       const char *id, const char *ts);
void logwrite_copy(json_t *dst, const json_t *src, const char *key);

/* A Redis hash (HGETALL reply) as a JSON object of strings; and a numeric
 * field of such an object (0 when absent). */
json_t *logwrite_hash_object(const redisReply *r);
int64_t logwrite_field_i64(const json_t *obj, const char *key);
void logwrite_finish_entry(struct logwrite *w, json_t *entry);

/* Build the append: the entry and reply are serialised, the state fields
 * are written with the version bumped.  NULL (reply sent) on failure. */
struct journal_append *logwrite_append(struct logwrite *w, enum journal_stream stream, const json_t *entry,
                                       const json_t *reply, const json_t *state_fields);
void logwrite_submit(struct logwrite *w, struct journal_append *a);

/* Answer OK with body without appending (e.g. nothing to claim). */
void logwrite_reply_ok_read(struct logwrite *w, const json_t *body);

/* Answer with an error and end the write. */
void logwrite_reply_err(struct logwrite *w, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
