#include "tail.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "conn.h"
#include "handlers.h"
#include "journal.h"
#include "log.h"
#include "redis_link.h"
#include "server.h"
#include "stream_id.h"

#define CATCHUP_COUNT 200
#define READ_COUNT "500"
#define ID_MAX 48

enum sub_state {
	SUB_STARTING, /* the TAIL reply is not on the socket yet */
	SUB_CATCHUP,  /* reading history from its resume point */
	SUB_LIVE,     /* fed by the shared reader */
};

struct tail_sub {
	struct tail_sub *prev, *next;
	struct tailer *t;
	struct conn *conn; /* NULL once removed while a read was in flight */
	enum journal_stream stream;
	char pos[ID_MAX]; /* last id delivered (or skipped by the filters) */
	json_t *filters;
	enum sub_state state;
	bool reading; /* an XRANGE for it is in flight */
	bool rechecked; /* an empty catch-up read behind the reader was repeated once */
	struct request *req;
};

struct tailer {
	struct server *srv;
	struct redis_link *link; /* only for XREAD BLOCK */
	bool reading, ready;
	unsigned init_pending;
	bool init_failed; /* an answer of the current init_positions round was an error */
	char last_id[STREAM_COUNT][ID_MAX];
	struct tail_sub *subs[STREAM_COUNT];
	size_t n_subs;
	unsigned long long pushed, overflows;
	/* After an XREAD refused (-LOADING while Redis reads its AOF, ...):
	 * read again later, not at once, and log the streak once. */
	struct event *retry;
	unsigned failures;
	unsigned retry_ms;
};

static void stream_key(const struct tailer *t, enum journal_stream s, char *out, size_t len)
{
	snprintf(out, len, "%slog:%s", t->srv->cfg->redis.key_prefix, journal_stream_name(s));
}

/* ---- subscribers ---- */

static size_t backlog_cap(const struct conn *c)
{
	return c->srv->cfg->limits.max_output / 2;
}

static void sub_free(struct tail_sub *sub)
{
	json_decref(sub->filters);
	free(sub);
}

/* Detach from the tailer and the connection; freed now or when its read returns. */
static void sub_remove(struct tail_sub *sub)
{
	struct tailer *t = sub->t;

	if (sub->prev)
		sub->prev->next = sub->next;
	else if (t->subs[sub->stream] == sub)
		t->subs[sub->stream] = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	sub->prev = sub->next = NULL;
	t->n_subs--;
	if (sub->conn && sub->conn->tails[sub->stream] == sub)
		sub->conn->tails[sub->stream] = NULL;
	sub->conn = NULL;
	if (sub->reading)
		return; /* its read callback frees it */
	if (sub->req) {
		/* Its TAIL reply is still queued behind earlier replies. */
		sub->req->on_written = NULL;
		sub->req = NULL;
	}
	sub_free(sub);
}

void tail_conn_closed(struct conn *c)
{
	for (int s = 0; s < STREAM_COUNT; s++)
		if (c->tails[s])
			sub_remove(c->tails[s]);
}

static bool value_matches(const json_t *want, const json_t *have)
{
	size_t i;
	json_t *w;

	if (!json_is_string(have))
		return json_is_integer(have) && json_is_string(want) &&
		       atoll(json_string_value(want)) == json_integer_value(have);
	if (json_is_string(want))
		return strcmp(json_string_value(want), json_string_value(have)) == 0;
	json_array_foreach(want, i, w) {
		if (json_is_string(w) && strcmp(json_string_value(w), json_string_value(have)) == 0)
			return true;
	}
	return false;
}

static bool matches(const json_t *filters, const json_t *entry)
{
	const char *key;
	json_t *want;

	json_object_foreach((json_t *)filters, key, want) {
		if (!value_matches(want, json_object_get(entry, key)))
			return false;
	}
	return true;
}

/* Push one line; on overflow tell the client where it stopped and end the
 * tail.  False when the tail ended. */
