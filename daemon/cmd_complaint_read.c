/* COMPLAINT get / list: read the complaint projections (no log entry).
 *   get:  one round trip (HGETALL state + LRANGE history)
 *   list: two (ZRANGE of the open queue, then one HGETALL per complaint,
 *         pipelined; at most LIST_SCAN_MAX complaints are examined)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "customer.h"
#include "lifecycle.h"
#include "logwrite.h"
#include "redis_link.h"
#include "server.h"
#include "sla.h"

#define HISTORY_MAX "499" /* entries returned by get, oldest first */
#define LIST_SCAN_MAX 1000
#define LIST_DEFAULT 50
#define LIST_MAX 500

void complaint_get(struct request *req, const json_t *args);
void complaint_list(struct request *req, const json_t *args);

struct read_ctx {
	struct request *req;
	struct server *srv;
	unsigned pending;
	bool failed;
	char id[LOGWRITE_ID_MAX + 1];
	json_t *state;   /* get */
	json_t *history; /* get */
	/* list */
	json_t *filters;
	size_t limit, n_ids;
	char (*ids)[LOGWRITE_ID_MAX + 1];
	json_t **states;
	struct read_cb {
		struct read_ctx *ctx;
		size_t index;
	} *cbs;
	long long total_open;
};

static void ctx_free(struct read_ctx *ctx)
{
	json_decref(ctx->state);
	json_decref(ctx->history);
	json_decref(ctx->filters);
	for (size_t i = 0; ctx->states && i < ctx->n_ids; i++)
		json_decref(ctx->states[i]);
	free(ctx->states);
	free(ctx->ids);
	free(ctx->cbs);
	free(ctx);
}

/* A complaint as clients see it: times as RFC 3339, numbers as numbers. */
static json_t *view(const char *id, const json_t *st, int64_t now)
{
	static const char *const texts[] = {"state",   "severity", "tier",       "category", "summary",
	                                    "customer_id", "phone", "call_id", "opened_by", "owner", "resolution"};
	static const char *const times[] = {"opened_at", "due", "paused_at", "resolved_at", "closed_at", "claimed_at"};
	const char *state = json_string_value(json_object_get(st, "state"));
	int64_t due = logwrite_field_i64(st, "due"), paused = logwrite_field_i64(st, "paused_at");
	int s = state ? complaint_state_from_name(state, strlen(state)) : -1;
	json_t *v = json_pack("{s:s}", "complaint_id", id);
	char buf[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *t = json_string_value(json_object_get(st, texts[i]));

		if (t && *t)
			json_object_set_new(v, texts[i], json_string(t));
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t t = logwrite_field_i64(st, times[i]);

		if (t) {
			sla_format_time(t, buf);
			json_object_set_new(v, times[i], json_string(buf));
		}
	}
	json_object_set_new(v, "level", json_integer(logwrite_field_i64(st, "level")));
	json_object_set_new(v, "reopened", json_integer(logwrite_field_i64(st, "reopened")));
	/* While it waits on the customer the clock is stopped at paused_at. */
	json_object_set_new(v, "overdue",
	                    json_boolean(s >= 0 && complaint_state_is_open((enum complaint_state)s) && due &&
	                                 (paused ? paused : now) > due));
	return v;
}

/* ---- get ---- */

static void get_done(struct read_ctx *ctx)
{
	json_t *body;

	if (ctx->failed) {
		request_reply_err(ctx->req, ERR_UNAVAILABLE, "complaints unavailable: Redis link lost");
	} else if (json_object_size(ctx->state) == 0) {
		request_reply_err(ctx->req, ERR_NOT_FOUND, "no complaint %s", ctx->id);
	} else {
		body = json_pack("{s:o,s:O}", "complaint", view(ctx->id, ctx->state, (int64_t)time(NULL)), "history",
		                 ctx->history ? ctx->history : json_array());
		request_reply_ok(ctx->req, body);
		json_decref(body);
	}
	ctx_free(ctx);
}

