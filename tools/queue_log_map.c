/* queue_log_map.c - queue_log events into call entries (see queue_log_map.h).
 *
 * Calls live in a table of at most max_calls nodes: a chained hash by
 * uniqueid plus a list in order of last use, so the idle and the least
 * recent calls are found at its head.  Nodes are allocated as the peak
 * number of calls in flight grows, never beyond max_calls.
 */
#include "queue_log_map.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lifecycle.h"

#define NIL        UINT32_MAX
#define MAX_VISITS 99999 /* "ast-" + 54 + "-99999" is 64 bytes */
/* Room for "ast-<uid>-<visit>" as the compiler counts it (at most 64 bytes are ever used). */
#define CALL_ID_BUF (4 + QL_CALL_UID_MAX + 1 + 10 + 1)

struct call {
	uint32_t next;         /* in its hash bucket, or in the free list */
	uint32_t older, newer; /* the list by last use */
	char uid[QL_CALL_UID_MAX + 1];
	unsigned visit;             /* 1, 2, ...: the channel's visits to a queue */
	enum call_state state;      /* CALL_NONE: known only from a DID so far */
	int64_t last_ms;            /* the latest event time seen for this call */
	unsigned long last_ms_line; /* the line of that event */
	int64_t leg_at_ms;          /* when the current agent's leg began; 0: unknown */
	unsigned long first_line, connect_line;
	char queue[QL_NAME_MAX + 1];
	char agent[QL_NAME_MAX + 1]; /* the member holding the call */
	char phone[PHONE_MAX];
	char dnis[PHONE_MAX]; /* from a DID line, for the next offer */
	char customer_id[CUSTOMER_ID_MAX + 1];
};

struct recent {
	char id[QLM_RECENT][QL_SOURCE_ID_LEN + 1];
	uint32_t next[QLM_RECENT];
	uint32_t head[2 * QLM_RECENT];
	size_t pos, n;
};

struct qlm {
	struct qlm_options opt;
	struct qlm_hooks hooks;
	struct qlm_stats stats;
	struct call *calls;
	size_t n_alloc, n_used;
	uint32_t *buckets;
	size_t n_buckets;
	uint32_t free_list, oldest, newest;
	int64_t now_ms; /* the latest event time in the file so far */
	struct recent recent;
};

/* ---- small helpers ----------------------------------------------------------------------------------------
 */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void copy_field(char *dst, size_t cap, const struct ql_field *f)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;

	memcpy(dst, f->s, n);
	dst[n] = '\0';
}

void qlm_format_ts(int64_t ms, char out[32])
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

__attribute__((format(printf, 3, 4))) static void notice(struct qlm *m, unsigned long line, const char *fmt,
                                                         ...)
{
	char msg[512];
	va_list ap;

	if (!m->hooks.notice)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->hooks.notice(m->hooks.arg, line, msg);
}

static void call_id_of(const struct call *c, char out[CALL_ID_BUF])
{
	if (c->visit <= 1)
		snprintf(out, CALL_ID_BUF, "ast-%s", c->uid);
	else
		snprintf(out, CALL_ID_BUF, "ast-%s-%u", c->uid, c->visit);
}

/* ---- repeats: the last QLM_RECENT call lines --------------------------------------------------------------
 */

static uint32_t recent_bucket(const char *id)
{
	return hash_str(id) & (2 * QLM_RECENT - 1);
}

static void recent_init(struct recent *r)
{
	for (size_t i = 0; i < 2 * QLM_RECENT; i++)
		r->head[i] = NIL;
}

static bool recent_has(const struct recent *r, const char *id)
{
	for (uint32_t i = r->head[recent_bucket(id)]; i != NIL; i = r->next[i])
		if (strcmp(r->id[i], id) == 0)
			return true;
	return false;
}

