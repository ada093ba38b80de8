/* hotline replay --rebuild: every projection of the log (proto/LOG.md,
 * "Projections") recomputed from the streams and swapped in at once.
 *
 *  1. Refuse while a hotlined is connected (its writing connection is
 *     named "hotlined:<host>:<pid>"; --force overrides), and take the
 *     rebuild lock <p>rebuild:lock so two rebuilds cannot mix.
 *  2. WATCH both streams: if anything is appended before the swap, the
 *     swap does not happen and nothing changes.
 *  3. Read the log in order (log_source.h) and apply each entry with the
 *     daemon's own computation (projection.h) to a staging copy of the
 *     keys under <p>rebuild:stage:, in batches: one pipelined read of the
 *     batch's state hashes, one pipelined write of everything it does.
 *  4. Swap in one MULTI/EXEC: RENAME every staged key over its live name
 *     and DEL the live projection keys the log no longer produces.  Either
 *     all of it happens or none (a crash before EXEC leaves the live keys
 *     as they were and staging keys that the next rebuild removes first).
 *
 * Running it twice gives the same keys: everything, expiry times included
 * (PEXPIREAT from the entry's ts), is a function of the log.  Idempotency
 * records (<p>idem:*) are not projections and are left alone.  A call hash
 * that only a screen pop wrote (no "v": no entry yet) is kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "cli_target.h"
#include "journal_ops.h"
#include "keys.h"
#include "lost_record.h"
#include "projection.h"
#include "replay.h"

#define WHO               "hotline replay --rebuild"
#define BATCH             512   /* entries per staging round trip pair */
#define LOCK_MS           60000 /* the lock outlives a crashed rebuild by at most this */
#define SCAN_COUNT        "1000"
#define QUEUED_READ_EVERY 16  /* swap commands sent before reading their QUEUED answers */
#define SWAP_GROUP        500 /* renames, or deletes, per command of the swap */

struct key_group {
	bool rename; /* pairs staged, live for the rename script; else keys to DEL */
	char *keys[2 * SWAP_GROUP];
	size_t n;
};

struct item {
	enum log_stream stream;
	char id[LOG_ID_MAX];
	char *text; /* the entry as stored, NUL-terminated */
	json_t *entry;
	char state_key[KEY_MAX]; /* staged; "" when the entry names no usable record */
};

struct rebuild {
	const struct replay_opts *o;
	struct cli_target target;
	redisContext *watch; /* WATCHes the streams, reads the log, swaps */
	redisContext *rc;    /* staging reads and writes, SCAN */
	char stage[KEY_MAX], lock_key[KEY_MAX], token[33];
	bool locked;
	struct item items[BATCH];
	size_t n;
	unsigned long long entries, unchanged, findings;
	unsigned long long renamed, removed, pop_links;
	size_t queued; /* swap commands whose QUEUED answer is not read yet */
	struct key_group renames, deletes;
};

static const char unlock_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/* Rename staged keys over live ones: KEYS = staged1, live1, staged2, ...
 * Returns {how many were renamed} (a staged key SCAN listed twice is gone
 * the second time), an array so the swap's answer tells it from a DEL's. */
static const char rename_script[] = "local n = 0 for i = 1, #KEYS, 2 do if redis.pcall('RENAME', KEYS[i], "
                                    "KEYS[i + 1]).ok then n = n + 1 end end "
                                    "return {n}";
static const char extend_script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then return "
                                    "redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

static bool redis_ok(redisContext *c, redisReply *r, const char *what)
{
	if (r && r->type != REDIS_REPLY_ERROR)
		return true;
	fprintf(stderr, WHO ": %s: %s\n", what, r ? r->str : c->errstr);
	return false;
}

static void finding(struct rebuild *b, const struct item *it, const char *why)
{
	b->findings++;
	fprintf(stderr, WHO ": %s %s: not projected: %s\n", log_stream_name(it->stream), it->id, why);
}

/* SCAN MATCH pattern for keys starting with text (glob characters escaped). */
static void match_prefix(const char *text, char out[2 * KEY_MAX + 2])
{
	size_t o = 0;

	for (; *text && o + 3 < 2 * KEY_MAX; text++) {
		if (strchr("*?[]\\", *text))
			out[o++] = '\\';
		out[o++] = *text;
	}
	out[o++] = '*';
	out[o] = '\0';
}

/* ---- safety: no writers, one rebuild at a time ---- */

