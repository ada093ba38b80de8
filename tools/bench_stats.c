#include "bench_stats.h"

#include <stdlib.h>
#include <string.h>

static const double report_percentiles[] = {50, 90, 99, 99.9};
static const char *const report_names[] = {"p50", "p90", "p99", "p99.9"};
#define N_PERCENTILES (sizeof(report_percentiles) / sizeof(report_percentiles[0]))

struct bench_stats *bench_stats_new(void)
{
	struct bench_stats *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	bench_hist_init(&st->all);
	bench_hist_init(&st->txn);
	for (int i = 0; i < STEP_COUNT; i++)
		bench_hist_init(&st->step[i]);
	return st;
}

void bench_stats_free(struct bench_stats *st)
{
	free(st);
}

static void add_error(struct bench_stats *st, const char *code, uint64_t n)
{
	for (unsigned i = 0; i < st->n_errors; i++) {
		if (strcmp(st->errors[i].code, code) == 0) {
			st->errors[i].n += n;
			return;
		}
	}
	if (st->n_errors == BENCH_MAX_ERROR_CODES) {
		st->other_errors += n;
		return;
	}
	snprintf(st->errors[st->n_errors].code, sizeof(st->errors[0].code), "%s", code);
	st->errors[st->n_errors++].n = n;
}

void bench_stats_error(struct bench_stats *st, const char *code)
{
	add_error(st, code, 1);
}

void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
	bench_hist_merge(&dst->all, &src->all);
	bench_hist_merge(&dst->txn, &src->txn);
	for (int i = 0; i < STEP_COUNT; i++)
		bench_hist_merge(&dst->step[i], &src->step[i]);
	dst->sent += src->sent;
	dst->completed += src->completed;
	dst->ok += src->ok;
	dst->failed += src->failed;
	dst->unanswered += src->unanswered;
	dst->warmup_completed += src->warmup_completed;
	dst->txn_completed += src->txn_completed;
	dst->txn_failed += src->txn_failed;
	dst->redis_commands += src->redis_commands;
	dst->pushed_lines += src->pushed_lines;
	for (unsigned i = 0; i < src->n_errors; i++)
		add_error(dst, src->errors[i].code, src->errors[i].n);
	dst->other_errors += src->other_errors;
	dst->conn_ready += src->conn_ready;
	dst->conn_failed += src->conn_failed;
	dst->conn_lost += src->conn_lost;
	if (src->start_ns && (dst->start_ns == 0 || src->start_ns < dst->start_ns))
		dst->start_ns = src->start_ns;
	if (src->end_ns > dst->end_ns)
		dst->end_ns = src->end_ns;
}

static double elapsed_s(const struct bench_stats *st)
{
	return st->end_ns > st->start_ns ? (double)(st->end_ns - st->start_ns) / 1e9 : 0.0;
}

/* The generator's CPU covers the warmup too, so it is shared over every
 * request answered, measured or not. */
static double cpu_per_request_us(const struct bench_stats *st, const struct bench_run_info *info)
{
	uint64_t n = st->completed + st->warmup_completed;

	return n ? info->client_cpu_s * 1e6 / (double)n : 0.0;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static json_t *latency_json(const struct bench_hist *h)
{
	json_t *o = json_pack("{s:I}", "count", (json_int_t)h->total);

	if (h->total == 0)
		return o;
	json_object_set_new(o, "min", json_real(us(h->min)));
	for (size_t i = 0; i < N_PERCENTILES; i++)
		json_object_set_new(o, report_names[i], json_real(us(bench_hist_percentile(h, report_percentiles[i]))));
	json_object_set_new(o, "max", json_real(us(h->max)));
	json_object_set_new(o, "mean", json_real(bench_hist_mean(h) / 1000.0));
	return o;
}

json_t *bench_report_json(const struct bench_stats *st, const struct bench_run_info *info)
{
	const struct bench_workload *wl = info->wl;
	double secs = elapsed_s(st);
	const char *txn = bench_kind_transaction(wl->kind);
	json_t *steps = json_object(), *errors = json_object(), *o;

	for (int i = 0; i < STEP_COUNT; i++)
		if (st->step[i].total)
			json_object_set_new(steps, bench_step_name((enum bench_step)i), latency_json(&st->step[i]));
	for (unsigned i = 0; i < st->n_errors; i++)
		json_object_set_new(errors, st->errors[i].code, json_integer((json_int_t)st->errors[i].n));
	if (st->other_errors)
		json_object_set_new(errors, "other", json_integer((json_int_t)st->other_errors));
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:f,s:I}", "mode", wl->resp ? "resp" : "line", "target",
	              info->target, "workload", bench_kind_name(wl->kind), "connections",
	              (json_int_t)info->connections, "pipeline", (json_int_t)info->pipeline, "threads",
	              (json_int_t)info->threads, "warmup_s", info->warmup_s, "duration_s", info->duration_s,
	              "requests_asked", (json_int_t)info->requests);
	json_object_set_new(o, "login_s", json_real(info->login_s));
	json_object_set_new(o, "elapsed_s", json_real(secs));
	json_object_set_new(o, "requests",
	                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)st->sent, "completed",
	                              (json_int_t)st->completed, "ok", (json_int_t)st->ok, "errors",
	                              (json_int_t)st->failed, "unanswered", (json_int_t)st->unanswered,
	                              "warmup_completed", (json_int_t)st->warmup_completed));
	json_object_set_new(o, "throughput_rps", json_real(secs > 0 ? (double)st->completed / secs : 0));
	if (txn)
		json_object_set_new(o, "transactions",
		                    json_pack("{s:s,s:I,s:I,s:f}", "name", txn, "completed", (json_int_t)st->txn_completed,
		                              "failed", (json_int_t)st->txn_failed, "per_s",
		                              secs > 0 ? (double)st->txn_completed / secs : 0.0));
	json_object_set_new(o, "latency_us", latency_json(&st->all));
	json_object_set_new(o, "latency_us_by_request", steps);
	if (txn)
		json_object_set_new(o, "latency_us_per_transaction", latency_json(&st->txn));
	json_object_set_new(o, "errors", errors);
	json_object_set_new(o, "connections_ready", json_integer(st->conn_ready));
	json_object_set_new(o, "connections_failed", json_integer(st->conn_failed));
	json_object_set_new(o, "connections_lost", json_integer(st->conn_lost));
	if (wl->resp)
		json_object_set_new(o, "redis_commands", json_integer((json_int_t)st->redis_commands));
	json_object_set_new(o, "pushed_lines", json_integer((json_int_t)st->pushed_lines));
	json_object_set_new(o, "client_cpu_s", json_real(info->client_cpu_s));
	json_object_set_new(o, "client_cpu_us_per_request", json_real(cpu_per_request_us(st, info)));
	return o;
}