static bool push(struct tail_sub *sub, const char *line, size_t len)
{
	struct conn *c = sub->conn;
	json_t *body;
	char *ovf;
	size_t ovf_len = 0;

	if (conn_push(c, line, len, backlog_cap(c))) {
		sub->t->pushed++;
		return true;
	}
	sub->t->overflows++;
	clog_warn(c, "tail of %s stopped: %zu bytes unread (supervisor not keeping up)", journal_stream_name(sub->stream),
	          conn_output_pending(c));
	body = json_pack("{s:s,s:s}", "stream", journal_stream_name(sub->stream), "last_id", sub->pos);
	ovf = body ? proto_format_push("overflow", body, &ovf_len) : NULL;
	json_decref(body);
	if (ovf == NULL || !conn_push(c, ovf, ovf_len, c->srv->cfg->limits.max_output)) {
		free(ovf);
		conn_close(c, "output buffer over limit while tailing");
		return false;
	}
	free(ovf);
	sub_remove(sub);
	return false;
}

/* One stream entry as pushed: {"id","seq",...entry}, and the line. */
static json_t *entry_object(const redisReply *e)
{
	const redisReply *fields = e->element[1];
	json_t *obj = json_pack("{s:s%}", "id", e->element[0]->str, (size_t)e->element[0]->len);

	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];

		if (k->len == 3 && memcmp(k->str, "seq", 3) == 0) {
			json_object_set_new(obj, "seq", json_integer(atoll(v->str)));
		} else if (k->len == 5 && memcmp(k->str, "entry", 5) == 0) {
			json_t *entry = json_loadb(v->str, v->len, 0, NULL);

			if (json_is_object(entry))
				json_object_update(obj, entry);
			json_decref(entry);
		}
	}
	return obj;
}

static char *entry_line(enum journal_stream s, const json_t *obj, size_t *len)
{
	return proto_format_push(journal_stream_name(s), obj, len);
}

/* Feed catch-up entries (an XRANGE page) to one subscriber.  History is
 * paced, not overflowed: when the connection's output passes half the
 * backlog cap, stop; the rest is fetched again from pos once the client
 * has read (tail_conn_writable).  Returns false when it paused. */
static bool feed(struct tail_sub *sub, const redisReply *entries)
{
	for (size_t i = 0; sub->conn && i < entries->elements; i++) {
		const redisReply *e = entries->element[i];
		json_t *obj;

		if (stream_id_cmp(e->element[0]->str, sub->pos) <= 0)
			continue;
		if (conn_output_pending(sub->conn) > backlog_cap(sub->conn) / 2)
			return false;
		obj = entry_object(e);
		if (matches(sub->filters, obj)) {
			size_t len;
			char *line = entry_line(sub->stream, obj, &len);

			if (line && !push(sub, line, len)) {
				free(line);
				json_decref(obj);
				return true;
			}
			free(line);
		}
		json_decref(obj);
		snprintf(sub->pos, sizeof(sub->pos), "%s", e->element[0]->str);
	}
	return true;
}

/* ---- catching up ---- */

static void catchup_read(struct tail_sub *sub);

static void on_catchup(redisReply *r, void *arg)
{
	struct tail_sub *sub = arg;
	struct tailer *t = sub->t;
	bool whole;

	if (sub->conn == NULL) {
		sub_free(sub);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		sub->reading = false;
		return; /* link trouble: kick() retries when it is back */
	}
	/* Still "reading" while feeding, so an overflow cannot free it under us. */
	whole = feed(sub, r);
	sub->reading = false;
	if (sub->conn == NULL) {
		sub_free(sub); /* stopped by overflow */
		return;
	}
	if (!whole)
		return; /* paused until the client reads: tail_conn_writable */
	if (r->elements == CATCHUP_COUNT) {
		catchup_read(sub);
		return;
	}
	if (!t->ready)
		return; /* kick() resumes once the reader knows its position */
	/* Live only once at or past the shared reader: what it broadcast
	 * before this tail joined must come from history.  An empty read while
	 * behind may predate an entry the reader has already seen, so read once
	 * more; empty again means the entries in between no longer exist. */
	if (stream_id_cmp(sub->pos, t->last_id[sub->stream]) >= 0 || (r->elements == 0 && sub->rechecked)) {
		sub->state = SUB_LIVE;
	} else {
		sub->rechecked = r->elements == 0;
		catchup_read(sub);
	}
}

