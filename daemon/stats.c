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
	return json_pack("{s:I,s:{s:I,s:I,s:I},s:o,s:o}", "uptime_s",
	                 (json_int_t)((stats_now_ms() - st->started_monotonic_ms) / 1000), "connections",
	                 "current", (json_int_t)st->conn_current, "total", (json_int_t)st->conn_total, "rejected",
	                 (json_int_t)st->conn_rejected, "requests", requests, "errors", errors);
}
