/* COMPLAINT <action> {json}: the complaint desk.
 *
 * Writes (open ack progress wait resume escalate resolve close reopen, and
 * next, which claims) go through logwrite: checked against the complaint's
 * life (lifecycle.h), appended to the complaints stream, and the
 * projections the entry implies (projection.h) updated in the same atomic
 * step:
 *   <p>complaint:<id>                 state hash (state, due, level, owner, ...)
 *   <p>complaint:<id>:history         every entry of this complaint, in order
 *   <p>complaints:open                ZSET id -> due (Unix s): the queue, most urgent first
 *   <p>complaints:unassigned          ZSET id -> due: what `next` hands out
 *   <p>customer:<cid>:open_complaints HASH id -> summary (the screen pop's view)
 *   <p>customer:<cid>:contacts        LIST of recent contacts
 * Reads (get, list) answer from those projections.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "conn.h"
#include "customer.h"
#include "handlers.h"
#include "keys.h"
#include "lifecycle.h"
#include "log.h"
#include "logwrite.h"
#include "projection.h"
#include "redis_link.h"
#include "server.h"
#include "sla.h"

/* cmd_complaint_read.c */
void complaint_get(struct request *req, const json_t *args);
void complaint_list(struct request *req, const json_t *args);

#define LIST_SCAN_MAX 1000 /* open complaints examined by one `list` */
#define LIST_DEFAULT 50
#define LIST_MAX 500
#define SUMMARY_MAX 500
#define NEXT_SKIP_MAX 8 /* stale queue heads skipped by one `next` */

enum { ACTION_GET = COMPLAINT_ACTION_COUNT, ACTION_LIST, ACTION_NEXT };

struct complaint_write {
	struct logwrite w; /* first: logwrite callbacks get this */
	int action;
	char complaint_id[LOGWRITE_ID_MAX + 1];
	json_t *args;
	/* open: the customer found */
	char customer_id[LOGWRITE_ID_MAX + 1];
	char tier[16];
	size_t candidates;
	bool customer_missing;
	/* next: a replay names the complaint its recorded claim took */
	bool targeted;
	/* next: queue heads this request found already taken */
	char taken[NEXT_SKIP_MAX][LOGWRITE_ID_MAX + 1];
	unsigned n_taken;
	bool queue_empty;
};

static const char *prefix_of(const struct logwrite *w)
{
	return w->srv->cfg->redis.key_prefix;
}

static void complaint_key(const struct logwrite *w, const char *id, char out[KEY_MAX])
{
	key_complaint(out, prefix_of(w), id);
}

static json_t *str_i64(int64_t v)
{
	return json_sprintf("%" PRId64, v);
}

static json_t *rfc3339(int64_t t)
{
	char buf[32];

	sla_format_time(t, buf);
	return json_string(buf);
}

/* A new id: "K" + UTC date + 8 random base32 characters; unique enough
 * that the compare-and-set (state must not exist) only ever guards. */
static void new_complaint_id(char out[LOGWRITE_ID_MAX + 1])
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[8];
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	gmtime_r(&now, &tm);
	n = strftime(out, LOGWRITE_ID_MAX, "K%Y%m%d-", &tm);
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[n++] = alphabet[rnd[i] % 32];
	out[n] = '\0';
}