static void catchup_read(struct tail_sub *sub)
{
	char key[300], start[ID_MAX + 2], count[16];
	const char *argv[6] = {"XRANGE", key, start, "+", "COUNT", count};

	stream_key(sub->t, sub->stream, key, sizeof(key));
	snprintf(start, sizeof(start), "(%s", sub->pos);
	snprintf(count, sizeof(count), "%d", CATCHUP_COUNT);
	if (redis_link_command(sub->t->srv->redis, on_catchup, sub, 6, argv, NULL) == 0)
		sub->reading = true;
}

void tail_conn_writable(struct conn *c)
{
	for (int s = 0; s < STREAM_COUNT; s++) {
		struct tail_sub *sub = c->tails[s];

		if (sub && sub->state == SUB_CATCHUP && !sub->reading &&
		    conn_output_pending(c) <= backlog_cap(c) / 2)
			catchup_read(sub);
	}
}

/* Restart catch-ups that stalled (link trouble, reader not ready). */
static void kick(struct tailer *t)
{
	for (int s = 0; s < STREAM_COUNT; s++)
		for (struct tail_sub *sub = t->subs[s]; sub; sub = sub->next)
			if (sub->state == SUB_CATCHUP && !sub->reading)
				catchup_read(sub);
}

static void start_pushing(void *arg)
{
	struct tail_sub *sub = arg;

	sub->req = NULL;
	if (sub->conn == NULL) {
		sub_free(sub);
		return;
	}
	sub->state = SUB_CATCHUP;
	catchup_read(sub);
}

/* ---- the shared reader ---- */

static void reader_loop(struct tailer *t);

static void broadcast(struct tailer *t, enum journal_stream s, const redisReply *entries)
{
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i];
		json_t *obj = entry_object(e);
		char *line = NULL;
		size_t len = 0;
		struct tail_sub *sub, *next;

		for (sub = t->subs[s]; sub; sub = next) {
			next = sub->next;
			if (sub->state != SUB_LIVE || stream_id_cmp(e->element[0]->str, sub->pos) <= 0)
				continue;
			if (matches(sub->filters, obj)) {
				if (line == NULL)
					line = entry_line(s, obj, &len);
				if (line && !push(sub, line, len))
					continue;
			}
			snprintf(sub->pos, sizeof(sub->pos), "%s", e->element[0]->str);
		}
		free(line);
		json_decref(obj);
		snprintf(t->last_id[s], sizeof(t->last_id[s]), "%s", e->element[0]->str);
	}
}

static void on_xread(redisReply *r, void *arg)
{
	struct tailer *t = arg;

	t->reading = false;
	if (r == NULL)
		return; /* the link dropped: on_link_state restarts us */
	if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *st = r->element[i];
			char calls[300];

			stream_key(t, STREAM_CALLS, calls, sizeof(calls));
			broadcast(t, strcmp(st->element[0]->str, calls) == 0 ? STREAM_CALLS : STREAM_COMPLAINTS,
			          st->element[1]);
		}
	} else if (r->type == REDIS_REPLY_ERROR) {
		const struct config_redis *c = &t->srv->cfg->redis;
		struct timeval tv;

		if (t->failures++ == 0) {
			log_error("tail: XREAD failed: %.*s; reading again with backoff", (int)r->len, r->str);
			t->retry_ms = c->reconnect_min_ms;
		} else {
			t->retry_ms = t->retry_ms * 2 > c->reconnect_max_ms ? c->reconnect_max_ms : t->retry_ms * 2;
		}
		tv = (struct timeval){.tv_sec = t->retry_ms / 1000, .tv_usec = (suseconds_t)(t->retry_ms % 1000) * 1000};
		evtimer_add(t->retry, &tv);
		return;
	}
	if (t->failures) {
		log_info("tail: XREAD works again after %u refusals", t->failures);
		t->failures = 0;
	}
	kick(t);
	reader_loop(t);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct tailer *t = arg;

	kick(t);
	reader_loop(t);
}