/* Names of the connected hotlined writers (CLIENT LIST), on stderr. */
static int count_writers(struct rebuild *b)
{
	redisReply *r = redisCommand(b->rc, "CLIENT LIST");
	const char *line;
	int n = 0;

	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		fprintf(stderr,
		        WHO
		        ": cannot list Redis's clients (CLIENT LIST: %s), so cannot tell whether a hotlined "
		        "is writing\n",
		        r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") : b->rc->errstr);
		freeReplyObject(r);
		return -1;
	}
	for (line = r->str; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *name = strstr(line, " name="), *addr = strstr(line, " addr="),
		           *eol = strchr(line, '\n');
		size_t len = strlen(KEY_WRITER_CLIENT_NAME);

		if (name == NULL || (eol && name > eol) ||
		    strncmp(name + 6, KEY_WRITER_CLIENT_NAME, len) != 0 || name[6 + len] != ':')
			continue;
		fprintf(stderr, WHO ": a hotlined is connected: %.*s from %.*s\n",
		        (int)strcspn(name + 6, " \n"), name + 6, addr ? (int)strcspn(addr + 6, " \n") : 1,
		        addr ? addr + 6 : "?");
		n++;
	}
	freeReplyObject(r);
	return n;
}

static bool take_lock(struct rebuild *b)
{
	unsigned char rnd[16];
	redisReply *r;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(b->token, sizeof(b->token), rnd, sizeof(rnd));
	r = redisCommand(b->rc, "SET %s %s NX PX %d", b->lock_key, b->token, LOCK_MS);
	if (!redis_ok(b->rc, r, "taking the rebuild lock")) {
		freeReplyObject(r);
		return false;
	}
	b->locked = r->type == REDIS_REPLY_STATUS;
	if (!b->locked)
		fprintf(stderr,
		        WHO
		        ": another rebuild holds %s (or one stopped less than %d s ago); try again later\n",
		        b->lock_key, LOCK_MS / 1000);
	freeReplyObject(r);
	return b->locked;
}

static bool extend_lock(struct rebuild *b)
{
	redisReply *r =
	    redisCommand(b->rc, "EVAL %s 1 %s %s %d", extend_script, b->lock_key, b->token, LOCK_MS);
	bool ok = redis_ok(b->rc, r, "extending the rebuild lock") && r->type == REDIS_REPLY_INTEGER &&
	          r->integer == 1;

	if (r && r->type == REDIS_REPLY_INTEGER && !ok)
		fprintf(stderr, WHO ": lost the rebuild lock %s (a stall of more than %d s?); giving up\n",
		        b->lock_key, LOCK_MS / 1000);
	freeReplyObject(r);
	return ok;
}

static void release_lock(struct rebuild *b)
{
	if (b->locked)
		freeReplyObject(redisCommand(b->rc, "EVAL %s 1 %s %s", unlock_script, b->lock_key, b->token));
	b->locked = false;
}

/* ---- staging ---- */

/* Remove every staged key (a crashed run's, or ours after a failure). */
static bool clear_stage(struct rebuild *b)
{
	char match[2 * KEY_MAX + 2], cursor[32] = "0";

	match_prefix(b->stage, match);
	do {
		redisReply *r = redisCommand(b->rc, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, match);

		if (!redis_ok(b->rc, r, "listing staged keys") || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			freeReplyObject(r);
			return false;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++)
			redisAppendCommand(b->rc, "UNLINK %b", r->element[1]->element[i]->str,
			                   r->element[1]->element[i]->len);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *d = NULL;

			if (redisGetReply(b->rc, (void **)&d) != REDIS_OK ||
			    !redis_ok(b->rc, d, "removing staged keys")) {
				freeReplyObject(d);
				freeReplyObject(r);
				return false;
			}
			freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return true;
}

static json_t *hash_object(const redisReply *r)
{
	json_t *o = json_object();

	for (size_t i = 0; o && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		char key[128];
		json_t *v = json_stringn(r->element[i + 1]->str, r->element[i + 1]->len);

		if (v == NULL || r->element[i]->len >= sizeof(key)) {
			json_decref(v);
			continue;
		}
		memcpy(key, r->element[i]->str, r->element[i]->len);
		key[r->element[i]->len] = '\0';
		json_object_set_new(o, key, v);
	}
	return o;
}

/* Parse the batch's entries and name their staged state hashes. */
static void prepare(struct rebuild *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		const char *id;

		it->entry = json_loads(it->text, 0, NULL);
		it->state_key[0] = '\0';
		if (!json_is_object(it->entry))
			continue;
		id = json_string_value(
		    json_object_get(it->entry, it->stream == LOG_CALLS ? "call_id" : "complaint_id"));
		if (id == NULL || strchr(id, ':'))
			continue;
		if ((it->stream == LOG_CALLS ? key_call : key_complaint)(it->state_key, b->stage, id) < 0)
			it->state_key[0] = '\0';
	}
}

