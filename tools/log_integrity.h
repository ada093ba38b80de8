/* log_integrity.h - is the log whole and unaltered?  The hash chain and
 * seq checks of each stream, shared by `hotline verify` and `hotline audit`.
 *
 * Every entry goes through the daemon's own verifier, chain_verify_next
 * (daemon/chain.c), which says what is wrong with it in isolation.  This
 * module turns those raw results into findings a person can act on, and
 * blames the right entry:
 *
 *   modified     the entry's content does not match its hash;
 *   gap          seq jumps: the seqs in between are missing (deleted, or
 *                lost in a Redis failover), with the missing range;
 *   inserted     an entry that is not part of the chain: its seq was
 *                already used, or two entries carry one seq and the chain
 *                goes on from the other one;
 *   reordered    an entry that comes before seqs that precede it, or after
 *                seqs that follow it (the later findings such a move would
 *                otherwise cause are not repeated);
 *   out_of_order seq repeated or went back where the cause cannot be told;
 *   broken_link  prev is not the previous entry's hash;
 *   malformed    a chain field missing or not of the right form;
 *   id_order     stream ids do not increase (only an edited export file
 *                can do that; Redis refuses it);
 *   lost         an entry a daemon had acknowledged and Redis then lost,
 *                one finding per item of a lost record (lost_record.h),
 *                blamed on the record, with the lost entry's seq and
 *                stream id: whether its seq is a gap in the stream or was
 *                re-used by another entry (then only the record shows
 *                the loss).  A lost record that is not well formed is
 *                malformed.
 *
 * To tell reordering and insertion from deletion it remembers which of the
 * last INTEGRITY_SEEN_WINDOW seqs it has seen (a bitmap, 8 KiB a stream),
 * and holds a gap or a repeated seq back until the stream's next entry has
 * been looked at.  Memory is constant whatever the log's length.  Pure: no
 * I/O, findings go to a callback.
 */
#ifndef HOTLINE_LOG_INTEGRITY_H
#define HOTLINE_LOG_INTEGRITY_H

#include <stdbool.h>
#include <stdint.h>

#include "chain.h"
#include "log_source.h"

#define INTEGRITY_SEEN_WINDOW 65536u

enum integrity_kind {
	INTEGRITY_MODIFIED,
	INTEGRITY_GAP,
	INTEGRITY_INSERTED,
	INTEGRITY_REORDERED,
	INTEGRITY_OUT_OF_ORDER,
	INTEGRITY_BROKEN_LINK,
	INTEGRITY_MALFORMED,
	INTEGRITY_ID_ORDER,
	INTEGRITY_ENTRIES_ADDED,
	INTEGRITY_LOST,
	INTEGRITY_KIND_COUNT
};

struct integrity_finding {
	enum log_stream stream;
	enum integrity_kind kind;
	const char *id;                    /* the entry blamed */
	const char *related;               /* another entry involved, or NULL */
	uint64_t missing_from, missing_to; /* gap, lost: the seqs missing (inclusive) */
	const char *request_id;            /* lost: the lost write's request_id, or NULL */
	const char *detail;                /* one sentence */
};

typedef void integrity_report_fn(void *arg, const struct integrity_finding *f);

enum integrity_pending { PENDING_NONE, PENDING_GAP, PENDING_REPEAT };

struct integrity_stream {
	struct chain_verifier v;
	uint64_t entries, findings;
	uint64_t lost;      /* of the findings: entries named by lost records */
	uint64_t first_seq; /* of the first entry with a readable seq; 0 = none yet */
	uint64_t high_seq;  /* highest seq seen */
	uint64_t skipped;   /* seqs missing in the gaps reported after the first entry */
	unsigned char seen[INTEGRITY_SEEN_WINDOW / 8];
	char last_id[LOG_ID_MAX]; /* the previous entry */
	uint64_t last_id_ms, last_id_n;
	char anchor_id[LOG_ID_MAX]; /* the entry the verifier is anchored on */
	/* A finding held back until the next entry shows its cause. */
	enum integrity_pending pending;
	char pending_id[LOG_ID_MAX], pending_other[LOG_ID_MAX];
	char pending_hash[CHAIN_HEX_LEN + 1];
	uint64_t pending_seq, pending_from, pending_to;
	char pending_detail[200];
};

struct integrity {
	bool allow_trimmed_start;
	integrity_report_fn *report;
	void *arg;
	struct integrity_stream s[LOG_STREAM_COUNT];
};

/* allow_trimmed_start: the streams may begin at any seq (a time range that
 * does not start at the beginning, or a deliberately trimmed stream). */
void integrity_init(struct integrity *g, bool allow_trimmed_start, integrity_report_fn *report, void *arg);

/* Check the next record of its stream (records of the two streams may be
 * interleaved; each stream's must come in stream order). */
void integrity_check(struct integrity *g, const struct log_record *r);

/* The end of the log: report what was held back. */
void integrity_finish(struct integrity *g);

const char *integrity_kind_name(enum integrity_kind k);

/* After integrity_finish, for a stream read from Redis 7: entries_added is
 * its XINFO STREAM "entries-added", a count no removal lowers.  For a chain
 * written only by hotlined it equals the last seq (trimmed or not), less
 * up to the number of seqs missing in gaps after the first entry: a daemon
 * skips the seqs of entries Redis lost in a failover, which were never
 * added to this stream (deleted ones were; either way the gap is reported
 * already).  Outside that range it shows what the chain cannot: a stream
 * emptied (XADD MAXLEN 0, which no ACL can refuse) and restarted, its
 * newest entries removed, or entries added outside the chain.  One finding
 * at most. */
void integrity_check_entries_added(struct integrity *g, enum log_stream s, uint64_t entries_added);

#endif
