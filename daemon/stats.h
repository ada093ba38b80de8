/* stats.h - the daemon's counters, owned by the server, reported by STATS. */
#ifndef HOTLINE_STATS_H
#define HOTLINE_STATS_H

#include <stdint.h>

#include <jansson.h>

#define STATS_MAX_COMMANDS 32

/* The wire error codes, in the order STATS reports them. */
enum stats_error {
	STATS_ERR_BAD_REQUEST,
	STATS_ERR_UNKNOWN_COMMAND,
	STATS_ERR_LINE_TOO_LONG,
	STATS_ERR_AUTH_REQUIRED,
	STATS_ERR_AUTH_FAILED,
	STATS_ERR_FORBIDDEN,
	STATS_ERR_NOT_FOUND,
	STATS_ERR_CONFLICT,
	STATS_ERR_UNAVAILABLE,
	STATS_ERR_RATE_LIMITED,
	STATS_ERR_INTERNAL,
	STATS_ERR_COUNT
};

/* Latency histogram with fixed Prometheus-style buckets (seconds, upper
 * bounds; the last bucket is +Inf). */
#define STATS_LATENCY_BUCKETS 17
extern const double stats_latency_bounds[STATS_LATENCY_BUCKETS - 1];

struct latency_hist {
	uint64_t buckets[STATS_LATENCY_BUCKETS]; /* non-cumulative counts */
	uint64_t count;
	double sum_s;
};

void latency_observe(struct latency_hist *h, double seconds);

struct verb_counters {
	uint64_t count;
	uint64_t errors;
};

struct stats {
	uint64_t started_monotonic_ms;
	uint64_t conn_current;
	uint64_t conn_unauth; /* of those, not authenticated yet (kept by conn.c) */
	uint64_t conn_total;
	uint64_t conn_rejected;    /* refused at max_connections or max_unauthenticated */
	uint64_t auth_throttled;   /* AUTHs refused unchecked: their address was blocked */
	uint64_t auth_addr_blocks; /* times an address got blocked for failed AUTHs */
	struct verb_counters verbs[STATS_MAX_COMMANDS];
	struct latency_hist verb_latency[STATS_MAX_COMMANDS];
	uint64_t errors[STATS_ERR_COUNT];
};

/* Index of a wire error code, or STATS_ERR_INTERNAL for an unknown one. */
enum stats_error stats_error_index(const char *code);
const char *stats_error_name(enum stats_error e);

void stats_count_reply(struct stats *st, int verb /* -1 = none */, const char *err_code /* NULL = OK */);
void stats_observe_latency(struct stats *st, int verb, uint64_t started_ns);

uint64_t stats_now_ns(void);

uint64_t stats_now_ms(void);

/* {"uptime_s":..,"connections":{..},"requests":{..},"errors":{..}} */
json_t *stats_to_json(const struct stats *st);

#endif
