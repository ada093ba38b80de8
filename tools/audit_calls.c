/* audit_calls.c - every call follows its life (daemon/lifecycle.c's table,
 * the one the daemon decides with), ids are unique, time does not go back
 * within a call, calls do not stay open for ever; and the call figures.
 * State is kept only while a call is open (see audit.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

struct open_call {
	uint64_t hash; /* of its id */
	enum call_state state;
	uint64_t start_ms;   /* the offer's ts (or the first entry seen of it) */
	uint64_t last_ts_ms; /* the ts of its latest entry */
	char last_id[LOG_ID_MAX];
	char owner[FIG_NAME_MAX + 1]; /* the agent holding the current leg */
	char queue[FIG_NAME_MAX + 1];
	char customer[FIG_NAME_MAX + 1];
};

bool audit_calls_init(struct audit *a)
{
	return strmap_init(&a->calls, sizeof(struct open_call));
}

/* The state an event leads to when the call's state before it is not
 * known (every event but end has one outcome; end is taken as ended). */
static enum call_state outcome(enum call_event ev)
{
	switch (ev) {
	case CALL_OFFER:
		return CALL_OFFERED;
	case CALL_HOLD:
		return CALL_HELD;
	case CALL_END:
		return CALL_ENDED;
	default:
		return CALL_ANSWERED;
	}
}

static void figures_for(struct audit *a, struct open_call *c, const struct audit_entry *e, enum call_event ev,
                        enum call_state before, enum call_state next)
{
	struct figures *f = &a->fig;

	switch (ev) {
	case CALL_OFFER:
		span_copy(e->agent, c->owner, sizeof(c->owner));
		figures_call_offered(f, c->queue[0] ? c->queue : NULL, strlen(c->queue),
		                     c->customer[0] ? c->customer : NULL, strlen(c->customer), e->ts_ms);
		break;
	case CALL_ANSWER:
		if (!c->owner[0])
			span_copy(e->agent, c->owner, sizeof(c->owner));
		figures_call_answered(f, c->owner, strlen(c->owner), c->queue[0] ? c->queue : NULL,
		                      strlen(c->queue));
		break;
	case CALL_HOLD:
		figures_call_held(f);
		break;
	case CALL_RESUME:
		break;
	case CALL_TRANSFER:
		figures_call_leg(f, c->owner, strlen(c->owner), true, e->has_leg_ms, e->leg_ms);
		span_copy(e->to.p ? e->to : e->agent, c->owner, sizeof(c->owner));
		break;
	case CALL_END:
		if (next == CALL_ABANDONED || before == CALL_OFFERED) {
			figures_call_ended(f, true, NULL, 0, c->queue[0] ? c->queue : NULL, strlen(c->queue),
			                   false, 0, NULL, 0, NULL, 0, e->ts_ms);
			break;
		}
		if (!c->owner[0])
			span_copy(e->agent, c->owner, sizeof(c->owner));
		figures_call_leg(f, c->owner, strlen(c->owner), false, e->has_leg_ms, e->leg_ms);
		figures_call_ended(f, false, c->owner, strlen(c->owner), c->queue[0] ? c->queue : NULL,
		                   strlen(c->queue), e->has_csat, e->csat,
		                   c->customer[0] ? c->customer : NULL, strlen(c->customer), e->disposition.p,
		                   e->disposition.len, e->ts_ms);
		break;
	default:
		break;
	}
}

