#include "loss.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "log.h"
#include "logwrite.h"
#include "loss_entry.h"
#include "redis_link.h"
#include "rfc3339.h"
#include "server.h"

#define ID_MAX      48
#define HASH_PREFIX 16 /* hex digits compared: enough to tell two entries apart */
#define LABEL_MAX   160

enum noted_state {
	NOTED_EMPTY,
	NOTED_LIVE,      /* acknowledged, and still in Redis when last looked */
	NOTED_LOST,      /* found missing; its lost record is still to be appended */
	NOTED_RECORDING, /* its lost record is being appended */
	NOTED_RECORDED,  /* its lost record is in the log */
};

struct noted {
	enum noted_state state;
	uint64_t seq;
	char id[ID_MAX];
	char hash[HASH_PREFIX + 1];
	char label[LABEL_MAX];
	char request_id[LOGWRITE_ID_MAX + 1];
};

struct ring {
	struct noted slot[LOSS_RING];
	unsigned next; /* the slot the next note overwrites */
	unsigned long long lost, recorded;
};

struct loss {
	struct server *srv;
	struct ring rings[STREAM_COUNT];
	unsigned generation; /* per check: answers to an older check are dropped */
	unsigned pending;    /* lookups of the current check still out */
	unsigned found_lost; /* in the current check */
	bool aborted;        /* the link dropped during the current check */
	bool refused;        /* Redis refused a lookup (-LOADING after a restart, ...) */
	struct event *recheck; /* after refusals: look again, with backoff */
	unsigned recheck_ms;
};

/* One lookup, or one lost record being appended: which slot it is about,
 * and the id that slot held then (the ring may have moved on since). */
struct slot_ref {
	struct loss *l;
	unsigned generation;
	enum journal_stream s;
	unsigned slot;
	char id[ID_MAX];
};

static void on_recheck(evutil_socket_t fd, short what, void *arg);

struct loss *loss_new(struct server *srv)
{
	struct loss *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->srv = srv;
	l->recheck = evtimer_new(srv->base, on_recheck, l);
	if (l->recheck == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

void loss_free(struct loss *l)
{
	if (l == NULL)
		return;
	event_free(l->recheck);
	free(l);
}

void loss_note(struct loss *l, enum journal_stream s, const char *seq, const char *id, const char *hash,
               const char *label, const char *request_id)
{
	struct ring *r = &l->rings[s];
	struct noted *n = &r->slot[r->next];

	if (strlen(id) >= ID_MAX)
		return; /* not a stream id */
	n->state = NOTED_LIVE;
	n->seq = strtoull(seq, NULL, 10);
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->hash, sizeof(n->hash), "%.*s", HASH_PREFIX, hash);
	snprintf(n->label, sizeof(n->label), "%s", label ? label : "");
	snprintf(n->request_id, sizeof(n->request_id), "%s", request_id ? request_id : "");
	r->next = (r->next + 1) % LOSS_RING;
}

unsigned long long loss_count(const struct loss *l, enum journal_stream s)
{
	return l->rings[s].lost;
}

unsigned long long loss_recorded(const struct loss *l, enum journal_stream s)
{
	return l->rings[s].recorded;
}

static struct slot_ref *slot_ref_new(struct loss *l, enum journal_stream s, unsigned slot)
{
	struct slot_ref *ref = malloc(sizeof(*ref));

	if (ref == NULL)
		return NULL;
	*ref = (struct slot_ref){.l = l, .generation = l->generation, .s = s, .slot = slot};
	snprintf(ref->id, sizeof(ref->id), "%s", l->rings[s].slot[slot].id);
	return ref;
}

/* The slot ref was taken for, if it still holds that entry. */
static struct noted *slot_of(const struct slot_ref *ref)
{
	struct noted *n = &ref->l->rings[ref->s].slot[ref->slot];

