/* The audit's pure modules: the compact id set and the string map, the
 * engine on hand-built chained logs (a clean day gives no finding and
 * exact figures; each consistency and deadline problem is named at its
 * entry), first-contact resolution, durations, and the export formats. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit.h"
#include "chain.h"
#include "export_format.h"
#include "id_set.h"
#include "strmap.h"

#include "check.h"

/* ---- id set and map ---- */

static void id_sets(void)
{
	struct id_hasher h;
	struct id_set s;
	char id[32];
	size_t n = 200000, seen_before = 0, put_failed = 0;

	id_hasher_init(&h);
	CHECK(id_set_init(&s));
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "call-%zu", i);
		seen_before += id_set_get(&s, id_hash(&h, id, strlen(id))) != ID_ABSENT;
		put_failed += !id_set_put(&s, id_hash(&h, id, strlen(id)), ID_OPEN);
	}
	CHECK(seen_before == 0 && put_failed == 0);
	CHECK(s.count == n);
	for (size_t i = 0; i < n; i += 2) {
		snprintf(id, sizeof(id), "call-%zu", i);
		id_set_put(&s, id_hash(&h, id, strlen(id)), ID_DONE);
	}
	size_t wrong = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "call-%zu", i);
		wrong += id_set_get(&s, id_hash(&h, id, strlen(id))) != (i % 2 ? ID_OPEN : ID_DONE);
	}
	CHECK(wrong == 0);
	CHECK(s.count == n);
	/* the documented cost: 11 to 22 bytes an id */
	CHECK(id_set_bytes(&s) >= n * 10 && id_set_bytes(&s) <= n * 22);
	id_set_free(&s);
}

static bool drop_odd(void *arg, const char *key, void *value)
{
	int *visits = arg;

	(*visits)++;
	return *(int *)value % 2 == 1;
}

static void maps(void)
{
	struct id_hasher h;
	struct strmap m;
	char key[32];
	bool created;
	int n = 5000, visits = 0;

	id_hasher_init(&h);
	CHECK(strmap_init(&m, sizeof(int)));
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		int *v = strmap_put(&m, id_hash(&h, key, strlen(key)), key, strlen(key), &created);

		if (v == NULL || !created) {
			CHECK(!"strmap_put");
			break;
		}
		*v = i;
	}
	CHECK(m.count == (size_t)n);
	int *again = strmap_put(&m, id_hash(&h, "k7", 2), "k7", 2, &created);
	CHECK(again && !created && *again == 7);
	CHECK(strcmp(strmap_key(&m, again), "k7") == 0);
	/* delete a third directly, half of the rest by a sweep */
	for (int i = 0; i < n; i += 3) {
		snprintf(key, sizeof(key), "k%d", i);
		strmap_del(&m, id_hash(&h, key, strlen(key)), key, strlen(key));
	}
	strmap_sweep(&m, drop_odd, &visits);
	CHECK(visits >= n - (n + 2) / 3);
	int bad = 0, left = 0;
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		int *v = strmap_get(&m, id_hash(&h, key, strlen(key)), key, strlen(key));
		bool should = i % 3 != 0 && i % 2 == 0;

		bad += (v != NULL) != should || (v && *v != i);
		left += should;
	}
	CHECK(bad == 0);
	CHECK(m.count == (size_t)left);
	strmap_free(&m);
}

static void durations(void)
{
	uint64_t ms;

	CHECK(audit_parse_duration("4h", &ms) && ms == 4 * 3600000ull);
	CHECK(audit_parse_duration("1h30m", &ms) && ms == 5400000);
	CHECK(audit_parse_duration("90s", &ms) && ms == 90000);
	CHECK(audit_parse_duration("2d", &ms) && ms == 2 * 86400000ull);
	CHECK(!audit_parse_duration("", &ms));
	CHECK(!audit_parse_duration("4", &ms));
	CHECK(!audit_parse_duration("h", &ms));
	CHECK(!audit_parse_duration("4x", &ms));
	CHECK(!audit_parse_duration("99999999999999999999d", &ms));
	char out[32];
	audit_format_duration(3 * 3600000 + 5 * 60000, out);
	CHECK_STR(out, "3h05m");
	audit_format_duration(42000, out);
	CHECK_STR(out, "42s");
}

/* ---- the engine on hand-built logs ---- */

#define MAX_FOUND 64

