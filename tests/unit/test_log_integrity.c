/* The integrity checks (tools/log_integrity.c) on hand-built streams: an
 * intact chain is clean; each kind of tampering is named once, at the entry
 * to blame, with the missing seqs of a gap; reordering and insertion are
 * told from deletion; the two streams keep separate chains. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "log_integrity.h"

#include "check.h"

#define MAX 40

struct rec {
	char id[LOG_ID_MAX];
	char seq[24], prev[CHAIN_HEX_LEN + 1], hash[CHAIN_HEX_LEN + 1], entry[1024];
	enum log_stream stream;
	bool drop_prev;
};

struct got {
	int n;
	struct {
		char id[LOG_ID_MAX], related[LOG_ID_MAX], request_id[80];
		enum integrity_kind kind;
		uint64_t from, to;
		char detail[1000];
	} f[MAX];
};

static void collect(void *arg, const struct integrity_finding *f)
{
	struct got *g = arg;

	if (g->n == MAX)
		return;
	snprintf(g->f[g->n].id, LOG_ID_MAX, "%s", f->id);
	snprintf(g->f[g->n].related, LOG_ID_MAX, "%s", f->related ? f->related : "");
	snprintf(g->f[g->n].request_id, sizeof(g->f[g->n].request_id), "%s",
	         f->request_id ? f->request_id : "");
	g->f[g->n].kind = f->kind;
	g->f[g->n].from = f->missing_from;
	g->f[g->n].to = f->missing_to;
	snprintf(g->f[g->n].detail, sizeof(g->f[g->n].detail), "%s", f->detail);
	g->n++;
}

/* n chained entries of one stream, ids 100-0, 101-0, ... */
static void build(struct rec *r, int n, enum log_stream stream)
{
	char prev[CHAIN_HEX_LEN + 1] = CHAIN_GENESIS;

	for (int i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].stream = stream;
		snprintf(r[i].id, LOG_ID_MAX, "%d-0", 100 + i);
		snprintf(r[i].seq, sizeof(r[i].seq), "%d", i + 1);
		snprintf(r[i].entry, sizeof(r[i].entry), "{\"event\":\"offer\",\"n\":%d}", i + 1);
		memcpy(r[i].prev, prev, sizeof(prev));
		chain_hash(prev, (uint64_t)i + 1, r[i].entry, strlen(r[i].entry), r[i].hash);
		memcpy(prev, r[i].hash, sizeof(prev));
	}
}

static void to_record(const struct rec *x, struct log_record *r)
{
	memset(r, 0, sizeof(*r));
	r->stream = x->stream;
	snprintf(r->id, sizeof(r->id), "%s", x->id);
	log_id_parse(x->id, &r->id_ms, &r->id_n);
	r->seq = x->seq, r->seq_len = strlen(x->seq);
	if (!x->drop_prev)
		r->prev = x->prev, r->prev_len = strlen(x->prev);
	r->hash = x->hash, r->hash_len = strlen(x->hash);
	r->entry = x->entry, r->entry_len = strlen(x->entry);
}

/* Run recs (in the given order, ids re-assigned increasing as Redis would
 * after a rewrite) through the checks. */
static void run(struct rec *recs, int n, bool trimmed, struct got *g)
{
	struct integrity in;
	struct log_record r;

	memset(g, 0, sizeof(*g));
	integrity_init(&in, trimmed, collect, g);
	for (int i = 0; i < n; i++) {
		to_record(&recs[i], &r);
		integrity_check(&in, &r);
	}
	integrity_finish(&in);
}

static void renumber_ids(struct rec *r, int n)
{
	for (int i = 0; i < n; i++)
		snprintf(r[i].id, LOG_ID_MAX, "%d-0", 100 + i);
}

#define EXPECT(g, i, k, at) CHECK((g).n > (i) && (g).f[i].kind == (k) && strcmp((g).f[i].id, (at)) == 0)

static void intact(void)
{
	struct rec r[12];
	struct got g;

	build(r, 12, LOG_CALLS);
	run(r, 12, false, &g);
	CHECK(g.n == 0);
	/* starting mid-stream is a finding unless allowed */
	run(r + 3, 9, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "103-0");
	CHECK(g.f[0].from == 1 && g.f[0].to == 3);
	run(r + 3, 9, true, &g);
	CHECK(g.n == 0);
}

static void modified(void)
{
	struct rec r[10];
	struct got g;

	build(r, 10, LOG_CALLS);
	r[4].entry[2] = 'X';
	run(r, 10, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MODIFIED, "104-0");
}