static void on_get_state(redisReply *r, void *arg)
{
	struct read_ctx *ctx = arg;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		ctx->failed = true;
	else
		ctx->state = logwrite_hash_object(r);
	if (--ctx->pending == 0)
		get_done(ctx);
}

static void on_get_history(redisReply *r, void *arg)
{
	struct read_ctx *ctx = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		ctx->failed = true;
	} else {
		ctx->history = json_array();
		for (size_t i = 0; i < r->elements; i++) {
			json_t *e = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);

			if (e)
				json_array_append_new(ctx->history, e);
		}
	}
	if (--ctx->pending == 0)
		get_done(ctx);
}

static struct read_ctx *ctx_new(struct request *req)
{
	struct read_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	ctx->req = req;
	ctx->srv = req->conn->srv;
	if (redis_link_state(ctx->srv->redis) != REDIS_LINK_UP) {
		request_reply_err(req, ERR_UNAVAILABLE, "complaints unavailable: Redis link %s",
		                  redis_link_state_name(redis_link_state(ctx->srv->redis)));
		free(ctx);
		return NULL;
	}
	return ctx;
}

static bool queue_read(struct read_ctx *ctx, redis_reply_fn *fn, void *arg, int argc, const char **argv)
{
	if (redis_link_command(ctx->srv->redis, fn, arg, argc, argv, NULL) != 0) {
		ctx->failed = true;
		return false;
	}
	ctx->pending++;
	return true;
}

void complaint_get(struct request *req, const json_t *args)
{
	struct read_ctx *ctx;
	char key[KEY_MAX], hist[KEY_MAX + 16];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)args, k, v) {
		if (strcmp(k, "complaint_id") != 0) {
			request_reply_err(req, ERR_BAD_REQUEST, "unknown field '%.40s' for COMPLAINT get", k);
			return;
		}
	}
	ctx = ctx_new(req);
	if (ctx == NULL)
		return;
	if (!logwrite_take_id(req, args, "complaint_id", true, ctx->id)) {
		ctx_free(ctx);
		return;
	}
	snprintf(key, sizeof(key), "%scomplaint:%s", ctx->srv->cfg->redis.key_prefix, ctx->id);
	snprintf(hist, sizeof(hist), "%s:history", key);
	ctx->pending++; /* until both are queued */
	queue_read(ctx, on_get_state, ctx, 2, (const char *[]){"HGETALL", key});
	queue_read(ctx, on_get_history, ctx, 4, (const char *[]){"LRANGE", hist, "0", HISTORY_MAX});
	if (--ctx->pending == 0)
		get_done(ctx);
}

/* ---- list ---- */

static bool matches(const json_t *filters, const json_t *v)
{
	static const char *const keys[] = {"state", "severity", "tier", "category", "owner"};
	const json_t *overdue = json_object_get(filters, "overdue");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *want = json_object_get(filters, keys[i]);

		if (want && !json_equal(want, json_object_get(v, keys[i])))
			return false;
	}
	return !overdue || json_equal(overdue, json_object_get(v, "overdue"));
}

static void list_done(struct read_ctx *ctx)
{
	json_t *out = json_array(), *body;
	int64_t now = (int64_t)time(NULL);

	if (ctx->failed) {
		request_reply_err(ctx->req, ERR_UNAVAILABLE, "complaints unavailable: Redis link lost");
		ctx_free(ctx);
		json_decref(out);
		return;
	}
	for (size_t i = 0; i < ctx->n_ids && json_array_size(out) < ctx->limit; i++) {
		json_t *v;

		if (ctx->states[i] == NULL || json_object_size(ctx->states[i]) == 0)
			continue; /* queue entry without a record: left by a partial rebuild */
		v = view(ctx->ids[i], ctx->states[i], now);
		if (matches(ctx->filters, v))
			json_array_append_new(out, v);
		else
			json_decref(v);
	}
	body = json_pack("{s:o,s:I}", "complaints", out, "total_open", (json_int_t)ctx->total_open);
	request_reply_ok(ctx->req, body);
	json_decref(body);
	ctx_free(ctx);
}

