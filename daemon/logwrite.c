#include "logwrite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "customer.h"
#include "durability.h"
#include "json_out.h"
#include "phone.h"
#include "redis_link.h"
#include "rfc3339.h"
#include "server.h"
#include "spooler.h"

static void end(struct logwrite *w)
{
	json_decref(w->state);
	free(w->reply_text);
	w->ops->free(w);
}

void logwrite_init(struct logwrite *w, struct request *req, const struct logwrite_ops *ops)
{
	w->ops = ops;
	w->req = req;
	w->srv = req->srv;
	memcpy(w->user, req->user, sizeof(w->user));
	w->role = req->role;
	memcpy(w->replayed_by, req->replayed_by, sizeof(w->replayed_by));
	w->at_ms = req->replay_at_ms;
	w->replay = req->replay_at_ms > 0;
}

const char *logwrite_idem_user(const struct logwrite *w)
{
	return w->replayed_by[0] ? w->replayed_by : w->user;
}

/* Writes from one connection take effect in the order sent (an answer
 * pipelined behind its offer must see the offer), so the connection reads
 * no further request until this one is answered. */
static void hold_connection(struct logwrite *w)
{
	if (w->req->conn)
		conn_set_barrier(w->req->conn);
}

static void release_connection(struct logwrite *w)
{
	if (w->req->conn)
		conn_release_barrier(w->req->conn);
}

void logwrite_describe(struct logwrite *w, const char *verb, const char *sub, json_t *args, const char *record)
{
	w->verb = verb;
	snprintf(w->sub, sizeof(w->sub), "%s", sub);
	w->args = args;
	snprintf(w->record, sizeof(w->record), "%s", record);
}

void logwrite_reply_ok_read(struct logwrite *w, const json_t *body)
{
	release_connection(w);
	request_reply_ok(w->req, body);
	end(w);
}

static void append_rejected(struct logwrite *w, const char *code, const char *message);

void logwrite_reply_err(struct logwrite *w, const char *code, const char *fmt, ...)
{
	char message[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* A replayed write was acknowledged to the agent long ago: when the
	 * rules refuse it now, log it marked rejected rather than lose it. */
	if (w->replay && (strcmp(code, ERR_CONFLICT) == 0 || strcmp(code, ERR_FORBIDDEN) == 0 ||
	                  strcmp(code, ERR_NOT_FOUND) == 0 || strcmp(code, ERR_BAD_REQUEST) == 0)) {
		append_rejected(w, code, message);
		return;
	}
	release_connection(w);
	request_reply_err(w->req, code, "%s", message);
	end(w);
}

/* ---- argument checks ---- */

static bool get_string(struct request *req, const json_t *args, const char *key, bool required, const char **s,
                       size_t *len)
{
	const json_t *v = json_object_get(args, key);

	*s = NULL;
	*len = 0;
	if (v == NULL || json_is_null(v)) {
		if (required)
			request_reply_err(req, ERR_BAD_REQUEST, "missing '%s'", key);
		return !required;
	}
	if (!json_is_string(v)) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be a string", key);
		return false;
	}
	*s = json_string_value(v);
	*len = json_string_length(v);
	return true;
}

static bool chars_ok(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return false;
	}
	return true;
}

bool logwrite_take_id(struct request *req, const json_t *args, const char *key, bool required,
                      char out[LOGWRITE_ID_MAX + 1])
{
	const char *s;
	size_t len;

	out[0] = '\0';
	if (!get_string(req, args, key, required, &s, &len))
		return false;
	if (s == NULL)
		return true;
	if (!customer_valid_key_part(s, len, LOGWRITE_ID_MAX)) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be 1..64 characters of [A-Za-z0-9_.-]", key);
		return false;
	}
	memcpy(out, s, len + 1);
	return true;
}

bool logwrite_take_request_id(struct logwrite *w, const json_t *args)
{
	return logwrite_take_id(w->req, args, "request_id", false, w->request_id);
}

bool logwrite_check_key_part(struct request *req, const json_t *args, const char *key, bool required)
{
	char buf[LOGWRITE_ID_MAX + 1];

	return logwrite_take_id(req, args, key, required, buf);
}

bool logwrite_check_name(struct request *req, const json_t *args, const char *key, bool required)
{
	const char *s;
	size_t len;

	if (!get_string(req, args, key, required, &s, &len))
		return false;
	if (s && (len == 0 || len > CONFIG_NAME_MAX || !chars_ok(s, len, "_.@-"))) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be 1..64 characters of [A-Za-z0-9_.@-]", key);
		return false;
	}
	return true;
}