static void reader_loop(struct tailer *t)
{
	unsigned timeout = t->srv->cfg->redis.command_timeout_ms;
	char k0[300], k1[300], block[16];
	const char *argv[9] = {"XREAD", "COUNT", READ_COUNT, "BLOCK", block, "STREAMS", k0, k1, NULL};
	const char *args[10];

	if (t->reading || !t->ready || t->init_pending || t->n_subs == 0 ||
	    redis_link_state(t->link) != REDIS_LINK_UP)
		return;
	/* Block well inside the link's liveness timeout. */
	snprintf(block, sizeof(block), "%u", timeout / 2 < 1000 ? timeout / 2 : 1000);
	stream_key(t, STREAM_CALLS, k0, sizeof(k0));
	stream_key(t, STREAM_COMPLAINTS, k1, sizeof(k1));
	memcpy(args, argv, 8 * sizeof(*argv));
	args[8] = t->last_id[STREAM_CALLS];
	args[9] = t->last_id[STREAM_COMPLAINTS];
	if (redis_link_command(t->link, on_xread, t, 10, args, NULL) == 0)
		t->reading = true;
}

struct init_req {
	struct tailer *t;
	enum journal_stream s;
};

/* The stream now ends before entries this daemon already pushed: Redis
 * lost them (a failover to a replica that lagged).  What comes next is
 * after the new end, so every position past it moves back to it; else the
 * reader and the tails would skip new entries whose ids (from the new
 * master's clock) sort below the lost ones. */
static void went_back(struct tailer *t, enum journal_stream s, const char *head)
{
	log_warn(
	    "tail: stream %s now ends at %s, before %s already pushed: Redis lost the entries in between; "
	    "following it from there",
	    journal_stream_name(s), head, t->last_id[s]);
	snprintf(t->last_id[s], sizeof(t->last_id[s]), "%s", head);
	for (struct tail_sub *sub = t->subs[s]; sub; sub = sub->next)
		if (stream_id_cmp(sub->pos, head) > 0)
			snprintf(sub->pos, sizeof(sub->pos), "%s", head);
}

static void on_init(redisReply *r, void *arg)
{
	struct init_req *ir = arg;
	struct tailer *t = ir->t;
	const char *head = "0-0";
	bool ok = r && r->type == REDIS_REPLY_ARRAY;

	if (ok && r->elements == 1)
		head = r->element[0]->element[0]->str;
	if (ok) {
		if (!t->ready)
			snprintf(t->last_id[ir->s], sizeof(t->last_id[ir->s]), "%s", head);
		else if (stream_id_cmp(head, t->last_id[ir->s]) < 0)
			went_back(t, ir->s, head);
	} else {
		t->init_failed = true;
		if (r)
			log_warn("tail: reading where %s ends failed: %.*s", journal_stream_name(ir->s), (int)r->len,
			         r->str);
	}
	free(ir);
	if (--t->init_pending > 0)
		return;
	/* Both answers are in.  Before the first position is known the reader
	 * cannot start: that is retried on the next link up.  After it, a
	 * failed check (a Redis still loading its data answers LOADING, and
	 * the link stays up) must not stop the reader: it goes on from its
	 * own position, as it always could. */
	if (t->init_failed && !t->ready) {
		t->init_failed = false;
		return;
	}
	t->init_failed = false;
	t->ready = true;
	kick(t);
	reader_loop(t);
}

/* Learn where the streams end: at the start, to begin there; after a
 * reconnect, to see whether they went back (went_back).  Otherwise the
 * reader continues from its own position, so an outage loses nothing. */
static void init_positions(struct tailer *t)
{
	if (t->init_pending)
		return;
	for (int s = 0; s < STREAM_COUNT; s++) {
		struct init_req *ir = malloc(sizeof(*ir));
		char key[300];
		const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};

		if (ir == NULL)
			return;
		*ir = (struct init_req){.t = t, .s = (enum journal_stream)s};
		if (!t->ready)
			snprintf(t->last_id[s], sizeof(t->last_id[s]), "0-0");
		stream_key(t, (enum journal_stream)s, key, sizeof(key));
		if (redis_link_command(t->link, on_init, ir, 6, argv, NULL) != 0) {
			free(ir);
			return;
		}
		t->init_pending++;
	}
}