static void on_list_state(redisReply *r, void *arg)
{
	struct read_cb *cb = arg;
	struct read_ctx *ctx = cb->ctx;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		ctx->failed = true;
	else
		ctx->states[cb->index] = logwrite_hash_object(r);
	if (--ctx->pending == 0)
		list_done(ctx);
}

static void on_list_ids(redisReply *r, void *arg)
{
	struct read_ctx *ctx = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		ctx->failed = true;
	} else {
		size_t n = r->elements;

		ctx->ids = calloc(n ? n : 1, sizeof(*ctx->ids));
		ctx->states = calloc(n ? n : 1, sizeof(*ctx->states));
		ctx->cbs = calloc(n ? n : 1, sizeof(*ctx->cbs));
		if (!ctx->ids || !ctx->states || !ctx->cbs) {
			ctx->failed = true;
		} else {
			for (size_t i = 0; i < n; i++) {
				char key[KEY_MAX];

				if (r->element[i]->len > LOGWRITE_ID_MAX)
					continue;
				memcpy(ctx->ids[ctx->n_ids], r->element[i]->str, r->element[i]->len);
				ctx->cbs[ctx->n_ids] = (struct read_cb){.ctx = ctx, .index = ctx->n_ids};
				snprintf(key, sizeof(key), "%scomplaint:%s", ctx->srv->cfg->redis.key_prefix,
				         ctx->ids[ctx->n_ids]);
				if (!queue_read(ctx, on_list_state, &ctx->cbs[ctx->n_ids], 2, (const char *[]){"HGETALL", key}))
					break;
				ctx->n_ids++;
			}
		}
	}
	if (--ctx->pending == 0)
		list_done(ctx);
}

static void on_list_count(redisReply *r, void *arg)
{
	struct read_ctx *ctx = arg;

	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		ctx->failed = true;
	else
		ctx->total_open = r->integer;
	if (--ctx->pending == 0)
		list_done(ctx);
}

static bool check_list_args(struct request *req, const json_t *args, size_t *limit)
{
	static const char *const texts[] = {"state", "severity", "tier", "category", "owner"};
	const char *k;
	json_t *v;

	*limit = LIST_DEFAULT;
	json_object_foreach((json_t *)args, k, v) {
		bool is_text = false;

		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
			is_text |= strcmp(k, texts[i]) == 0;
		if (is_text && !json_is_string(v)) {
			request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be a string", k);
			return false;
		} else if (strcmp(k, "overdue") == 0 && !json_is_boolean(v)) {
			request_reply_err(req, ERR_BAD_REQUEST, "'overdue' must be true or false");
			return false;
		} else if (strcmp(k, "limit") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > LIST_MAX) {
				request_reply_err(req, ERR_BAD_REQUEST, "'limit' must be an integer 1..%d", LIST_MAX);
				return false;
			}
			*limit = (size_t)json_integer_value(v);
		} else if (!is_text && strcmp(k, "overdue") != 0) {
			request_reply_err(req, ERR_BAD_REQUEST,
			                  "unknown filter '%.40s' (state severity tier category owner overdue limit)", k);
			return false;
		}
	}
	return true;
}

void complaint_list(struct request *req, const json_t *args)
{
	struct read_ctx *ctx;
	char key[KEY_MAX], stop[16];
	size_t limit;

	if (!check_list_args(req, args, &limit))
		return;
	ctx = ctx_new(req);
	if (ctx == NULL)
		return;
	ctx->limit = limit;
	ctx->filters = json_deep_copy(args);
	json_object_del(ctx->filters, "limit");
	snprintf(key, sizeof(key), "%scomplaints:open", ctx->srv->cfg->redis.key_prefix);
	snprintf(stop, sizeof(stop), "%d", LIST_SCAN_MAX - 1);
	ctx->pending++;
	queue_read(ctx, on_list_count, ctx, 2, (const char *[]){"ZCARD", key});
	queue_read(ctx, on_list_ids, ctx, 4, (const char *[]){"ZRANGE", key, "0", stop});
	if (--ctx->pending == 0)
		list_done(ctx);
}
