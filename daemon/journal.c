#include "journal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "journal_script.h"
#include "log.h"
#include "loss.h"
#include "redis_link.h"
#include "server.h"

struct pending {
	struct pending *next;
	struct journal *j;
	struct journal_append *a;
	journal_done_fn *done;
	void *arg;
	char seq[24];
	char prev[CHAIN_HEX_LEN + 1];
	char hash[CHAIN_HEX_LEN + 1];
	/* appended, waiting for a WAIT (redis.wait) to be answered */
	char id[48];
	long long rank;
};

struct fifo {
	struct pending *head, *tail;
};

struct stream_head {
	bool known;   /* seq/hash reflect the stream (plus what is in flight) */
	bool syncing; /* an XREVRANGE for the head is in flight */
	bool resync;  /* an append was refused: re-read the head once nothing is in flight */
	uint64_t seq;
	char hash[CHAIN_HEX_LEN + 1];
	uint64_t highest_seen; /* never reset: a head below it means entries vanished */
	char highest_id[48];   /* the stream id of that entry, to look it up */
	uint64_t floor;        /* after such a loss, the next seq is above this */
	struct fifo inflight, retry, waiting;
	unsigned n_inflight;
	unsigned long long appended;
};

struct journal {
	struct server *srv;
	struct stream_head streams[STREAM_COUNT];
	char sha[41]; /* of the script once Redis has it; "" = use EVAL */
	bool loading_script; /* a SCRIPT LOAD is out */
	unsigned generation; /* bumped on link up: stale head replies are ignored */

	/* redis.wait: appended entries wait for a WAIT before they are answered */
	struct fifo wait_next;     /* to be covered by the next WAIT */
	struct fifo wait_inflight; /* covered by the WAIT in flight */
	bool waiting;              /* a WAIT is in flight */
	bool short_logged;         /* "fewer replicas" was logged; "caught up" not yet */
	unsigned long long waits, waits_short;
};

struct head_req {
	struct journal *j;
	enum journal_stream s;
	unsigned generation;
};

static const char *const stream_names[STREAM_COUNT] = {"calls", "complaints"};

const char *journal_stream_name(enum journal_stream s)
{
	return stream_names[s];
}

int journal_stream_from_name(const char *s, size_t len)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		if (strlen(stream_names[i]) == len && memcmp(stream_names[i], s, len) == 0)
			return i;
	return -1;
}

static void append_free(struct journal_append *a)
{
	free(a->state_key);
	free(a->expect_v);
	free(a->idem_key);
	free(a->entry);
	free(a->reply);
	free(a->rank_zset);
	free(a->rank_member);
	free(a->label);
	free(a->request_id);
	journal_ops_free(&a->ops);
	free(a);
}

/* ---- fifo ---- */

static void fifo_push(struct fifo *f, struct pending *p)
{
	p->next = NULL;
	if (f->tail)
		f->tail->next = p;
	else
		f->head = p;
	f->tail = p;
}

static struct pending *fifo_pop(struct fifo *f)
{
	struct pending *p = f->head;

	if (p) {
		f->head = p->next;
		if (f->head == NULL)
			f->tail = NULL;
		p->next = NULL;
	}
	return p;
}

/* Put all of `front` before `back`, leaving front empty. */
static void fifo_prepend(struct fifo *back, struct fifo *front)
{
	if (front->head == NULL)
		return;
	front->tail->next = back->head;
	if (back->tail == NULL)
		back->tail = front->tail;
	back->head = front->head;
	front->head = front->tail = NULL;
}

/* ---- completion ---- */

static void finish(struct pending *p, const struct journal_result *res)
{
	p->done(res, p->arg);
	append_free(p->a);
	free(p);
}

static void fail_queue(struct fifo *f, enum journal_outcome outcome)
{
	struct journal_result res = {.outcome = outcome};
	struct pending *p;

	while ((p = fifo_pop(f)) != NULL)
		finish(p, &res);
}

/* ---- sending ---- */

static void pump(struct journal *j, enum journal_stream s);
static void on_append_reply(redisReply *r, void *arg);

static char *stream_key(struct journal *j, enum journal_stream s, char *buf, size_t len)
{
	snprintf(buf, len, "%slog:%s", j->srv->cfg->redis.key_prefix, stream_names[s]);
	return buf;
}