	return strcmp(n->id, ref->id) == 0 ? n : NULL;
}

/* ---- recording the losses in the log ---- */

static void on_recorded(const struct journal_result *res, void *arg)
{
	struct slot_ref *ref = arg;
	struct noted *n = slot_of(ref);
	const char *stream = journal_stream_name(ref->s);

	if (n == NULL || n->state != NOTED_RECORDING) {
		free(ref); /* overwritten meanwhile by newer acknowledgements */
		return;
	}
	switch (res->outcome) {
	case JOURNAL_APPENDED:
	case JOURNAL_DUPLICATE: /* an earlier attempt got in; its answer was lost */
		n->state = NOTED_RECORDED;
		ref->l->rings[ref->s].recorded++;
		log_info("log: the loss of %s seq %" PRIu64 " is recorded in the log as entry %s", stream, n->seq,
		         res->id);
		break;
	default:
		/* The next time the link comes up, the check tries again. */
		n->state = NOTED_LOST;
		log_warn("log: could not record the loss of %s seq %" PRIu64 " in the log (%s); "
		         "trying again after the next reconnect",
		         stream, n->seq,
		         res->outcome == JOURNAL_UNAVAILABLE ? "Redis link lost" : "Redis refused the append");
		break;
	}
	free(ref);
}

/* The append of n's lost record: idempotent by n's stream id, so a retry
 * whose first attempt did get in adds nothing. */
static struct journal_append *record_append(struct loss *l, enum journal_stream s, const struct noted *n)
{
	struct journal_append *a = calloc(1, sizeof(*a));
	char key[KEY_MAX], now[RFC3339_MS_MAX];
	struct timespec ts;
	struct loss_item item = {
	    .seq = n->seq, .id = n->id, .hash = n->hash, .request_id = n->request_id, .what = n->label};

	if (a == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	rfc3339_format_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L, now);
	snprintf(key, sizeof(key), "%sidem:@lost:%s:%s", l->srv->cfg->redis.key_prefix, journal_stream_name(s),
	         n->id);
	a->stream = s;
	/* No call or complaint changes: the state checked is the idempotency
	 * hash itself, which never has a "v" field. */
	a->state_key = strdup(key);
	a->expect_v = strdup("0");
	a->idem_key = strdup(key);
	a->idem_ttl_s = l->srv->cfg->log_rules.idempotency_ttl_h * 3600u;
	a->entry = loss_entry_build(now, l->srv->instance_name, redis_link_address(l->srv->redis), &item, 1);
	a->reply = strdup("{}");
	snprintf(key, sizeof(key), "lost record of %s seq %" PRIu64, journal_stream_name(s), n->seq);
	a->label = strdup(key);
	return a;
}

static void record_losses(struct loss *l)
{
	for (int s = 0; s < STREAM_COUNT; s++) {
		for (unsigned k = 0; k < LOSS_RING; k++) {
			/* Oldest first, so the records come in the order the
			 * entries were acknowledged. */
			unsigned i = (l->rings[s].next + k) % LOSS_RING;
			struct noted *n = &l->rings[s].slot[i];
			struct journal_append *a;
			struct slot_ref *ref;

			if (n->state != NOTED_LOST)
				continue;
			ref = slot_ref_new(l, (enum journal_stream)s, i);
			a = ref ? record_append(l, (enum journal_stream)s, n) : NULL;
			if (a == NULL) {
				free(ref);
				log_error("log: out of memory recording lost entries; trying again after the next "
				          "reconnect");
				return;
			}
			n->state = NOTED_RECORDING;
			journal_submit(l->srv->journal, a, on_recorded, ref);
		}
	}
}

/* ---- looking for the acknowledged entries ---- */

/* The entry as stored, or none: does it match what we acknowledged? */
static bool still_there(const struct noted *n, const redisReply *r)
{
	const redisReply *fields;
	bool seq_ok = false, hash_ok = false;

	if (r->elements != 1 || r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2)
		return false;
	fields = r->element[0]->element[1];
	for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];

		if (k->len == 3 && memcmp(k->str, "seq", 3) == 0)
			seq_ok = strtoull(v->str, NULL, 10) == n->seq;
		else if (k->len == 4 && memcmp(k->str, "hash", 4) == 0)
			hash_ok = v->len >= HASH_PREFIX && memcmp(v->str, n->hash, HASH_PREFIX) == 0;
	}
	return seq_ok && hash_ok;
}

