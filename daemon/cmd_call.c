/* CALL <event> {json}: the call log.
 *
 * Each event is checked against the call's life (lifecycle.h) and the leg
 * owner, then appended to the calls stream through the journal, which also
 * updates the projections the entry implies (projection.h): the call's
 * state hash (<p>call:<id>), calls:open and, when a call ends, the
 * customer's recent contacts.  Two Redis round trips: read the state (and
 * the request_id's original reply), then the atomic append.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "customer.h"
#include "handlers.h"
#include "journal.h"
#include "keys.h"
#include "lifecycle.h"
#include "log.h"
#include "logwrite.h"
#include "projection.h"
#include "redis_link.h"
#include "server.h"

struct call_write {
	struct logwrite w; /* must be first: the logwrite callbacks get this */
	enum call_event event;
	char call_id[LOGWRITE_ID_MAX + 1];
	char tier[16]; /* offer with customer_id: the customer's tier, read first */
	json_t *args;
};

static const char *const call_fields_all[] = {"call_id", "request_id", "note", NULL};
static const char *const call_fields[CALL_EVENT_COUNT][6] = {
	[CALL_OFFER] = {"phone", "queue", "customer_id", "dnis", NULL},
	[CALL_ANSWER] = {NULL},
	[CALL_HOLD] = {NULL},
	[CALL_RESUME] = {NULL},
	[CALL_TRANSFER] = {"to", NULL},
	[CALL_END] = {"disposition", "csat", NULL},
};

static bool field_allowed(enum call_event ev, const char *key)
{
	for (int i = 0; call_fields_all[i]; i++)
		if (strcmp(call_fields_all[i], key) == 0)
			return true;
	for (int i = 0; call_fields[ev][i]; i++)
		if (strcmp(call_fields[ev][i], key) == 0)
			return true;
	return false;
}

static bool disposition_known(const struct config *cfg, const char *d)
{
	for (size_t i = 0; i < cfg->log_rules.n_dispositions; i++)
		if (strcmp(cfg->log_rules.dispositions[i], d) == 0)
			return true;
	return false;
}