static bool in_list(const char (*list)[CONFIG_NAME_MAX + 1], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The reply every write action gets: where the complaint now stands. */
static json_t *state_reply(const char *id, const json_t *st)
{
	json_t *r = json_pack("{s:s,s:O}", "complaint_id", id, "state", json_object_get(st, "state"));

	if (logwrite_field_i64(st, "due"))
		json_object_set_new(r, "due", rfc3339(logwrite_field_i64(st, "due")));
	const char *owner = json_string_value(json_object_get(st, "owner"));

	if (logwrite_field_i64(st, "level"))
		json_object_set_new(r, "level", json_integer(logwrite_field_i64(st, "level")));
	if (owner && *owner)
		json_object_set_new(r, "owner", json_string(owner));
	return r;
}

static void next_reads(struct logwrite *w, const redisReply *unused);

/* ---- decide ---- */

/* The append: the entry, and what it does to the state hash and the other
 * projections (projection.h, the same computation a rebuild makes); the
 * reply says where the complaint now stands. */
static void submit(struct complaint_write *cw, const json_t *state, const json_t *entry)
{
	struct logwrite *w = &cw->w;
	struct projection p;
	struct journal_append *a;
	char err[160], *text = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *reply;

	if (text == NULL || projection_compute(prefix_of(w), STREAM_COMPLAINTS, entry, text, state, &p, err,
	                                       sizeof(err)) != 1) {
		if (text)
			log_error("COMPLAINT %s: cannot project the entry: %s", cw->w.sub, err);
		free(text);
		logwrite_reply_err(w, ERR_INTERNAL, "cannot build the log entry");
		return;
	}
	free(text);
	reply = state_reply(cw->complaint_id, p.state);
	a = logwrite_append(w, STREAM_COMPLAINTS, entry, reply, p.fields);
	if (a) {
		journal_ops_take(&a->ops, &p.ops);
		if (cw->action == COMPLAINT_DO_OPEN) {
			char k_open[KEY_MAX];

			key_complaints_open(k_open, prefix_of(w));
			a->rank_zset = strdup(k_open);
			a->rank_member = strdup(cw->complaint_id);
		}
		logwrite_submit(w, a);
	}
	projection_free(&p);
	json_decref(reply);
}

/* Build the entry of a decided change: the state before plus changes,
 * as the log records it. */
static void append_change(struct complaint_write *cw, const json_t *state, json_t *changes, const char *event,
                          const char *now_text)
{
	struct logwrite *w = &cw->w;
	json_t *merged = json_deep_copy(state), *entry;
	const char *k;
	json_t *v;

	json_object_update(merged, changes);
	json_object_del(merged, "v");
	entry = logwrite_entry(w, "event", event, "complaint_id", cw->complaint_id, now_text);
	logwrite_copy(entry, merged, "customer_id");
	logwrite_copy(entry, merged, "tier");
	logwrite_copy(entry, merged, "severity");
	logwrite_copy(entry, merged, "category");
	if (cw->action == COMPLAINT_DO_OPEN) {
		logwrite_copy(entry, merged, "phone");
		logwrite_copy(entry, merged, "call_id");
		logwrite_copy(entry, merged, "summary");
	}
	json_object_set(entry, "state", json_object_get(merged, "state"));
	if (logwrite_field_i64(merged, "due"))
		json_object_set_new(entry, "due", rfc3339(logwrite_field_i64(merged, "due")));
	json_object_foreach(changes, k, v) {
		if (strcmp(k, "level") == 0)
			json_object_set_new(entry, k, json_integer(logwrite_field_i64(changes, "level")));
		else if (strcmp(k, "owner") == 0 && json_string_length(v) > 0)
			json_object_set(entry, k, v);
	}
	logwrite_copy(entry, cw->args, "resolution");
	logwrite_copy(entry, cw->args, "note");
	logwrite_finish_entry(w, entry);
	submit(cw, state, entry);
	json_decref(merged);
	json_decref(entry);
}

static void decide_open(struct complaint_write *cw, const json_t *state, int64_t now, const char *now_text)
{
	struct logwrite *w = &cw->w;
	const struct config *cfg = w->srv->cfg;
	const char *sev_name = json_string_value(json_object_get(cw->args, "severity"));
	int sev = severity_from_name(sev_name, strlen(sev_name));
	enum customer_tier tier = customer_tier_from_name(cw->tier, strlen(cw->tier));
	json_t *changes;
	int64_t due;

	if (json_object_size(state) > 0) {
		logwrite_reply_err(w, ERR_CONFLICT, "complaint %s already exists", cw->complaint_id);
		return;
	}
	if (cw->customer_missing) {
		logwrite_reply_err(w, ERR_NOT_FOUND, "no customer with that customer_id");
		return;
	}
	if (cw->candidates > 1) {
		logwrite_reply_err(w, ERR_CONFLICT, "the number is shared by %zu customers; open with customer_id",
		                   cw->candidates);
		return;
	}
	if (tier == TIER_COUNT)
		tier = TIER_LEAD; /* unknown caller or no tier yet: the standard deadline */
	due = sla_due(&cfg->sla, (enum severity)sev, tier, now);
	changes = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:o,s:s,s:o}", "state", "open", "severity", sev_name, "tier",
	                    customer_tier_name(tier), "category", json_string_value(json_object_get(cw->args, "category")),
	                    "summary", json_object_get(cw->args, "summary"), "opened_at", str_i64(now), "due",
	                    str_i64(due), "opened_by", w->user, "level", str_i64(0));
	if (cw->customer_id[0])
		json_object_set_new(changes, "customer_id", json_string(cw->customer_id));
	logwrite_copy(changes, cw->args, "phone");
	logwrite_copy(changes, cw->args, "call_id");
	append_change(cw, state, changes, "open", now_text);
	json_decref(changes);
}