static void recent_add(struct recent *r, const char *id)
{
	uint32_t slot = (uint32_t)r->pos, b;

	if (r->n == QLM_RECENT) { /* the oldest leaves its bucket */
		uint32_t *p = &r->head[recent_bucket(r->id[slot])];

		while (*p != slot)
			p = &r->next[*p];
		*p = r->next[slot];
	} else {
		r->n++;
	}
	memcpy(r->id[slot], id, QL_SOURCE_ID_LEN + 1);
	b = recent_bucket(id);
	r->next[slot] = r->head[b];
	r->head[b] = slot;
	r->pos = (r->pos + 1) % QLM_RECENT;
}

/* ---- the call table -------------------------------------------------------------------------------------
 */

static uint32_t *bucket_of(struct qlm *m, const char *uid)
{
	return &m->buckets[hash_str(uid) & (m->n_buckets - 1)];
}

static struct call *find(struct qlm *m, const char *uid)
{
	for (uint32_t i = *bucket_of(m, uid); i != NIL; i = m->calls[i].next)
		if (strcmp(m->calls[i].uid, uid) == 0)
			return &m->calls[i];
	return NULL;
}

static void lru_unlink(struct qlm *m, uint32_t i)
{
	struct call *c = &m->calls[i];

	if (c->older != NIL)
		m->calls[c->older].newer = c->newer;
	else
		m->oldest = c->newer;
	if (c->newer != NIL)
		m->calls[c->newer].older = c->older;
	else
		m->newest = c->older;
}

static void lru_push_newest(struct qlm *m, uint32_t i)
{
	struct call *c = &m->calls[i];

	c->older = m->newest;
	c->newer = NIL;
	if (m->newest != NIL)
		m->calls[m->newest].newer = i;
	else
		m->oldest = i;
	m->newest = i;
}

static void touch(struct qlm *m, struct call *c)
{
	uint32_t i = (uint32_t)(c - m->calls);

	if (m->newest != i) {
		lru_unlink(m, i);
		lru_push_newest(m, i);
	}
}

/* Report and count a call that is still open when it is no longer tracked. */
static void report_open(struct qlm *m, const struct call *c, const char *why)
{
	char id[CALL_ID_BUF];

	call_id_of(c, id);
	if (c->state == CALL_OFFERED) {
		m->stats.open_waiting++;
		notice(m, c->first_line, "call %s entered queue %s here and has no exit event (%s)", id,
		       c->queue, why);
	} else if (c->state == CALL_ANSWERED || c->state == CALL_HELD) {
		m->stats.open_connected++;
		notice(m, c->connect_line ? c->connect_line : c->first_line,
		       "call %s was connected to %s here and has no completion or transfer (%s)", id,
		       c->agent[0] ? c->agent : "a member", why);
	}
}

static void drop(struct qlm *m, uint32_t i, const char *why)
{
	struct call *c = &m->calls[i];
	uint32_t *p = bucket_of(m, c->uid);

	report_open(m, c, why);
	while (*p != i)
		p = &m->calls[*p].next;
	*p = c->next;
	lru_unlink(m, i);
	c->next = m->free_list;
	m->free_list = i;
	m->n_used--;
	m->stats.dropped++;
}

/* Drop the calls with no event for idle_ms of log time. */
static void drop_idle(struct qlm *m)
{
	char why[96];

	snprintf(why, sizeof(why), "no event for %lld min of log time; no longer tracked",
	         (long long)(m->opt.idle_ms / 60000));
	while (m->oldest != NIL && m->calls[m->oldest].last_ms + m->opt.idle_ms < m->now_ms)
		drop(m, m->oldest, why);
}

static struct call *create(struct qlm *m, const char *uid, unsigned long line, int64_t ts)
{
	uint32_t i, *b;
	struct call *c;