static bool send_append(struct journal *j, enum journal_stream s, struct pending *p)
{
	struct stream_head *h = &j->streams[s];
	struct journal_append *a = p->a;
	size_t argc = 16 + a->ops.n, i = 0; /* EVAL(SHA) script n keys[2..3] argv[10] ops */
	const char **argv = calloc(argc, sizeof(*argv));
	char key[300], prev_seq[24], ttl[16];
	uint64_t seq = (h->seq > h->floor ? h->seq : h->floor) + 1;
	int rc;

	if (argv == NULL)
		return false;
	snprintf(prev_seq, sizeof(prev_seq), "%" PRIu64, h->seq);
	memcpy(p->prev, h->hash, sizeof(p->prev));
	snprintf(p->seq, sizeof(p->seq), "%" PRIu64, seq);
	chain_hash(p->prev, seq, a->entry, strlen(a->entry), p->hash);
	snprintf(ttl, sizeof(ttl), "%u", a->idem_ttl_s ? a->idem_ttl_s : 1);

	argv[i++] = j->sha[0] ? "EVALSHA" : "EVAL";
	argv[i++] = j->sha[0] ? j->sha : journal_script;
	argv[i++] = a->idem_key[0] ? "3" : "2";
	argv[i++] = stream_key(j, s, key, sizeof(key));
	argv[i++] = a->state_key;
	if (a->idem_key[0])
		argv[i++] = a->idem_key;
	argv[i++] = a->expect_v;
	argv[i++] = prev_seq;
	argv[i++] = p->prev;
	argv[i++] = p->seq;
	argv[i++] = p->hash;
	argv[i++] = a->entry;
	argv[i++] = a->reply ? a->reply : "";
	argv[i++] = ttl;
	argv[i++] = a->rank_zset ? a->rank_zset : "";
	/* rank member is argument 10 of ARGV, i.e. the 15th here */
	argv[i++] = a->rank_member ? a->rank_member : "";
	for (size_t k = 0; k < a->ops.n; k++)
		argv[i++] = a->ops.argv[k];
	rc = redis_link_command(j->srv->redis, on_append_reply, p, (int)i, argv, NULL);
	free(argv);
	if (rc != 0)
		return false;
	/* Optimistic: the next append chains onto this one. */
	h->seq = seq;
	memcpy(h->hash, p->hash, sizeof(h->hash));
	fifo_push(&h->inflight, p);
	h->n_inflight++;
	return true;
}

static void head_failed(struct journal *j, struct head_req *req, const redisReply *r)
{
	struct stream_head *h = &j->streams[req->s];

	if (r)
		log_error("journal: cannot read the head of stream %s", stream_names[req->s]);
	fail_queue(&h->retry, JOURNAL_UNAVAILABLE);
	fail_queue(&h->waiting, JOURNAL_UNAVAILABLE);
	free(req);
}

static void head_known(struct journal *j, struct head_req *req)
{
	j->streams[req->s].known = true;
	pump(j, req->s);
	free(req);
}

static void note_highest(struct stream_head *h, uint64_t seq, const char *id)
{
	if (seq <= h->highest_seen)
		return;
	h->highest_seen = seq;
	snprintf(h->highest_id, sizeof(h->highest_id), "%s", id);
}

/* The stream ends below the highest seq seen: is that entry still there? */
static void on_highest(redisReply *r, void *arg)
{
	struct head_req *req = arg;
	struct journal *j = req->j;
	struct stream_head *h = &j->streams[req->s];

	if (req->generation != j->generation) {
		free(req);
		return;
	}
	h->syncing = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		head_failed(j, req, r);
		return;
	}
	if (r->elements == 0) {
		/* Gone: Redis lost the newest entries.  The chain cannot show
		 * that (nothing links to them), and reusing their seq numbers
		 * would hide it for good: say it here, and number on from the
		 * highest seq seen, so the audit finds a gap where they were. */
		log_error("log stream %s went back from seq %" PRIu64 " to %" PRIu64
		          ": its newest entries were removed or lost by Redis (a failover to a replica that "
		          "lagged, or a restart without AOF); the chain continues at seq %" PRIu64
		          ", leaving seq %" PRIu64 "..%" PRIu64 " as a gap for the audit",
		          stream_names[req->s], h->highest_seen, h->seq, h->highest_seen + 1, h->seq + 1,
		          h->highest_seen);
		h->floor = h->highest_seen;
	} else {
		/* Still there: an entry was added after it out of order (by hand,
		 * or tampering); the chain shows that, so follow the stream. */
		log_warn("log stream %s ends with seq %" PRIu64 " although seq %" PRIu64
		         " (%s) is in it: an entry was added out of order; hotline verify reports where",
		         stream_names[req->s], h->seq, h->highest_seen, h->highest_id);
		h->highest_seen = h->seq;
	}
	head_known(j, req);
}