/* Validate the event's own fields; false when a reply was sent. */
static bool check_event_args(struct call_write *cw)
{
	struct request *req = cw->w.req;
	const struct config *cfg = cw->w.srv->cfg;
	json_t *args = cw->args, *v;
	const char *key;

	json_object_foreach(args, key, v) {
		if (!field_allowed(cw->event, key)) {
			request_reply_err(req, ERR_BAD_REQUEST, "unknown field '%.40s' for CALL %s", key,
			                  call_event_name(cw->event));
			return false;
		}
	}
	if (!logwrite_take_id(req, args, "call_id", true, cw->call_id) ||
	    !logwrite_check_text(req, args, "note", false, 1000))
		return false;
	switch (cw->event) {
	case CALL_OFFER:
		if (!logwrite_check_name(req, args, "queue", true) || !logwrite_check_phone(&cw->w, args, "phone", false) ||
		    !logwrite_check_key_part(req, args, "customer_id", false) ||
		    !logwrite_check_phone(&cw->w, args, "dnis", false))
			return false;
		break;
	case CALL_TRANSFER: {
		const struct config_user *to;

		if (!logwrite_check_name(req, args, "to", true))
			return false;
		/* A replayed transfer names a recorded agent, who need not have an
		 * account here (nor does the agent it acts as). */
		if (cw->w.replayed_by[0])
			break;
		to = config_find_user(cfg, json_string_value(json_object_get(args, "to")));
		if (to == NULL || (to->role != ROLE_AGENT && to->role != ROLE_SUPERVISOR)) {
			request_reply_err(req, ERR_NOT_FOUND, "no agent or supervisor '%.64s' to transfer to",
			                  json_string_value(json_object_get(args, "to")));
			return false;
		}
		break;
	}
	case CALL_END:
		if (!logwrite_check_name(req, args, "disposition", true))
			return false;
		if (!disposition_known(cfg, json_string_value(json_object_get(args, "disposition")))) {
			request_reply_err(req, ERR_BAD_REQUEST, "unknown disposition (see the config's calls.dispositions)");
			return false;
		}
		v = json_object_get(args, "csat");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5)) {
			request_reply_err(req, ERR_BAD_REQUEST, "'csat' must be an integer 1..5");
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* Copy the fields the state carries forward into the entry. */
static void carry(json_t *entry, const json_t *state, const char *key)
{
	json_t *v = json_object_get(state, key);

	if (json_is_string(v) && json_string_length(v) > 0)
		json_object_set(entry, key, v);
}

/* The append: the entry, and what it does to the state hash and the other
 * projections (projection.h, the same computation a rebuild makes). */
static void submit(struct call_write *cw, const json_t *state, const json_t *entry, enum call_state next)
{
	struct logwrite *w = &cw->w;
	struct projection p;
	struct journal_append *a;
	char err[160], *text = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *reply;

	if (text == NULL || projection_compute(w->srv->cfg->redis.key_prefix, STREAM_CALLS, entry, text, state, &p, err,
	                                       sizeof(err)) != 1) {
		if (text)
			log_error("CALL %s: cannot project the entry: %s", call_event_name(cw->event), err);
		free(text);
		logwrite_reply_err(w, ERR_INTERNAL, "cannot build the log entry");
		return;
	}
	free(text);
	reply = json_pack("{s:s,s:s}", "call_id", cw->call_id, "state", call_state_name(next));
	a = logwrite_append(w, STREAM_CALLS, entry, reply, p.fields);
	if (a) {
		journal_ops_take(&a->ops, &p.ops);
		logwrite_submit(w, a);
	}
	projection_free(&p);
	json_decref(reply);
}

/* Given the call's current state, decide and build the append (or reply). */
static void decide(struct logwrite *w, const json_t *state)
{
	struct call_write *cw = (struct call_write *)w;
	const char *cur_name = json_string_value(json_object_get(state, "state"));
	const char *owner = json_string_value(json_object_get(state, "agent"));
	int cur = cur_name ? call_state_from_name(cur_name, strlen(cur_name)) : CALL_NONE;
	enum call_state next;
	json_t *entry;
	char now[40];
	long long now_ms;

	if (cur < 0)
		cur = CALL_NONE;
	/* After the offer, only the agent holding the call's current leg (or a
	 * supervisor) moves it; checked first, so others do not
	 * even learn the call's state. */
	if (cw->event != CALL_OFFER && owner && strcmp(owner, w->user) != 0 && w->role != ROLE_SUPERVISOR) {
		logwrite_reply_err(w, ERR_FORBIDDEN, "call %s is handled by another agent", cw->call_id);
		return;
	}
	if (!call_next_state((enum call_state)cur, cw->event, &next)) {
		logwrite_reply_err(w, ERR_CONFLICT, "call %s is %s; cannot %s", cw->call_id,
		                   call_state_name((enum call_state)cur), call_event_name(cw->event));
		return;
	}
	now_ms = logwrite_now(w, now);
	entry = logwrite_entry(w, "event", call_event_name(cw->event), "call_id", cw->call_id, now);
	if (cw->event == CALL_OFFER) {
		json_t *cid = json_object_get(cw->args, "customer_id");

		json_object_set(entry, "customer_id", cid ? cid : json_object_get(state, "customer_id"));
		if (json_object_get(entry, "customer_id") == NULL || json_is_null(json_object_get(entry, "customer_id")))
			json_object_del(entry, "customer_id");
		logwrite_copy(entry, cw->args, "phone");
		logwrite_copy(entry, cw->args, "queue");
		logwrite_copy(entry, cw->args, "dnis");
		/* The customer's value tier, for supervisors' filters and reports. */
		if (cw->tier[0])
			json_object_set_new(entry, "tier", json_string(cw->tier));
		else if (cid == NULL)
			carry(entry, state, "tier");
	} else {
		carry(entry, state, "customer_id");
		carry(entry, state, "phone");
		carry(entry, state, "queue");
		carry(entry, state, "tier");
	}
	logwrite_copy(entry, cw->args, "to");
	logwrite_copy(entry, cw->args, "disposition");
	logwrite_copy(entry, cw->args, "csat");
	logwrite_copy(entry, cw->args, "note");
	json_object_set_new(entry, "state", json_string(call_state_name(next)));
	if (cw->event == CALL_TRANSFER || cw->event == CALL_END) {
		const char *leg_at = json_string_value(json_object_get(state, "leg_at_ms"));

		/* Handle time belongs to the agent whose leg this was. */
		if (leg_at && cur != CALL_OFFERED)
			json_object_set_new(entry, "leg_ms", json_integer(now_ms - atoll(leg_at)));
	}
	logwrite_finish_entry(w, entry);
	submit(cw, state, entry, next);
	json_decref(entry);
}

static void call_write_free(struct logwrite *w)
{
	struct call_write *cw = (struct call_write *)w;

	json_decref(cw->args);
	free(cw);
}

/* The state an event leads to when the current one is not known here
 * (every event but end has one possible outcome). */
static bool outcome_of(enum call_event ev, enum call_state *to)
{
	for (int from = 0; from < CALL_STATE_COUNT; from++)
		if (call_next_state((enum call_state)from, ev, to))
			return true;
	return false;
}

static bool spool_check(struct logwrite *w, const char *known, char next_state[32], json_t **reply)
{
	struct call_write *cw = (struct call_write *)w;
	int cur = known ? call_state_from_name(known, strlen(known)) : -1;
	enum call_state next;

	if (cur >= 0 && !call_next_state((enum call_state)cur, cw->event, &next)) {
		logwrite_reply_err(w, ERR_CONFLICT, "call %s is %s; cannot %s", cw->call_id,
		                   call_state_name((enum call_state)cur), call_event_name(cw->event));
		return false;
	}
	if (cur < 0 && !outcome_of(cw->event, &next))
		next = CALL_NONE;
	*reply = json_pack("{s:s}", "call_id", cw->call_id);
	if (next != CALL_NONE) {
		snprintf(next_state, 32, "%s", call_state_name(next));
		json_object_set_new(*reply, "state", json_string(next_state));
	}
	return true;
}

static void on_tier(struct logwrite *w, const redisReply *r)
{
	struct call_write *cw = (struct call_write *)w;

	if (r->type == REDIS_REPLY_STRING && r->len < sizeof(cw->tier))
		snprintf(cw->tier, sizeof(cw->tier), "%.*s", (int)r->len, r->str);
}

/* An offer naming its customer: read the customer's tier with the state. */
static void offer_reads(struct logwrite *w, const redisReply *unused)
{
	struct call_write *cw = (struct call_write *)w;
	const char *cid = json_string_value(json_object_get(cw->args, "customer_id"));
	char key[KEY_MAX];

	if (cw->event != CALL_OFFER || cid == NULL || key_customer(key, w->srv->cfg->redis.key_prefix, cid) < 0)
		return;
	logwrite_read(w, 3, (const char *[]){"HGET", key, "tier"}, on_tier);
}

static const struct logwrite_ops call_ops = {
	.decide = decide,
	.free = call_write_free,
	.spool = spool_check,
};

void cmd_call(struct request *req, const struct command_args *args)
{
	struct call_write *cw;
	int ev = call_event_from_name(args->sub.p, args->sub.len);
	char key[KEY_MAX];

	if (ev < 0) {
		request_reply_err(req, ERR_BAD_REQUEST, "unknown CALL event '%.*s' (offer answer hold resume transfer end)",
		                  args->sub.len > 32 ? 32 : (int)args->sub.len, args->sub.p);
		return;
	}
	cw = calloc(1, sizeof(*cw));
	if (cw == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	cw->event = (enum call_event)ev;
	cw->args = json_incref(args->json);
	logwrite_init(&cw->w, req, &call_ops);
	if (!check_event_args(cw) || !logwrite_take_request_id(&cw->w, args->json)) {
		call_write_free(&cw->w);
		return;
	}
	snprintf(key, sizeof(key), "calls:%s", cw->call_id);
	logwrite_describe(&cw->w, "CALL", call_event_name(cw->event), cw->args, key);
	if (key_call(key, req->srv->cfg->redis.key_prefix, cw->call_id) < 0) {
		request_reply_err(req, ERR_BAD_REQUEST, "'call_id' too long for the key prefix");
		call_write_free(&cw->w);
		return;
	}
	logwrite_start(&cw->w, key, offer_reads);
}