/* One pipelined HGETALL of every distinct staged state hash in the batch:
 * the states before it, keyed by staged key. */
static json_t *read_states(struct rebuild *b)
{
	json_t *states = json_object();
	const char *order[BATCH];
	size_t n = 0;

	for (size_t i = 0; states && i < b->n; i++) {
		const char *k = b->items[i].state_key;

		if (!k[0] || json_object_get(states, k))
			continue;
		json_object_set_new(states, k, json_null()); /* placeholder: asked once */
		order[n++] = k;
		redisAppendCommand(b->rc, "HGETALL %s", k);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(b->rc, (void **)&r) != REDIS_OK ||
		    !redis_ok(b->rc, r, "reading staged state")) {
			freeReplyObject(r);
			/* Drain the rest so the connection stays usable for clean-up. */
			for (size_t k = i + 1; k < n; k++)
				if (redisGetReply(b->rc, (void **)&r) == REDIS_OK)
					freeReplyObject(r);
			json_decref(states);
			return NULL;
		}
		json_object_set_new(states, order[i], hash_object(r));
		freeReplyObject(r);
	}
	return states;
}

/* Send ops pipelined and check every answer. */
static bool run_ops(struct rebuild *b, const struct journal_ops *ops)
{
	size_t pos = 0, sent = 0;
	const char *const *argv;
	bool ok = true;
	int argc;

	while (journal_ops_next(ops, &pos, &argc, &argv)) {
		redisAppendCommandArgv(b->rc, argc, (const char **)argv, NULL);
		sent++;
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *r = NULL;

		if (redisGetReply(b->rc, (void **)&r) != REDIS_OK) {
			fprintf(stderr, WHO ": writing staged keys: %s\n", b->rc->errstr);
			return false;
		}
		if (ok && !redis_ok(b->rc, r, "writing staged keys"))
			ok = false;
		freeReplyObject(r);
	}
	return ok;
}

static void free_batch(struct rebuild *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].text);
		json_decref(b->items[i].entry);
	}
	b->n = 0;
}

/* Apply the batch to the staging keys, in log order. */
static bool flush_batch(struct rebuild *b)
{
	struct journal_ops ops = {0};
	json_t *states, *empty = json_object();
	bool ok;

	prepare(b);
	states = read_states(b);
	if (states == NULL) {
		json_decref(empty);
		free_batch(b);
		return false;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		const json_t *before = json_object_get(states, it->state_key);
		struct projection p;
		json_t *after;
		char err[200];
		int got;

		if (!json_is_object(it->entry)) {
			finding(b, it, "the entry is not a JSON object");
			continue;
		}
		if (!json_is_object(before))
			before = empty;
		got = projection_compute(b->stage, (enum journal_stream)it->stream, it->entry, it->text,
		                         before, &p, err, sizeof(err));
		if (got < 0) {
			finding(b, it, err);
			continue;
		}
		if (got == 0) {
			b->unchanged++; /* a spooled write the rules rejected: logged, changed nothing */
			continue;
		}
		/* The state hash as the daemon's append leaves it: fields and version. */
		projection_state_write(&p, before, &ops);
		after = p.state; /* the next entry of this record starts from here */
		p.state = NULL;
		if (json_object_set_new(after, "v", json_sprintf("%lld", projection_version(&p, before))) !=
		    0)
			ops.failed = true;
		journal_ops_take(&ops, &p.ops);
		json_object_set_new(states, p.state_key, after);
		projection_free(&p);
	}
	json_decref(states);
	json_decref(empty);
	if (ops.failed || empty == NULL) {
		fprintf(stderr, WHO ": out of memory\n");
		ok = false;
	} else {
		ok = run_ops(b, &ops) && extend_lock(b);
	}
	journal_ops_free(&ops);
	free_batch(b);
	return ok;
}

