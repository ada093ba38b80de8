#include "stats.h"

#include <string.h>
#include <time.h>

#include "commands.h"
#include "proto.h"

static const char *const error_names[STATS_ERR_COUNT] = {
	[STATS_ERR_BAD_REQUEST] = ERR_BAD_REQUEST,     [STATS_ERR_UNKNOWN_COMMAND] = ERR_UNKNOWN_COMMAND,
	[STATS_ERR_LINE_TOO_LONG] = ERR_LINE_TOO_LONG, [STATS_ERR_AUTH_REQUIRED] = ERR_AUTH_REQUIRED,
	[STATS_ERR_AUTH_FAILED] = ERR_AUTH_FAILED,     [STATS_ERR_FORBIDDEN] = ERR_FORBIDDEN,
	[STATS_ERR_NOT_FOUND] = ERR_NOT_FOUND,         [STATS_ERR_CONFLICT] = ERR_CONFLICT,
	[STATS_ERR_UNAVAILABLE] = ERR_UNAVAILABLE,     [STATS_ERR_RATE_LIMITED] = ERR_RATE_LIMITED,
	[STATS_ERR_INTERNAL] = ERR_INTERNAL,
};

enum stats_error stats_error_index(const char *code)
{
	for (int i = 0; i < STATS_ERR_COUNT; i++)
		if (strcmp(error_names[i], code) == 0)
			return (enum stats_error)i;
	return STATS_ERR_INTERNAL;
}

const char *stats_error_name(enum stats_error e)
{
	return error_names[e];
}

void stats_count_reply(struct stats *st, int verb, const char *err_code)
{
	if (verb >= 0 && verb < STATS_MAX_COMMANDS) {
		st->verbs[verb].count++;
		if (err_code)
			st->verbs[verb].errors++;
	}
	if (err_code)
		st->errors[stats_error_index(err_code)]++;
}

const double stats_latency_bounds[STATS_LATENCY_BUCKETS - 1] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void latency_observe(struct latency_hist *h, double seconds)
{
	size_t i = 0;

	while (i < STATS_LATENCY_BUCKETS - 1 && seconds > stats_latency_bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum_s += seconds;
}

uint64_t stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void stats_observe_latency(struct stats *st, int verb, uint64_t started_ns)
{
	if (verb >= 0 && verb < STATS_MAX_COMMANDS && started_ns)
		latency_observe(&st->verb_latency[verb], (double)(stats_now_ns() - started_ns) / 1e9);
}

uint64_t stats_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

json_t *stats_to_json(const struct stats *st)
{
	json_t *requests = json_object(), *errors = json_object();

	for (size_t i = 0; i < command_count() && i < STATS_MAX_COMMANDS; i++)
		json_object_set_new(requests, command_at(i)->name,
		                    json_pack("{s:I,s:I}", "count", (json_int_t)st->verbs[i].count, "errors",
		                              (json_int_t)st->verbs[i].errors));
	for (int i = 0; i < STATS_ERR_COUNT; i++)
		json_object_set_new(errors, error_names[i], json_integer((json_int_t)st->errors[i]));
	return json_pack("{s:I,s:{s:I,s:I,s:I,s:I},s:o,s:o}", "uptime_s",
	                 (json_int_t)((stats_now_ms() - st->started_monotonic_ms) / 1000), "connections",
	                 "current", (json_int_t)st->conn_current, "unauthenticated", (json_int_t)st->conn_unauth,
	                 "total", (json_int_t)st->conn_total, "rejected", (json_int_t)st->conn_rejected, "requests",
	                 requests, "errors", errors);
}