	if (m->n_used == m->opt.max_calls)
		drop(m, m->oldest, "more calls in flight than the importer tracks; no longer tracked");
	if (m->free_list != NIL) {
		i = m->free_list;
		m->free_list = m->calls[i].next;
	} else {
		if (m->n_alloc == m->opt.max_calls || m->n_alloc == UINT32_MAX - 1)
			return NULL;
		if (m->n_alloc % 1024 == 0) {
			size_t cap =
			    m->n_alloc + 1024 < m->opt.max_calls ? m->n_alloc + 1024 : m->opt.max_calls;
			struct call *grown = realloc(m->calls, cap * sizeof(*grown));

			if (grown == NULL)
				return NULL;
			m->calls = grown;
		}
		i = (uint32_t)m->n_alloc++;
	}
	c = &m->calls[i];
	memset(c, 0, sizeof(*c));
	snprintf(c->uid, sizeof(c->uid), "%s", uid);
	c->visit = 1;
	c->state = CALL_NONE;
	c->first_line = c->last_ms_line = line;
	c->last_ms = ts;
	b = bucket_of(m, uid);
	c->next = *b;
	*b = i;
	lru_push_newest(m, i);
	m->n_used++;
	return c;
}

/* ---- public ---------------------------------------------------------------------------------------------
 */

struct qlm *qlm_new(const struct qlm_options *o, const struct qlm_hooks *h)
{
	struct qlm *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->opt = *o;
	m->hooks = *h;
	if (m->opt.max_calls == 0)
		m->opt.max_calls = QLM_DEFAULT_MAX_CALLS;
	if (m->opt.idle_ms <= 0)
		m->opt.idle_ms = QLM_DEFAULT_IDLE_MS;
	for (m->n_buckets = 64; m->n_buckets < 2 * m->opt.max_calls; m->n_buckets *= 2)
		;
	m->buckets = malloc(m->n_buckets * sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < m->n_buckets; i++)
		m->buckets[i] = NIL;
	m->free_list = m->oldest = m->newest = NIL;
	recent_init(&m->recent);
	return m;
}

void qlm_free(struct qlm *m)
{
	if (m == NULL)
		return;
	free(m->calls);
	free(m->buckets);
	free(m);
}

const struct qlm_stats *qlm_stats(const struct qlm *m)
{
	return &m->stats;
}

void qlm_finish(struct qlm *m)
{
	for (uint32_t i = m->oldest; i != NIL; i = m->calls[i].newer)
		report_open(m, &m->calls[i], "at the end of the file");
}

/* ---- mapping ------------------------------------------------------------------------------------------ */

/* What one line does to its call; kinds that do nothing to calls are skipped. */
struct action {
	bool maps;
	enum call_event ev;
	const char *disposition;   /* on end */
	enum call_state end_state; /* what end leads to when the call was not seen before */
	bool by_member;            /* the line's agent did it (else the PBX) */
};

/* clang-format off */
static const struct action actions[QL_KIND_COUNT] = {
	[QL_ENTERQUEUE]       = {.maps = true, .ev = CALL_OFFER},
	[QL_CONNECT]          = {.maps = true, .ev = CALL_ANSWER, .by_member = true},
	[QL_COMPLETECALLER]   = {.maps = true, .ev = CALL_END, .disposition = "caller_hangup",
	                         .end_state = CALL_ENDED, .by_member = true},
	[QL_COMPLETEAGENT]    = {.maps = true, .ev = CALL_END, .disposition = "agent_hangup",
	                         .end_state = CALL_ENDED, .by_member = true},
	[QL_TRANSFER]         = {.maps = true, .ev = CALL_END, .disposition = "transferred",
	                         .end_state = CALL_ENDED, .by_member = true},
	[QL_BLINDTRANSFER]    = {.maps = true, .ev = CALL_END, .disposition = "transferred",
	                         .end_state = CALL_ENDED, .by_member = true},
	[QL_ATTENDEDTRANSFER] = {.maps = true, .ev = CALL_END, .disposition = "transferred",
	                         .end_state = CALL_ENDED, .by_member = true},
	/* the exits: the caller left the queue unanswered */
	[QL_ABANDON]          = {.maps = true, .ev = CALL_END, .disposition = "abandoned",
	                         .end_state = CALL_ABANDONED},
	[QL_EXITWITHTIMEOUT]  = {.maps = true, .ev = CALL_END, .disposition = "timeout",
	                         .end_state = CALL_ABANDONED},
	[QL_EXITWITHKEY]      = {.maps = true, .ev = CALL_END, .disposition = "exit_key",
	                         .end_state = CALL_ABANDONED},
	[QL_EXITEMPTY]        = {.maps = true, .ev = CALL_END, .disposition = "queue_empty",
	                         .end_state = CALL_ABANDONED},
};
/* clang-format on */