static void on_head(redisReply *r, void *arg)
{
	struct head_req *req = arg;
	struct journal *j = req->j;
	struct stream_head *h = &j->streams[req->s];
	const char *head_id = "0-0";
	char key[300];

	if (req->generation != j->generation) {
		free(req);
		return;
	}
	h->syncing = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		head_failed(j, req, r);
		return;
	}
	h->seq = 0;
	memcpy(h->hash, CHAIN_GENESIS, sizeof(h->hash));
	if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *fields = r->element[0]->element[1];

		head_id = r->element[0]->element[0]->str;
		for (size_t i = 0; i + 1 < fields->elements; i += 2) {
			const redisReply *k = fields->element[i], *v = fields->element[i + 1];

			if (k->len == 3 && memcmp(k->str, "seq", 3) == 0)
				h->seq = strtoull(v->str, NULL, 10);
			else if (k->len == 4 && memcmp(k->str, "hash", 4) == 0 && v->len == CHAIN_HEX_LEN)
				memcpy(h->hash, v->str, CHAIN_HEX_LEN + 1);
		}
	}
	if (h->seq < h->highest_seen && h->floor < h->highest_seen) {
		const char *argv[] = {"XRANGE", stream_key(j, req->s, key, sizeof(key)), h->highest_id,
		                      h->highest_id};

		if (redis_link_command(j->srv->redis, on_highest, req, 4, argv, NULL) != 0) {
			head_failed(j, req, NULL);
			return;
		}
		h->syncing = true;
		return;
	}
	note_highest(h, h->seq, head_id);
	head_known(j, req);
}

static void request_head(struct journal *j, enum journal_stream s)
{
	struct stream_head *h = &j->streams[s];
	struct head_req *req = malloc(sizeof(*req));
	char key[300];
	const char *argv[] = {"XREVRANGE", stream_key(j, s, key, sizeof(key)), "+", "-", "COUNT", "1"};

	if (req == NULL)
		return;
	*req = (struct head_req){.j = j, .s = s, .generation = j->generation};
	if (redis_link_command(j->srv->redis, on_head, req, 6, argv, NULL) != 0) {
		free(req);
		fail_queue(&h->retry, JOURNAL_UNAVAILABLE);
		fail_queue(&h->waiting, JOURNAL_UNAVAILABLE);
		return;
	}
	h->syncing = true;
}

static void pump(struct journal *j, enum journal_stream s)
{
	struct stream_head *h = &j->streams[s];
	struct pending *p;

	if (h->syncing)
		return;
	if (h->resync) {
		if (h->n_inflight > 0)
			return; /* let every append based on the stale head come back first */
		h->resync = false;
		h->known = false;
		fifo_prepend(&h->waiting, &h->retry);
	}
	if (h->waiting.head == NULL)
		return;
	if (!h->known) {
		request_head(j, s);
		return;
	}
	while ((p = fifo_pop(&h->waiting)) != NULL) {
		if (!send_append(j, s, p)) {
			struct journal_result res = {.outcome = JOURNAL_UNAVAILABLE};

			finish(p, &res);
			fail_queue(&h->waiting, JOURNAL_UNAVAILABLE);
			return;
		}
	}
}