static bool add_record(struct rebuild *b, const struct log_record *r)
{
	struct item *it = &b->items[b->n];

	b->entries++;
	if (r->entry == NULL) {
		struct item bare = {.stream = r->stream};

		snprintf(bare.id, sizeof(bare.id), "%s", r->id);
		finding(b, &bare, "the stream entry has no 'entry' field");
		return true;
	}
	if (lost_record_is(r->entry, r->entry_len)) {
		b->unchanged++; /* a daemon's note of entries Redis lost: projects nothing */
		return true;
	}
	it->stream = r->stream;
	snprintf(it->id, sizeof(it->id), "%s", r->id);
	it->entry = NULL;
	it->text = malloc(r->entry_len + 1);
	if (it->text == NULL) {
		fprintf(stderr, WHO ": out of memory\n");
		return false;
	}
	memcpy(it->text, r->entry, r->entry_len);
	it->text[r->entry_len] = '\0';
	if (++b->n == BATCH)
		return flush_batch(b);
	return true;
}

static bool replay_log(struct rebuild *b)
{
	struct log_selection sel = {.streams = LOG_ALL_STREAMS};
	char err[512];
	struct log_source *s =
	    b->o->file ? log_source_open_file(b->o->file, &sel, err, sizeof(err))
	               : log_source_open_redis(b->watch, b->target.prefix, &sel, err, sizeof(err));
	struct log_record r;
	int got = 0;
	bool ok = true;

	if (s == NULL) {
		fprintf(stderr, WHO ": %s\n", err);
		return false;
	}
	while (ok && (got = log_source_next(s, &r)) == 1)
		ok = add_record(b, &r);
	if (ok && got < 0) {
		fprintf(stderr, WHO ": %s\n", log_source_error(s));
		ok = false;
	}
	log_source_close(s);
	if (ok && b->n)
		return flush_batch(b);
	free_batch(b);
	return ok;
}

/* ---- the swap ---- */

/* Send one command of the swap (queued inside MULTI on the watching
 * connection); the QUEUED answers are read in chunks. */
static bool queue_swap(struct rebuild *b, int argc, const char **argv, const size_t *lens)
{
	if (redisAppendCommandArgv(b->watch, argc, argv, lens) != REDIS_OK) {
		fprintf(stderr, WHO ": out of memory\n");
		return false;
	}
	if (++b->queued < QUEUED_READ_EVERY)
		return true;
	for (; b->queued > 0; b->queued--) {
		redisReply *r = NULL;

		if (redisGetReply(b->watch, (void **)&r) != REDIS_OK ||
		    !redis_ok(b->watch, r, "queueing the swap")) {
			freeReplyObject(r);
			return false;
		}
		freeReplyObject(r);
	}
	return true;
}

/* The keys of one queued command: a RENAME script's staged/live pairs, or
 * a DEL's keys.  Grouping keeps the transaction's answer (one element per
 * command) small however many keys there are. */
static bool flush_group(struct rebuild *b, struct key_group *g)
{
	const char *argv[3 + 2 * SWAP_GROUP];
	size_t lens[3 + 2 * SWAP_GROUP], n = 0;
	char numkeys[24];
	bool ok;

	if (g->n == 0)
		return true;
	if (g->rename) {
		snprintf(numkeys, sizeof(numkeys), "%zu", g->n);
		argv[n] = "EVAL", lens[n++] = 4;
		argv[n] = rename_script, lens[n++] = strlen(rename_script);
		argv[n] = numkeys, lens[n++] = strlen(numkeys);
	} else {
		argv[n] = "DEL", lens[n++] = 3;
	}
	for (size_t i = 0; i < g->n; i++)
		argv[n] = g->keys[i], lens[n++] = strlen(g->keys[i]);
	ok = queue_swap(b, (int)n, argv, lens);
	for (size_t i = 0; i < g->n; i++)
		free(g->keys[i]);
	g->n = 0;
	return ok;
}

static bool group_add(struct rebuild *b, struct key_group *g, const char *key, size_t len)
{
	if ((g->keys[g->n] = strndup(key, len)) == NULL) {
		fprintf(stderr, WHO ": out of memory\n");
		return false;
	}
	g->n++;
	return g->n < (g->rename ? 2 * SWAP_GROUP : SWAP_GROUP) || flush_group(b, g);
}

#define CHECKS_MAX 256

/* Live projection keys: delete those the rebuild did not produce, except a
 * call hash no entry wrote (a screen pop's link to a call not yet offered:
 * no "v").  One pipelined round trip for up to CHECKS_MAX keys. */