static void deleted(void)
{
	struct rec r[10];
	struct got g;

	build(r, 10, LOG_CALLS);
	memmove(&r[4], &r[7], 3 * sizeof(r[0])); /* seq 5..7 gone */
	run(r, 7, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "107-0");
	CHECK(g.f[0].from == 5 && g.f[0].to == 7);
	CHECK(strstr(g.f[0].detail, "seq 5..7 missing") != NULL);
	/* the last entries of a stream going: nothing links to them (LOG.md) */
	build(r, 10, LOG_CALLS);
	run(r, 8, false, &g);
	CHECK(g.n == 0);
	/* a gap just before the end is still reported */
	build(r, 10, LOG_CALLS);
	r[8] = r[9];
	run(r, 9, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "109-0");
}

static void swap(struct rec *a, struct rec *b)
{
	struct rec t = *a;

	*a = *b;
	*b = t;
}

static void reordered(void)
{
	struct rec r[12];
	struct got g;

	/* two neighbours swapped: one finding, at the first moved */
	build(r, 12, LOG_CALLS);
	swap(&r[4], &r[5]);
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_REORDERED, "104-0");
	CHECK(strcmp(g.f[0].related, "105-0") == 0);
	/* two apart: both moved entries are named, nothing else */
	build(r, 12, LOG_CALLS);
	swap(&r[4], &r[7]);
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n == 2);
	EXPECT(g, 0, INTEGRITY_REORDERED, "104-0");
	EXPECT(g, 1, INTEGRITY_REORDERED, "107-0");
	/* one entry moved to the end */
	build(r, 12, LOG_CALLS);
	struct rec moved = r[3];
	memmove(&r[3], &r[4], 8 * sizeof(r[0]));
	r[11] = moved;
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n >= 1);
	EXPECT(g, 0, INTEGRITY_GAP, "103-0"); /* seq 4 looked deleted ... */
	CHECK(g.n == 2);
	EXPECT(g, 1, INTEGRITY_REORDERED, "111-0"); /* ... until it turned up late */
}

static void inserted(void)
{
	struct rec r[12], forged;
	struct got g;

	/* a forged entry chained onto seq 5, taking seq 6: the chain goes on
	 * from the real seq 6, so the forged one is blamed */
	build(r, 11, LOG_CALLS);
	forged = r[5];
	snprintf(forged.entry, sizeof(forged.entry), "{\"event\":\"offer\",\"n\":666}");
	chain_hash(forged.prev, 6, forged.entry, strlen(forged.entry), forged.hash);
	memmove(&r[6], &r[5], 6 * sizeof(r[0]));
	r[5] = forged;
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_INSERTED, "105-0");
	CHECK(strcmp(g.f[0].related, "106-0") == 0);
	/* the same forged entry after the real one */
	build(r, 11, LOG_CALLS);
	memmove(&r[7], &r[6], 5 * sizeof(r[0]));
	r[6] = forged;
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_INSERTED, "106-0");
	/* a copy of an earlier entry put in the middle */
	build(r, 11, LOG_CALLS);
	memmove(&r[7], &r[6], 5 * sizeof(r[0]));
	r[6] = r[2];
	renumber_ids(r, 12);
	run(r, 12, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_INSERTED, "106-0");
	/* an entry with a made-up hash appended */
	build(r, 11, LOG_CALLS);
	snprintf(r[10].hash, sizeof(r[10].hash), "%064d", 7);
	run(r, 11, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MODIFIED, "110-0");
}

static void malformed_and_links(void)
{
	struct rec r[8];
	struct got g;

	build(r, 8, LOG_CALLS);
	r[3].drop_prev = true;
	run(r, 8, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MALFORMED, "103-0");
	CHECK(strstr(g.f[0].detail, "prev") != NULL);
	build(r, 8, LOG_CALLS);
	snprintf(r[3].seq, sizeof(r[3].seq), "04");
	run(r, 8, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MALFORMED, "103-0");
	/* an edit with a recomputed hash breaks the next link */
	build(r, 8, LOG_CALLS);
	r[3].entry[2] = 'Y';
	chain_hash(r[3].prev, 4, r[3].entry, strlen(r[3].entry), r[3].hash);
	run(r, 8, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_BROKEN_LINK, "104-0");
	/* ids going back (an edited file) */
	build(r, 8, LOG_CALLS);
	snprintf(r[5].id, LOG_ID_MAX, "99-0");
	run(r, 8, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_ID_ORDER, "99-0");
}