struct found {
	int n;
	struct {
		char check[16], kind[32], id[LOG_ID_MAX], object[80];
		bool notice;
	} f[MAX_FOUND];
};

static void sink(void *arg, const struct audit_finding *f)
{
	static const char *const checks[] = {"integrity", "consistency", "sla"};
	struct found *x = arg;

	if (x->n == MAX_FOUND)
		return;
	snprintf(x->f[x->n].check, sizeof(x->f[0].check), "%s", checks[f->check]);
	snprintf(x->f[x->n].kind, sizeof(x->f[0].kind), "%s", f->kind);
	snprintf(x->f[x->n].id, sizeof(x->f[0].id), "%s", f->id);
	snprintf(x->f[x->n].object, sizeof(x->f[0].object), "%s", f->object ? f->object : "");
	x->f[x->n].notice = f->notice;
	x->n++;
}

static bool has(const struct found *x, const char *kind, const char *id)
{
	for (int i = 0; i < x->n; i++)
		if (strcmp(x->f[i].kind, kind) == 0 && (!id || strcmp(x->f[i].id, id) == 0))
			return true;
	return false;
}

/* A log of (stream, entry JSON) pairs, each stream chained from seq 1, ids
 * "<i+1>000-0" in the order given (so ids double as a readable index). */
struct line {
	enum log_stream stream;
	const char *entry;
};

static void run(const struct line *lines, int n, const struct audit_options *o, struct found *x,
                struct audit *a)
{
	char prev[LOG_STREAM_COUNT][CHAIN_HEX_LEN + 1], hash[CHAIN_HEX_LEN + 1], seq[24];
	uint64_t seqs[LOG_STREAM_COUNT] = {0};
	struct log_record r;

	memset(x, 0, sizeof(*x));
	for (int s = 0; s < LOG_STREAM_COUNT; s++)
		memcpy(prev[s], CHAIN_GENESIS, sizeof(prev[s]));
	if (!audit_init(a, o, sink, x)) {
		CHECK(!"audit_init");
		return;
	}
	for (int i = 0; i < n; i++) {
		enum log_stream st = lines[i].stream;

		memset(&r, 0, sizeof(r));
		r.stream = st;
		snprintf(r.id, sizeof(r.id), "%d000-0", i + 1);
		log_id_parse(r.id, &r.id_ms, &r.id_n);
		snprintf(seq, sizeof(seq), "%" PRIu64, ++seqs[st]);
		chain_hash(prev[st], seqs[st], lines[i].entry, strlen(lines[i].entry), hash);
		r.seq = seq, r.seq_len = strlen(seq);
		r.prev = prev[st], r.prev_len = CHAIN_HEX_LEN;
		r.hash = hash, r.hash_len = CHAIN_HEX_LEN;
		r.entry = lines[i].entry, r.entry_len = strlen(lines[i].entry);
		CHECK(audit_record(a, &r));
		memcpy(prev[st], hash, sizeof(hash));
	}
	audit_finish(a);
}

#define C   LOG_CALLS
#define K   LOG_COMPLAINTS
#define DAY "2026-11-22T"

static const struct audit_options defaults = {
    .end_ms = 1795392000000ull, /* 2026-11-23T00:00:00Z */
    .open_age_ms = 4 * 3600000ull,
    .reopen_window_h = 168,
    .fcr_disposition = "resolved",
    .fcr_window_ms = 7 * 86400000ull,
};

