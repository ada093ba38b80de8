/* bench_stats.h - what one `hotline bench` event loop counted, merged over
 * loops at the end, and the report made from it (human text and JSON).
 * Pure: the caller passes every time and figure in. */
#ifndef HOTLINE_BENCH_STATS_H
#define HOTLINE_BENCH_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bench_hist.h"
#include "bench_workload.h"

#define BENCH_MAX_ERROR_CODES 16

struct bench_error_count {
	char code[BENCH_ERR_CODE_MAX];
	uint64_t n;
};

struct bench_stats {
	struct bench_hist all;             /* every measured request (step) */
	struct bench_hist step[STEP_COUNT]; /* per kind of request */
	struct bench_hist txn;             /* per whole transaction (a call's three requests, ...) */
	uint64_t sent, completed, ok, failed; /* measured requests */
	uint64_t unanswered;                  /* sent but never answered (connection lost, drain timeout) */
	uint64_t warmup_completed;            /* answered but not measured (sent during the warmup) */
	uint64_t txn_completed, txn_failed;
	uint64_t redis_commands; /* RESP mode: commands sent for the measured requests */
	uint64_t pushed_lines;   /* "* ..." lines from the daemon */
	struct bench_error_count errors[BENCH_MAX_ERROR_CODES];
	unsigned n_errors;
	uint64_t other_errors; /* codes beyond the table */
	unsigned conn_ready, conn_failed, conn_lost;
	uint64_t start_ns, end_ns; /* measured window: start, last reply */
};

/* Allocates (the histograms are large); NULL when out of memory. */
struct bench_stats *bench_stats_new(void);
void bench_stats_free(struct bench_stats *st);
void bench_stats_error(struct bench_stats *st, const char *code);
void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src);

/* What the report says about the run besides the counts. */
struct bench_run_info {
	const struct bench_workload *wl;
	const char *target; /* "127.0.0.1:7300", "unix:/path" */
	unsigned connections, pipeline, threads;
	double warmup_s;
	double duration_s;       /* asked for; 0 with --requests */
	unsigned long long requests; /* asked for; 0 with --duration */
	double login_s;          /* connecting and logging in, not measured */
	double client_cpu_s;     /* this process's user+system CPU while measuring */
};

json_t *bench_report_json(const struct bench_stats *st, const struct bench_run_info *info);
void bench_report_text(FILE *out, const struct bench_stats *st, const struct bench_run_info *info);

#endif