static void decide(struct logwrite *w, const json_t *state)
{
	struct complaint_write *cw = (struct complaint_write *)w;
	const struct config *cfg = w->srv->cfg;
	const char *cur_name = json_string_value(json_object_get(state, "state"));
	int cur = cur_name ? complaint_state_from_name(cur_name, strlen(cur_name)) : COMPLAINT_NONE;
	enum complaint_state next;
	char now_text[40];
	int64_t now = logwrite_now(w, now_text) / 1000, due = logwrite_field_i64(state, "due");
	bool in_window;
	json_t *changes;

	if (cur < 0)
		cur = COMPLAINT_NONE;
	if (cw->action == COMPLAINT_DO_OPEN) {
		decide_open(cw, state, now, now_text);
		return;
	}
	if (cur == COMPLAINT_NONE) {
		logwrite_reply_err(w, ERR_NOT_FOUND, "no complaint %s", cw->complaint_id);
		return;
	}
	if (cw->action == ACTION_NEXT) {
		const char *owner = json_string_value(json_object_get(state, "owner"));

		if (cw->targeted && ((owner && *owner) || !complaint_state_is_open((enum complaint_state)cur))) {
			logwrite_reply_err(w, ERR_CONFLICT, "complaint %s is %s%s; cannot claim it", cw->complaint_id,
			                   complaint_state_name((enum complaint_state)cur),
			                   owner && *owner ? " and claimed" : "");
			return;
		}
		if ((owner && *owner) || !complaint_state_is_open((enum complaint_state)cur)) {
			/* Someone claimed (or closed) it between our queue read and now:
			 * look at the next one in the queue. */
			if (cw->n_taken == NEXT_SKIP_MAX) {
				logwrite_reply_err(w, ERR_CONFLICT, "the queue is changing too fast; ask again");
				return;
			}
			memcpy(cw->taken[cw->n_taken++], cw->complaint_id, sizeof(cw->complaint_id));
			next_reads(w, NULL);
			return;
		}
		changes = json_pack("{s:s,s:o}", "owner", w->user, "claimed_at", str_i64(now));
		append_change(cw, state, changes, "assign", now_text);
		json_decref(changes);
		return;
	}
	in_window = now - logwrite_field_i64(state, "closed_at") < (int64_t)cfg->log_rules.reopen_window_h * 3600;
	if (!complaint_next_state((enum complaint_state)cur, (enum complaint_action)cw->action, in_window, &next)) {
		logwrite_reply_err(w, ERR_CONFLICT, "complaint %s is %s; cannot %s%s", cw->complaint_id,
		                   complaint_state_name((enum complaint_state)cur),
		                   complaint_action_name((enum complaint_action)cw->action),
		                   cur == COMPLAINT_CLOSED && cw->action == COMPLAINT_DO_REOPEN
		                           ? " (the reopen window has passed)"
		                           : "");
		return;
	}
	changes = json_pack("{s:s}", "state", complaint_state_name(next));
	switch (cw->action) {
	case COMPLAINT_DO_WAIT:
		json_object_set_new(changes, "paused_at", str_i64(now));
		break;
	case COMPLAINT_DO_RESUME:
		/* The SLA clock stood still while the complaint waited on the customer. */
		json_object_set_new(changes, "due",
		                    str_i64(sla_after_pause(&cfg->sla.calendar, due, logwrite_field_i64(state, "paused_at"), now)));
		json_object_set_new(changes, "paused_at", json_string(""));
		break;
	case COMPLAINT_DO_ESCALATE:
		json_object_set_new(changes, "level", str_i64(logwrite_field_i64(state, "level") + 1));
		if (next != COMPLAINT_WAITING)
			json_object_set_new(changes, "due", str_i64(sla_after_escalation(&cfg->sla, due, now)));
		break;
	case COMPLAINT_DO_RESOLVE:
		json_object_set_new(changes, "resolved_at", str_i64(now));
		json_object_set(changes, "resolution", json_object_get(cw->args, "resolution"));
		break;
	case COMPLAINT_DO_CLOSE:
		json_object_set_new(changes, "closed_at", str_i64(now));
		break;
	case COMPLAINT_DO_REOPEN: {
		const char *sev = json_string_value(json_object_get(state, "severity"));
		const char *tier = json_string_value(json_object_get(state, "tier"));
		int s = sev ? severity_from_name(sev, strlen(sev)) : SEV_MEDIUM;
		enum customer_tier t = tier ? customer_tier_from_name(tier, strlen(tier)) : TIER_LEAD;

		/* A reopened complaint gets a fresh deadline and goes back in the queue. */
		json_object_set_new(changes, "due",
		                    str_i64(sla_due(&cfg->sla, s < 0 ? SEV_MEDIUM : (enum severity)s,
		                                    t == TIER_COUNT ? TIER_LEAD : t, now)));
		json_object_set_new(changes, "owner", json_string(""));
		json_object_set_new(changes, "reopened", str_i64(logwrite_field_i64(state, "reopened") + 1));
		break;
	}
	default:
		break;
	}
	append_change(cw, state, changes, complaint_action_name((enum complaint_action)cw->action), now_text);
	json_decref(changes);
}

