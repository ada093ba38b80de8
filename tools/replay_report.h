/* replay_report.h - what a `hotline replay --to` run did, counted, and the
 * report it prints at the end: as text, or one JSON object (--json). */
#ifndef HOTLINE_REPLAY_REPORT_H
#define HOTLINE_REPLAY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define REPLAY_N_CODES 11 /* the ERR codes of proto/PROTOCOL.md */

struct replay_counts {
	unsigned long long read, sent, ok, duplicate;
	unsigned long long errors, by_code[REPLAY_N_CODES], other_errors;
	/* not sent: */
	unsigned long long rejected, lost, unmapped, unknown, malformed,
	    not_selected;                     /* lost: lost records */
	unsigned long long opened, forgotten; /* complaints */
};

struct replay_report_context {
	const char *to;   /* the daemon replayed into */
	const char *call; /* --call, or NULL */
	size_t max_complaints;
	bool complete; /* false when the run stopped early */
};

/* One ERR reply, by its code (code_len bytes). */
void replay_count_error(struct replay_counts *n, const char *code, size_t code_len);

/* Entries not replayed for a reason that is a finding (exit status 1). */
bool replay_counts_findings(const struct replay_counts *n);

void replay_report_text(FILE *out, const struct replay_counts *n, const struct replay_report_context *ctx);
void replay_report_json(FILE *out, const struct replay_counts *n, const struct replay_report_context *ctx);

#endif
