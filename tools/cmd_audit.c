/* hotline audit: prove what happened.  Reads the log (Redis, or an export
 * file) once, through log_source, and hands every record to the audit
 * engine (audit.h); findings and figures are printed by audit_report.
 * Exit 0 clean, 1 findings, 2 could not run, 64 usage. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_report.h"
#include "cli.h"
#include "cli_log_source.h"
#include "cli_target.h"
#include "log_source.h"

#define WHO              "hotline audit"
#define DEFAULT_OPEN_AGE "4h"
#define DEFAULT_FCR_DAYS 7

struct audit_cli {
	struct cli_target_opts target;
	struct cli_log_opts log;
	const char *open_age, *fcr_disposition;
	unsigned fcr_days;
	bool json, trimmed;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: hotline audit [--file FILE] [--from T] [--to T] [--open-age DURATION] [--json]\n"
	             "                     [--trimmed] [--fcr-disposition D] [--fcr-days N]\n"
	             "                     [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	             "                     [--redis-user USER --redis-password-file FILE]\n"
	             "Checks the call and complaint log (Redis, or an export file with --file; \"-\" =\n"
	             "standard input): hash chain and seq, the life of every call and complaint,\n"
	             "complaint deadlines; and reports the figures over the range.\n"
	             "T: 2026-11-22T09:00:00Z, 2026-11-22 (a whole day as --to), @UNIX_SECONDS or a\n"
	             "stream id.  DURATION: 4h, 90m, 1h30m, 2d (default " DEFAULT_OPEN_AGE ").\n"
	             "Exit status: 0 clean, 1 findings, 2 could not run.\n");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 0 ok, or a CLI exit code. */