/* ---- reads done before deciding ---- */

static void on_customer(struct logwrite *w, const redisReply *r)
{
	struct complaint_write *cw = (struct complaint_write *)w;

	/* A record without a tier (imported before --tiers ran) still exists. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
		cw->customer_missing = true;
		return;
	}
	if (r->element[1]->type == REDIS_REPLY_STRING)
		snprintf(cw->tier, sizeof(cw->tier), "%.*s", (int)r->element[1]->len, r->element[1]->str);
}

static void read_customer(struct complaint_write *cw)
{
	char key[KEY_MAX];

	key_customer(key, prefix_of(&cw->w), cw->customer_id);
	logwrite_read(&cw->w, 4, (const char *[]){"HMGET", key, "id", "tier"}, on_customer);
}

static void on_phone(struct logwrite *w, const redisReply *r)
{
	struct complaint_write *cw = (struct complaint_write *)w;

	if (r->type != REDIS_REPLY_ARRAY)
		return;
	cw->candidates = r->elements;
	if (r->elements == 1 && r->element[0]->len <= LOGWRITE_ID_MAX) {
		memcpy(cw->customer_id, r->element[0]->str, r->element[0]->len);
		cw->customer_id[r->element[0]->len] = '\0';
		read_customer(cw);
	}
}

static void open_reads(struct logwrite *w, const redisReply *unused)
{
	struct complaint_write *cw = (struct complaint_write *)w;
	const char *phone = json_string_value(json_object_get(cw->args, "phone"));
	char key[KEY_MAX];

	if (cw->customer_id[0]) {
		read_customer(cw);
	} else if (phone) {
		key_phone(key, prefix_of(w), phone);
		logwrite_read(w, 2, (const char *[]){"SMEMBERS", key}, on_phone);
	}
}

static bool found_taken(const struct complaint_write *cw, const redisReply *id)
{
	for (unsigned i = 0; i < cw->n_taken; i++)
		if (strlen(cw->taken[i]) == id->len && memcmp(cw->taken[i], id->str, id->len) == 0)
			return true;
	return false;
}

/* The most urgent unassigned complaint this request has not already found
 * taken (a claim by someone else removes it from the queue, but our read
 * may have raced that). */
static void on_queue_head(struct logwrite *w, const redisReply *r)
{
	struct complaint_write *cw = (struct complaint_write *)w;
	char key[KEY_MAX];

	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *id = r->element[i];

		if (id->len > LOGWRITE_ID_MAX || found_taken(cw, id))
			continue;
		memcpy(cw->complaint_id, id->str, id->len);
		cw->complaint_id[id->len] = '\0';
		complaint_key(w, cw->complaint_id, key);
		logwrite_read_state(w, key);
		return;
	}
	cw->queue_empty = true;
}

static void next_reads(struct logwrite *w, const redisReply *unused)
{
	char key[KEY_MAX], last[16];

	key_complaints_unassigned(key, prefix_of(w));
	snprintf(last, sizeof(last), "%d", NEXT_SKIP_MAX);
	logwrite_read(w, 4, (const char *[]){"ZRANGE", key, "0", last}, on_queue_head);
}