static bool is_str(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static enum journal_stream stream_of(struct journal *j, struct pending *p)
{
	for (int s = 0; s < STREAM_COUNT; s++)
		if (j->streams[s].inflight.head == p)
			return (enum journal_stream)s;
	return STREAM_COUNT;
}

/* ---- redis.wait ---- */

static void send_wait(struct journal *j);

static void finish_waited(struct fifo *f, const redisReply *r)
{
	struct journal_result res = {.outcome = JOURNAL_UNAVAILABLE};
	struct pending *p;

	/* WAIT lost with the link: the entries are in the master, but whether
	 * a replica has them is unknown, so the client retries with its
	 * request_id (answered from the log, not written twice). */
	if (r && r->type == REDIS_REPLY_INTEGER) {
		res.outcome = JOURNAL_APPENDED;
		res.waited = true;
		res.replicas = r->integer;
	} else if (r) {
		log_error("journal: WAIT failed: %.*s", r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
		          r->type == REDIS_REPLY_ERROR ? r->str : "");
		res.outcome = JOURNAL_FAILED;
	}
	while ((p = fifo_pop(f)) != NULL) {
		res.id = p->id;
		res.rank = p->rank;
		finish(p, &res);
	}
}

static void on_wait(redisReply *r, void *arg)
{
	struct journal *j = arg;
	const struct config_redis_wait *w = &j->srv->cfg->redis.wait;

	j->waiting = false;
	if (r && r->type == REDIS_REPLY_INTEGER) {
		if (r->integer < (long long)w->replicas) {
			j->waits_short++;
			if (!j->short_logged)
				log_warn(
				    "journal: WAIT: %lld of %u replicas acknowledged within %u ms; answering "
				    "anyway (the entries are in the master only)",
				    r->integer, w->replicas, w->timeout_ms);
			j->short_logged = true;
		} else if (j->short_logged) {
			log_info("journal: WAIT: %lld replicas acknowledge again", r->integer);
			j->short_logged = false;
		}
	}
	finish_waited(&j->wait_inflight, r);
	if (j->wait_next.head)
		send_wait(j);
}

static void send_wait(struct journal *j)
{
	const struct config_redis_wait *w = &j->srv->cfg->redis.wait;
	char n[16], ms[16];
	const char *argv[] = {"WAIT", n, ms};

	if (j->waiting)
		return;
	snprintf(n, sizeof(n), "%u", w->replicas);
	snprintf(ms, sizeof(ms), "%u", w->timeout_ms);
	fifo_prepend(&j->wait_inflight, &j->wait_next);
	if (redis_link_command(j->srv->redis, on_wait, j, 3, argv, NULL) != 0) {
		finish_waited(&j->wait_inflight, NULL);
		return;
	}
	j->waits++;
	j->waiting = true;
}

/* Hold p's answer until a WAIT covering it returns. */
static void wait_for_replicas(struct journal *j, struct pending *p, const char *id, long long rank)
{
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->rank = rank;
	fifo_push(&j->wait_next, p);
	send_wait(j);
}

static void load_script(struct journal *j);

static void on_append_reply(redisReply *r, void *arg)
{
	struct pending *p = arg;
	struct journal *j = p->j;
	enum journal_stream s = stream_of(j, p);
	struct journal_result res = {.outcome = JOURNAL_FAILED};
	struct stream_head *h;

	if (s == STREAM_COUNT) {
		/* Cannot happen: Redis answers in order on one connection. */
		log_error("journal: reply for an append that is not first in flight");
		abort();
	}
	h = &j->streams[s];
	fifo_pop(&h->inflight);
	h->n_inflight--;

	if (r == NULL) {
		h->known = false;
		res.outcome = JOURNAL_UNAVAILABLE;
	} else if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "NOSCRIPT", 8) == 0) {
			/* Redis lost its script cache (restart, SCRIPT FLUSH): resend with EVAL. */
			j->sha[0] = '\0';
			fifo_push(&h->retry, p);
			h->resync = true;
			pump(j, s);
			return;
		}
		h->resync = true;
		if (strncmp(r->str, "NOREPLICAS", 10) == 0) {
			/* min-replicas-to-write: nothing was written (the XADD is the
			 * script's first write); the client retries later. */
			log_warn("journal: Redis refused an append to %s: %.*s", stream_names[s], (int)r->len,
			         r->str);
			res.outcome = JOURNAL_UNAVAILABLE;
		} else {
			log_error("journal: Redis refused an append to %s: %.*s", stream_names[s],
			          (int)r->len, r->str);
		}
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && is_str(r->element[0], "head")) {
		fifo_push(&h->retry, p);
		h->resync = true;
		pump(j, s);
		return;
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_str(r->element[0], "ok")) {
		res.outcome = JOURNAL_APPENDED;
		/* Sent with EVAL: its SCRIPT LOAD failed (-LOADING just after a
		 * restart) or the cache was lost.  Redis answers scripts again:
		 * load it, so the next appends send its SHA, not its text. */
		if (!j->sha[0])
			load_script(j);
		res.id = r->element[1]->str;
		res.rank = r->element[2]->integer;
		h->appended++;
		note_highest(h, strtoull(p->seq, NULL, 10), res.id);
		loss_note(j->srv->loss, s, p->seq, res.id, p->hash, p->a->label, p->a->request_id);
		if (config_redis_waits_for(&j->srv->cfg->redis, (int)s)) {
			wait_for_replicas(j, p, res.id, res.rank);
			pump(j, s);
			return;
		}
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 && is_str(r->element[0], "dup")) {
		res.outcome = JOURNAL_DUPLICATE;
		res.id = r->element[1]->str;
		res.reply = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "{}";
		res.rank = r->element[3]->type == REDIS_REPLY_STRING ? atoll(r->element[3]->str) : 0;
		h->resync = true;
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && is_str(r->element[0], "state")) {
		res.outcome = JOURNAL_STALE_STATE;
		res.state = r->element[1];
		h->resync = true;
	} else {
		log_error("journal: unexpected reply to an append (type %d)", r->type);
		h->resync = true;
	}
	finish(p, &res);
	pump(j, s);
}

