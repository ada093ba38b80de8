#include "projection.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "lifecycle.h"
#include "rfc3339.h"
#include "sla.h"

#define ID_MAX 64 /* call, complaint and customer ids (logwrite.h, customer.h) */

/* What is being projected: the entry's common fields, read once. */
struct ctx {
	const char *prefix;
	const json_t *entry, *before;
	const char *entry_text; /* the entry exactly as stored (the history keeps it) */
	const char *event, *id, *agent, *state, *ts;
	int64_t ts_ms;
	struct projection *p;
	char *err;
	size_t err_len;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->err_len, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int64_t projection_field_i64(const json_t *obj, const char *key)
{
	const char *s = str(obj, key);

	return s && *s ? strtoll(s, NULL, 10) : 0;
}

static void set_str(json_t *o, const char *key, const char *value)
{
	json_object_set_new(o, key, json_string(value));
}

static void set_i64(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_sprintf("%" PRId64, v));
}

/* Copy key when src has a value (not null). */
static void copy(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	if (v && !json_is_null(v))
		json_object_set(dst, key, v);
}

static void add_json(struct journal_ops *ops, const char *cmd, const char *key, const char *field,
                     const json_t *v, size_t flags)
{
	char *text = json_dumps(v, flags);

	if (text == NULL) {
		ops->failed = true;
		return;
	}
	if (field)
		journal_ops_addf(ops, 4, cmd, key, field, text);
	else
		journal_ops_addf(ops, 3, cmd, key, text);
	free(text);
}

/* A customer's recent contacts: newest first, the last 50 kept. */
static void add_contact(struct ctx *c, const char *customer_id, json_t *contact)
{
	char key[KEY_MAX], stop[16];

	if (contact == NULL) {
		c->p->ops.failed = true;
		return;
	}
	if (key_contacts(key, c->prefix, customer_id) >= 0) {
		snprintf(stop, sizeof(stop), "%d", PROJECTION_CONTACTS_KEPT - 1);
		add_json(&c->p->ops, "LPUSH", key, NULL, contact, JSON_COMPACT | JSON_PRESERVE_ORDER);
		journal_ops_addf(&c->p->ops, 4, "LTRIM", key, "0", stop);
	}
	json_decref(contact);
}

/* ---- calls ---- */

static int call_fields(struct ctx *c)
{
	struct projection *p = c->p;
	int ev = call_event_from_name(c->event, strlen(c->event));
	const char *agent = NULL;

	if (ev < 0)
		return fail(c, "unknown call event '%.32s'", c->event);
	if (key_call(p->state_key, c->prefix, c->id) < 0)
		return fail(c, "call id too long for a key");
	/* An offer starts the call afresh: what a hash held before it was at
	 * most a screen pop's link, which the offer entry already carries. */
	p->fresh = ev == CALL_OFFER;

	set_str(p->fields, "state", c->state);
	/* Who holds the call's current leg: the offering user, the transfer's
	 * target, or on answer whoever held it already (else the answerer). */
	if (ev == CALL_OFFER)
		agent = c->agent;
	else if (ev == CALL_TRANSFER && (agent = str(c->entry, "to")) == NULL)
		return fail(c, "transfer without 'to'");
	else if (ev == CALL_ANSWER)
		agent = str(c->before, "agent") ? str(c->before, "agent") : c->agent;
	if (agent)
		set_str(p->fields, "agent", agent);
	copy(p->fields, c->entry, "customer_id");
	copy(p->fields, c->entry, "phone");
	copy(p->fields, c->entry, "queue");
	copy(p->fields, c->entry, "tier");
	if (ev == CALL_ANSWER || ev == CALL_TRANSFER)
		set_i64(p->fields, "leg_at_ms", c->ts_ms);
	if (ev == CALL_OFFER)
		set_str(p->fields, "offered_at", c->ts);
	if (ev == CALL_END)
		set_str(p->fields, "ended_at", c->ts);
	return 0;
}