static void decide_next(struct logwrite *w, const json_t *state)
{
	struct complaint_write *cw = (struct complaint_write *)w;

	if (cw->queue_empty) {
		json_t *body = json_pack("{s:n}", "complaint");

		/* Nothing to claim is an answer, not an error. */
		logwrite_reply_ok_read(w, body);
		json_decref(body);
		return;
	}
	decide(w, state);
}

/* ---- argument checks ---- */

static const char *const fields_common[] = {"complaint_id", "request_id", "note", NULL};
static const char *const fields_open[] = {"customer_id", "phone", "call_id", "category", "severity", "summary",
                                          "request_id", "note", NULL};
/* Replays also carry the complaint id given out while Redis was away. */
static const char *const fields_open_replay[] = {"complaint_id", NULL};

static bool allowed(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

static bool check_args(struct complaint_write *cw)
{
	struct request *req = cw->w.req;
	const struct config *cfg = cw->w.srv->cfg;
	json_t *args = cw->args, *v;
	const char *key, *s;

	json_object_foreach(args, key, v) {
		bool ok = cw->action == COMPLAINT_DO_OPEN ? allowed(fields_open, key) ||
		                                                (cw->w.replay && allowed(fields_open_replay, key))
		          : cw->action == ACTION_NEXT     ? strcmp(key, "request_id") == 0 ||
		                                                (cw->w.replayed_by[0] && strcmp(key, "complaint_id") == 0)
		                                          : allowed(fields_common, key) ||
		                                                (cw->action == COMPLAINT_DO_RESOLVE && strcmp(key, "resolution") == 0);

		if (!ok) {
			request_reply_err(req, ERR_BAD_REQUEST, "unknown field '%.40s' for this COMPLAINT action", key);
			return false;
		}
	}
	if (!logwrite_check_text(req, args, "note", false, 1000))
		return false;
	if (cw->action == ACTION_NEXT)
		return logwrite_take_id(req, args, "complaint_id", false, cw->complaint_id);
	if (cw->action != COMPLAINT_DO_OPEN)
		return logwrite_take_id(req, args, "complaint_id", true, cw->complaint_id) &&
		       (cw->action != COMPLAINT_DO_RESOLVE || logwrite_check_text(req, args, "resolution", true, 2000));
	if (!logwrite_take_id(req, args, "customer_id", false, cw->customer_id) ||
	    !logwrite_check_phone(&cw->w, args, "phone", false) || !logwrite_check_key_part(req, args, "call_id", false) ||
	    !logwrite_check_name(req, args, "category", true) || !logwrite_check_name(req, args, "severity", true) ||
	    !logwrite_check_text(req, args, "summary", true, SUMMARY_MAX))
		return false;
	if (!cw->customer_id[0] && !json_object_get(args, "phone")) {
		request_reply_err(req, ERR_BAD_REQUEST, "open needs customer_id or phone");
		return false;
	}
	s = json_string_value(json_object_get(args, "category"));
	if (!in_list(cfg->log_rules.categories, cfg->log_rules.n_categories, s)) {
		request_reply_err(req, ERR_BAD_REQUEST, "unknown category (see the config's complaints.categories)");
		return false;
	}
	s = json_string_value(json_object_get(args, "severity"));
	if (severity_from_name(s, strlen(s)) < 0) {
		request_reply_err(req, ERR_BAD_REQUEST, "'severity' must be one of low medium high critical");
		return false;
	}
	return true;
}

static void complaint_write_free(struct logwrite *w)
{
	struct complaint_write *cw = (struct complaint_write *)w;

	json_decref(cw->args);
	free(cw);
}

/* While Redis is away: check against what this daemon spooled for the
 * same complaint, and answer with the state it leads to. */
static bool spool_check(struct logwrite *w, const char *known, char next_state[32], json_t **reply)
{
	struct complaint_write *cw = (struct complaint_write *)w;
	int cur = known ? complaint_state_from_name(known, strlen(known)) : -1;
	enum complaint_state next = COMPLAINT_NONE;

	if (cw->action == ACTION_NEXT) {
		logwrite_reply_err(w, ERR_UNAVAILABLE, "cannot claim from the queue while Redis is unreachable");
		return false;
	}
	if (cur >= 0 && !complaint_next_state((enum complaint_state)cur, (enum complaint_action)cw->action, true,
	                                      &next)) {
		logwrite_reply_err(w, ERR_CONFLICT, "complaint %s is %s; cannot %s", cw->complaint_id,
		                   complaint_state_name((enum complaint_state)cur),
		                   complaint_action_name((enum complaint_action)cw->action));
		return false;
	}
	if (cur < 0) {
		/* Unknown here: the outcome, when the action alone decides it. */
		for (int from = COMPLAINT_OPEN; from < COMPLAINT_STATE_COUNT; from++) {
			enum complaint_state to;

			if (cw->action != COMPLAINT_DO_ESCALATE &&
			    complaint_next_state((enum complaint_state)from, (enum complaint_action)cw->action, true, &to)) {
				next = to;
				break;
			}
		}
		if (cw->action == COMPLAINT_DO_OPEN)
			next = COMPLAINT_OPEN;
	}
	*reply = json_pack("{s:s}", "complaint_id", cw->complaint_id);
	if (next != COMPLAINT_NONE) {
		snprintf(next_state, 32, "%s", complaint_state_name(next));
		json_object_set_new(*reply, "state", json_string(next_state));
	}
	return true;
}

static const struct logwrite_ops write_ops = {.decide = decide, .free = complaint_write_free, .spool = spool_check};
static const struct logwrite_ops next_ops = {.decide = decide_next, .free = complaint_write_free, .spool = spool_check};

static void start_write(struct request *req, const struct command_args *args, int action)
{
	struct complaint_write *cw = calloc(1, sizeof(*cw));
	char key[KEY_MAX];

	if (cw == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	cw->action = action;
	cw->args = json_incref(args->json);
	logwrite_init(&cw->w, req, action == ACTION_NEXT ? &next_ops : &write_ops);
	if (!check_args(cw) || !logwrite_take_request_id(&cw->w, args->json)) {
		complaint_write_free(&cw->w);
		return;
	}
	if (action == ACTION_NEXT && cw->complaint_id[0]) {
		/* A replayed claim takes the complaint its recorded claim took,
		 * whatever the queue holds now. */
		cw->targeted = true;
		snprintf(key, sizeof(key), "complaints:%s", cw->complaint_id);
		logwrite_describe(&cw->w, "COMPLAINT", "next", cw->args, key);
		complaint_key(&cw->w, cw->complaint_id, key);
		logwrite_start(&cw->w, key, NULL);
		return;
	}
	if (action == ACTION_NEXT) {
		logwrite_describe(&cw->w, "COMPLAINT", "next", cw->args, "complaints:-");
		logwrite_start(&cw->w, NULL, next_reads);
		return;
	}
	/* A replayed open keeps the id its agent was given while Redis was away. */
	if (action == COMPLAINT_DO_OPEN && !(cw->w.replay && logwrite_take_id(req, cw->args, "complaint_id", false,
	                                                                       cw->complaint_id) &&
	                                     cw->complaint_id[0])) {
		new_complaint_id(cw->complaint_id);
		json_object_set_new(cw->args, "complaint_id", json_string(cw->complaint_id));
	}
	snprintf(key, sizeof(key), "complaints:%s", cw->complaint_id);
	logwrite_describe(&cw->w, "COMPLAINT", complaint_action_name((enum complaint_action)action), cw->args, key);
	complaint_key(&cw->w, cw->complaint_id, key);
	logwrite_start(&cw->w, key, action == COMPLAINT_DO_OPEN ? open_reads : NULL);
}

void cmd_complaint(struct request *req, const struct command_args *args)
{
	int action = complaint_action_from_name(args->sub.p, args->sub.len);

	if (action < 0) {
		if (proto_token_is(&args->sub, "get"))
			action = ACTION_GET;
		else if (proto_token_is(&args->sub, "list"))
			action = ACTION_LIST;
		else if (proto_token_is(&args->sub, "next"))
			action = ACTION_NEXT;
	}
	switch (action) {
	case ACTION_GET:
		complaint_get(req, args->json);
		return;
	case ACTION_LIST:
		complaint_list(req, args->json);
		return;
	case -1:
		request_reply_err(req, ERR_BAD_REQUEST,
		                  "unknown COMPLAINT action '%.*s' (open ack progress wait resume escalate resolve "
		                  "close reopen get list next)",
		                  args->sub.len > 32 ? 32 : (int)args->sub.len, args->sub.p);
		return;
	default:
		start_write(req, args, action);
	}
}