bool logwrite_check_text(struct request *req, const json_t *args, const char *key, bool required, size_t max)
{
	const char *s;
	size_t len, off;
	unsigned cp;

	if (!get_string(req, args, key, required, &s, &len))
		return false;
	if (s && (len > max || (required && len == 0))) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be %s1..%zu bytes", key, required ? "" : "0..", max);
		return false;
	}
	/* C0 controls (tab too, in stored text), DEL and C1, which include
	 * terminal escape openers such as CSI (U+009B). */
	if (s && (memchr(s, '\t', len) || proto_find_control(s, len, &off, &cp))) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' contains a control character", key);
		return false;
	}
	return true;
}

bool logwrite_check_phone(struct logwrite *w, json_t *args, const char *key, bool required)
{
	const char *s, *why = NULL;
	size_t len;
	char norm[PHONE_MAX];

	if (!get_string(w->req, args, key, required, &s, &len))
		return false;
	if (s == NULL)
		return true;
	if (!phone_normalize(&w->srv->cfg->phone, s, len, norm, &why)) {
		request_reply_err(w->req, ERR_BAD_REQUEST, "'%s': %s", key, why);
		return false;
	}
	json_object_set_new(args, key, json_string(norm));
	return true;
}

/* ---- time and entries ---- */

long long logwrite_now(const struct logwrite *w, char out[40])
{
	long long ms = w->at_ms;

	if (ms <= 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
	}
	rfc3339_format_ms(ms, out);
	return ms;
}

json_t *logwrite_entry(struct logwrite *w, const char *event_key, const char *event, const char *id_key,
                       const char *id, const char *ts)
{
	json_t *entry = json_pack("{s:s,s:s,s:s,s:s,s:s}", event_key, event, id_key, id, "agent", w->user, "role",
	                          role_name(w->role), "ts", ts);

	/* A replayed entry always says so. */
	if (entry && w->replayed_by[0])
		json_object_set_new(entry, "replayed_by", json_string(w->replayed_by));
	return entry;
}

int64_t logwrite_field_i64(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? strtoll(s, NULL, 10) : 0;
}

void logwrite_copy(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	if (v && !json_is_null(v))
		json_object_set(dst, key, v);
}

void logwrite_finish_entry(struct logwrite *w, json_t *entry)
{
	if (w->request_id[0])
		json_object_set_new(entry, "request_id", json_string(w->request_id));
}

/* ---- read phase ---- */

struct read_cb {
	struct logwrite *w;
	logwrite_read_fn *fn;
};

static void maybe_decide(struct logwrite *w)
{
	if (w->reads_pending > 0)
		return;
	if (w->answered) {
		end(w);
		return;
	}
	if (w->failed) {
		logwrite_reply_err(w, ERR_UNAVAILABLE, "log unavailable: Redis link lost; retry with the same request_id");
		return;
	}
	w->ops->decide(w, w->state);
}

static void on_read(redisReply *r, void *arg)
{
	struct read_cb *cb = arg;
	struct logwrite *w = cb->w;

	w->reads_pending--;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		if (r)
			log_error("log write: Redis error on read: %.*s", (int)r->len, r->str);
		w->failed = true;
	} else if (!w->failed && !w->answered) {
		cb->fn(w, r);
	}
	free(cb);
	maybe_decide(w);
}

void logwrite_read(struct logwrite *w, int argc, const char **argv, logwrite_read_fn *fn)
{
	struct read_cb *cb = malloc(sizeof(*cb));

	if (cb == NULL || redis_link_command(w->srv->redis, on_read, cb, argc, argv, NULL) != 0) {
		free(cb);
		w->failed = true;
		return;
	}
	cb->w = w;
	cb->fn = fn;
	w->reads_pending++;
}

json_t *logwrite_hash_object(const redisReply *r)
{
	json_t *o = json_object();

	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		char key[128];
		size_t kl = r->element[i]->len < sizeof(key) - 1 ? r->element[i]->len : sizeof(key) - 1;

		memcpy(key, r->element[i]->str, kl);
		key[kl] = '\0';
		json_object_set_new(o, key, json_stringn(r->element[i + 1]->str, r->element[i + 1]->len));
	}
	return o;
}

static void take_state(struct logwrite *w, const json_t *state)
{
	const char *v = json_string_value(json_object_get(state, "v"));

	json_decref(w->state);
	w->state = json_deep_copy(state);
	snprintf(w->expect_v, sizeof(w->expect_v), "%s", v && *v ? v : "0");
}

static void on_state(struct logwrite *w, const redisReply *r)
{
	json_t *o = logwrite_hash_object(r);

	take_state(w, o);
	json_decref(o);
}