/* Where a transfer sent the caller: "extension@context", or ATTENDEDTRANSFER's method|destination. */
static void transfer_target(const struct ql_line *l, char *out, size_t cap)
{
	const struct ql_field *ext = ql_get(l, "extension"), *ctx = ql_get(l, "context");
	size_t n = 0;

	out[0] = '\0';
	if (l->kind == QL_ATTENDEDTRANSFER) {
		for (size_t i = 0; i + 3 < l->n_data && n < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", l->data[i].s);
		return;
	}
	if (ext)
		snprintf(out, cap, "%s%s%s", ext->s, ctx ? "@" : "", ctx ? ctx->s : "");
}

static void pbx_data(const struct ql_line *l, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n_data && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", l->data[i].s);
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && v[0])
		json_object_set_new(o, key, json_string(v));
}

struct built {
	const struct action *a;
	const char *agent;
	bool member;
	bool offer;
	const char *to;
	const char *rejected; /* the reason, or NULL */
	enum call_state state;
	bool has_leg;
	long long leg_ms;
};

/* The entry, in the daemon's key order, then where it came from. */
static char *entry_json(const struct call *c, const struct ql_line *l, const struct built *b,
                        const char *call_id)
{
	char ts[32], data[QL_MAX_LINE + 1];
	json_t *e;
	char *text;

	qlm_format_ts(l->time_ms, ts);
	e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", call_event_name(b->a->ev), "call_id", call_id,
	              "agent", b->agent, "role", b->member ? "agent" : "pbx", "ts", ts);
	if (e == NULL)
		return NULL;
	set_str(e, "customer_id", c->customer_id);
	set_str(e, "phone", c->phone);
	set_str(e, "queue", c->queue);
	if (b->offer)
		set_str(e, "dnis", c->dnis);
	set_str(e, "to", b->to);
	if (b->a->ev == CALL_END)
		set_str(e, "disposition", b->a->disposition);
	if (!b->rejected)
		json_object_set_new(e, "state", json_string(call_state_name(b->state)));
	if (b->has_leg)
		json_object_set_new(e, "leg_ms", json_integer(b->leg_ms));
	json_object_set_new(e, "source", json_string("queue_log"));
	json_object_set_new(e, "source_id", json_string(l->source_id));
	json_object_set_new(e, "pbx_event", json_stringn(l->event.s, l->event.len));
	pbx_data(l, data, sizeof(data));
	set_str(e, "pbx_data", data);
	set_str(e, "rejected", b->rejected);
	text = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(e);
	return text;
}

/* The phone and customer of an offer, from the caller id. */
static int identify_caller(struct qlm *m, struct call *c, const struct ql_line *l)
{
	const struct ql_field *cid = ql_get(l, "callerid");
	const char *why;

	c->phone[0] = c->customer_id[0] = '\0';
	if (cid == NULL || !phone_normalize(m->opt.phone, cid->s, cid->len, c->phone, &why)) {
		c->phone[0] = '\0';
		return 0;
	}
	if (m->hooks.customer_of) {
		int found = m->hooks.customer_of(m->hooks.arg, c->phone, c->customer_id);

		if (found < 0)
			return -1;
		if (found == 0)
			c->customer_id[0] = '\0';
	}
	return 0;
}