static void two_streams(void)
{
	struct rec calls[6], comps[6], all[12];
	struct got g;

	build(calls, 6, LOG_CALLS);
	build(comps, 6, LOG_COMPLAINTS);
	for (int i = 0; i < 6; i++) {
		all[2 * i] = calls[i];
		all[2 * i + 1] = comps[i];
		snprintf(all[2 * i + 1].id, LOG_ID_MAX, "%d-1", 100 + i);
	}
	run(all, 12, false, &g);
	CHECK(g.n == 0);
	all[7].entry[3] = 'Z'; /* complaints seq 4 */
	run(all, 12, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MODIFIED, "103-1");
}

/* Run recs, then compare with Redis's count of entries ever added. */
static void run_added(struct rec *recs, int n, uint64_t entries_added, struct got *g)
{
	struct integrity in;
	struct log_record r;

	memset(g, 0, sizeof(*g));
	integrity_init(&in, false, collect, g);
	for (int i = 0; i < n; i++) {
		to_record(&recs[i], &r);
		integrity_check(&in, &r);
	}
	integrity_finish(&in);
	integrity_check_entries_added(&in, LOG_CALLS, entries_added);
}

/* entries-added is the last seq, less up to the seqs missing in gaps: a
 * failover skips seqs without adding entries, a deletion removes added
 * ones. */
static void entries_added(void)
{
	struct rec r[10];
	struct got g;

	build(r, 10, LOG_CALLS);
	run_added(r, 10, 10, &g);
	CHECK(g.n == 0);
	run_added(r, 10, 12, &g); /* emptied and restarted, or added outside the chain */
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_ENTRIES_ADDED, "109-0");
	CHECK(strstr(g.f[0].detail, "Redis counts 12 entries ever added to the stream but its last seq is 10:") != NULL);
	/* seq 5..7 missing: lost in a failover (never added) is the gap alone ... */
	memmove(&r[4], &r[7], 3 * sizeof(r[0]));
	renumber_ids(r, 7);
	run_added(r, 7, 7, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "104-0");
	/* ... and so is a deletion (one tampering, one finding) ... */
	run_added(r, 7, 10, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "104-0");
	/* ... but not more added than the last seq, nor fewer than a failover leaves */
	run_added(r, 7, 11, &g);
	CHECK(g.n == 2);
	EXPECT(g, 1, INTEGRITY_ENTRIES_ADDED, "106-0");
	CHECK(g.n == 2 && strstr(g.f[1].detail, "last seq is 10 (7 if the 3 seqs missing in gaps were lost") != NULL);
	run_added(r, 7, 6, &g);
	CHECK(g.n == 2);
	EXPECT(g, 1, INTEGRITY_ENTRIES_ADDED, "106-0");
	/* A missing start is never a failover's skip: the oldest entries were trimmed. */
	build(r, 10, LOG_CALLS);
	run_added(r + 3, 7, 10, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_GAP, "103-0");
	run_added(r + 3, 7, 7, &g);
	CHECK(g.n == 2);
	EXPECT(g, 1, INTEGRITY_ENTRIES_ADDED, "109-0");
}

/* ---- lost records ---- */

/* Entries with these seqs, chained as a daemon chains them (prev is the
 * hash of the entry before it in the stream, whatever its seq), ids
 * 100-0, 101-0, ...  first_prev is the hash before the first one. */
static void rechain(struct rec *r, int n, const char *first_prev)
{
	char prev[CHAIN_HEX_LEN + 1];

	memcpy(prev, first_prev, sizeof(prev));
	for (int i = 0; i < n; i++) {
		memcpy(r[i].prev, prev, sizeof(prev));
		chain_hash(prev, strtoull(r[i].seq, NULL, 10), r[i].entry, strlen(r[i].entry), r[i].hash);
		memcpy(prev, r[i].hash, sizeof(prev));
	}
}

static void build_seqs(struct rec *r, const uint64_t *seqs, int n)
{
	for (int i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].stream = LOG_CALLS;
		snprintf(r[i].id, LOG_ID_MAX, "%d-0", 100 + i);
		snprintf(r[i].seq, sizeof(r[i].seq), "%" PRIu64, seqs[i]);
		snprintf(r[i].entry, sizeof(r[i].entry), "{\"event\":\"offer\",\"n\":%d}", i + 1);
	}
	rechain(r, n, CHAIN_GENESIS);
}

/* Make r a lost record naming these seqs (ids 50<seq>-0; odd seqs had a
 * request_id "req-<seq>"). */