void audit_call_entry(struct audit *a, const struct log_record *r, const struct audit_entry *e)
{
	char object[LOG_ID_MAX + 80];
	struct audit_finding f = {
	    .check = AUDIT_CONSISTENCY, .stream = LOG_CALLS, .id = r->id, .object = object};
	int ev = call_event_from_name(e->event.p, e->event.len);
	int entry_state = e->state.p ? call_state_from_name(e->state.p, e->state.len) : -1;
	uint64_t h = id_hash(&a->hasher, e->id.p, e->id.len);
	struct open_call *c = strmap_get(&a->calls, h, e->id.p, e->id.len);
	enum call_state before, next;
	bool follow = true; /* check the event against the table */
	bool created;

	snprintf(object, sizeof(object), "%.*s", (int)(e->id.len > 64 ? 64 : e->id.len), e->id.p);
	if (ev < 0) {
		f.kind = "malformed_entry";
		audit_emit(a, &f, "unknown call event '%.*s'", (int)(e->event.len > 32 ? 32 : e->event.len),
		           e->event.p);
		return;
	}
	if (c == NULL) {
		enum id_tag tag = id_set_get(&a->call_ids, h);

		if (ev == CALL_OFFER && tag != ID_ABSENT) {
			f.kind = "duplicate_id";
			audit_emit(a, &f, "offer of call %s, an id already used by an earlier call", object);
		} else if (ev != CALL_OFFER && tag == ID_DONE) {
			f.kind = "after_end";
			audit_emit(a, &f, "%s after call %s had ended", call_event_name((enum call_event)ev),
			           object);
			return;
		} else if (ev != CALL_OFFER && tag == ID_STALE) {
			follow = false; /* reported as open too long: followed again from here */
		} else if (ev != CALL_OFFER) {
			if (a->complete[LOG_CALLS]) {
				f.kind = "no_offer";
				audit_emit(a, &f, "%s of call %s, which was never offered",
				           call_event_name((enum call_event)ev), object);
			}
			follow = false; /* or it began before the audited range */
		}
		c = strmap_put(&a->calls, h, e->id.p, e->id.len, &created);
		if (c == NULL || !id_set_put(&a->call_ids, h, ID_OPEN)) {
			a->out_of_memory = true;
			return;
		}
		c->hash = h;
		c->state = CALL_NONE;
		c->start_ms = e->ts_ms;
	} else if (ev == CALL_OFFER) {
		f.kind = "duplicate_id";
		f.related = c->last_id;
		audit_emit(a, &f, "offer of call %s, which is already open (%s)", object,
		           call_state_name(c->state));
		return;
	}

	before = c->state;
	if (!follow) {
		next = entry_state > CALL_NONE ? (enum call_state)entry_state : outcome((enum call_event)ev);
	} else if (!call_next_state(before, (enum call_event)ev, &next)) {
		f.kind = "bad_transition";
		audit_emit(a, &f, "%s of call %s, which is %s", call_event_name((enum call_event)ev), object,
		           call_state_name(before));
		/* Follow the log from here, so one wrong step is one finding. */
		next = entry_state > CALL_NONE ? (enum call_state)entry_state : before;
	} else if (entry_state != (int)next) {
		f.kind = "state_mismatch";
		audit_emit(a, &f, "the entry says state '%.*s'; %s of a call that is %s leads to '%s'",
		           (int)(e->state.len > 32 ? 32 : e->state.len), e->state.p ? e->state.p : "",
		           call_event_name((enum call_event)ev), call_state_name(before),
		           call_state_name(next));
	}
	if (c->last_ts_ms && e->ts_ms < c->last_ts_ms) {
		f.kind = "ts_backwards";
		f.related = c->last_id;
		audit_emit(a, &f, "ts %.*s of call %s is earlier than the ts of its previous entry %s",
		           (int)e->ts.len, e->ts.p, object, c->last_id);
		f.related = NULL;
	}
	c->last_ts_ms = e->ts_ms;
	memcpy(c->last_id, r->id, sizeof(c->last_id));
	if (e->queue.p)
		span_copy(e->queue, c->queue, sizeof(c->queue));
	if (e->customer_id.p)
		span_copy(e->customer_id, c->customer, sizeof(c->customer));
	figures_for(a, c, e, (enum call_event)ev, before, next);
	c->state = next;
	if (next == CALL_ENDED || next == CALL_ABANDONED) {
		strmap_del(&a->calls, h, e->id.p, e->id.len);
		if (!id_set_put(&a->call_ids, h, ID_DONE))
			a->out_of_memory = true;
	}
}

/* ---- calls that stay open ---- */

struct stale_ctx {
	struct audit *a;
	uint64_t now_ms;
};

static bool too_old(void *arg, const void *value)
{
	const struct stale_ctx *x = arg;
	const struct open_call *c = value;

	return x->now_ms > c->start_ms && x->now_ms - c->start_ms > x->a->o.open_age_ms;
}

static int by_last_entry(const void *pa, const void *pb)
{
	const struct open_call *a = *(const struct open_call *const *)pa,
	                       *b = *(const struct open_call *const *)pb;

	return audit_cmp_ids(a->last_id, b->last_id);
}

/* Report the calls open longer than the open age at now_ms, in log order,
 * and forget them. */
static void report_stale(struct audit *a, uint64_t now_ms, bool at_end)
{
	struct stale_ctx x = {a, now_ms};
	void **old;
	size_t n = strmap_select(&a->calls, too_old, &x, &old);
	char age[32], when[32];

	if (n == SIZE_MAX) {
		a->out_of_memory = true;
		return;
	}
	if (n == 0)
		return;
	qsort(old, n, sizeof(*old), by_last_entry);
	audit_format_time(now_ms, when);
	for (size_t i = 0; i < n; i++) {
		struct open_call *c = old[i];
		const char *key = strmap_key(&a->calls, c);
		struct audit_finding f = {.check = AUDIT_CONSISTENCY,
		                          .kind = "open_too_long",
		                          .stream = LOG_CALLS,
		                          .id = c->last_id,
		                          .object = key};

		audit_format_duration(now_ms - c->start_ms, age);
		audit_emit(a, &f, "call %s is still %s %s after it began (%s %s)", key,
		           call_state_name(c->state), age, at_end ? "at the end of the audit," : "log time",
		           when);
		if (!id_set_put(&a->call_ids, c->hash, ID_STALE))
			a->out_of_memory = true;
		strmap_del(&a->calls, c->hash, key, strlen(key));
	}
	free(old);
}

void audit_calls_sweep(struct audit *a)
{
	report_stale(a, a->clock_ms, false);
}

void audit_calls_finish(struct audit *a)
{
	report_stale(a, a->o.end_ms, true);
}
