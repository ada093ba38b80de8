#include "stream_append.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_lua.h"
#include "import.h"
#include "import_redis.h"

#define MAX_STALLS 100 /* rounds in a row in which every append was refused */

/* KEYS[1] stream, KEYS[2] seen hash (source id -> stream id)
 * ARGV[1] source id, ARGV[2] expected seq of the last entry ("0": empty stream),
 * ARGV[3] its hash (the new entry's prev), ARGV[4] new seq, ARGV[5] new hash, ARGV[6] entry
 * Returns {"ok", id} | {"dup", id} | {"head", seq, hash}; nothing is written unless "ok". */
/* clang-format off */
static const char append_script[] =
	"local prior = redis.call('HGET', KEYS[2], ARGV[1])\n"
	"if prior then return {'dup', prior} end\n"
	CHAIN_LUA_READ_HEAD
	"if lseq ~= ARGV[2] or lhash ~= ARGV[3] then return {'head', lseq, lhash} end\n"
	"local id = redis.call('XADD', KEYS[1], '*', 'seq', ARGV[4], 'prev', ARGV[3], 'hash', ARGV[5],\n"
	"                      'entry', ARGV[6])\n"
	"redis.call('HSET', KEYS[2], ARGV[1], id)\n"
	"return {'ok', id}\n";
/* clang-format on */

static int load_script(struct stream_append *sa)
{
	const char *argv[] = {"SCRIPT", "LOAD", append_script};
	size_t len[] = {6, 4, sizeof(append_script) - 1};
	redisReply *r;

	if (import_append_argv(sa->rc, 3, argv, len) != 0 ||
	    (r = import_reply(sa->rc, REDIS_REPLY_STRING, false, "loading the append script")) == NULL)
		return -1;
	snprintf(sa->sha, sizeof(sa->sha), "%.40s", r->str);
	freeReplyObject(r);
	return 0;
}

int stream_append_init(struct stream_append *sa, redisContext *rc, const char *stream_key,
                       const char *seen_key)
{
	memset(sa, 0, sizeof(*sa));
	sa->rc = rc;
	sa->window = STREAM_APPEND_BATCH;
	snprintf(sa->stream_key, sizeof(sa->stream_key), "%s", stream_key);
	snprintf(sa->seen_key, sizeof(sa->seen_key), "%s", seen_key);
	return load_script(sa);
}

static void clear_items(struct stream_append *sa)
{
	for (size_t i = 0; i < sa->n; i++)
		free(sa->items[i].entry);
	sa->n = 0;
}

void stream_append_free(struct stream_append *sa)
{
	clear_items(sa);
}

int stream_append_add(struct stream_append *sa, const char *source_id, const char *entry, size_t len)
{
	struct stream_append_item *it = &sa->items[sa->n];

	if (strlen(source_id) > STREAM_APPEND_ID_MAX)
		return import_fail("source id '%.80s' is too long", source_id);
	if ((it->entry = malloc(len + 1)) == NULL)
		return import_fail("out of memory");
	memcpy(it->entry, entry, len);
	it->entry[len] = '\0';
	it->len = len;
	snprintf(it->source_id, sizeof(it->source_id), "%s", source_id);
	return ++sa->n == STREAM_APPEND_BATCH ? stream_append_flush(sa) : 0;
}

static bool set_head(struct stream_append *sa, const redisReply *seq, const redisReply *hash)
{
	if (seq->type != REDIS_REPLY_STRING || hash->type != REDIS_REPLY_STRING || hash->len != CHAIN_HEX_LEN)
		return false;
	sa->seq = strtoull(seq->str, NULL, 10);
	memcpy(sa->hash, hash->str, CHAIN_HEX_LEN + 1);
	sa->head_known = true;
	return true;
}

/* The stream's last entry, as the script reads it. */
static int read_head(struct stream_append *sa)
{
	const char *argv[] = {"XREVRANGE", sa->stream_key, "+", "-", "COUNT", "1"};
	size_t len[] = {9, strlen(sa->stream_key), 1, 1, 5, 1};
	redisReply *r;

	if (import_append_argv(sa->rc, 6, argv, len) != 0 ||
	    (r = import_reply(sa->rc, REDIS_REPLY_ARRAY, false, "reading the head of the stream")) == NULL)
		return -1;
	sa->seq = 0;
	memcpy(sa->hash, CHAIN_GENESIS, sizeof(sa->hash));
	if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *f = r->element[0]->element[1];

		for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
			const redisReply *k = f->element[i], *v = f->element[i + 1];

			if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			if (k->len == 3 && memcmp(k->str, "seq", 3) == 0)
				sa->seq = strtoull(v->str, NULL, 10);
			else if (k->len == 4 && memcmp(k->str, "hash", 4) == 0 && v->len == CHAIN_HEX_LEN)
				memcpy(sa->hash, v->str, CHAIN_HEX_LEN + 1);
		}
	}
	freeReplyObject(r);
	sa->head_known = true;
	return 0;
}

/* Which of the batch's source ids are already in the seen hash. */
static int find_seen(struct stream_append *sa, bool *seen)
{
	const char *argv[2 + STREAM_APPEND_BATCH];
	size_t len[2 + STREAM_APPEND_BATCH], n = 0;
	redisReply *r;

	argv[n] = "HMGET", len[n++] = 5;
	argv[n] = sa->seen_key, len[n++] = strlen(sa->seen_key);
	for (size_t i = 0; i < sa->n; i++)
		argv[n] = sa->items[i].source_id, len[n++] = strlen(sa->items[i].source_id);
	if (import_append_argv(sa->rc, n, argv, len) != 0 ||
	    (r = import_reply(sa->rc, REDIS_REPLY_ARRAY, false, "looking up entries already imported")) ==
	        NULL)
		return -1;
	if (r->elements != sa->n) {
		freeReplyObject(r);
		return import_fail("unexpected answer to HMGET %s", sa->seen_key);
	}
	for (size_t i = 0; i < sa->n; i++)
		seen[i] = r->element[i]->type != REDIS_REPLY_NIL;
	freeReplyObject(r);
	return 0;
}