static void call_ops(struct ctx *c)
{
	struct projection *p = c->p;
	bool end = strcmp(c->event, "end") == 0;
	const char *agent = str(p->fields, "agent");
	char k_open[KEY_MAX];

	if (key_calls_open(k_open, c->prefix) < 0)
		return;
	if (end) {
		const char *customer = str(c->entry, "customer_id"), *disp = str(c->entry, "disposition");
		char summary[160], at[24];

		if (customer) {
			if (disp)
				snprintf(summary, sizeof(summary), "call %s: %s", c->state, disp);
			else
				snprintf(summary, sizeof(summary), "call %s", c->state);
			add_contact(c, customer,
			            json_pack("{s:s,s:s,s:s,s:s,s:s,s:O?}", "time", c->ts, "kind", "call",
			                      "agent", c->agent, "summary", summary, "call_id", c->id, "csat",
			                      json_object_get(c->entry, "csat")));
		}
		/* Kept a week after the end, counted from the entry (not from when
		 * Redis ran it), so a rebuild sets the same expiry. */
		snprintf(at, sizeof(at), "%" PRId64, (int64_t)(c->ts_ms + PROJECTION_ENDED_CALL_TTL_MS));
		journal_ops_addf(&p->ops, 3, "PEXPIREAT", p->state_key, at);
		journal_ops_addf(&p->ops, 3, "HDEL", k_open, c->id);
	} else {
		/* The wallboard's view of calls in progress (QUEUE). */
		json_t *queue = json_object_get(c->entry, "queue");
		json_t *card =
		    json_pack("{s:s,s:O,s:s,s:s}", "state", c->state, "queue", queue ? queue : json_null(),
		              "agent", agent ? agent : c->agent, "since", c->ts);

		if (card == NULL)
			p->ops.failed = true;
		else
			add_json(&p->ops, "HSET", k_open, c->id, card, JSON_COMPACT);
		json_decref(card);
	}
}

/* ---- complaints ---- */

json_t *projection_complaint_card(const char *complaint_id, const json_t *state)
{
	static const char *const keys[] = {"state", "severity", "category", "tier", "owner"};
	json_t *card = json_pack("{s:s}", "complaint_id", complaint_id);
	int64_t due = projection_field_i64(state, "due");

	if (card == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		copy(card, state, keys[i]);
	if (due) {
		char text[32];

		sla_format_time(due, text);
		set_str(card, "due", text);
	}
	json_object_set_new(card, "level", json_integer(projection_field_i64(state, "level")));
	copy(card, state, "summary");
	return card;
}

/* The entry's deadline (RFC 3339) as the state keeps it (Unix seconds). */
static int take_due(struct ctx *c)
{
	const char *text = str(c->entry, "due");
	int64_t due;

	if (text == NULL)
		return 0;
	if (!sla_parse_time(text, &due))
		return fail(c, "'due' is not an RFC 3339 time");
	set_i64(c->p->fields, "due", due);
	return 0;
}

static int take_level(struct ctx *c)
{
	json_t *level = json_object_get(c->entry, "level");

	if (level == NULL)
		return 0;
	if (!json_is_integer(level))
		return fail(c, "'level' is not an integer");
	set_i64(c->p->fields, "level", json_integer_value(level));
	return 0;
}

/* The state hash fields the entry sets, in the order the daemon decided them. */
static int complaint_fields(struct ctx *c, int action)
{
	json_t *f = c->p->fields;
	int64_t now = c->ts_ms / 1000;

	if (action != -1)
		set_str(f, "state", c->state);
	switch (action) {
	case COMPLAINT_DO_OPEN: {
		static const char *const required[] = {"severity", "tier", "category", "summary"};

		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
			if (str(c->entry, required[i]) == NULL)
				return fail(c, "open without '%s'", required[i]);
			copy(f, c->entry, required[i]);
		}
		set_i64(f, "opened_at", now);
		if (take_due(c) < 0)
			return -1;
		set_str(f, "opened_by", c->agent);
		if (take_level(c) < 0)
			return -1;
		copy(f, c->entry, "customer_id");
		copy(f, c->entry, "phone");
		copy(f, c->entry, "call_id");
		break;
	}
	case COMPLAINT_DO_WAIT:
		set_i64(f, "paused_at", now);
		break;
	case COMPLAINT_DO_RESUME:
		if (take_due(c) < 0)
			return -1;
		set_str(f, "paused_at", "");
		break;
	case COMPLAINT_DO_ESCALATE:
		if (take_level(c) < 0 || take_due(c) < 0)
			return -1;
		break;
	case COMPLAINT_DO_RESOLVE:
		set_i64(f, "resolved_at", now);
		copy(f, c->entry, "resolution");
		break;
	case COMPLAINT_DO_CLOSE:
		set_i64(f, "closed_at", now);
		break;
	case COMPLAINT_DO_REOPEN:
		if (take_due(c) < 0)
			return -1;
		set_str(f, "owner", "");
		set_i64(f, "reopened", projection_field_i64(c->before, "reopened") + 1);
		break;
	case -1: /* assign: `COMPLAINT next` claimed it */
		if (str(c->entry, "owner") == NULL)
			return fail(c, "assign without 'owner'");
		copy(f, c->entry, "owner");
		set_i64(f, "claimed_at", now);
		break;
	default:
		break;
	}
	return 0;
}

