/* QUEUE: what a wallboard shows.  Two Redis round trips: the open calls
 * (<p>calls:open) and the open-complaint queue (<p>complaints:open), then
 * the state of up to QUEUE_SCAN_MAX open complaints, pipelined. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "handlers.h"
#include "redis_link.h"
#include "server.h"

#define QUEUE_SCAN_MAX 1000

struct queue_view {
	struct request *req;
	struct server *srv;
	unsigned pending;
	bool failed;
	json_t *calls, *queues, *complaints;
	long long open_total;
	int64_t now, oldest_opened;
};

static void bump(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void finish(struct queue_view *q)
{
	struct conn *c;
	json_int_t agents = 0, supervisors = 0;
	json_t *body;

	if (q->failed) {
		request_reply_err(q->req, ERR_UNAVAILABLE, "queue view unavailable: Redis link lost");
	} else {
		/* Logged-in agents are those connected to this daemon. */
		TAILQ_FOREACH(c, &q->srv->conns, entry) {
			agents += c->role == ROLE_AGENT;
			supervisors += c->role == ROLE_SUPERVISOR;
		}
		json_object_set_new(q->complaints, "open", json_integer(q->open_total));
		json_object_set_new(q->complaints, "oldest_open_age_s",
		                    q->oldest_opened ? json_integer(q->now - q->oldest_opened) : json_null());
		body = json_pack("{s:O,s:O,s:{s:I,s:I},s:O}", "calls", q->calls, "queues", q->queues, "logged_in",
		                 "agents", agents, "supervisors", supervisors, "complaints", q->complaints);
		request_reply_ok(q->req, body);
		json_decref(body);
	}
	json_decref(q->calls);
	json_decref(q->queues);
	json_decref(q->complaints);
	free(q);
}

static void done_one(struct queue_view *q)
{
	if (--q->pending == 0)
		finish(q);
}

static bool send_cmd(struct queue_view *q, redis_reply_fn *fn, void *arg, int argc, const char **argv)
{
	if (redis_link_command(q->srv->redis, fn, arg, argc, argv, NULL) != 0) {
		q->failed = true;
		return false;
	}
	q->pending++;
	return true;
}

static void on_calls(redisReply *r, void *arg)
{
	struct queue_view *q = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		q->failed = true;
	} else {
		for (size_t i = 1; i < r->elements; i += 2) {
			json_t *card = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
			const char *state = json_string_value(json_object_get(card, "state"));
			const char *queue = json_string_value(json_object_get(card, "queue"));
			const char *kind = state && strcmp(state, "offered") == 0  ? "waiting"
			                   : state && strcmp(state, "held") == 0 ? "on_hold"
			                                                         : "in_progress";
			json_t *per;

			bump(q->calls, kind);
			per = json_object_get(q->queues, queue ? queue : "-");
			if (per == NULL) {
				per = json_pack("{s:i,s:i,s:i}", "waiting", 0, "in_progress", 0, "on_hold", 0);
				json_object_set_new(q->queues, queue ? queue : "-", per);
			}
			bump(per, kind);
			json_decref(card);
		}
	}
	done_one(q);
}

struct complaint_cb {
	struct queue_view *q;
	int64_t due;
};

static void on_complaint(redisReply *r, void *arg)
{
	struct complaint_cb *cb = arg;
	struct queue_view *q = cb->q;

	/* severity tier state opened_at paused_at */
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 5 && r->element[2]->type == REDIS_REPLY_STRING) {
		int64_t opened = r->element[3]->type == REDIS_REPLY_STRING ? atoll(r->element[3]->str) : 0;
		int64_t paused = r->element[4]->type == REDIS_REPLY_STRING ? atoll(r->element[4]->str) : 0;

		if (r->element[0]->type == REDIS_REPLY_STRING)
			bump(json_object_get(q->complaints, "by_severity"), r->element[0]->str);
		if (r->element[1]->type == REDIS_REPLY_STRING)
			bump(json_object_get(q->complaints, "by_tier"), r->element[1]->str);
		bump(json_object_get(q->complaints, "by_state"), r->element[2]->str);
		if (cb->due && (paused ? paused : q->now) > cb->due)
			bump(q->complaints, "overdue");
		if (opened && (q->oldest_opened == 0 || opened < q->oldest_opened))
			q->oldest_opened = opened;
	} else if (r == NULL) {
		q->failed = true;
	}
	free(cb);
	done_one(q);
}

static void on_open_queue(redisReply *r, void *arg)
{
	struct queue_view *q = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		q->failed = true;
		done_one(q);
		return;
	}
	for (size_t i = 0; i + 1 < r->elements && !q->failed; i += 2) {
		struct complaint_cb *cb = malloc(sizeof(*cb));
		char key[300];

		if (cb == NULL) {
			q->failed = true;
			break;
		}
		cb->q = q;
		cb->due = atoll(r->element[i + 1]->str);
		snprintf(key, sizeof(key), "%scomplaint:%.*s", q->srv->cfg->redis.key_prefix, (int)r->element[i]->len,
		         r->element[i]->str);
		if (!send_cmd(q, on_complaint, cb, 7,
		              (const char *[]){"HMGET", key, "severity", "tier", "state", "opened_at", "paused_at"}))
			free(cb);
	}
	done_one(q);
}

static void on_open_count(redisReply *r, void *arg)
{
	struct queue_view *q = arg;

	if (r && r->type == REDIS_REPLY_INTEGER)
		q->open_total = r->integer;
	else
		q->failed = true;
	done_one(q);
}

void cmd_queue(struct request *req, const struct command_args *args)
{
	struct server *srv = req->srv;
	struct queue_view *q;
	char k_calls[300], k_open[300], stop[16];

	if (redis_link_state(srv->redis) != REDIS_LINK_UP) {
		request_reply_err(req, ERR_UNAVAILABLE, "queue view unavailable: Redis link %s",
		                  redis_link_state_name(redis_link_state(srv->redis)));
		return;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	q->req = req;
	q->srv = srv;
	q->now = (int64_t)time(NULL);
	q->calls = json_pack("{s:i,s:i,s:i}", "waiting", 0, "in_progress", 0, "on_hold", 0);
	q->queues = json_object();
	q->complaints = json_pack("{s:{},s:{},s:{},s:i}", "by_severity", "by_tier", "by_state", "overdue", 0);
	snprintf(k_calls, sizeof(k_calls), "%scalls:open", srv->cfg->redis.key_prefix);
	snprintf(k_open, sizeof(k_open), "%scomplaints:open", srv->cfg->redis.key_prefix);
	snprintf(stop, sizeof(stop), "%d", QUEUE_SCAN_MAX - 1);
	q->pending = 1; /* held until every first-round command is queued */
	send_cmd(q, on_calls, q, 2, (const char *[]){"HGETALL", k_calls});
	send_cmd(q, on_open_count, q, 2, (const char *[]){"ZCARD", k_open});
	send_cmd(q, on_open_queue, q, 5, (const char *[]){"ZRANGE", k_open, "0", stop, "WITHSCORES"});
	done_one(q);
}