static bool check_live(struct rebuild *b, const redisReply *const *keys, const enum key_derived *kinds,
                       size_t n)
{
	size_t plen = strlen(b->target.prefix);
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		char staged[2 * KEY_MAX];

		snprintf(staged, sizeof(staged), "%s%.*s", b->stage, (int)(keys[i]->len - plen),
		         keys[i]->str + plen);
		redisAppendCommand(b->rc, "EXISTS %s", staged);
		if (kinds[i] == KEY_DERIVED_CALL)
			redisAppendCommand(b->rc, "HEXISTS %b v", keys[i]->str, keys[i]->len);
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *staged = NULL, *has_v = NULL;

		if (redisGetReply(b->rc, (void **)&staged) != REDIS_OK ||
		    (kinds[i] == KEY_DERIVED_CALL && redisGetReply(b->rc, (void **)&has_v) != REDIS_OK)) {
			fprintf(stderr, WHO ": checking keys: %s\n", b->rc->errstr);
			freeReplyObject(staged);
			return false;
		}
		if (ok && (!redis_ok(b->rc, staged, "checking keys") ||
		           (has_v && !redis_ok(b->rc, has_v, "checking keys"))))
			ok = false;
		if (ok && staged->integer == 0) {
			if (has_v && has_v->integer == 0)
				b->pop_links++;
			else if (!group_add(b, &b->deletes, keys[i]->str, keys[i]->len))
				ok = false;
		}
		freeReplyObject(staged);
		freeReplyObject(has_v);
	}
	return ok;
}

/* One SCAN page: staged keys are renamed over their live names; live
 * projection keys are checked. */
static bool swap_page(struct rebuild *b, const redisReply *keys)
{
	size_t slen = strlen(b->stage), n = 0;
	const redisReply *live_keys[CHECKS_MAX];
	enum key_derived kinds[CHECKS_MAX];

	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];

		if (k->len > slen && memcmp(k->str, b->stage, slen) == 0) {
			char live[2 * KEY_MAX];
			int len = snprintf(live, sizeof(live), "%s%.*s", b->target.prefix,
			                   (int)(k->len - slen), k->str + slen);

			if (!group_add(b, &b->renames, k->str, k->len) ||
			    !group_add(b, &b->renames, live, (size_t)len))
				return false;
			continue;
		}
		kinds[n] = key_derived_kind(b->target.prefix, k->str, k->len);
		if (kinds[n] == KEY_NOT_DERIVED)
			continue;
		live_keys[n++] = k;
		if (n == CHECKS_MAX) {
			if (!check_live(b, live_keys, kinds, n))
				return false;
			n = 0;
		}
	}
	return n == 0 || check_live(b, live_keys, kinds, n);
}

