#include "audit_figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fcr_pending {
	uint64_t ended_ms;
};

static const char *const tier_names[FIG_TIERS] = {"platinum", "gold", "iron", "lead", "none"};
static const char *const severity_names[FIG_SEVERITIES] = {"low", "medium", "high", "critical", "none"};

bool figures_init(struct figures *f, const struct id_hasher *h, const char *fcr_disposition,
                  uint64_t fcr_window_ms)
{
	memset(f, 0, sizeof(*f));
	f->hasher = h;
	f->fcr.window_ms = fcr_window_ms;
	snprintf(f->fcr.disposition, sizeof(f->fcr.disposition), "%s", fcr_disposition);
	if (!strmap_init(&f->agents, sizeof(struct fig_agent)) ||
	    !strmap_init(&f->queues, sizeof(struct fig_queue)) ||
	    !strmap_init(&f->categories, sizeof(struct fig_complaints)) ||
	    !strmap_init(&f->fcr.customers, sizeof(struct fcr_pending))) {
		figures_free(f);
		return false;
	}
	return true;
}

void figures_free(struct figures *f)
{
	strmap_free(&f->agents);
	strmap_free(&f->queues);
	strmap_free(&f->categories);
	strmap_free(&f->fcr.customers);
}

const char *figures_tier_name(int tier)
{
	return tier >= 0 && tier < FIG_TIERS ? tier_names[tier] : "none";
}

const char *figures_severity_name(int severity)
{
	return severity >= 0 && severity < FIG_SEVERITIES ? severity_names[severity] : "none";
}

int figures_tier(const char *name, size_t len)
{
	int t = name ? (int)customer_tier_from_name(name, len) : TIER_COUNT;

	return t >= 0 && t < TIER_COUNT ? t : TIER_COUNT;
}

int figures_severity(const char *name, size_t len)
{
	int s = name ? severity_from_name(name, len) : -1;

	return s >= 0 && s < SEV_COUNT ? s : SEV_COUNT;
}

/* The record of name in map (created), or NULL (no name, or out of memory). */
static void *named(struct figures *f, struct strmap *map, const char *name, size_t len)
{
	bool created;
	void *v;

	if (name == NULL || len == 0)
		return NULL;
	if (len > FIG_NAME_MAX)
		len = FIG_NAME_MAX;
	v = strmap_put(map, id_hash(f->hasher, name, len), name, len, &created);
	if (v == NULL)
		f->out_of_memory = true;
	return v;
}

/* ---- calls ---- */

void figures_call_offered(struct figures *f, const char *queue, size_t queue_len, const char *customer,
                          size_t customer_len, uint64_t ts_ms)
{
	struct fig_queue *q = named(f, &f->queues, queue, queue_len);
	struct fcr_pending *p;
	uint64_t h;

	f->calls.offered++;
	if (q)
		q->offered++;
	if (customer == NULL || customer_len == 0)
		return;
	h = id_hash(f->hasher, customer, customer_len);
	p = strmap_get(&f->fcr.customers, h, customer, customer_len);
	if (p == NULL)
		return;
	/* The customer calls again: within the window, the earlier call did not
	 * resolve their matter after all. */
	if (ts_ms <= p->ended_ms + f->fcr.window_ms)
		f->fcr.repeated++;
	else
		f->fcr.resolved_first++;
	strmap_del(&f->fcr.customers, h, customer, customer_len);
}

void figures_call_answered(struct figures *f, const char *agent, size_t agent_len, const char *queue,
                           size_t queue_len)
{
	struct fig_agent *a = named(f, &f->agents, agent, agent_len);
	struct fig_queue *q = named(f, &f->queues, queue, queue_len);

	f->calls.answered++;
	if (a)
		a->answered++;
	if (q)
		q->answered++;
}

void figures_call_held(struct figures *f)
{
	f->calls.held++;
}

void figures_call_leg(struct figures *f, const char *agent, size_t agent_len, bool transfer, bool has_leg_ms,
                      int64_t leg_ms)
{
	struct fig_agent *a = named(f, &f->agents, agent, agent_len);

	if (transfer) {
		f->calls.transferred++;
		if (a)
			a->transferred_out++;
	}
	if (!has_leg_ms || leg_ms < 0)
		return;
	f->calls.legs++;
	f->calls.handle_ms += (uint64_t)leg_ms;
	if (a) {
		a->legs++;
		a->handle_ms += (uint64_t)leg_ms;
	}
}

