#include "log_integrity.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lost_record.h"
#include "term_text.h"

const char *integrity_kind_name(enum integrity_kind k)
{
	static const char *const names[INTEGRITY_KIND_COUNT] = {
	    [INTEGRITY_MODIFIED] = "modified",           [INTEGRITY_GAP] = "gap",
	    [INTEGRITY_INSERTED] = "inserted",           [INTEGRITY_REORDERED] = "reordered",
	    [INTEGRITY_OUT_OF_ORDER] = "out_of_order",   [INTEGRITY_BROKEN_LINK] = "broken_link",
	    [INTEGRITY_MALFORMED] = "malformed",         [INTEGRITY_ID_ORDER] = "id_order",
	    [INTEGRITY_ENTRIES_ADDED] = "entries_added", [INTEGRITY_LOST] = "lost",
	};

	return (unsigned)k < INTEGRITY_KIND_COUNT ? names[k] : "unknown";
}

void integrity_init(struct integrity *g, bool allow_trimmed_start, integrity_report_fn *report, void *arg)
{
	memset(g, 0, sizeof(*g));
	g->allow_trimmed_start = allow_trimmed_start;
	g->report = report;
	g->arg = arg;
	for (int i = 0; i < LOG_STREAM_COUNT; i++)
		chain_verifier_init(&g->s[i].v);
}

static void report(struct integrity *g, enum log_stream stream, enum integrity_kind kind, const char *id,
                   const char *related, uint64_t from, uint64_t to, const char *detail)
{
	struct integrity_finding f = {
	    .stream = stream,
	    .kind = kind,
	    .id = id,
	    .related = related && *related ? related : NULL,
	    .missing_from = from,
	    .missing_to = to,
	    .detail = detail,
	};

	g->s[stream].findings++;
	g->report(g->arg, &f);
}

/* ---- which recent seqs were seen ---- */

static bool in_window(const struct integrity_stream *st, uint64_t seq)
{
	return st->first_seq && seq <= st->high_seq && st->high_seq - seq < INTEGRITY_SEEN_WINDOW;
}

static bool seen(const struct integrity_stream *st, uint64_t seq)
{
	uint64_t bit = seq % INTEGRITY_SEEN_WINDOW;

	return in_window(st, seq) && (st->seen[bit / 8] >> (bit % 8) & 1);
}

static bool all_seen(const struct integrity_stream *st, uint64_t from, uint64_t to)
{
	if (from > to || to - from >= INTEGRITY_SEEN_WINDOW)
		return false;
	for (uint64_t q = from; q <= to; q++)
		if (!seen(st, q))
			return false;
	return true;
}

static void mark_seen(struct integrity_stream *st, uint64_t seq)
{
	uint64_t bit;

	if (!st->first_seq) {
		st->first_seq = seq;
		st->high_seq = seq;
	} else if (seq > st->high_seq) {
		/* Slide the window: forget what falls out of it. */
		if (seq - st->high_seq >= INTEGRITY_SEEN_WINDOW) {
			memset(st->seen, 0, sizeof(st->seen));
		} else {
			for (uint64_t q = st->high_seq + 1; q <= seq; q++) {
				bit = q % INTEGRITY_SEEN_WINDOW;
				st->seen[bit / 8] &= (unsigned char)~(1u << (bit % 8));
			}
		}
		st->high_seq = seq;
	} else if (!in_window(st, seq)) {
		return;
	}
	bit = seq % INTEGRITY_SEEN_WINDOW;
	st->seen[bit / 8] |= (unsigned char)(1u << (bit % 8));
}

/* ---- findings held back for one entry ---- */

static void flush_pending(struct integrity *g, enum log_stream stream)
{
	struct integrity_stream *st = &g->s[stream];
	char detail[300];

	switch (st->pending) {
	case PENDING_GAP:
		/* Only a gap after the first entry can be seqs the daemon skipped. */
		if (st->pending_from > 1)
			st->skipped += st->pending_to - st->pending_from + 1;
		report(g, stream, INTEGRITY_GAP, st->pending_id, NULL, st->pending_from, st->pending_to,
		       st->pending_detail);
		break;
	case PENDING_REPEAT:
		snprintf(detail, sizeof(detail),
		         "entries %s and %s both carry seq %" PRIu64 ": one of them was inserted",
		         st->pending_other, st->pending_id, st->pending_seq);
		report(g, stream, INTEGRITY_OUT_OF_ORDER, st->pending_id, st->pending_other, 0, 0, detail);
		break;
	case PENDING_NONE:
		break;
	}
	st->pending = PENDING_NONE;
}