static int parse_args(int argc, char **argv, struct audit_cli *o)
{
	static const struct option options[] = {
	    CLI_TARGET_OPTIONS,
	    CLI_TARGET_LOGIN_OPTIONS,
	    CLI_LOG_OPTIONS,
	    {"open-age", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"trimmed", no_argument, NULL, 't'},
	    {"fcr-disposition", required_argument, NULL, 'D'},
	    {"fcr-days", required_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long days;
	int opt;

	*o = (struct audit_cli){
	    .open_age = DEFAULT_OPEN_AGE, .fcr_disposition = "resolved", .fcr_days = DEFAULT_FCR_DAYS};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (cli_target_take_option(&o->target, opt, optarg) || cli_log_take_option(&o->log, opt, optarg))
			continue;
		switch (opt) {
		case 'a':
			o->open_age = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			o->trimmed = true;
			break;
		case 'D':
			o->fcr_disposition = optarg;
			break;
		case 'N':
			days = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || days < 1 || days > 365) {
				fprintf(stderr, WHO ": --fcr-days must be 1..365\n");
				return CLI_USAGE;
			}
			o->fcr_days = (unsigned)days;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc || (o->log.file && (o->target.redis || o->target.prefix))) {
		usage(stderr);
		return CLI_USAGE;
	}
	return 0;
}

/* Progress on a terminal: a line rewritten in place, a few times a second. */
struct progress {
	bool on;
	double last, start;
	uint64_t total_records; /* Redis: XLEN sum, 0 = unknown */
};

static void progress_show(struct progress *p, const struct log_source *src, uint64_t records, bool done)
{
	uint64_t got, total;
	double now;

	if (!p->on)
		return;
	now = monotonic_s();
	if (!done && now - p->last < 0.25)
		return;
	p->last = now;
	log_source_progress(src, &got, &total);
	if (total == 0 && p->total_records)
		got = records, total = p->total_records;
	if (done)
		fprintf(stderr, "\r\033[K");
	else if (total)
		fprintf(stderr, "\r" WHO ": %" PRIu64 " entries, %.0f%%, %.1f s\033[K", records,
		        100.0 * (double)got / (double)total, now - p->start);
	else
		fprintf(stderr, "\r" WHO ": %" PRIu64 " entries, %.1f s\033[K", records, now - p->start);
}

static uint64_t stream_lengths(redisContext *rc, const char *prefix)
{
	uint64_t n = 0;

	for (int i = 0; i < LOG_STREAM_COUNT; i++) {
		redisReply *r = redisCommand(rc, "XLEN %slog:%s", prefix, log_stream_name(i));

		if (r && r->type == REDIS_REPLY_INTEGER)
			n += (uint64_t)r->integer;
		freeReplyObject(r);
	}
	return n;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_cli o;
	struct audit_options ao = {0};
	struct log_selection sel = {.streams = LOG_ALL_STREAMS};
	struct report_header head = {.streams = LOG_ALL_STREAMS};
	struct progress prog = {0};
	struct cli_target t;
	struct audit_report rep;
	struct log_source *src = NULL;
	struct log_record r;
	struct audit *a = NULL;
	redisContext *rc = NULL;
	char from_id[LOG_ID_MAX], to_id[LOG_ID_MAX], source[600];
	uint64_t to_ms, to_n, records = 0, now = now_ms();
	int rv = parse_args(argc, argv, &o), got;

	if (rv)
		return rv < 0 ? CLI_OK : rv;
	if (!audit_parse_duration(o.open_age, &ao.open_age_ms)) {
		fprintf(stderr, WHO ": --open-age must be a duration such as 4h, 90m or 1h30m, got '%s'\n",
		        o.open_age);
		return CLI_USAGE;
	}
	if ((rv = cli_log_select_range(&o.log, WHO, &sel, from_id, to_id)) != CLI_OK)
		return rv;
	head.from_id = sel.from_id;
	head.to_id = sel.to_id;
	/* Open calls and deadlines are judged at the end of the range, or now. */
	ao.end_ms = now;
	if (o.log.to && log_id_parse(to_id, &to_ms, &to_n) && to_ms < now)
		ao.end_ms = to_ms;
	ao.allow_trimmed_start = o.trimmed || o.log.from;
	ao.fcr_disposition = o.fcr_disposition;
	ao.fcr_window_ms = (uint64_t)o.fcr_days * 86400000;
	ao.reopen_window_h = 168; /* the daemon's default, unless a config says otherwise */
	if (sodium_init() < 0) {
		fprintf(stderr, WHO ": libsodium failed to initialise\n");
		return CLI_FAILED;
	}

	if (o.log.file == NULL || o.target.config) {
		int status = cli_target_setup(&t, WHO, &o.target, false);

		if (status != CLI_OK)
			return status;
		ao.reopen_window_h = t.reopen_window_h;
	}
	if (o.log.file)
		snprintf(source, sizeof(source), "file %s", o.log.file);
	else
		snprintf(source, sizeof(source), "redis %s prefix %s", t.address, t.prefix);
	if ((src = cli_log_open(WHO, o.log.file, &t, &sel, &rc)) == NULL)
		return CLI_FAILED;
	prog.on = isatty(STDERR_FILENO);
	prog.start = prog.last = monotonic_s();
	if (prog.on && rc && !o.log.from && !o.log.to)
		prog.total_records = stream_lengths(rc, t.prefix);

	a = malloc(sizeof(*a));
	if (a == NULL || !audit_init(a, &ao, report_finding, &rep)) {
		fprintf(stderr, WHO ": out of memory\n");
		free(a);
		log_source_close(src);
		redisFree(rc);
		return CLI_FAILED;
	}
	head.source = source;
	head.end_ms = ao.end_ms;
	head.open_age_ms = ao.open_age_ms;
	report_begin(&rep, stdout, o.json, &head);
	rv = CLI_OK;
	while ((got = log_source_next(src, &r)) == 1) {
		if (!audit_record(a, &r)) {
			fprintf(stderr, WHO ": out of memory\n");
			rv = CLI_FAILED;
			break;
		}
		if ((++records & 4095) == 0)
			progress_show(&prog, src, records, false);
	}
	progress_show(&prog, src, records, true);
	if (got < 0) {
		fprintf(stderr, WHO ": %s\n", log_source_error(src));
		rv = CLI_FAILED;
	}
	if (rv == CLI_OK) {
		audit_finish(a);
		if (!report_end(&rep, a)) {
			fprintf(stderr, WHO ": out of memory\n");
			rv = CLI_FAILED;
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, WHO ": writing the report failed\n");
		rv = CLI_FAILED;
	}
	if (rv == CLI_OK && rep.findings)
		rv = CLI_FINDINGS;
	audit_free(a);
	free(a);
	log_source_close(src);
	redisFree(rc);
	return rv;
}