/* The length of the leg that ends here: Asterisk's calltime, else the time since CONNECT. */
static bool leg_length(const struct call *c, const struct ql_line *l, long long *ms)
{
	long long calltime;

	if (ql_get_int(l, "calltime", &calltime) && calltime >= 0) {
		*ms = calltime * 1000;
		return true;
	}
	if (c->leg_at_ms > 0 && l->time_ms >= c->leg_at_ms) {
		*ms = l->time_ms - c->leg_at_ms;
		return true;
	}
	return false;
}

static int feed_did(struct qlm *m, const struct ql_line *l, unsigned long line)
{
	const struct ql_field *did = ql_get(l, "did");
	struct call *c = find(m, l->uniqueid.s);
	char norm[PHONE_MAX];
	const char *why;

	if (c && (c->state == CALL_OFFERED || c->state == CALL_ANSWERED || c->state == CALL_HELD)) {
		m->stats.skipped[QL_DID]++; /* after the offer: too late to be its dnis */
		return 0;
	}
	if (did == NULL || !phone_normalize(m->opt.phone, did->s, did->len, norm, &why)) {
		m->stats.skipped[QL_DID]++;
		return 0;
	}
	if (c == NULL && (c = create(m, l->uniqueid.s, line, l->time_ms)) == NULL)
		return -1;
	memcpy(c->dnis, norm, sizeof(c->dnis));
	touch(m, c);
	m->stats.mapped[QL_DID]++;
	return 0;
}

/* A new visit of the same channel to a queue (after the previous one ended), or the first. */
static struct call *call_for_offer(struct qlm *m, struct call *c, const struct ql_line *l, unsigned long line)
{
	if (c == NULL)
		return create(m, l->uniqueid.s, line, l->time_ms);
	if ((c->state == CALL_ENDED || c->state == CALL_ABANDONED) && l->time_ms >= c->last_ms &&
	    c->visit < MAX_VISITS) {
		char dnis[PHONE_MAX];

		memcpy(dnis, c->dnis, sizeof(dnis));
		c->visit++;
		c->state = CALL_NONE;
		c->leg_at_ms = 0;
		c->agent[0] = c->phone[0] = c->customer_id[0] = c->queue[0] = '\0';
		memcpy(c->dnis, dnis, sizeof(dnis));
		c->first_line = line;
		c->connect_line = 0;
	}
	if (c->state == CALL_NONE)
		c->first_line = line;
	return c;
}