/* 1 swapped, 0 the log changed meanwhile (nothing swapped), -1 failed. */
static int swap(struct rebuild *b)
{
	char match[2 * KEY_MAX + 2], cursor[32] = "0";
	redisReply *r = redisCommand(b->watch, "MULTI");
	int result = -1;

	if (!redis_ok(b->watch, r, "starting the swap")) {
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	match_prefix(b->target.prefix, match);
	do {
		r = redisCommand(b->rc, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, match);
		if (!redis_ok(b->rc, r, "listing keys") || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    !swap_page(b, r->element[1])) {
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		freeReplyObject(r);
		if (!extend_lock(b))
			return -1;
	} while (strcmp(cursor, "0") != 0);
	if (!flush_group(b, &b->renames) || !flush_group(b, &b->deletes))
		return -1;
	for (; b->queued > 0; b->queued--) {
		r = NULL;
		if (redisGetReply(b->watch, (void **)&r) != REDIS_OK ||
		    !redis_ok(b->watch, r, "queueing the swap")) {
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	/* Redis runs the swap in one step whose length grows with the number of
	 * keys; its answer says whether it happened, so wait for it however
	 * long it takes (a dead Redis still breaks the connection). */
	redisSetTimeout(b->watch, (struct timeval){0, 0});
	r = redisCommand(b->watch, "EXEC");
	if (r == NULL) {
		fprintf(stderr,
		        WHO
		        ": swapping the rebuilt keys in: %s; whether the swap happened is unknown: run the "
		        "rebuild again\n",
		        b->watch->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_NIL) {
		result = 0;
	} else if (redis_ok(b->watch, r, "swapping the rebuilt keys in") && r->type == REDIS_REPLY_ARRAY) {
		result = 1;
		/* Each element: {renamed} of a rename script, or a DEL's count.  A
		 * rename finds no key only for a key SCAN listed twice, or a staged
		 * call hash that expired meanwhile (its live twin expires at the
		 * same moment). */
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];

			if (e->type == REDIS_REPLY_ARRAY && e->elements == 1 &&
			    e->element[0]->type == REDIS_REPLY_INTEGER)
				b->renamed += (unsigned long long)e->element[0]->integer;
			else if (e->type == REDIS_REPLY_INTEGER)
				b->removed += (unsigned long long)e->integer;
			else {
				fprintf(stderr, WHO ": part of the swap failed: %s\n",
				        e->type == REDIS_REPLY_ERROR ? e->str : "unexpected answer");
				result = -1;
			}
		}
		/* Redis does not undo the rest of a transaction. */
		if (result < 0)
			fprintf(stderr,
			        WHO ": the projections may be partly rebuilt; run the rebuild again\n");
	}
	freeReplyObject(r);
	return result;
}

/* ---- the command ---- */

static redisContext *connect_named(struct rebuild *b)
{
	redisContext *c = cli_target_connect(&b->target, WHO);

	if (c)
		freeReplyObject(redisCommand(c, "CLIENT SETNAME hotline-rebuild"));
	return c;
}

static int run(struct rebuild *b)
{
	char k_calls[KEY_MAX + 16], k_complaints[KEY_MAX + 16];
	redisReply *r;
	int writers, swapped;

	writers = count_writers(b);
	if (writers != 0 && !b->o->force) {
		fprintf(stderr,
		        WHO
		        ": %s; stop the daemons first (or --force: the swap still happens only if the log "
		        "does not grow meanwhile)\n",
		        writers < 0 ? "refusing" : "refusing while hotlined is connected");
		return CLI_FAILED;
	}
	if (!take_lock(b))
		return CLI_FAILED;
	snprintf(k_calls, sizeof(k_calls), "%slog:calls", b->target.prefix);
	snprintf(k_complaints, sizeof(k_complaints), "%slog:complaints", b->target.prefix);
	r = redisCommand(b->watch, "WATCH %s %s", k_calls, k_complaints);
	if (!redis_ok(b->watch, r, "watching the log")) {
		freeReplyObject(r);
		return CLI_FAILED;
	}
	freeReplyObject(r);
	if (!clear_stage(b) || !replay_log(b))
		return CLI_FAILED;
	swapped = swap(b);
	if (swapped == 0) {
		fprintf(stderr, WHO
		        ": the log grew while rebuilding (a hotlined is writing): nothing was changed; stop "
		        "the daemons and run it again\n");
		return CLI_FAILED;
	}
	if (swapped < 0)
		return CLI_FAILED;
	fprintf(stderr,
	        WHO ": %llu entries replayed (%llu changed nothing, %llu not projected); %llu keys rebuilt, "
	            "%llu stale removed, %llu screen-pop call links kept\n",
	        b->entries, b->unchanged, b->findings, b->renamed, b->removed, b->pop_links);
	return b->findings ? CLI_FINDINGS : CLI_OK;
}

int replay_rebuild(const struct replay_opts *o)
{
	struct rebuild *b = calloc(1, sizeof(*b));
	int rc = CLI_FAILED;

	if (b == NULL || sodium_init() < 0) {
		fprintf(stderr, WHO ": out of memory\n");
		free(b);
		return CLI_FAILED;
	}
	b->o = o;
	b->renames.rename = true;
	int status = cli_target_setup(&b->target, WHO, &o->target, false);

	if (status != CLI_OK) {
		free(b);
		return status;
	}
	if (key_rebuild_stage(b->stage, b->target.prefix) < 0 ||
	    key_rebuild_lock(b->lock_key, b->target.prefix) < 0) {
		fprintf(stderr, WHO ": key prefix too long\n");
		free(b);
		return CLI_USAGE;
	}
	b->rc = connect_named(b);
	b->watch = b->rc ? connect_named(b) : NULL;
	if (b->rc && b->watch)
		rc = run(b);
	if (b->watch)
		redisFree(b->watch); /* an unfinished MULTI is discarded by Redis */
	b->watch = NULL;
	if (rc == CLI_FAILED && b->locked) {
		/* Leave nothing half-built behind (the live keys were not touched),
		 * on a fresh connection: the old one may hold unread answers. */
		if (b->rc)
			redisFree(b->rc);
		b->rc = connect_named(b);
		if (b->rc)
			clear_stage(b);
	}
	if (b->rc)
		release_lock(b);
	free_batch(b);
	for (size_t i = 0; i < b->renames.n; i++)
		free(b->renames.keys[i]);
	for (size_t i = 0; i < b->deletes.n; i++)
		free(b->deletes.keys[i]);
	if (b->rc)
		redisFree(b->rc);
	free(b);
	return rc;
}
