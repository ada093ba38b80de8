/* audit_complaints.c - every complaint follows its life (daemon/lifecycle.c's
 * table, with the reopen window of the config), ids are unique, time does
 * not go back within a complaint; deadlines (`due`) are met, and the
 * complaint figures.  State is kept until a complaint is closed and its
 * reopen window has passed (see audit.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/* "assign" (a claim from the queue) is logged but is not a transition. */
#define ACTION_ASSIGN COMPLAINT_ACTION_COUNT

struct open_complaint {
	uint64_t hash; /* of its id */
	enum complaint_state state;
	uint64_t last_ts_ms, due_ms, paused_ms, closed_ms;
	char last_id[LOG_ID_MAX];
	int severity, tier; /* figures indices */
	char category[FIG_NAME_MAX + 1];
};

bool audit_complaints_init(struct audit *a)
{
	return strmap_init(&a->complaints, sizeof(struct open_complaint));
}

static const char *action_name(int act)
{
	return act == ACTION_ASSIGN ? "assign" : complaint_action_name((enum complaint_action)act);
}

static void sla_finding(struct audit *a, const struct open_complaint *k, const char *entry_id,
                        const char *object, const char *kind, const char *fmt_what, uint64_t late_ms)
{
	struct audit_finding f = {.check = AUDIT_SLA,
	                          .kind = kind,
	                          .stream = LOG_COMPLAINTS,
	                          .id = entry_id,
	                          .object = object,
	                          .severity = figures_severity_name(k->severity),
	                          .tier = figures_tier_name(k->tier)};
	char late[32], due[32];

	audit_format_duration(late_ms, late);
	audit_format_time(k->due_ms, due);
	audit_emit(a, &f, "complaint %s (%s, %s) %s %s past its deadline %s", object, f.severity, f.tier,
	           fmt_what, late, due);
}

/* The complaint's deadline figures and findings when it is resolved. */
static void resolved(struct audit *a, const struct open_complaint *k, const struct audit_entry *e,
                     const char *entry_id, const char *object)
{
	bool late = k->due_ms && e->ts_ms / 1000 > k->due_ms / 1000;

	figures_deadline(&a->fig, true, late, k->severity, k->tier, k->category, strlen(k->category));
	if (late)
		sla_finding(a, k, entry_id, object, "resolved_late", "was resolved", e->ts_ms - k->due_ms);
}

static void figures_for(struct audit *a, const struct open_complaint *k, int act)
{
	static const struct {
		int act;
		enum fig_complaint_event ev;
	} map[] = {
	    {COMPLAINT_DO_OPEN, FIG_OPENED},        {COMPLAINT_DO_RESOLVE, FIG_RESOLVED},
	    {COMPLAINT_DO_CLOSE, FIG_CLOSED},       {COMPLAINT_DO_REOPEN, FIG_REOPENED},
	    {COMPLAINT_DO_ESCALATE, FIG_ESCALATED},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].act == act)
			figures_complaint(&a->fig, map[i].ev, k->tier, k->category, strlen(k->category));
}

static void forget(struct audit *a, const struct open_complaint *k, const char *id, size_t len)
{
	uint64_t h = k->hash;

	strmap_del(&a->complaints, h, id, len);
	if (!id_set_put(&a->complaint_ids, h, ID_DONE))
		a->out_of_memory = true;
}