/* The original reply of a retried request: answer with it, log nothing. */
static void answer_original(struct logwrite *w, const char *id, const char *reply_text, size_t len, long long rank)
{
	json_t *body = json_loadb(reply_text, len, 0, NULL);

	if (!json_is_object(body)) {
		json_decref(body);
		body = json_object();
	}
	json_object_set_new(body, "id", json_string(id));
	if (rank > 0)
		json_object_set_new(body, "priority", json_integer(rank));
	json_object_set_new(body, "duplicate", json_true());
	release_connection(w);
	request_reply_ok(w->req, body);
	json_decref(body);
	w->answered = true;
}

static void on_idem(struct logwrite *w, const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		answer_original(w, r->element[0]->str, r->element[1]->str, r->element[1]->len,
		                r->element[2]->type == REDIS_REPLY_STRING ? atoll(r->element[2]->str) : 0);
}

static void idem_key(struct logwrite *w, char out[KEY_MAX])
{
	snprintf(out, KEY_MAX, "%sidem:%s:%s", w->srv->cfg->redis.key_prefix, logwrite_idem_user(w), w->request_id);
}

void logwrite_read_state(struct logwrite *w, const char *state_key)
{
	snprintf(w->state_key, sizeof(w->state_key), "%s", state_key);
	logwrite_read(w, 2, (const char *[]){"HGETALL", w->state_key}, on_state);
}

void logwrite_start(struct logwrite *w, const char *state_key, logwrite_read_fn *extra)
{
	char key[KEY_MAX];

	w->state = json_object();
	snprintf(w->state_key, sizeof(w->state_key), "%s", state_key ? state_key : "");
	hold_connection(w);
	if (!w->replay && spooler_engaged(w->srv->spooler)) {
		spooler_take(w->srv->spooler, w);
		return;
	}
	if (redis_link_state(w->srv->redis) != REDIS_LINK_UP) {
		logwrite_reply_err(w, ERR_UNAVAILABLE, "log unavailable: Redis link %s",
		                   redis_link_state_name(redis_link_state(w->srv->redis)));
		return;
	}
	/* redis.durability strict: only into a Redis that keeps what it acks
	 * (spooled writes replay once it does). */
	if (!durability_allows_writes(w->srv->durability)) {
		logwrite_reply_err(w, ERR_UNAVAILABLE, "%s", DURABILITY_REFUSED_MSG);
		return;
	}
	w->reads_pending++; /* hold decide until every read below is queued */
	if (w->request_id[0]) {
		idem_key(w, key);
		logwrite_read(w, 5, (const char *[]){"HMGET", key, "id", "reply", "rank"}, on_idem);
	}
	if (state_key)
		logwrite_read_state(w, state_key);
	if (extra)
		extra(w, NULL);
	w->reads_pending--;
	maybe_decide(w);
}

/* ---- append ---- */

/* The same text json_dumps(v, JSON_COMPACT) gives, at a fraction of the
 * cost (json_out.h): two of these per logged write. */
static char *dump(const json_t *v)
{
	return json_out_dumps(v);
}

struct journal_append *logwrite_append(struct logwrite *w, enum journal_stream stream, const json_t *entry,
                                       const json_t *reply, const json_t *state_fields)
{
	struct journal_append *a = calloc(1, sizeof(*a));
	char key[KEY_MAX], next_v[24];
	const char **argv;
	size_t n = 0, cap = 2 + 2 * (json_object_size(state_fields) + 1);
	const char *k;
	json_t *v;

	if (a == NULL)
		goto oom;
	a->stream = stream;
	a->state_key = strdup(w->state_key);
	a->expect_v = strdup(w->expect_v[0] ? w->expect_v : "0");
	if (w->request_id[0])
		idem_key(w, key);
	else
		key[0] = '\0';
	a->idem_key = strdup(key);
	a->idem_ttl_s = w->srv->cfg->log_rules.idempotency_ttl_h * 3600u;
	a->entry = dump(entry);
	a->reply = dump(reply);
	if (!a->state_key || !a->expect_v || !a->idem_key || !a->entry || !a->reply)
		goto oom;

	/* HSET state key <fields...> v <expected + 1> */
	argv = calloc(cap, sizeof(*argv));
	if (argv == NULL)
		goto oom;
	argv[n++] = "HSET";
	argv[n++] = a->state_key;
	json_object_foreach((json_t *)state_fields, k, v) {
		if (!json_is_string(v))
			continue;
		argv[n++] = k;
		argv[n++] = json_string_value(v);
	}
	snprintf(next_v, sizeof(next_v), "%lld", atoll(a->expect_v) + 1);
	argv[n++] = "v";
	argv[n++] = next_v;
	journal_ops_add(&a->ops, (int)n, argv);
	free(argv);
	return a;
oom:
	if (a) {
		free(a->state_key);
		free(a->expect_v);
		free(a->idem_key);
		free(a->entry);
		free(a->reply);
		free(a);
	}
	logwrite_reply_err(w, ERR_INTERNAL, "out of memory building the log entry");
	return NULL;
}