/* ---- public ---- */

struct journal *journal_new(struct server *srv)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (j)
		j->srv = srv;
	return j;
}

void journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	for (int s = 0; s < STREAM_COUNT; s++) {
		fail_queue(&j->streams[s].retry, JOURNAL_UNAVAILABLE);
		fail_queue(&j->streams[s].waiting, JOURNAL_UNAVAILABLE);
	}
	fail_queue(&j->wait_inflight, JOURNAL_UNAVAILABLE);
	fail_queue(&j->wait_next, JOURNAL_UNAVAILABLE);
	free(j);
}

static void on_script_loaded(redisReply *r, void *arg)
{
	struct journal *j = arg;

	j->loading_script = false;
	if (r && r->type == REDIS_REPLY_STRING && r->len == 40)
		memcpy(j->sha, r->str, 41);
	else if (r)
		log_warn("journal: SCRIPT LOAD failed: %.*s; appends use EVAL until it works",
		         r->type == REDIS_REPLY_ERROR ? (int)r->len : 0, r->type == REDIS_REPLY_ERROR ? r->str : "");
}

/* So appends can send the script's SHA instead of its text (EVALSHA). */
static void load_script(struct journal *j)
{
	const char *argv[] = {"SCRIPT", "LOAD", journal_script};

	if (j->loading_script)
		return;
	if (redis_link_command(j->srv->redis, on_script_loaded, j, 3, argv, NULL) != 0) {
		log_warn("journal: cannot queue SCRIPT LOAD; appends use EVAL");
		return;
	}
	j->loading_script = true;
}

void journal_link_up(struct journal *j)
{
	j->generation++;
	j->sha[0] = '\0';
	for (int s = 0; s < STREAM_COUNT; s++) {
		j->streams[s].known = false;
		j->streams[s].syncing = false;
	}
	load_script(j);
}

void journal_submit(struct journal *j, struct journal_append *a, journal_done_fn *done, void *arg)
{
	struct pending *p = calloc(1, sizeof(*p));
	enum journal_stream s = a->stream;

	if (p == NULL) {
		struct journal_result res = {.outcome = JOURNAL_FAILED};

		done(&res, arg);
		append_free(a);
		return;
	}
	p->j = j;
	p->a = a;
	p->done = done;
	p->arg = arg;
	/* Half an event is worse than none: refuse an append that could not be
	 * built whole (out of memory). */
	if (!a->state_key || !a->expect_v || !a->idem_key || !a->entry || !a->reply || a->ops.failed) {
		struct journal_result res = {.outcome = JOURNAL_FAILED};

		log_error("journal: out of memory building an append to %s; refused", stream_names[s]);
		finish(p, &res);
		return;
	}
	if (redis_link_state(j->srv->redis) != REDIS_LINK_UP) {
		struct journal_result res = {.outcome = JOURNAL_UNAVAILABLE};

		finish(p, &res);
		return;
	}
	fifo_push(&j->streams[s].waiting, p);
	pump(j, s);
}

unsigned long long journal_appended(const struct journal *j, enum journal_stream s)
{
	return j->streams[s].appended;
}

unsigned long long journal_waits(const struct journal *j)
{
	return j->waits;
}

unsigned long long journal_waits_short(const struct journal *j)
{
	return j->waits_short;
}