/* Some lookups were refused: those entries are still to be looked at. */
static void schedule_recheck(struct loss *l)
{
	const struct config_redis *c = &l->srv->cfg->redis;
	struct timeval tv;

	l->recheck_ms = l->recheck_ms == 0 ? c->reconnect_min_ms
	                : l->recheck_ms * 2 > c->reconnect_max_ms ? c->reconnect_max_ms
	                                                          : l->recheck_ms * 2;
	/* The first of a streak is worth a warning; Redis loading a large AOF
	 * refuses for as long as it takes. */
	if (l->recheck_ms == c->reconnect_min_ms)
		log_warn("log: Redis refused to look up some acknowledged entries; looking again with backoff");
	log_debug("log: looking up the acknowledged entries again in %u ms", l->recheck_ms);
	tv = (struct timeval){.tv_sec = l->recheck_ms / 1000, .tv_usec = (suseconds_t)(l->recheck_ms % 1000) * 1000};
	evtimer_add(l->recheck, &tv);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct loss *l = arg;

	if (redis_link_state(l->srv->redis) == REDIS_LINK_UP)
		loss_check(l); /* else the next link up checks */
}

static void check_done(struct loss *l)
{
	if (l->aborted) {
		log_debug("log: could not finish checking the acknowledged entries after reconnecting");
		return;
	}
	if (l->refused) {
		schedule_recheck(l);
	} else if (l->recheck_ms) {
		log_info("log: looked up the acknowledged entries after Redis had refused to");
		l->recheck_ms = 0;
	}
	if (l->found_lost == 0)
		log_debug("log: Redis still has all the acknowledged entries after reconnecting");
	else
		log_error("log: %u acknowledged entries are missing from Redis at %s (listed above): Redis lost "
		          "them (asynchronous replication in a failover, or a restart without AOF); recording "
		          "each loss in the log; see proto/HA.md",
		          l->found_lost, redis_link_address(l->srv->redis));
	record_losses(l);
}

static void on_lookup(redisReply *r, void *arg)
{
	struct slot_ref *ref = arg;
	struct loss *l = ref->l;
	struct noted *n = slot_of(ref);

	if (ref->generation != l->generation) {
		free(ref);
		return;
	}
	if (r == NULL) {
		l->aborted = true;
	} else if (r->type == REDIS_REPLY_ERROR) {
		if (!l->refused && l->recheck_ms == 0)
			log_warn("log: cannot look up entry %s of %s: %s", ref->id, journal_stream_name(ref->s),
			         r->str);
		l->refused = true;
	} else if (r->type == REDIS_REPLY_ARRAY && n && n->state == NOTED_LIVE && !still_there(n, r)) {
		n->state = NOTED_LOST;
		l->rings[ref->s].lost++;
		l->found_lost++;
		log_error("log: lost by Redis: %s seq %" PRIu64 " id %s (%s%s%s), acknowledged to the agent",
		          journal_stream_name(ref->s), n->seq, n->id, n->label[0] ? n->label : "?",
		          n->request_id[0] ? " request_id " : "", n->request_id);
	}
	free(ref);
	if (--l->pending == 0)
		check_done(l);
}

void loss_check(struct loss *l)
{
	l->generation++;
	l->pending = 0;
	l->found_lost = 0;
	l->aborted = false;
	l->refused = false;
	evtimer_del(l->recheck);
	for (int s = 0; s < STREAM_COUNT; s++) {
		char key[KEY_MAX];

		snprintf(key, sizeof(key), "%slog:%s", l->srv->cfg->redis.key_prefix,
		         journal_stream_name((enum journal_stream)s));
		for (unsigned i = 0; i < LOSS_RING; i++) {
			struct noted *n = &l->rings[s].slot[i];
			struct slot_ref *ref;
			const char *argv[4] = {"XRANGE", key, n->id, n->id};

			if (n->state != NOTED_LIVE)
				continue;
			ref = slot_ref_new(l, (enum journal_stream)s, i);
			if (ref == NULL)
				return;
			if (redis_link_command(l->srv->redis, on_lookup, ref, 4, argv, NULL) != 0) {
				free(ref);
				return; /* the link went away again: the next link up checks */
			}
			l->pending++;
		}
	}
	if (l->pending == 0)
		check_done(l); /* nothing to look up: record what an earlier check found */
}