static void on_link_state(enum redis_link_state state, void *arg)
{
	struct tailer *t = arg;

	if (state != REDIS_LINK_UP)
		return;
	t->reading = false;
	init_positions(t);
	kick(t);
	reader_loop(t);
}

struct tailer *tailer_new(struct server *srv)
{
	struct tailer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->srv = srv;
	t->retry = evtimer_new(srv->base, on_retry, t);
	t->link = redis_link_new(srv->base, &srv->cfg->redis, "tail");
	if (t->retry == NULL || t->link == NULL || (srv->sentinel && redis_link_use_sentinel(t->link, srv->sentinel) != 0)) {
		redis_link_free(t->link);
		if (t->retry)
			event_free(t->retry);
		free(t);
		return NULL;
	}
	redis_link_set_state_callback(t->link, on_link_state, t);
	return t;
}

void tailer_start(struct tailer *t)
{
	redis_link_start(t->link);
}

void tailer_free(struct tailer *t)
{
	if (t == NULL)
		return;
	redis_link_free(t->link);
	event_free(t->retry);
	free(t);
}

size_t tailer_subscribers(const struct tailer *t)
{
	return t->n_subs;
}

unsigned long long tailer_pushed(const struct tailer *t)
{
	return t->pushed;
}

unsigned long long tailer_overflows(const struct tailer *t)
{
	return t->overflows;
}

/* ---- TAIL / UNTAIL ---- */

static void reply_started(struct tail_sub *sub, struct request *req)
{
	json_t *body = json_pack("{s:s,s:s}", "stream", journal_stream_name(sub->stream), "from", sub->pos);

	/* Entries are pushed only once this reply is on the socket. */
	req->on_written = start_pushing;
	req->on_written_arg = sub;
	sub->req = req;
	request_reply_ok(req, body);
	json_decref(body);
}

static void on_head(redisReply *r, void *arg)
{
	struct tail_sub *sub = arg;
	struct request *req = sub->req;

	sub->reading = false;
	sub->req = NULL;
	if (req->conn)
		conn_release_barrier(req->conn);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		request_reply_err(req, ERR_UNAVAILABLE, "log unavailable: Redis link lost");
		if (sub->conn)
			sub_remove(sub);
		else
			sub_free(sub);
		return;
	}
	if (r->elements == 1)
		snprintf(sub->pos, sizeof(sub->pos), "%s", r->element[0]->element[0]->str);
	if (sub->conn == NULL) {
		request_reply_err(req, ERR_UNAVAILABLE, "connection gone");
		sub_free(sub);
		return;
	}
	reply_started(sub, req);
}

static bool check_filters(struct request *req, const json_t *filters)
{
	static const char *const keys[] = {"queue", "agent", "tier", "severity", "event", "state", "customer_id"};
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)filters, key, v) {
		bool known = false;
		size_t i;
		json_t *item;

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			known |= strcmp(key, keys[k]) == 0;
		if (!known) {
			request_reply_err(req, ERR_BAD_REQUEST,
			                  "unknown filter '%.40s' (queue agent tier severity event state customer_id)", key);
			return false;
		}
		if (json_is_string(v))
			continue;
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 32) {
			request_reply_err(req, ERR_BAD_REQUEST, "filter '%s' must be a string or 1..32 strings", key);
			return false;
		}
		json_array_foreach(v, i, item) {
			if (!json_is_string(item)) {
				request_reply_err(req, ERR_BAD_REQUEST, "filter '%s' must be a string or 1..32 strings", key);
				return false;
			}
		}
	}
	return true;
}