static void latency_line(FILE *out, const char *name, const struct bench_hist *h)
{
	fprintf(out, "  %-22s %9llu", name, (unsigned long long)h->total);
	for (size_t i = 0; i < N_PERCENTILES; i++)
		fprintf(out, " %9.1f", us(bench_hist_percentile(h, report_percentiles[i])));
	fprintf(out, " %9.1f\n", us(h->max));
}

void bench_report_text(FILE *out, const struct bench_stats *st, const struct bench_run_info *info)
{
	const struct bench_workload *wl = info->wl;
	double secs = elapsed_s(st);
	const char *txn = bench_kind_transaction(wl->kind);

	fprintf(out, "hotline bench: %s workload, %s %s, %u connections x pipeline %u, %u thread%s\n",
	        bench_kind_name(wl->kind), wl->resp ? "RESP to" : "line protocol to", info->target, info->connections,
	        info->pipeline, info->threads, info->threads == 1 ? "" : "s");
	fprintf(out, "connections: %u ready, %u failed, %u lost; login %.1f s (not measured)\n", st->conn_ready,
	        st->conn_failed, st->conn_lost, info->login_s);
	fprintf(out, "requests: %llu sent, %llu completed (%llu ok, %llu errors), %llu unanswered, in %.3f s\n",
	        (unsigned long long)st->sent, (unsigned long long)st->completed, (unsigned long long)st->ok,
	        (unsigned long long)st->failed, (unsigned long long)st->unanswered, secs);
	fprintf(out, "throughput: %.0f requests/s", secs > 0 ? (double)st->completed / secs : 0.0);
	if (txn)
		fprintf(out, ", %.0f %ss/s (%llu completed)", secs > 0 ? (double)st->txn_completed / secs : 0.0, txn,
		        (unsigned long long)st->txn_completed);
	if (wl->resp)
		fprintf(out, ", %.0f Redis commands/s", secs > 0 ? (double)st->redis_commands / secs : 0.0);
	fprintf(out, "\n");
	fprintf(out, "latency (us)               count       p50       p90       p99     p99.9       max\n");
	latency_line(out, "all requests", &st->all);
	for (int i = 0; i < STEP_COUNT; i++)
		if (st->step[i].total && st->step[i].total != st->all.total)
			latency_line(out, bench_step_name((enum bench_step)i), &st->step[i]);
	if (txn && st->txn.total)
		latency_line(out, txn, &st->txn);
	if (st->n_errors || st->other_errors) {
		fprintf(out, "errors:");
		for (unsigned i = 0; i < st->n_errors; i++)
			fprintf(out, " %s=%llu", st->errors[i].code, (unsigned long long)st->errors[i].n);
		if (st->other_errors)
			fprintf(out, " other=%llu", (unsigned long long)st->other_errors);
		fprintf(out, "\n");
	}
	fprintf(out, "client CPU: %.2f s, %.1f us per request\n", info->client_cpu_s, cpu_per_request_us(st, info));
}
