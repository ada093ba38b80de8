#include "loss.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_link.h"
#include "server.h"

#define ID_MAX      48
#define HASH_PREFIX 16 /* hex digits compared: enough to tell two entries apart */
#define LABEL_MAX   160

struct noted {
	bool live; /* acknowledged and not (yet) reported lost */
	uint64_t seq;
	char id[ID_MAX];
	char hash[HASH_PREFIX + 1];
	char label[LABEL_MAX];
};

struct ring {
	struct noted slot[LOSS_RING];
	unsigned next; /* the slot the next note overwrites */
	unsigned long long lost;
};

struct loss {
	struct server *srv;
	struct ring rings[STREAM_COUNT];
	unsigned generation; /* per check: answers to an older check are dropped */
	unsigned pending;    /* lookups of the current check still out */
	unsigned found_lost; /* in the current check */
	bool aborted;        /* the link dropped during the current check */
};

struct lookup {
	struct loss *l;
	unsigned generation;
	enum journal_stream s;
	unsigned slot;
	char id[ID_MAX];
};

struct loss *loss_new(struct server *srv)
{
	struct loss *l = calloc(1, sizeof(*l));

	if (l)
		l->srv = srv;
	return l;
}

void loss_free(struct loss *l)
{
	free(l);
}

void loss_note(struct loss *l, enum journal_stream s, const char *seq, const char *id, const char *hash,
               const char *label)
{
	struct ring *r = &l->rings[s];
	struct noted *n = &r->slot[r->next];

	if (strlen(id) >= ID_MAX)
		return; /* not a stream id */
	n->live = true;
	n->seq = strtoull(seq, NULL, 10);
	snprintf(n->id, sizeof(n->id), "%s", id);
	snprintf(n->hash, sizeof(n->hash), "%.*s", HASH_PREFIX, hash);
	snprintf(n->label, sizeof(n->label), "%s", label ? label : "");
	r->next = (r->next + 1) % LOSS_RING;
}

unsigned long long loss_count(const struct loss *l, enum journal_stream s)
{
	return l->rings[s].lost;
}

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

static void check_done(struct loss *l)
{
	if (l->aborted || l->found_lost == 0) {
		log_debug("log: %s the acknowledged entries after reconnecting",
		          l->aborted ? "could not finish checking" : "Redis still has all");
		return;
	}
	log_error("log: %u acknowledged entries are missing from Redis at %s (listed above): Redis lost them "
	          "(asynchronous replication in a failover, or a restart without AOF); see proto/HA.md",
	          l->found_lost, redis_link_address(l->srv->redis));
}

static void on_lookup(redisReply *r, void *arg)
{
	struct lookup *lk = arg;
	struct loss *l = lk->l;
	struct ring *ring = &l->rings[lk->s];
	struct noted *n = &ring->slot[lk->slot];

	if (lk->generation != l->generation) {
		free(lk);
		return;
	}
	if (r == NULL)
		l->aborted = true;
	else if (r->type == REDIS_REPLY_ERROR)
		log_warn("log: cannot look up entry %s of %s: %s", lk->id, journal_stream_name(lk->s),
		         r->str);
	else if (r->type == REDIS_REPLY_ARRAY && n->live && strcmp(n->id, lk->id) == 0 &&
	         !still_there(n, r)) {
		n->live = false;
		ring->lost++;
		l->found_lost++;
		log_error("log: lost by Redis: %s seq %" PRIu64 " id %s (%s), acknowledged to the agent",
		          journal_stream_name(lk->s), n->seq, n->id, n->label[0] ? n->label : "?");
	}
	free(lk);
	if (--l->pending == 0)
		check_done(l);
}

void loss_check(struct loss *l)
{
	l->generation++;
	l->pending = 0;
	l->found_lost = 0;
	l->aborted = false;
	for (int s = 0; s < STREAM_COUNT; s++) {
		char key[300];

		snprintf(key, sizeof(key), "%slog:%s", l->srv->cfg->redis.key_prefix,
		         journal_stream_name((enum journal_stream)s));
		for (unsigned i = 0; i < LOSS_RING; i++) {
			struct noted *n = &l->rings[s].slot[i];
			struct lookup *lk;
			const char *argv[4] = {"XRANGE", key, n->id, n->id};

			if (!n->live)
				continue;
			lk = malloc(sizeof(*lk));
			if (lk == NULL)
				return;
			*lk = (struct lookup){
			    .l = l, .generation = l->generation, .s = (enum journal_stream)s, .slot = i};
			snprintf(lk->id, sizeof(lk->id), "%s", n->id);
			if (redis_link_command(l->srv->redis, on_lookup, lk, 4, argv, NULL) != 0) {
				free(lk);
				return; /* the link went away again: the next link up checks */
			}
			l->pending++;
		}
	}
}