void cmd_tail(struct request *req, const struct command_args *args)
{
	struct conn *c = req->conn;
	struct tailer *t = c->srv->tailer;
	const char *cursor = args->rest;
	size_t remaining = args->rest_len;
	struct proto_token stream_tok, from = {"$", 1};
	struct proto_error err = {0};
	json_t *filters = NULL;
	struct tail_sub *sub;
	char from_text[ID_MAX];
	uint64_t ms, seq;
	int s;

	if (!proto_next_token(&cursor, &remaining, &stream_tok) ||
	    (s = journal_stream_from_name(stream_tok.p, stream_tok.len)) < 0) {
		request_reply_err(req, ERR_BAD_REQUEST, "usage: TAIL calls|complaints [$|<id>] [{filters}]");
		return;
	}
	proto_skip_space(&cursor, &remaining);
	if (remaining && *cursor != '{')
		proto_next_token(&cursor, &remaining, &from);
	proto_skip_space(&cursor, &remaining);
	filters = proto_parse_json_object(cursor, remaining, (size_t)(cursor - args->rest), true, &err);
	if (filters == NULL) {
		request_reply_err(req, err.code, "%s", err.message);
		return;
	}
	snprintf(from_text, sizeof(from_text), "%.*s", (int)(from.len < ID_MAX - 1 ? from.len : ID_MAX - 1), from.p);
	if (!check_filters(req, filters)) {
		json_decref(filters);
		return;
	}
	if (strcmp(from_text, "$") != 0 && (from.len >= ID_MAX || !stream_id_parse(from_text, &ms, &seq))) {
		json_decref(filters);
		request_reply_err(req, ERR_BAD_REQUEST, "'from' must be $ or a stream id like 1795381813307-0");
		return;
	}
	if (c->tails[s]) {
		json_decref(filters);
		request_reply_err(req, ERR_CONFLICT, "already tailing %s on this connection; UNTAIL it first",
		                  journal_stream_name((enum journal_stream)s));
		return;
	}
	sub = calloc(1, sizeof(*sub));
	if (sub == NULL) {
		json_decref(filters);
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	sub->t = t;
	sub->conn = c;
	sub->stream = (enum journal_stream)s;
	sub->filters = filters;
	sub->next = t->subs[s];
	if (sub->next)
		sub->next->prev = sub;
	t->subs[s] = sub;
	t->n_subs++;
	c->tails[s] = sub;
	if (!t->ready)
		init_positions(t);
	if (strcmp(from_text, "$") != 0) {
		snprintf(sub->pos, sizeof(sub->pos), "%s", from_text);
		reply_started(sub, req);
	} else {
		char key[300];
		const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};

		snprintf(sub->pos, sizeof(sub->pos), "0-0");
		stream_key(t, sub->stream, key, sizeof(key));
		sub->req = req;
		if (redis_link_command(c->srv->redis, on_head, sub, 6, argv, NULL) != 0) {
			sub->req = NULL;
			sub_remove(sub);
			request_reply_err(req, ERR_UNAVAILABLE, "log unavailable: Redis link %s",
			                  redis_link_state_name(redis_link_state(c->srv->redis)));
			return;
		}
		sub->reading = true;
		/* The next request (an UNTAIL, say) must see this tail started. */
		conn_set_barrier(c);
	}
	reader_loop(t);
}

void cmd_untail(struct request *req, const struct command_args *args)
{
	struct conn *c = req->conn;
	const char *cursor = args->rest;
	size_t remaining = args->rest_len;
	struct proto_token tok, extra;
	json_t *body;
	int s;

	if (!proto_next_token(&cursor, &remaining, &tok) || proto_next_token(&cursor, &remaining, &extra) ||
	    (s = journal_stream_from_name(tok.p, tok.len)) < 0) {
		request_reply_err(req, ERR_BAD_REQUEST, "usage: UNTAIL calls|complaints");
		return;
	}
	if (c->tails[s] == NULL) {
		request_reply_err(req, ERR_NOT_FOUND, "not tailing %s", journal_stream_name((enum journal_stream)s));
		return;
	}
	body = json_pack("{s:s,s:s}", "stream", journal_stream_name((enum journal_stream)s), "last_id", c->tails[s]->pos);
	sub_remove(c->tails[s]);
	request_reply_ok(req, body);
	json_decref(body);
}

const struct redis_link *tailer_link(const struct tailer *t)
{
	return t->link;
}