void figures_call_ended(struct figures *f, bool abandoned, const char *agent, size_t agent_len,
                        const char *queue, size_t queue_len, bool has_csat, int64_t csat,
                        const char *customer, size_t customer_len, const char *disposition,
                        size_t disposition_len, uint64_t ts_ms)
{
	struct fig_queue *q = named(f, &f->queues, queue, queue_len);
	struct fig_agent *a;
	struct fcr_pending *p;
	bool created, resolving;
	uint64_t h;

	if (abandoned) {
		f->calls.abandoned++;
		if (q)
			q->abandoned++;
		return;
	}
	a = named(f, &f->agents, agent, agent_len);
	f->calls.ended++;
	if (q)
		q->ended++;
	if (a)
		a->ended++;
	if (has_csat && csat >= 1 && csat <= 5) {
		f->calls.csat_n++;
		f->calls.csat_sum += (uint64_t)csat;
		f->calls.csat_dist[csat - 1]++;
		if (a)
			a->csat_n++, a->csat_sum += (uint64_t)csat;
		if (q)
			q->csat_n++, q->csat_sum += (uint64_t)csat;
	}
	if (customer == NULL || customer_len == 0)
		return; /* an unidentified caller: first-contact resolution cannot be told */
	resolving = disposition && disposition_len == strlen(f->fcr.disposition) &&
	            memcmp(disposition, f->fcr.disposition, disposition_len) == 0;
	if (!resolving) {
		f->fcr.not_resolved++;
		return;
	}
	h = id_hash(f->hasher, customer, customer_len);
	p = strmap_put(&f->fcr.customers, h, customer, customer_len, &created);
	if (p == NULL) {
		f->out_of_memory = true;
		return;
	}
	if (!created)
		f->fcr.repeated++; /* an earlier resolved call of theirs overlapped this one */
	p->ended_ms = ts_ms;
}

/* ---- complaints ---- */

static void count(struct fig_complaints *c, enum fig_complaint_event ev)
{
	switch (ev) {
	case FIG_OPENED:
		c->opened++;
		break;
	case FIG_RESOLVED:
		c->resolved++;
		break;
	case FIG_CLOSED:
		c->closed++;
		break;
	case FIG_REOPENED:
		c->reopened++;
		break;
	case FIG_ESCALATED:
		c->escalated++;
		break;
	}
}

void figures_complaint(struct figures *f, enum fig_complaint_event ev, int tier, const char *category,
                       size_t category_len)
{
	struct fig_complaints *c = named(f, &f->categories, category, category_len);

	count(&f->complaints, ev);
	count(&f->tiers[tier], ev);
	if (c)
		count(c, ev);
}

void figures_deadline(struct figures *f, bool resolved, bool late, int severity, int tier,
                      const char *category, size_t category_len)
{
	struct fig_sla *cell = &f->sla[severity][tier];
	struct fig_complaints *c = named(f, &f->categories, category, category_len);

	if (resolved && late) {
		cell->resolved_late++;
		f->complaints.resolved_late++;
		f->tiers[tier].resolved_late++;
		if (c)
			c->resolved_late++;
	} else if (resolved) {
		cell->resolved_in_time++;
	} else if (late) {
		cell->open_overdue++;
		f->complaints.open_overdue++;
		f->tiers[tier].open_overdue++;
		if (c)
			c->open_overdue++;
	} else {
		cell->open_in_time++;
	}
}

/* ---- first-contact resolution windows ---- */

struct sweep_ctx {
	struct figures *f;
	uint64_t now_ms;
	bool final;
};

static bool decide(void *arg, const char *key, void *value)
{
	struct sweep_ctx *c = arg;
	const struct fcr_pending *p = value;

	if (c->now_ms > p->ended_ms + c->f->fcr.window_ms) {
		c->f->fcr.resolved_first++;
		return true;
	}
	if (c->final) {
		c->f->fcr.pending++;
		return true;
	}
	return false;
}

void figures_sweep(struct figures *f, uint64_t now_ms)
{
	struct sweep_ctx c = {f, now_ms, false};

	strmap_sweep(&f->fcr.customers, decide, &c);
}

void figures_finish(struct figures *f, uint64_t end_ms)
{
	struct sweep_ctx c = {f, end_ms, true};

	strmap_sweep(&f->fcr.customers, decide, &c);
}

/* ---- JSON ---- */

static json_t *ratio(uint64_t num, uint64_t den)
{
	return den ? json_real((double)num / (double)den) : json_null();
}

static json_t *seconds(uint64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static json_t *average_s(uint64_t ms, uint64_t n)
{
	return n ? json_real((double)ms / 1000.0 / (double)n) : json_null();
}

static json_t *complaints_json(const struct fig_complaints *c)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "opened", (json_int_t)c->opened, "resolved",
	                 (json_int_t)c->resolved, "resolved_late", (json_int_t)c->resolved_late, "closed",
	                 (json_int_t)c->closed, "reopened", (json_int_t)c->reopened, "escalated",
	                 (json_int_t)c->escalated, "open_overdue", (json_int_t)c->open_overdue, "overdue",
	                 (json_int_t)(c->resolved_late + c->open_overdue));
}

static bool any_complaints(const struct fig_complaints *c)
{
	return c->opened || c->resolved || c->resolved_late || c->closed || c->reopened || c->escalated ||
	       c->open_overdue;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const char *const *)a)[0], ((const char *const *)b)[0]);
}

/* The entries of map as one JSON object, in key order: the table's order
 * depends on the run's hash key, the output must not. */
