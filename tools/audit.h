/* audit.h - `hotline audit`'s engine: one pass over the log records, in
 * order, checking integrity (log_integrity.h), the life of every call and
 * complaint against the daemon's transition tables (lifecycle.h), complaint
 * deadlines, and accumulating the figures (audit_figures.h).  Pure: records
 * in, findings out through a callback; reading the log and printing are
 * the caller's (cmd_audit.c, audit_report.c).
 *
 * Memory does not grow with the log's length: state is kept for calls
 * still open (dropped, and reported, once older than the open age in log
 * time), complaints not yet closed (or closed within the reopen window),
 * customers with a call in the last FCR window, one small record per agent,
 * queue and category, and 11-22 bytes per distinct call or complaint id
 * (id_set.h).
 */
#ifndef HOTLINE_AUDIT_H
#define HOTLINE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit_entry.h"
#include "audit_figures.h"
#include "id_set.h"
#include "log_integrity.h"
#include "log_source.h"
#include "strmap.h"

enum audit_check { AUDIT_INTEGRITY, AUDIT_CONSISTENCY, AUDIT_SLA, AUDIT_CHECK_COUNT };

struct audit_finding {
	enum audit_check check;
	const char *kind; /* e.g. "modified", "no_offer", "resolved_late" */
	bool notice;      /* worth knowing, not a problem (a rejected write) */
	enum log_stream stream;
	const char *id;                    /* the stream entry */
	const char *object;                /* the call or complaint id, or NULL */
	const char *related;               /* another entry involved, or NULL */
	uint64_t missing_from, missing_to; /* integrity gap, lost */
	const char *request_id;            /* integrity lost: the lost write's, or NULL */
	const char *severity, *tier;       /* SLA findings */
	const char *detail;
};

typedef void audit_sink_fn(void *arg, const struct audit_finding *f);

struct audit_options {
	bool allow_trimmed_start; /* streams may start at any seq (--from, --trimmed) */
	uint64_t end_ms;          /* the end of the audited range (--to, or now) */
	uint64_t open_age_ms;     /* a call open longer than this is a finding */
	unsigned reopen_window_h; /* complaints.reopen_window_h of the config */
	const char *fcr_disposition;
	uint64_t fcr_window_ms;
};

struct audit {
	struct audit_options o;
	audit_sink_fn *sink;
	void *sink_arg;
	struct id_hasher hasher;
	struct integrity integrity;
	struct figures fig;
	struct strmap calls, complaints; /* the open ones: struct open_call / open_complaint */
	struct id_set call_ids, complaint_ids;
	bool complete[LOG_STREAM_COUNT]; /* the stream was read from its seq 1 */
	bool started[LOG_STREAM_COUNT];
	uint64_t clock_ms; /* log time: the stream id of the latest record */
	uint64_t entries[LOG_STREAM_COUNT];
	uint64_t since_sweep;
	char *scratch;
	size_t scratch_cap;
	bool out_of_memory;
};

/* false when out of memory. */
bool audit_init(struct audit *a, const struct audit_options *o, audit_sink_fn *sink, void *sink_arg);
/* One record, in log order.  false when out of memory (the audit cannot
 * go on). */
bool audit_record(struct audit *a, const struct log_record *r);
/* The end of the log: what is still open is judged against o.end_ms. */
void audit_finish(struct audit *a);
void audit_free(struct audit *a);

/* "4h", "90m", "1h30m", "7d", "45s" -> milliseconds; false when malformed. */
bool audit_parse_duration(const char *text, uint64_t *ms);

/* ---- for the audit's own modules (audit_calls.c, audit_complaints.c) ---- */

void audit_emit(struct audit *a, const struct audit_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "1h05m", "3d02h", "42s" */
void audit_format_duration(uint64_t ms, char out[32]);
/* Compare two stream ids "<ms>-<n>" numerically (malformed ones last). */
int audit_cmp_ids(const char *a, const char *b);
/* "2026-11-22T09:00:00Z" */
void audit_format_time(uint64_t ms, char out[32]);

bool audit_calls_init(struct audit *a);
bool audit_complaints_init(struct audit *a);
void audit_call_entry(struct audit *a, const struct log_record *r, const struct audit_entry *e);
void audit_calls_sweep(struct audit *a);
void audit_calls_finish(struct audit *a);
void audit_complaint_entry(struct audit *a, const struct log_record *r, const struct audit_entry *e);
void audit_complaints_sweep(struct audit *a);
void audit_complaints_finish(struct audit *a);

#endif