/* Two entries carried the held-back repeated seq and the chain went on
 * from `kept`: `inserted` is the one outside it. */
static void report_inserted(struct integrity *g, enum log_stream stream, const char *inserted, const char *kept)
{
	const struct integrity_stream *st = &g->s[stream];
	char detail[300];

	snprintf(detail, sizeof(detail),
	         "entries %s and %s both carry seq %" PRIu64 " and the chain goes on from %s: %s was inserted",
	         st->pending_other, st->pending_id, st->pending_seq, kept, inserted);
	report(g, stream, INTEGRITY_INSERTED, inserted, kept, 0, 0, detail);
}

/* The entry after a held-back finding shows its cause.  Returns true when
 * that also explains this entry's own problem p (nothing more to report). */
static bool resolve_pending(struct integrity *g, const struct log_record *r, enum chain_problem p,
                            uint64_t seq)
{
	struct integrity_stream *st = &g->s[r->stream];
	char detail[300];

	if (st->pending == PENDING_GAP && p == CHAIN_OUT_OF_ORDER && seq >= st->pending_from &&
	    seq <= st->pending_to && !seen(st, seq)) {
		snprintf(detail, sizeof(detail),
		         "seq %" PRIu64 " comes before seq %" PRIu64 " (entry %s): entries reordered",
		         st->pending_seq, seq, r->id);
		report(g, r->stream, INTEGRITY_REORDERED, st->pending_id, r->id, 0, 0, detail);
		st->pending = PENDING_NONE;
		return true;
	}
	if (st->pending == PENDING_REPEAT && p == CHAIN_OK) {
		report_inserted(g, r->stream, st->pending_other, st->pending_id);
		st->pending = PENDING_NONE;
		return false;
	}
	if (st->pending == PENDING_REPEAT && p == CHAIN_BROKEN_LINK && seq == st->pending_seq + 1 &&
	    r->prev_len == CHAIN_HEX_LEN && memcmp(r->prev, st->pending_hash, CHAIN_HEX_LEN) == 0) {
		report_inserted(g, r->stream, st->pending_id, st->pending_other);
		st->pending = PENDING_NONE;
		return true;
	}
	flush_pending(g, r->stream);
	return false;
}

static void classify(struct integrity *g, const struct log_record *r, enum chain_problem p, uint64_t seq,
                     bool was_started, uint64_t was_seq, const char *was_hash, const char *chain_detail)
{
	struct integrity_stream *st = &g->s[r->stream];
	char detail[300];

	switch (p) {
	case CHAIN_OK:
		return;
	case CHAIN_MODIFIED:
		report(g, r->stream, INTEGRITY_MODIFIED, r->id, NULL, 0, 0, chain_detail);
		return;
	case CHAIN_GAP: {
		uint64_t from = was_started ? was_seq + 1 : 1, to = seq - 1;

		if (all_seen(st, from, to))
			return; /* the chain resuming after an entry seen out of place */
		st->pending = PENDING_GAP;
		memcpy(st->pending_id, r->id, sizeof(st->pending_id));
		st->pending_seq = seq;
		st->pending_from = from;
		st->pending_to = to;
		if (was_started)
			snprintf(st->pending_detail, sizeof(st->pending_detail),
			         "seq jumps from %" PRIu64 " to %" PRIu64 ": seq %" PRIu64 "..%" PRIu64
			         " missing (deleted, or lost in a Redis failover)",
			         was_seq, seq, from, to);
		else
			snprintf(st->pending_detail, sizeof(st->pending_detail),
			         "the stream starts at seq %" PRIu64 ": seq 1..%" PRIu64 " missing (deleted)",
			         seq, to);
		return;
	}
	case CHAIN_OUT_OF_ORDER:
		if (was_started && seq == was_seq && st->anchor_id[0]) {
			st->pending = PENDING_REPEAT;
			memcpy(st->pending_id, r->id, sizeof(st->pending_id));
			memcpy(st->pending_other, st->anchor_id, sizeof(st->pending_other));
			memcpy(st->pending_hash, was_hash, sizeof(st->pending_hash));
			st->pending_seq = seq;
		} else if (seen(st, seq)) {
			snprintf(detail, sizeof(detail),
			         "seq %" PRIu64
			         " was used by an earlier entry: this one is a copy or was inserted",
			         seq);
			report(g, r->stream, INTEGRITY_INSERTED, r->id, NULL, 0, 0, detail);
		} else if (in_window(st, seq)) {
			snprintf(detail, sizeof(detail),
			         "seq %" PRIu64 " comes after seq %" PRIu64 ": entries reordered", seq,
			         st->high_seq);
			report(g, r->stream, INTEGRITY_REORDERED, r->id, NULL, 0, 0, detail);
		} else {
			report(g, r->stream, INTEGRITY_OUT_OF_ORDER, r->id, NULL, 0, 0, chain_detail);
		}
		return;
	case CHAIN_BROKEN_LINK:
		report(g, r->stream, INTEGRITY_BROKEN_LINK, r->id, NULL, 0, 0, chain_detail);
		return;
	case CHAIN_MALFORMED:
		report(g, r->stream, INTEGRITY_MALFORMED, r->id, NULL, 0, 0, chain_detail);
		return;
	}
}