static json_t *map_json(const struct strmap *map, json_t *(*one)(const void *value))
{
	const char *(*pairs)[2] = calloc(map->count ? map->count : 1, sizeof(*pairs));
	json_t *out = json_object();
	size_t n = 0;

	if (pairs == NULL) {
		json_decref(out);
		return NULL; /* json_pack of the whole then fails: the caller says out of memory */
	}
	for (size_t i = 0; i < map->cap; i++)
		if (map->slots[i].entry) {
			pairs[n][0] = strmap_key(map, map->slots[i].entry);
			pairs[n++][1] = map->slots[i].entry;
		}
	qsort(pairs, n, sizeof(*pairs), by_key);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(out, pairs[i][0], one(pairs[i][1]));
	free(pairs);
	return out;
}

static json_t *agent_json(const void *v)
{
	const struct fig_agent *a = v;

	return json_pack("{s:I,s:I,s:o,s:o,s:I,s:I,s:I,s:o}", "answered", (json_int_t)a->answered, "legs",
	                 (json_int_t)a->legs, "handle_s", seconds(a->handle_ms), "aht_s",
	                 average_s(a->handle_ms, a->legs), "ended", (json_int_t)a->ended, "transferred_out",
	                 (json_int_t)a->transferred_out, "csat_count", (json_int_t)a->csat_n, "csat_average",
	                 ratio(a->csat_sum, a->csat_n));
}

static json_t *queue_json(const void *v)
{
	const struct fig_queue *q = v;

	return json_pack("{s:I,s:I,s:I,s:I,s:o,s:I,s:o}", "offered", (json_int_t)q->offered, "answered",
	                 (json_int_t)q->answered, "abandoned", (json_int_t)q->abandoned, "ended",
	                 (json_int_t)q->ended, "answer_rate", ratio(q->answered, q->offered), "csat_count",
	                 (json_int_t)q->csat_n, "csat_average", ratio(q->csat_sum, q->csat_n));
}

static json_t *category_json(const void *v)
{
	return complaints_json(v);
}

json_t *figures_json(const struct figures *f)
{
	const struct fig_calls *c = &f->calls;
	const struct fig_fcr *r = &f->fcr;
	json_t *calls, *by_tier = json_object(), *deadlines = json_object(), *complaints, *fcr;

	calls = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:{s:I,s:o,s:[I,I,I,I,I]}}", "offered",
	    (json_int_t)c->offered, "answered", (json_int_t)c->answered, "abandoned",
	    (json_int_t)c->abandoned, "ended", (json_int_t)c->ended, "held", (json_int_t)c->held,
	    "transferred", (json_int_t)c->transferred, "answer_rate", ratio(c->answered, c->offered),
	    "abandon_rate", ratio(c->abandoned, c->offered), "legs", (json_int_t)c->legs, "handle_s",
	    seconds(c->handle_ms), "aht_s", average_s(c->handle_ms, c->ended), "csat", "count",
	    (json_int_t)c->csat_n, "average", ratio(c->csat_sum, c->csat_n), "distribution",
	    (json_int_t)c->csat_dist[0], (json_int_t)c->csat_dist[1], (json_int_t)c->csat_dist[2],
	    (json_int_t)c->csat_dist[3], (json_int_t)c->csat_dist[4]);
	for (int t = 0; t < FIG_TIERS; t++)
		if (any_complaints(&f->tiers[t]))
			json_object_set_new(by_tier, tier_names[t], complaints_json(&f->tiers[t]));
	for (int s = 0; s < FIG_SEVERITIES; s++) {
		json_t *row = json_object();

		for (int t = 0; t < FIG_TIERS; t++) {
			const struct fig_sla *x = &f->sla[s][t];

			if (x->resolved_in_time || x->resolved_late || x->open_in_time || x->open_overdue)
				json_object_set_new(row, tier_names[t],
				                    json_pack("{s:I,s:I,s:I,s:I}", "resolved_in_time",
				                              (json_int_t)x->resolved_in_time,
				                              "resolved_late", (json_int_t)x->resolved_late,
				                              "open_in_time", (json_int_t)x->open_in_time,
				                              "open_overdue", (json_int_t)x->open_overdue));
		}
		if (json_object_size(row))
			json_object_set_new(deadlines, severity_names[s], row);
		else
			json_decref(row);
	}
	complaints = complaints_json(&f->complaints);
	json_object_set_new(complaints, "by_tier", by_tier);
	json_object_set_new(complaints, "by_category", map_json(&f->categories, category_json));
	fcr = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "disposition", r->disposition, "window_s",
	                (json_int_t)(r->window_ms / 1000), "resolved_first", (json_int_t)r->resolved_first,
	                "repeated", (json_int_t)r->repeated, "not_resolved", (json_int_t)r->not_resolved,
	                "pending", (json_int_t)r->pending, "rate",
	                ratio(r->resolved_first, r->resolved_first + r->repeated + r->not_resolved));
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "calls", calls, "agents",
	                 map_json(&f->agents, agent_json), "queues", map_json(&f->queues, queue_json),
	                 "complaints", complaints, "deadlines", deadlines, "first_contact_resolution", fcr);
}