static void on_appended(const struct journal_result *res, void *arg);

/* What the entry is, by ids only (it goes into log lines and lost
 * records), should Redis lose it: "CALL answer call:pbx-1 by agent1". */
static char *loss_label(const struct logwrite *w)
{
	const char *prefix = w->srv->cfg->redis.key_prefix, *key = w->state_key;
	char buf[600];

	if (strncmp(key, prefix, strlen(prefix)) == 0)
		key += strlen(prefix);
	snprintf(buf, sizeof(buf), "%s %s %s by %s", w->verb ? w->verb : "?", w->sub, key, w->user);
	return strdup(buf);
}

static void append_rejected(struct logwrite *w, const char *code, const char *message)
{
	struct journal_append *a = calloc(1, sizeof(*a));
	enum journal_stream stream = strncmp(w->record, "calls:", 6) == 0 ? STREAM_CALLS : STREAM_COMPLAINTS;
	const char *id_key = stream == STREAM_CALLS ? "call_id" : "complaint_id";
	const char *colon = strchr(w->record, ':');
	char now[40], reason[480];
	json_t *entry;

	if (a == NULL) {
		request_reply_err(w->req, ERR_INTERNAL, "out of memory");
		end(w);
		return;
	}
	logwrite_now(w, now);
	snprintf(reason, sizeof(reason), "%s: %s", code, message);
	entry = logwrite_entry(w, "event", w->sub, id_key, colon ? colon + 1 : "", now);
	json_object_set_new(entry, "rejected", json_string(reason));
	json_object_set_new(entry, "spooled", json_true());
	json_object_set(entry, "args", w->args);
	logwrite_finish_entry(w, entry);
	a->stream = stream;
	a->state_key = strdup(w->state_key);
	a->expect_v = strdup(w->expect_v[0] ? w->expect_v : "0");
	a->idem_key = calloc(1, 1);
	if (w->request_id[0]) {
		free(a->idem_key);
		a->idem_key = malloc(KEY_MAX);
		if (a->idem_key)
			idem_key(w, a->idem_key);
	}
	a->idem_ttl_s = w->srv->cfg->log_rules.idempotency_ttl_h * 3600u;
	a->entry = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
	a->reply = strdup("{\"rejected\":true}");
	a->label = loss_label(w);
	if (w->request_id[0])
		a->request_id = strdup(w->request_id);
	json_decref(entry);
	/* No state change: the record stays as the rules left it. */
	free(w->reply_text);
	w->reply_text = strdup(a->reply);
	journal_submit(w->srv->journal, a, on_appended, w);
}

static void on_appended(const struct journal_result *res, void *arg)
{
	struct logwrite *w = arg;
	json_t *body;

	switch (res->outcome) {
	case JOURNAL_APPENDED:
		body = json_loads(w->reply_text ? w->reply_text : "{}", 0, NULL);
		if (body == NULL) {
			logwrite_reply_err(w, ERR_INTERNAL, "out of memory building the reply");
			return;
		}
		if (res->waited)
			json_object_set_new(body, "replicas", json_integer(res->replicas));
		break;
	case JOURNAL_DUPLICATE:
		answer_original(w, res->id, res->reply, strlen(res->reply), res->rank);
		end(w);
		return;
	case JOURNAL_STALE_STATE:
		if (++w->attempts >= LOGWRITE_MAX_ATTEMPTS) {
			logwrite_reply_err(w, ERR_CONFLICT, "too many concurrent changes to this record; retry");
			return;
		}
		{
			json_t *o = logwrite_hash_object(res->state);

			take_state(w, o);
			json_decref(o);
		}
		w->ops->decide(w, w->state);
		return;
	case JOURNAL_UNAVAILABLE:
		logwrite_reply_err(w, ERR_UNAVAILABLE, "log unavailable: Redis link lost; retry with the same request_id");
		return;
	case JOURNAL_FAILED:
	default:
		logwrite_reply_err(w, ERR_INTERNAL, "Redis refused the log append (see the daemon log)");
		return;
	}
	json_object_set_new(body, "id", json_string(res->id));
	if (res->rank > 0)
		json_object_set_new(body, "priority", json_integer(res->rank));
	release_connection(w);
	request_reply_ok(w->req, body);
	json_decref(body);
	end(w);
}

void logwrite_submit(struct logwrite *w, struct journal_append *a)
{
	/* Keep the reply body to answer with once the append succeeds. */
	free(w->reply_text);
	w->reply_text = strdup(a->reply);
	a->label = loss_label(w);
	if (w->request_id[0])
		a->request_id = strdup(w->request_id);
	journal_submit(w->srv->journal, a, on_appended, w);
}
