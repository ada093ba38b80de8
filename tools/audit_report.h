/* audit_report.h - what `hotline audit` prints: each finding the moment it
 * is found (so nothing accumulates in memory), then a summary and the
 * figures; as readable text, or as one JSON document whose "findings"
 * array is streamed (shape in proto/LOG.md, "The audit").  Text output is
 * made safe for a terminal: control characters from the log are shown as
 * '?'. */
#ifndef HOTLINE_AUDIT_REPORT_H
#define HOTLINE_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"

#define REPORT_MAX_KINDS 48

struct audit_report {
	FILE *out;
	bool json;
	uint64_t findings, notices;
	size_t n_findings_printed;
	struct {
		enum audit_check check;
		bool notice;
		const char *kind; /* static strings from the audit modules */
		uint64_t n;
	} kinds[REPORT_MAX_KINDS];
	size_t n_kinds;
};

struct report_header {
	const char *source;          /* "redis 127.0.0.1:6379 prefix hotline:" or "file F" */
	const char *from_id, *to_id; /* NULL = unbounded */
	uint64_t end_ms, open_age_ms;
	unsigned streams; /* LOG_STREAM_MASK bits */
};

void report_begin(struct audit_report *rep, FILE *out, bool json, const struct report_header *h);
/* The audit's sink (audit_sink_fn). */
void report_finding(void *rep, const struct audit_finding *f);
/* Summary and figures.  false when they could not be built (out of
 * memory); writing errors are the caller's to check on out. */
bool report_end(struct audit_report *rep, const struct audit *a);

#endif