/* Chain the items in todo onto the believed head and queue their appends. */
static int send_round(struct stream_append *sa, const size_t *todo, size_t n_todo)
{
	uint64_t seq = sa->seq;
	const char *prev = sa->hash;
	char last_seq[24];

	snprintf(last_seq, sizeof(last_seq), "%" PRIu64, seq);
	for (size_t k = 0; k < n_todo; k++) {
		struct stream_append_item *it = &sa->items[todo[k]];
		const char *argv[11];
		size_t len[11];
		const char *expect_seq = k == 0 ? last_seq : sa->items[todo[k - 1]].seq;

		seq++;
		snprintf(it->seq, sizeof(it->seq), "%" PRIu64, seq);
		memcpy(it->prev, prev, sizeof(it->prev));
		chain_hash(it->prev, seq, it->entry, it->len, it->hash);
		prev = it->hash;
		argv[0] = "EVALSHA", argv[1] = sa->sha, argv[2] = "2", argv[3] = sa->stream_key,
		argv[4] = sa->seen_key;
		argv[5] = it->source_id, argv[6] = expect_seq, argv[7] = it->prev, argv[8] = it->seq;
		argv[9] = it->hash, argv[10] = it->entry;
		for (size_t i = 0; i < 10; i++)
			len[i] = strlen(argv[i]);
		len[10] = it->len;
		if (import_append_argv(sa->rc, 11, argv, len) != 0)
			return -1;
	}
	return 0;
}

static bool reply_is(const redisReply *r, const char *word)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
	       r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, word) == 0;
}

/* Read one round's replies; the refused items go to retry.  *progress: something was settled. */
static int read_round(struct stream_append *sa, const size_t *todo, size_t n_todo, size_t *retry,
                      size_t *n_retry, bool *progress)
{
	bool noscript = false;

	*n_retry = 0;
	*progress = false;
	for (size_t k = 0; k < n_todo; k++) {
		struct stream_append_item *it = &sa->items[todo[k]];
		void *v = NULL;
		redisReply *r;

		if (redisGetReply(sa->rc, &v) != REDIS_OK)
			return import_fail("Redis failed while appending to %s: %s", sa->stream_key,
			                   import_redis_problem(sa->rc));
		r = v;
		if (reply_is(r, "ok")) {
			sa->written++;
			sa->seq = strtoull(it->seq, NULL, 10);
			memcpy(sa->hash, it->hash, sizeof(sa->hash));
			sa->head_known = true;
			*progress = true;
		} else if (reply_is(r, "dup")) {
			sa->duplicates++; /* another import got there first: the head is not ours any more */
			sa->head_known = false;
			*progress = true;
		} else if (reply_is(r, "head") && r->elements == 3 &&
		           set_head(sa, r->element[1], r->element[2])) {
			retry[(*n_retry)++] = todo[k];
			sa->resent++;
		} else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			retry[(*n_retry)++] = todo[k]; /* Redis lost its scripts (restart, SCRIPT FLUSH) */
			noscript = true;
		} else {
			int rc = import_fail("Redis refused an append to %s: %.200s", sa->stream_key,
			                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");

			freeReplyObject(r);
			return rc;
		}
		freeReplyObject(r);
	}
	return noscript ? load_script(sa) : 0;
}

int stream_append_flush(struct stream_append *sa)
{
	bool seen[STREAM_APPEND_BATCH];
	size_t todo[STREAM_APPEND_BATCH], retry[STREAM_APPEND_BATCH], n_todo = 0, n_retry;
	unsigned stalls = 0;
	int rc = 0;

	if (sa->n == 0)
		return 0;
	if (find_seen(sa, seen) != 0) {
		clear_items(sa);
		return -1;
	}
	for (size_t i = 0; i < sa->n; i++) {
		if (seen[i])
			sa->duplicates++;
		else
			todo[n_todo++] = i;
	}
	while (n_todo > 0 && rc == 0) {
		size_t n_send = n_todo < sa->window ? n_todo : sa->window;
		bool progress;

		if (!sa->head_known && (rc = read_head(sa)) != 0)
			break;
		if ((rc = send_round(sa, todo, n_send)) != 0 ||
		    (rc = read_round(sa, todo, n_send, retry, &n_retry, &progress)) != 0)
			break;
		/* Another writer appended meanwhile: everything after it was sent in vain, so send fewer at
		 * once while the stream is busy, and more again when a round goes through whole. */
		sa->window = n_retry > 0
		                 ? (sa->window > 1 ? sa->window / 2 : 1)
		                 : (sa->window < STREAM_APPEND_BATCH ? sa->window * 2 : STREAM_APPEND_BATCH);
		stalls = progress ? 0 : stalls + 1;
		if (stalls == MAX_STALLS)
			rc = import_fail(
			    "the head of %s kept moving: %u rounds of appends in a row were refused",
			    sa->stream_key, MAX_STALLS);
		/* the refused ones first, then those not sent yet, in their order */
		memmove(todo + n_retry, todo + n_send, (n_todo - n_send) * sizeof(todo[0]));
		memcpy(todo, retry, n_retry * sizeof(todo[0]));
		n_todo = n_retry + (n_todo - n_send);
	}
	clear_items(sa);
	return rc;
}