void audit_complaint_entry(struct audit *a, const struct log_record *r, const struct audit_entry *e)
{
	char object[LOG_ID_MAX + 80];
	struct audit_finding f = {
	    .check = AUDIT_CONSISTENCY, .stream = LOG_COMPLAINTS, .id = r->id, .object = object};
	int act = span_is(e->event, "assign") ? ACTION_ASSIGN
	                                      : complaint_action_from_name(e->event.p, e->event.len);
	int entry_state = e->state.p ? complaint_state_from_name(e->state.p, e->state.len) : -1;
	uint64_t h = id_hash(&a->hasher, e->id.p, e->id.len);
	struct open_complaint *k = strmap_get(&a->complaints, h, e->id.p, e->id.len);
	enum complaint_state before, next;
	bool follow = true, created, in_window;

	snprintf(object, sizeof(object), "%.*s", (int)(e->id.len > 64 ? 64 : e->id.len), e->id.p);
	if (act < 0) {
		f.kind = "malformed_entry";
		audit_emit(a, &f, "unknown complaint event '%.*s'",
		           (int)(e->event.len > 32 ? 32 : e->event.len), e->event.p);
		return;
	}
	if (k == NULL) {
		enum id_tag tag = id_set_get(&a->complaint_ids, h);

		if (act == COMPLAINT_DO_OPEN && tag != ID_ABSENT) {
			f.kind = "duplicate_id";
			audit_emit(a, &f, "open of complaint %s, an id already used by an earlier complaint",
			           object);
		} else if (act != COMPLAINT_DO_OPEN && tag != ID_ABSENT) {
			f.kind = act == COMPLAINT_DO_REOPEN ? "bad_transition" : "after_close";
			audit_emit(a, &f,
			           "%s of complaint %s, closed more than the reopen window (%u h) before",
			           action_name(act), object, a->o.reopen_window_h);
			return;
		} else if (act != COMPLAINT_DO_OPEN) {
			if (a->complete[LOG_COMPLAINTS]) {
				f.kind = "no_open";
				audit_emit(a, &f, "%s of complaint %s, which was never opened",
				           action_name(act), object);
			}
			follow = false; /* or it was opened before the audited range */
		}
		k = strmap_put(&a->complaints, h, e->id.p, e->id.len, &created);
		if (k == NULL || !id_set_put(&a->complaint_ids, h, ID_OPEN)) {
			a->out_of_memory = true;
			return;
		}
		k->hash = h;
		k->state = COMPLAINT_NONE;
		k->severity = SEV_COUNT;
		k->tier = TIER_COUNT;
	} else if (act == COMPLAINT_DO_OPEN) {
		f.kind = "duplicate_id";
		f.related = k->last_id;
		audit_emit(a, &f, "open of complaint %s, which exists already (%s)", object,
		           complaint_state_name(k->state));
		return;
	}

	before = k->state;
	in_window =
	    before == COMPLAINT_CLOSED && (int64_t)(e->ts_ms / 1000) - (int64_t)(k->closed_ms / 1000) <
	                                      (int64_t)a->o.reopen_window_h * 3600;
	if (!follow) {
		next = entry_state > COMPLAINT_NONE ? (enum complaint_state)entry_state : before;
	} else if (act == ACTION_ASSIGN
	               ? !complaint_state_is_open(before)
	               : !complaint_next_state(before, (enum complaint_action)act, in_window, &next)) {
		f.kind = "bad_transition";
		audit_emit(a, &f, "%s of complaint %s, which is %s%s", action_name(act), object,
		           complaint_state_name(before),
		           before == COMPLAINT_CLOSED && act == COMPLAINT_DO_REOPEN
		               ? " (past the reopen window)"
		               : "");
		next = entry_state > COMPLAINT_NONE ? (enum complaint_state)entry_state : before;
	} else {
		if (act == ACTION_ASSIGN)
			next = before;
		if (entry_state != (int)next) {
			f.kind = "state_mismatch";
			audit_emit(
			    a, &f, "the entry says state '%.*s'; %s of a complaint that is %s leads to '%s'",
			    (int)(e->state.len > 32 ? 32 : e->state.len), e->state.p ? e->state.p : "",
			    action_name(act), complaint_state_name(before), complaint_state_name(next));
		}
	}
	if (k->last_ts_ms && e->ts_ms < k->last_ts_ms) {
		f.kind = "ts_backwards";
		f.related = k->last_id;
		audit_emit(a, &f, "ts %.*s of complaint %s is earlier than the ts of its previous entry %s",
		           (int)e->ts.len, e->ts.p, object, k->last_id);
		f.related = NULL;
	}
	k->last_ts_ms = e->ts_ms;
	memcpy(k->last_id, r->id, sizeof(k->last_id));
	if (e->severity.p)
		k->severity = figures_severity(e->severity.p, e->severity.len);
	if (e->tier.p)
		k->tier = figures_tier(e->tier.p, e->tier.len);
	if (e->category.p)
		span_copy(e->category, k->category, sizeof(k->category));
	if (act == COMPLAINT_DO_RESOLVE)
		resolved(a, k, e, r->id, object); /* against the deadline it had until now */
	if (e->due.p)
		k->due_ms = e->due_ms;
	figures_for(a, k, act);
	k->state = next;
	switch (act) {
	case COMPLAINT_DO_WAIT:
		k->paused_ms = e->ts_ms;
		break;
	case COMPLAINT_DO_RESUME:
		k->paused_ms = 0;
		break;
	case COMPLAINT_DO_REOPEN:
		k->closed_ms = 0;
		break;
	case COMPLAINT_DO_CLOSE:
		k->closed_ms = e->ts_ms;
		break;
	default:
		break;
	}
	if (next == COMPLAINT_CLOSED) {
		if (!k->closed_ms)
			k->closed_ms =
			    e->ts_ms; /* first seen closed: its window runs from here at the latest */
		if (a->o.reopen_window_h == 0)
			forget(a, k, e->id.p, e->id.len); /* final at once */
	}
}