/* The queue, the history and the customer's view, from the state after. */
static void complaint_ops(struct ctx *c, int action)
{
	struct projection *p = c->p;
	const json_t *st = p->state;
	const char *customer = str(st, "customer_id"), *owner = str(st, "owner"), *state = str(st, "state");
	int s = state ? complaint_state_from_name(state, strlen(state)) : -1;
	bool open = s >= 0 && complaint_state_is_open((enum complaint_state)s);
	char k_hist[KEY_MAX], k_open[KEY_MAX], k_unassigned[KEY_MAX], k_cust[KEY_MAX], due[24];
	json_t *card;

	key_complaint_history(k_hist, c->prefix, c->id);
	key_complaints_open(k_open, c->prefix);
	key_complaints_unassigned(k_unassigned, c->prefix);
	snprintf(due, sizeof(due), "%" PRId64, projection_field_i64(st, "due"));
	journal_ops_addf(&p->ops, 3, "RPUSH", k_hist, c->entry_text);
	if (open) {
		journal_ops_addf(&p->ops, 4, "ZADD", k_open, due, c->id);
		if (owner && *owner)
			journal_ops_addf(&p->ops, 3, "ZREM", k_unassigned, c->id);
		else
			journal_ops_addf(&p->ops, 4, "ZADD", k_unassigned, due, c->id);
	} else {
		journal_ops_addf(&p->ops, 3, "ZREM", k_open, c->id);
		journal_ops_addf(&p->ops, 3, "ZREM", k_unassigned, c->id);
	}
	if (customer == NULL || *customer == '\0' || key_open_complaints(k_cust, c->prefix, customer) < 0)
		return;
	if (open) {
		card = projection_complaint_card(c->id, st);
		if (card == NULL)
			p->ops.failed = true;
		else
			add_json(&p->ops, "HSET", k_cust, c->id, card, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(card);
	} else {
		journal_ops_addf(&p->ops, 3, "HDEL", k_cust, c->id);
	}
	if (action == COMPLAINT_DO_OPEN || action == COMPLAINT_DO_RESOLVE || action == COMPLAINT_DO_REOPEN) {
		const char *category = str(st, "category");
		char summary[200];

		snprintf(summary, sizeof(summary), "complaint %s: %s",
		         complaint_action_name((enum complaint_action)action), category ? category : "");
		add_contact(c, customer,
		            json_pack("{s:s,s:s,s:s,s:s,s:s}", "time", c->ts, "kind", "complaint", "agent",
		                      c->agent, "summary", summary, "complaint_id", c->id));
	}
}

/* ---- entry point ---- */

static json_t *state_after(const struct projection *p, const json_t *before)
{
	/* A shallow copy: the values are strings nobody changes in place. */
	json_t *st = p->fresh || before == NULL ? json_object() : json_copy((json_t *)before);

	if (st == NULL || json_object_update(st, p->fields) != 0) {
		json_decref(st);
		return NULL;
	}
	json_object_del(st, "v");
	return st;
}

int projection_compute(const char *prefix, enum journal_stream stream, const json_t *entry,
                       const char *entry_text, const json_t *before, struct projection *out, char *err,
                       size_t err_len)
{
	struct ctx c = {.prefix = prefix,
	                .entry = entry,
	                .entry_text = entry_text,
	                .before = before,
	                .p = out,
	                .err = err,
	                .err_len = err_len};
	const char *id_key = stream == STREAM_CALLS ? "call_id" : "complaint_id";
	const char *customer;
	int action = -1;
	uint64_t ms;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(entry))
		return fail(&c, "the entry is not a JSON object");
	if (json_object_get(entry, "rejected"))
		return 0; /* a replayed write the rules refused: it changed nothing */
	c.event = str(entry, "event");
	c.id = str(entry, id_key);
	c.agent = str(entry, "agent");
	c.state = str(entry, "state");
	c.ts = str(entry, "ts");
	if (!c.event || !c.id || !c.agent || !c.state || !c.ts || entry_text == NULL)
		return fail(&c, "the entry lacks one of event, %s, agent, state, ts", id_key);
	/* Ids become parts of key names: only what the daemon accepts, so no
	 * entry (a tampered export file, say) can name a key outside the layout. */
	if (!customer_valid_key_part(c.id, strlen(c.id), ID_MAX))
		return fail(&c, "'%s' is not 1..%d characters of [A-Za-z0-9_.-]", id_key, ID_MAX);
	customer = str(entry, "customer_id");
	if (customer && !customer_valid_key_part(customer, strlen(customer), ID_MAX))
		return fail(&c, "'customer_id' is not 1..%d characters of [A-Za-z0-9_.-]", ID_MAX);
	if (!rfc3339_parse_ms(c.ts, false, &ms) || ms > INT64_MAX / 2)
		return fail(&c, "'ts' is not an RFC 3339 time");
	c.ts_ms = (int64_t)ms;
	out->fields = json_object();
	if (out->fields == NULL)
		return fail(&c, "out of memory");

	if (stream == STREAM_CALLS) {
		if (call_fields(&c) < 0)
			goto fail;
	} else {
		action = complaint_action_from_name(c.event, strlen(c.event));
		if (action < 0 && strcmp(c.event, "assign") != 0) {
			fail(&c, "unknown complaint event '%.32s'", c.event);
			goto fail;
		}
		if (key_complaint(out->state_key, prefix, c.id) < 0) {
			fail(&c, "complaint id too long for a key");
			goto fail;
		}
		out->fresh = action == COMPLAINT_DO_OPEN;
		if (complaint_fields(&c, action) < 0)
			goto fail;
	}
	out->state = state_after(out, before);
	if (out->state == NULL) {
		fail(&c, "out of memory");
		goto fail;
	}
	if (stream == STREAM_CALLS)
		call_ops(&c);
	else
		complaint_ops(&c, action);
	if (out->ops.failed) {
		fail(&c, "out of memory");
		goto fail;
	}
	return 1;
fail:
	projection_free(out);
	return -1;
}

void projection_free(struct projection *p)
{
	json_decref(p->fields);
	json_decref(p->state);
	journal_ops_free(&p->ops);
	p->fields = p->state = NULL;
}

long long projection_version(const struct projection *p, const json_t *before)
{
	return p->fresh ? 1 : (long long)projection_field_i64(before, "v") + 1;
}

void projection_state_write(const struct projection *p, const json_t *before, struct journal_ops *ops)
{
	size_t n = 0, cap = 4 + 2 * json_object_size(p->fields);
	const char **argv = calloc(cap, sizeof(*argv));
	char version[24];
	const char *k;
	json_t *v;

	if (argv == NULL) {
		ops->failed = true;
		return;
	}
	argv[n++] = "HSET";
	argv[n++] = p->state_key;
	json_object_foreach(p->fields, k, v) {
		argv[n++] = k;
		argv[n++] = json_string_value(v);
	}
	snprintf(version, sizeof(version), "%lld", projection_version(p, before));
	argv[n++] = "v";
	argv[n++] = version;
	journal_ops_add(ops, (int)n, argv);
	free(argv);
}