static void make_lost(struct rec *r, const uint64_t *seqs, int n)
{
	size_t used = (size_t)snprintf(
	    r->entry, sizeof(r->entry),
	    "{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\","
	    "\"reported_by\":\"hotlined:host1:4242\",\"master\":\"127.0.0.1:6381\",\"lost\":[");

	for (int i = 0; i < n; i++) {
		char req[64] = "";

		if (seqs[i] % 2)
			snprintf(req, sizeof(req), ",\"request_id\":\"req-%" PRIu64 "\"", seqs[i]);
		used += (size_t)snprintf(r->entry + used, sizeof(r->entry) - used,
		                         "%s{\"seq\":%" PRIu64 ",\"id\":\"50%" PRIu64
		                         "-0\",\"hash\":\"0123456789abcdef\"%s,"
		                         "\"what\":\"CALL offer call:c-%" PRIu64 " by agent1\"}",
		                         i ? "," : "", seqs[i], seqs[i], req, seqs[i]);
	}
	snprintf(r->entry + used, sizeof(r->entry) - used, "]}");
}

#define LOST_GAP   "is a gap in the stream (never seen)"
#define LOST_REUSE "was re-used by another entry: only this record shows the loss"

static bool lost_is(const struct got *g, int i, const char *at, uint64_t seq, const char *status)
{
	char related[LOG_ID_MAX], req[40] = "";

	snprintf(related, sizeof(related), "50%" PRIu64 "-0", seq);
	if (seq % 2)
		snprintf(req, sizeof(req), "req-%" PRIu64, seq);
	return g->n > i && g->f[i].kind == INTEGRITY_LOST && strcmp(g->f[i].id, at) == 0 &&
	       strcmp(g->f[i].related, related) == 0 && g->f[i].from == seq && g->f[i].to == seq &&
	       strcmp(g->f[i].request_id, req) == 0 && strstr(g->f[i].detail, status) != NULL &&
	       strstr(g->f[i].detail, "CALL offer call:c-") != NULL &&
	       strstr(g->f[i].detail, "reported by hotlined:host1:4242 on master 127.0.0.1:6381") != NULL;
}

/* The lost entries' seqs left as a gap: the record says so, and the gap is
 * reported too, whether the record opens the gap or comes after it. */
static void lost_in_gap(void)
{
	const uint64_t seqs[] = {1, 2, 3, 4, 5, 9, 10}, held[] = {1, 2, 3, 4, 5, 9, 10, 11};
	const uint64_t items[] = {6, 7, 8};
	struct rec r[8];
	struct got g;

	/* the record itself jumps over the gap (held back until seq 10) */
	build_seqs(r, seqs, 7);
	make_lost(&r[5], items, 3);
	rechain(r, 7, CHAIN_GENESIS);
	run(r, 7, false, &g);
	CHECK(g.n == 4);
	CHECK(lost_is(&g, 0, "105-0", 6, LOST_GAP));
	CHECK(lost_is(&g, 1, "105-0", 7, LOST_GAP));
	CHECK(lost_is(&g, 2, "105-0", 8, LOST_GAP));
	CHECK(strstr(g.f[1].detail, "request req-7") != NULL);
	EXPECT(g, 3, INTEGRITY_GAP, "105-0");
	CHECK(g.n == 4 && g.f[3].from == 6 && g.f[3].to == 8);
	/* ... also when it is the last entry (the gap flushed at the end) */
	run(r, 6, false, &g);
	CHECK(g.n == 4 && lost_is(&g, 2, "105-0", 8, LOST_GAP));
	EXPECT(g, 3, INTEGRITY_GAP, "105-0");
	/* the record comes after the entry that jumped */
	build_seqs(r, held, 8);
	make_lost(&r[6], items, 3);
	rechain(r, 8, CHAIN_GENESIS);
	run(r, 8, false, &g);
	CHECK(g.n == 4);
	EXPECT(g, 0, INTEGRITY_GAP, "105-0");
	CHECK(lost_is(&g, 1, "106-0", 6, LOST_GAP));
	CHECK(lost_is(&g, 3, "106-0", 8, LOST_GAP));
}

/* Another daemon re-used the lost seqs: no gap, only the record shows it. */
static void lost_reused(void)
{
	const uint64_t seqs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, items[] = {6, 7, 8};
	struct rec r[10];
	struct got g;

	build_seqs(r, seqs, 10);
	make_lost(&r[8], items, 3);
	rechain(r, 10, CHAIN_GENESIS);
	run(r, 10, false, &g);
	CHECK(g.n == 3);
	CHECK(lost_is(&g, 0, "108-0", 6, LOST_REUSE));
	CHECK(lost_is(&g, 1, "108-0", 7, LOST_REUSE));
	CHECK(lost_is(&g, 2, "108-0", 8, LOST_REUSE));
	CHECK(g.n == 3 && strstr(g.f[1].detail, "request req-7") != NULL &&
	      strstr(g.f[0].detail, "request") == NULL);
}