/* ---- complaints closed for good, and those still open at the end ---- */

static bool closed_for_good(void *arg, const char *key, void *value)
{
	struct audit *a = arg;
	const struct open_complaint *k = value;

	if (k->state != COMPLAINT_CLOSED || a->clock_ms < k->closed_ms ||
	    a->clock_ms - k->closed_ms < (uint64_t)a->o.reopen_window_h * 3600000)
		return false;
	if (!id_set_put(&a->complaint_ids, k->hash, ID_DONE))
		a->out_of_memory = true;
	return true;
}

void audit_complaints_sweep(struct audit *a)
{
	strmap_sweep(&a->complaints, closed_for_good, a);
}

static bool any(void *arg, const void *value)
{
	return true;
}

static int by_last_entry(const void *pa, const void *pb)
{
	const struct open_complaint *a = *(const struct open_complaint *const *)pa;
	const struct open_complaint *b = *(const struct open_complaint *const *)pb;

	return audit_cmp_ids(a->last_id, b->last_id);
}

/* Complaints still open at the end: their deadlines, in log order. */
void audit_complaints_finish(struct audit *a)
{
	void **left;
	size_t n = strmap_select(&a->complaints, any, NULL, &left);

	if (n == SIZE_MAX) {
		a->out_of_memory = true;
		return;
	}
	if (n == 0)
		return;
	qsort(left, n, sizeof(*left), by_last_entry);
	for (size_t i = 0; i < n; i++) {
		const struct open_complaint *k = left[i];
		/* While waiting on the customer the deadline stands still: it
		 * counts as missed only if it had passed when the wait began. */
		uint64_t at = k->state == COMPLAINT_WAITING ? k->paused_ms : a->o.end_ms;
		bool late = k->due_ms && at / 1000 > k->due_ms / 1000;

		if (!complaint_state_is_open(k->state))
			continue;
		figures_deadline(&a->fig, false, late, k->severity, k->tier, k->category,
		                 strlen(k->category));
		if (late)
			sla_finding(a, k, k->last_id, strmap_key(&a->complaints, k), "open_overdue",
			            k->state == COMPLAINT_WAITING ? "is waiting on the customer, paused"
			                                          : "is still open,",
			            at - k->due_ms);
	}
	free(left);
}