static double num(const json_t *o, const char *path)
{
	char copy[128], *save, *part;
	const json_t *v = o;

	snprintf(copy, sizeof(copy), "%s", path);
	for (part = strtok_r(copy, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
		v = json_object_get(v, part);
	return v ? json_number_value(v) : -1;
}

static void clean_day(void)
{
	static const struct line log[] = {
	    {C, "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:00.000Z\",\"customer_id\":\"X\",\"queue\":\"q1\",\"tier\":\"gold\",\"state\":"
	        "\"offered\"}"},
	    {C, "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:05.000Z\",\"customer_id\":\"X\",\"queue\":\"q1\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"offer\",\"call_id\":\"c2\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:06.000Z\",\"queue\":\"q2\",\"state\":\"offered\"}"},
	    {C, "{\"event\":\"hold\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:01:00.000Z\",\"queue\":\"q1\",\"state\":\"held\"}"},
	    {C, "{\"event\":\"end\",\"call_id\":\"c2\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:01:06.000Z\",\"queue\":\"q2\",\"disposition\":\"no_action\",\"state\":\"abandoned\"}"},
	    {C, "{\"event\":\"resume\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:02:00.000Z\",\"queue\":\"q1\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"transfer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:03:05.000Z\",\"queue\":\"q1\",\"to\":\"a2\",\"state\":\"answered\",\"leg_ms\":180000}"},
	    {K,
	     "{\"event\":\"open\",\"complaint_id\":\"k1\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:04:00.000Z\",\"customer_id\":\"X\",\"tier\":\"gold\",\"severity\":\"high\",\"category\":"
	     "\"billing\",\"state\":\"open\",\"due\":\"" DAY "17:04:00Z\",\"level\":0}"},
	    {C, "{\"event\":\"end\",\"call_id\":\"c1\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:05:05.000Z\",\"queue\":\"q1\",\"disposition\":\"resolved\",\"csat\":4,\"state\":"
	        "\"ended\",\"leg_ms\":120000}"},
	    {K,
	     "{\"event\":\"assign\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:10:00.000Z\",\"tier\":\"gold\",\"severity\":\"high\",\"category\":\"billing\",\"state\":"
	     "\"open\",\"due\":\"" DAY "17:04:00Z\",\"owner\":\"a3\"}"},
	    {K, "{\"event\":\"ack\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:11:00.000Z\",\"state\":\"acknowledged\",\"due\":\"" DAY "17:04:00Z\"}"},
	    {K, "{\"event\":\"progress\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":"
	        "\"" DAY "09:12:00.000Z\",\"state\":\"in_progress\",\"due\":\"" DAY "17:04:00Z\"}"},
	    {K,
	     "{\"event\":\"wait\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:13:00.000Z\",\"state\":\"waiting\",\"due\":\"" DAY "17:04:00Z\"}"},
	    {K, "{\"event\":\"escalate\",\"complaint_id\":\"k1\",\"agent\":\"s1\",\"role\":\"supervisor\","
	        "\"ts\":\"" DAY "09:14:00.000Z\",\"state\":\"waiting\",\"due\":\"" DAY
	        "17:04:00Z\",\"level\":1}"},
	    {K,
	     "{\"event\":\"resume\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":\"" DAY
	     "10:13:00.000Z\",\"state\":\"in_progress\",\"due\":\"" DAY "18:04:00Z\"}"},
	    {K, "{\"event\":\"resolve\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":"
	        "\"" DAY "11:00:00.000Z\",\"state\":\"resolved\",\"due\":\"" DAY
	        "18:04:00Z\",\"resolution\":\"refund, \\\"sorry\\\"\"}"},
	    {K,
	     "{\"event\":\"close\",\"complaint_id\":\"k1\",\"agent\":\"a3\",\"role\":\"agent\",\"ts\":\"" DAY
	     "12:00:00.000Z\",\"state\":\"closed\",\"due\":\"" DAY "18:04:00Z\"}"},
	    {K,
	     "{\"event\":\"reopen\",\"complaint_id\":\"k1\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":\"" DAY
	     "13:00:00.000Z\",\"tier\":\"gold\",\"severity\":\"high\",\"category\":\"billing\",\"state\":"
	     "\"open\",\"due\":\"" DAY "21:00:00Z\"}"},
	    {K, "{\"event\":\"resolve\",\"complaint_id\":\"k1\",\"agent\":\"a2\",\"role\":\"agent\",\"ts\":"
	        "\"" DAY "22:00:00.000Z\",\"state\":\"resolved\",\"due\":\"" DAY "21:00:00Z\"}"},
	    {K,
	     "{\"event\":\"open\",\"complaint_id\":\"k2\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	     "14:00:00.000Z\",\"tier\":\"platinum\",\"severity\":\"critical\",\"category\":\"quality\","
	     "\"state\":\"open\",\"due\":\"" DAY "15:00:00Z\",\"level\":0}"},
	};
	struct audit a;
	struct found x;
	json_t *fig;

	run(log, sizeof(log) / sizeof(log[0]), &defaults, &x, &a);
	/* the only findings: k1 resolved an hour late after its reopen, k2 open past due */
	CHECK(x.n == 2);
	CHECK(has(&x, "resolved_late", "19000-0"));
	CHECK(has(&x, "open_overdue", "20000-0"));
	for (int i = 0; i < x.n; i++)
		if (!check_report(strcmp(x.f[i].check, "sla") == 0, __FILE__, __LINE__,
		                  "unexpected %s/%s at %s", x.f[i].check, x.f[i].kind, x.f[i].id))
			break;
	fig = figures_json(&a.fig);
	CHECK(num(fig, "calls.offered") == 2 && num(fig, "calls.answered") == 1 &&
	      num(fig, "calls.abandoned") == 1);
	CHECK(num(fig, "calls.answer_rate") == 0.5 && num(fig, "calls.held") == 1 &&
	      num(fig, "calls.transferred") == 1);
	CHECK(num(fig, "calls.handle_s") == 300 && num(fig, "calls.aht_s") == 300);
	CHECK(num(fig, "calls.csat.count") == 1 && num(fig, "calls.csat.average") == 4);
	/* the first leg is a1's, the second (and the rating) a2's */
	CHECK(num(fig, "agents.a1.handle_s") == 180 && num(fig, "agents.a1.answered") == 1);
	CHECK(num(fig, "agents.a2.handle_s") == 120 && num(fig, "agents.a2.csat_average") == 4);
	CHECK(num(fig, "agents.a1.csat_count") == 0);
	CHECK(num(fig, "queues.q1.answer_rate") == 1 && num(fig, "queues.q2.abandoned") == 1);
	CHECK(num(fig, "complaints.opened") == 2 && num(fig, "complaints.resolved") == 2);
	CHECK(num(fig, "complaints.reopened") == 1 && num(fig, "complaints.escalated") == 1);
	CHECK(num(fig, "complaints.resolved_late") == 1 && num(fig, "complaints.open_overdue") == 1);
	CHECK(num(fig, "complaints.by_tier.gold.resolved_late") == 1);
	CHECK(num(fig, "complaints.by_tier.platinum.open_overdue") == 1);
	CHECK(num(fig, "complaints.by_category.billing.overdue") == 1);
	CHECK(num(fig, "deadlines.high.gold.resolved_in_time") == 1 &&
	      num(fig, "deadlines.high.gold.resolved_late") == 1);
	CHECK(num(fig, "deadlines.critical.platinum.open_overdue") == 1);
	/* c1: customer X, resolved; the audit ends within its 7 days: pending */
	CHECK(num(fig, "first_contact_resolution.pending") == 1);
	json_decref(fig);
	audit_free(&a);
}

static void problems(void)
{
	static const struct line log[] = {
	    /* 1: answer without offer */
	    {C,
	     "{\"event\":\"answer\",\"call_id\":\"ghost\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:00:00.000Z\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:00.000Z\",\"queue\":\"q\",\"state\":\"offered\"}"},
	    {C, "{\"event\":\"end\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:10.000Z\",\"state\":\"abandoned\"}"},
	    /* 4: after the end; 5: its id again */
	    {C, "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:11.000Z\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:12.000Z\",\"state\":\"offered\"}"},
	    /* 6: hold of an offered call; 7: state that does not follow; 8: ts back */
	    {C, "{\"event\":\"hold\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:13.000Z\",\"state\":\"held\"}"},
	    {C, "{\"event\":\"offer\",\"call_id\":\"c3\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:01:00.000Z\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"answer\",\"call_id\":\"c3\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "08:59:00.000Z\",\"state\":\"answered\"}"},
	    /* 9: rejected (a notice); 10..12: malformed */
	    {C, "{\"event\":\"end\",\"call_id\":\"c3\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:02:00.000Z\",\"rejected\":\"conflict: ended elsewhere\",\"spooled\":true}"},
	    {C, "not json"},
	    {C, "{\"event\":\"offer\",\"agent\":\"a1\",\"ts\":\"" DAY "09:02:00.000Z\"}"},
	    {C, "{\"event\":\"dance\",\"call_id\":\"c9\",\"ts\":\"" DAY "09:02:00.000Z\"}"},
	    /* 13: complaint never opened; 14, 15: reopen after the window */
	    {K, "{\"event\":\"ack\",\"complaint_id\":\"kx\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:00.000Z\",\"state\":\"acknowledged\"}"},
	    {K, "{\"event\":\"open\",\"complaint_id\":\"k1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":"
	        "\"2026-11-01T09:00:00.000Z\",\"state\":\"open\",\"due\":\"2026-11-01T10:00:00Z\"}"},
	    {K, "{\"event\":\"resolve\",\"complaint_id\":\"k1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":"
	        "\"2026-11-01T09:30:00.000Z\",\"state\":\"resolved\",\"due\":\"2026-11-01T10:00:00Z\"}"},
	    {K, "{\"event\":\"close\",\"complaint_id\":\"k1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":"
	        "\"2026-11-01T09:40:00.000Z\",\"state\":\"closed\",\"due\":\"2026-11-01T10:00:00Z\"}"},
	    {K,
	     "{\"event\":\"reopen\",\"complaint_id\":\"k1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:00:00.000Z\",\"state\":\"open\",\"due\":\"2026-11-23T10:00:00Z\"}"},
	};
	struct audit a;
	struct found x;

	run(log, sizeof(log) / sizeof(log[0]), &defaults, &x, &a);
	CHECK(has(&x, "no_offer", "1000-0"));
	CHECK(has(&x, "after_end", "4000-0"));
	CHECK(has(&x, "duplicate_id", "5000-0"));
	CHECK(has(&x, "bad_transition", "6000-0"));
	CHECK(has(&x, "state_mismatch", "7000-0"));
	CHECK(has(&x, "ts_backwards", "8000-0"));
	CHECK(has(&x, "rejected", "9000-0"));
	CHECK(has(&x, "malformed_entry", "10000-0"));
	CHECK(has(&x, "malformed_entry", "11000-0"));
	CHECK(has(&x, "malformed_entry", "12000-0"));
	CHECK(has(&x, "no_open", "13000-0"));
	CHECK(has(&x, "bad_transition", "17000-0"));
	/* still open at the end of the audit (2026-11-23T00:00Z), far past 4 h:
	 * ghost, c1 (reoffered) and c3; reported at their last entries */
	CHECK(has(&x, "open_too_long", "1000-0"));
	CHECK(has(&x, "open_too_long", "6000-0"));
	CHECK(has(&x, "open_too_long", "8000-0"));
	for (int i = 0; i < x.n; i++)
		if (strcmp(x.f[i].kind, "rejected") == 0)
			CHECK(x.f[i].notice);
	/* k1, reopened (wrongly), is due after the end of the audit: not overdue */
	CHECK(!has(&x, "open_overdue", NULL));
	/* the chain itself is intact */
	for (int i = 0; i < x.n; i++)
		CHECK(strcmp(x.f[i].check, "integrity") != 0);
	audit_free(&a);
}

/* Without the stream's first entries (a range), unknown ids are adopted,
 * not reported. */
static void mid_log(void)
{
	static const struct line log[] = {
	    {C, "{\"event\":\"answer\",\"call_id\":\"old\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:00.000Z\",\"state\":\"answered\"}"},
	    {C, "{\"event\":\"end\",\"call_id\":\"old\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:01:00.000Z\",\"state\":\"ended\",\"leg_ms\":60000,\"csat\":5}"},
	};
	char prev[CHAIN_HEX_LEN + 1] = CHAIN_GENESIS, hash[CHAIN_HEX_LEN + 1], seq[24];
	struct audit_options o = defaults;
	struct log_record r;
	struct audit a;
	struct found x = {0};

	o.allow_trimmed_start = true;
	CHECK(audit_init(&a, &o, sink, &x));
	for (int i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "%d-0", i + 1);
		log_id_parse(r.id, &r.id_ms, &r.id_n);
		snprintf(seq, sizeof(seq), "%d", 40 + i); /* not from seq 1 */
		chain_hash(prev, (uint64_t)40 + (uint64_t)i, log[i].entry, strlen(log[i].entry), hash);
		r.seq = seq, r.seq_len = strlen(seq);
		r.prev = prev, r.prev_len = CHAIN_HEX_LEN;
		r.hash = hash, r.hash_len = CHAIN_HEX_LEN;
		r.entry = log[i].entry, r.entry_len = strlen(log[i].entry);
		CHECK(audit_record(&a, &r));
		memcpy(prev, hash, sizeof(prev));
	}
	audit_finish(&a);
	CHECK(x.n == 0);
	json_t *fig = figures_json(&a.fig);
	CHECK(num(fig, "calls.ended") == 1 && num(fig, "calls.csat.average") == 5 &&
	      num(fig, "agents.a1.handle_s") == 60);
	json_decref(fig);
	audit_free(&a);
}

/* First-contact resolution: X's resolved call is followed by another call
 * within 7 days (repeated); Y's is not (resolved at first contact); Z's
 * disposition does not resolve; W's window is still open at the end. */
static void first_contact(void)
{
#define CALL(id, cust, day, disp)                                                                            \
	{C, "{\"event\":\"offer\",\"call_id\":\"" id                                                         \
	    "\",\"agent\":\"a\",\"role\":\"agent\",\"ts\":\"2026-11-" day                                    \
	    "T09:00:00.000Z\",\"customer_id\":\"" cust "\",\"state\":\"offered\"}"},                         \
	    {C, "{\"event\":\"answer\",\"call_id\":\"" id                                                    \
	        "\",\"agent\":\"a\",\"role\":\"agent\",\"ts\":\"2026-11-" day                                \
	        "T09:00:01.000Z\",\"customer_id\":\"" cust "\",\"state\":\"answered\"}"},                    \
	{                                                                                                    \
		C, "{\"event\":\"end\",\"call_id\":\"" id                                                    \
		   "\",\"agent\":\"a\",\"role\":\"agent\",\"ts\":\"2026-11-" day                             \
		   "T09:05:00.000Z\",\"customer_id\":\"" cust "\",\"disposition\":\"" disp                   \
		   "\",\"state\":\"ended\",\"leg_ms\":1}"                                                    \
	}
	static const struct line log[] = {
	    CALL("x1", "X", "01", "resolved"), CALL("y1", "Y", "01", "resolved"),
	    CALL("z1", "Z", "02", "callback"), CALL("x2", "X", "05", "resolved"),
	    CALL("w1", "W", "20", "resolved"),
	};
	struct audit a;
	struct found x;
	json_t *fig;

	run(log, sizeof(log) / sizeof(log[0]), &defaults, &x, &a);
	CHECK(x.n == 0);
	fig = figures_json(&a.fig);
	/* x1 repeated; y1 and x2 resolved first; z1 not resolved; w1 pending */
	CHECK(num(fig, "first_contact_resolution.repeated") == 1);
	CHECK(num(fig, "first_contact_resolution.resolved_first") == 2);
	CHECK(num(fig, "first_contact_resolution.not_resolved") == 1);
	CHECK(num(fig, "first_contact_resolution.pending") == 1);
	CHECK(num(fig, "first_contact_resolution.rate") == 0.5);
	json_decref(fig);
	audit_free(&a);
#undef CALL
}

/* ---- export formats ---- */

static void formats(void)
{
	struct text_buf b = {0};
	struct log_record r = {.stream = LOG_COMPLAINTS};
	const char *entry = "{\"event\":\"resolve\",\"complaint_id\":\"k1\",\"ts\":\"T\",\"csat\":3,"
	                    "\"resolution\":\"refund, \\\"sorry\\\"\\nbye\"}";
	char scratch[256];

	snprintf(r.id, sizeof(r.id), "5-1");
	r.fields[0] = (struct log_field){"seq", "7", 3, 1};
	r.fields[1] = (struct log_field){"entry", entry, 5, strlen(entry)};
	r.fields[2] = (struct log_field){"odd\"name", "v\n", 8, 2};
	r.nfields = 3;
	r.seq = "7", r.seq_len = 1;
	r.entry = entry, r.entry_len = strlen(entry);
	CHECK(export_jsonl(&b, &r));
	text_buf_addc(&b, '\0');
	CHECK_STR(b.p,
	          "{\"stream\":\"complaints\",\"id\":\"5-1\",\"seq\":\"7\",\"entry\":\"{\\\"event\\\":"
	          "\\\"resolve\\\","
	          "\\\"complaint_id\\\":\\\"k1\\\",\\\"ts\\\":\\\"T\\\",\\\"csat\\\":3,\\\"resolution\\\":"
	          "\\\"refund, \\\\\\\"sorry\\\\\\\"\\\\nbye\\\"}\",\"odd\\\"name\":\"v\\n\"}\n");
	text_buf_free(&b);

	export_csv_field(&b, "plain", 5);
	text_buf_addc(&b, '|');
	export_csv_field(&b, "a,b", 3);
	text_buf_addc(&b, '|');
	export_csv_field(&b, "say \"hi\"", 8);
	text_buf_addc(&b, '|');
	export_csv_field(&b, " pad", 4);
	text_buf_addc(&b, '\0');
	CHECK_STR(b.p, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\" pad\"");
	text_buf_free(&b);

	export_csv_row(&b, &r, scratch);
	text_buf_addc(&b, '\0');
	/* stream,id,seq,ts,event,object_id,... csat at its column, the decoded
	 * resolution is not a column, the raw entry last (quoted) */
	CHECK(strncmp(b.p, "complaints,5-1,7,T,resolve,k1,", 30) == 0);
	CHECK(strstr(b.p, ",3,") != NULL);
	CHECK(strstr(b.p, ",\"{\"\"event\"\":\"\"resolve\"\"") != NULL);
	CHECK(b.len > 2 && strcmp(b.p + b.len - 3, "\r\n") == 0);
	text_buf_free(&b);
	export_csv_header(&b);
	text_buf_addc(&b, '\0');
	const char *head = "stream,id,seq,ts,event,object_id,agent,role,state,customer_id,";
	CHECK(strncmp(b.p, head, strlen(head)) == 0);
	text_buf_free(&b);
}

/* Lost records are integrity findings only: never malformed_entry, no call
 * or complaint changed, no figure counted. */
static void lost_records(void)
{
#define LOST_OPEN                                                                                            \
	"{\"event\":\"lost\",\"ts\":\"" DAY                                                                  \
	"09:00:30.000Z\",\"reported_by\":\"hotlined:h:1\",\"master\":\"m:6379\","
	static const struct line with[] = {
	    {C, "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:00.000Z\",\"queue\":\"q1\",\"state\":\"offered\"}"},
	    {C, LOST_OPEN
	     "\"lost\":[{\"seq\":2,\"id\":\"1500-0\",\"hash\":\"0123456789abcdef\",\"request_id\":\"r1\","
	     "\"what\":\"CALL end call:c1 by a1\"},{\"seq\":1,\"id\":\"1400-0\",\"hash\":"
	     "\"0123456789abcdef\",\"what\":\"CALL offer call:c0 by a1\"}]}"},
	    {C, "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	        "09:00:05.000Z\",\"queue\":\"q1\",\"state\":\"answered\"}"},
	    {K, LOST_OPEN "\"lost\":[{\"seq\":1,\"id\":\"1600-0\",\"hash\":\"0123456789abcdef\","
	                  "\"what\":\"COMPLAINT open complaint:k9 by a1\"}]}"},
	    {K, LOST_OPEN "\"lost\":[]}"}, /* malformed: integrity's, not consistency's */
	    {C,
	     "{\"event\":\"end\",\"call_id\":\"c1\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"" DAY
	     "09:05:00.000Z\",\"queue\":\"q1\",\"disposition\":\"resolved\",\"csat\":5,\"state\":\"ended\","
	     "\"leg_ms\":295000}"},
	};
	static const struct line without[] = {with[0], with[2], with[5]};
	struct audit a;
	struct found x;
	json_t *fig_with, *fig_without;

	run(with, 6, &defaults, &x, &a);
	CHECK(x.n == 4);
	for (int i = 0; i < x.n; i++)
		check_report(strcmp(x.f[i].check, "integrity") == 0, __FILE__, __LINE__,
		             "unexpected %s/%s at %s", x.f[i].check, x.f[i].kind, x.f[i].id);
	CHECK(x.n == 4 && strcmp(x.f[0].kind, "lost") == 0 && strcmp(x.f[0].id, "2000-0") == 0);
	CHECK(x.n == 4 && strcmp(x.f[1].kind, "lost") == 0 && strcmp(x.f[1].id, "2000-0") == 0);
	CHECK(x.n == 4 && strcmp(x.f[2].kind, "lost") == 0 && strcmp(x.f[2].id, "4000-0") == 0);
	CHECK(x.n == 4 && strcmp(x.f[3].kind, "malformed") == 0 && strcmp(x.f[3].id, "5000-0") == 0);
	CHECK(a.entries[C] == 4 && a.entries[K] == 2);
	CHECK(a.calls.count == 0 && a.complaints.count == 0);
	fig_with = figures_json(&a.fig);
	audit_free(&a);
	run(without, 3, &defaults, &x, &a);
	CHECK(x.n == 0);
	fig_without = figures_json(&a.fig);
	audit_free(&a);
	CHECK(fig_with && fig_without && json_equal(fig_with, fig_without));
	CHECK(num(fig_with, "calls.offered") == 1 && num(fig_with, "complaints.opened") == 0);
	json_decref(fig_with);
	json_decref(fig_without);
#undef LOST_OPEN
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	id_sets();
	maps();
	durations();
	clean_day();
	problems();
	mid_log();
	first_contact();
	formats();
	lost_records();
	return check_summary("audit");
}