/* Some seqs re-used, the rest skipped: each item says which. */
static void lost_mixed(void)
{
	const uint64_t seqs[] = {1, 2, 3, 4, 5, 6, 9, 10}, items[] = {5, 6, 7, 8};
	struct rec r[8];
	struct got g;

	build_seqs(r, seqs, 8);
	make_lost(&r[6], items, 4);
	rechain(r, 8, CHAIN_GENESIS);
	run(r, 8, false, &g);
	CHECK(g.n == 5);
	CHECK(lost_is(&g, 0, "106-0", 5, LOST_REUSE));
	CHECK(lost_is(&g, 1, "106-0", 6, LOST_REUSE));
	CHECK(lost_is(&g, 2, "106-0", 7, LOST_GAP));
	CHECK(lost_is(&g, 3, "106-0", 8, LOST_GAP));
	EXPECT(g, 4, INTEGRITY_GAP, "106-0");
	CHECK(g.n == 5 && g.f[4].from == 7 && g.f[4].to == 8);
}

/* A lost record that is not well formed: one finding, malformed, at it;
 * chained correctly, it is nothing else. */
static void lost_malformed(void)
{
	const uint64_t seqs[] = {1, 2, 3, 4, 5, 6};
	struct rec r[6];
	struct got g;

	build_seqs(r, seqs, 6);
	snprintf(
	    r[4].entry, sizeof(r[4].entry),
	    "{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\",\"reported_by\":\"h\",\"master\":\"m\","
	    "\"lost\":[{\"seq\":0,\"id\":\"1-0\",\"hash\":\"0123456789abcdef\",\"what\":\"x\"}]}");
	rechain(r, 6, CHAIN_GENESIS);
	run(r, 6, false, &g);
	CHECK(g.n == 1);
	EXPECT(g, 0, INTEGRITY_MALFORMED, "104-0");
	CHECK(g.n == 1 &&
	      strcmp(g.f[0].detail, "a lost record that is not well formed: item 1: \"seq\" is not an "
	                            "integer >= 1") == 0);
	/* its content edited: modified, and still read for what it says */
	make_lost(&r[4], (const uint64_t[]){2}, 1);
	run(r, 6, false, &g);
	CHECK(g.n == 2);
	EXPECT(g, 0, INTEGRITY_MODIFIED, "104-0");
	CHECK(lost_is(&g, 1, "104-0", 2, LOST_REUSE));
}

/* A stream read from a trimmed start: a seq before the first entry read
 * cannot be placed; without --trimmed the missing start is a gap. */
static void lost_trimmed(void)
{
	const uint64_t seqs[] = {20, 21, 22, 23, 24, 25, 26}, items[] = {3, 22, 27};
	struct rec r[7];
	struct got g;

	build_seqs(r, seqs, 7);
	make_lost(&r[6], items, 3);
	rechain(r, 7, "7777777777777777777777777777777777777777777777777777777777777777");
	run(r, 7, true, &g);
	CHECK(g.n == 3);
	CHECK(lost_is(&g, 0, "106-0", 3,
	              "is before the first entry read: whether it is a gap or was re-used cannot be told"));
	CHECK(lost_is(&g, 1, "106-0", 22, LOST_REUSE));
	CHECK(lost_is(&g, 2, "106-0", 27, "is after every seq seen so far"));
	run(r, 7, false, &g);
	CHECK(g.n == 4);
	EXPECT(g, 0, INTEGRITY_GAP, "100-0");
	CHECK(lost_is(&g, 1, "106-0", 3, "is a gap in the stream (never seen: the stream starts after it)"));
	/* the first entry read is the record */
	run(r + 6, 1, true, &g);
	CHECK(g.n == 3);
	CHECK(lost_is(&g, 1, "106-0", 22,
	              "is before the first entry read: whether it is a gap or was re-used cannot be told"));
}

int main(void)
{
	intact();
	modified();
	deleted();
	reordered();
	inserted();
	malformed_and_links();
	two_streams();
	entries_added();
	lost_in_gap();
	lost_reused();
	lost_mixed();
	lost_malformed();
	lost_trimmed();
	return check_summary("log_integrity");
}