/* The seq of an entry the verifier refused as malformed, read leniently
 * (leading zeros allowed), so the entry's place counts as seen and is not
 * also reported as a gap; 0 when it has none. */
static uint64_t lenient_seq(const struct log_record *r)
{
	uint64_t v = 0;

	if (r->seq == NULL || r->seq_len == 0 || r->seq_len > 19)
		return 0;
	for (size_t i = 0; i < r->seq_len; i++) {
		if (r->seq[i] < '0' || r->seq[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(r->seq[i] - '0');
	}
	return v;
}

static void remember_id(struct integrity_stream *st, const struct log_record *r)
{
	memcpy(st->last_id, r->id, sizeof(st->last_id));
	st->last_id_ms = r->id_ms;
	st->last_id_n = r->id_n;
}

/* The chain and seq checks of one entry. */
static void check_chain(struct integrity *g, const struct log_record *r)
{
	struct integrity_stream *st = &g->s[r->stream];
	char chain_detail[256], was_hash[CHAIN_HEX_LEN + 1], detail[300];
	bool was_started = st->v.started;
	uint64_t was_seq = st->v.last_seq;
	enum chain_problem p;

	st->entries++;
	if (st->last_id[0] && log_id_cmp(r->id_ms, r->id_n, st->last_id_ms, st->last_id_n) <= 0) {
		snprintf(detail, sizeof(detail), "stream id %s does not come after %s (the file was edited)",
		         r->id, st->last_id);
		report(g, r->stream, INTEGRITY_ID_ORDER, r->id, st->last_id, 0, 0, detail);
	}
	remember_id(st, r);
	if (!r->seq || !r->prev || !r->hash || !r->entry) {
		flush_pending(g, r->stream);
		snprintf(detail, sizeof(detail), "chain field missing:%s%s%s%s", r->seq ? "" : " seq",
		         r->prev ? "" : " prev", r->hash ? "" : " hash", r->entry ? "" : " entry");
		report(g, r->stream, INTEGRITY_MALFORMED, r->id, NULL, 0, 0, detail);
		if (lenient_seq(r))
			mark_seen(st, lenient_seq(r));
		return;
	}
	memcpy(was_hash, st->v.last_hash, sizeof(was_hash));
	p = chain_verify_next(&st->v, g->allow_trimmed_start, r->seq, r->seq_len, r->prev, r->prev_len,
	                      r->hash, r->hash_len, r->entry, r->entry_len, chain_detail,
	                      sizeof(chain_detail));
	if (p == CHAIN_MALFORMED) {
		/* Not anchored: the verifier still stands on the entry before. */
		flush_pending(g, r->stream);
		report(g, r->stream, INTEGRITY_MALFORMED, r->id, NULL, 0, 0, chain_detail);
		if (lenient_seq(r))
			mark_seen(st, lenient_seq(r));
		return;
	}
	uint64_t seq = st->v.last_seq; /* the verifier anchored on this entry */

	if (!resolve_pending(g, r, p, seq))
		classify(g, r, p, seq, was_started, was_seq, was_hash, chain_detail);
	mark_seen(st, seq);
	memcpy(st->anchor_id, r->id, sizeof(st->anchor_id));
}

/* ---- lost records ---- */

/* Where a lost entry's seq stands in the stream read so far (the record's
 * own seq included). */
static void lost_seq_status(const struct integrity *g, const struct integrity_stream *st, uint64_t seq,
                            char *out, size_t size)
{
	if (st->first_seq == 0)
		snprintf(out, size, "cannot be placed: the stream has no entry with a readable seq yet");
	else if (seq < st->first_seq && g->allow_trimmed_start)
		snprintf(out, size,
		         "is before the first entry read: whether it is a gap or was re-used cannot be told");
	else if (seq < st->first_seq)
		snprintf(out, size, "is a gap in the stream (never seen: the stream starts after it)");
	else if (seq > st->high_seq)
		snprintf(out, size, "is after every seq seen so far (the record names a seq beyond its own)");
	else if (!in_window(st, seq))
		snprintf(
		    out, size,
		    "is older than the last %u seqs this check remembers: whether it is a gap or was re-used "
		    "cannot be told",
		    INTEGRITY_SEEN_WINDOW);
	else if (seen(st, seq))
		snprintf(out, size, "was re-used by another entry: only this record shows the loss");
	else
		snprintf(out, size, "is a gap in the stream (never seen)");
}

/* A lost record: one finding per entry it names.  Looked at after the
 * entry's own checks, so its seq and a gap it opens are known: an item in
 * that gap is "never seen", whether the gap is still held back or not. */
static void check_lost(struct integrity *g, const struct log_record *r)
{
	struct integrity_stream *st = &g->s[r->stream];
	struct lost_record lr;
	char why[200], detail[300];

	switch (lost_record_parse(r->entry, r->entry_len, &lr, why, sizeof(why))) {
	case LOST_NOT:
		return;
	case LOST_MALFORMED:
		snprintf(detail, sizeof(detail), "a lost record that is not well formed: %s", why);
		report(g, r->stream, INTEGRITY_MALFORMED, r->id, NULL, 0, 0, detail);
		return;
	case LOST_OK:
		break;
	}
	for (size_t i = 0; i < lr.n; i++) {
		const struct lost_item *it = &lr.item[i];
		char what[4 * 120 + 8], req[4 * 64 + 8], by[4 * 64 + 8], master[4 * 64 + 8], ts[4 * 40 + 8];
		char status[160], text[2048];
		struct integrity_finding f = {
		    .stream = r->stream,
		    .kind = INTEGRITY_LOST,
		    .id = r->id,
		    .related = it->id,
		    .missing_from = it->seq,
		    .missing_to = it->seq,
		    .request_id = it->request_id[0] ? it->request_id : NULL,
		    .detail = text,
		};

		/* Text from the log goes to terminals: no control characters. */
		term_clean(what, sizeof(what), it->what, 120);
		term_clean(req, sizeof(req), it->request_id, 64);
		term_clean(by, sizeof(by), lr.reported_by, 64);
		term_clean(master, sizeof(master), lr.master, 64);
		term_clean(ts, sizeof(ts), lr.ts, 40);
		lost_seq_status(g, st, it->seq, status, sizeof(status));
		snprintf(text, sizeof(text),
		         "%s (seq %" PRIu64
		         ", stream id %s, hash %s%s%s) was acknowledged and then lost by Redis, "
		         "reported by %s on master %s at %s: seq %" PRIu64 " %s",
		         what, it->seq, it->id, it->hash, req[0] ? ", request " : "", req, by, master, ts,
		         it->seq, status);
		st->findings++;
		st->lost++;
		g->report(g->arg, &f);
	}
}

void integrity_check(struct integrity *g, const struct log_record *r)
{
	check_chain(g, r);
	if (r->entry)
		check_lost(g, r);
}

void integrity_finish(struct integrity *g)
{
	for (int i = 0; i < LOG_STREAM_COUNT; i++)
		flush_pending(g, (enum log_stream)i);
}

void integrity_check_entries_added(struct integrity *g, enum log_stream s, uint64_t entries_added)
{
	const struct integrity_stream *st = &g->s[s];
	uint64_t last_seq = st->v.started ? st->v.last_seq : 0;
	uint64_t least = st->skipped < last_seq ? last_seq - st->skipped : 0;
	char detail[400];

	/* Seqs missing inside the chain (reported as gaps already) were either
	 * deleted, which leaves the count at the last seq, or skipped by a
	 * daemon because Redis lost those entries in a failover: they were
	 * never added to this stream, which lowers the count by as many. */
	if (entries_added >= least && entries_added <= last_seq)
		return;
	if (st->skipped == 0)
		snprintf(detail, sizeof(detail),
		         "Redis counts %" PRIu64 " entries ever added to the stream but its last seq is %" PRIu64
		         ": entries were removed (a new chain started, or the newest entries deleted) or added outside the chain",
		         entries_added, last_seq);
	else
		snprintf(detail, sizeof(detail),
		         "Redis counts %" PRIu64 " entries ever added to the stream but its last seq is %" PRIu64
		         " (%" PRIu64 " if the %" PRIu64 " seqs missing in gaps were lost in a failover)"
		         ": entries were removed (a new chain started, or the newest entries deleted) or added outside the chain",
		         entries_added, last_seq, least, st->skipped);
	report(g, s, INTEGRITY_ENTRIES_ADDED, st->last_id[0] ? st->last_id : "-", NULL, 0, 0, detail);
}