static int feed_call(struct qlm *m, const struct ql_line *l, unsigned long line, const struct action *a)
{
	struct call *c = find(m, l->uniqueid.s);
	enum call_state cur, next;
	struct built b = {.a = a, .offer = a->ev == CALL_OFFER};
	char call_id[CALL_ID_BUF], reason[200], to[QL_MAX_LINE + 1], ts[32], prev_ts[32];
	struct qlm_entry out;
	int rc;

	if (recent_has(&m->recent, l->source_id)) {
		m->stats.repeats++;
		return 0;
	}
	recent_add(&m->recent, l->source_id);
	c = a->ev == CALL_OFFER ? call_for_offer(m, c, l, line)
	    : c                 ? c
	                        : create(m, l->uniqueid.s, line, l->time_ms);
	if (c == NULL)
		return -1;
	call_id_of(c, call_id);
	if (l->time_ms < c->last_ms) {
		m->stats.time_back++;
		qlm_format_ts(l->time_ms, ts);
		qlm_format_ts(c->last_ms, prev_ts);
		notice(m, line, "call %s: %.*s at %s is earlier than the call's event at line %lu (%s)",
		       call_id, (int)l->event.len, l->event.s, ts, c->last_ms_line, prev_ts);
	}
	cur = c->state;
	if (a->ev == CALL_OFFER && cur == CALL_NONE) {
		copy_field(c->queue, sizeof(c->queue), &l->queue);
		if (identify_caller(m, c, l) != 0)
			return -1;
		next = CALL_OFFERED;
	} else if (cur == CALL_NONE) {
		/* Its ENTERQUEUE is before this file: take the call as the PBX states it. */
		m->stats.mid_call++;
		notice(m, line,
		       "call %s: %.*s with no ENTERQUEUE before it (first seen mid-call); logged as the PBX "
		       "states it",
		       call_id, (int)l->event.len, l->event.s);
		copy_field(c->queue, sizeof(c->queue), &l->queue);
		next = a->ev == CALL_END ? a->end_state : CALL_ANSWERED;
	} else if (!call_next_state(cur, a->ev, &next)) {
		m->stats.refused++;
		snprintf(reason, sizeof(reason), "conflict: call %s is %s; cannot %s", call_id,
		         call_state_name(cur), call_event_name(a->ev));
		notice(m, line, "call %s is %s; cannot %s (%.*s): logged with \"rejected\"", call_id,
		       call_state_name(cur), call_event_name(a->ev), (int)l->event.len, l->event.s);
		b.rejected = reason;
		next = cur;
	}
	b.state = next;
	b.member = a->by_member && !ql_is_none(&l->agent);
	b.agent = b.member ? l->agent.s : "pbx";
	if (a->ev == CALL_END && !b.rejected &&
	    (cur == CALL_ANSWERED || cur == CALL_HELD || cur == CALL_NONE))
		b.has_leg = leg_length(c, l, &b.leg_ms);
	if (a->ev == CALL_END && strcmp(a->disposition, "transferred") == 0) {
		transfer_target(l, to, sizeof(to));
		b.to = to;
	}

	out = (struct qlm_entry){.line = line,
	                         .ts_ms = l->time_ms,
	                         .source_id = l->source_id,
	                         .call_id = call_id,
	                         .rejected = b.rejected != NULL};
	out.json = entry_json(c, l, &b, call_id);
	if (out.json == NULL)
		return -1;
	out.json_len = strlen(out.json);

	if (!b.rejected) {
		c->state = next;
		if (a->ev == CALL_ANSWER) {
			copy_field(c->agent, sizeof(c->agent), &l->agent);
			c->leg_at_ms = l->time_ms;
			c->connect_line = line;
		}
		if (a->ev == CALL_OFFER)
			c->dnis[0] = '\0'; /* used */
	}
	if (l->time_ms > c->last_ms) {
		c->last_ms = l->time_ms;
		c->last_ms_line = line;
	}
	touch(m, c);
	m->stats.mapped[l->kind]++;
	m->stats.entries++;
	rc = m->hooks.emit ? m->hooks.emit(m->hooks.arg, &out) : 0;
	free((char *)out.json);
	return rc;
}

static void count_skipped(struct qlm *m, const struct ql_line *l)
{
	if ((unsigned)l->kind >= QL_KIND_COUNT)
		return; /* the parser never gives one; GCC -O2 cannot see that */
	m->stats.skipped[l->kind]++;
	if (l->kind != QL_OTHER)
		return;
	for (size_t i = 0; i < m->stats.n_custom; i++)
		if (strlen(m->stats.custom[i].name) == l->event.len &&
		    memcmp(m->stats.custom[i].name, l->event.s, l->event.len) == 0) {
			m->stats.custom[i].n++;
			return;
		}
	if (m->stats.n_custom < QLM_CUSTOM_NAMES) {
		copy_field(m->stats.custom[m->stats.n_custom].name, QL_EVENT_MAX + 1, &l->event);
		m->stats.custom[m->stats.n_custom++].n = 1;
	}
}

int qlm_feed(struct qlm *m, const struct ql_line *l, unsigned long line)
{
	m->stats.lines++;
	if (l->time_ms > m->now_ms) {
		m->now_ms = l->time_ms;
		drop_idle(m);
	}
	if (l->kind == QL_DID)
		return feed_did(m, l, line);
	if ((unsigned)l->kind >= QL_KIND_COUNT || !actions[l->kind].maps) {
		count_skipped(m, l);
		return 0;
	}
	return feed_call(m, l, line, &actions[l->kind]);
}
