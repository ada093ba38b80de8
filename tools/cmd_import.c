/* hotline import customers: load customer records from a CSV or JSON Lines
 * file into Redis, and recompute the tier pyramid from revenue.  (`hotline
 * import queue-log` is cmd_import_queue_log.c.)
 *
 * Every row is validated by customer.c, the same rules the daemon lives by;
 * a bad row is reported as FILE:LINE and skipped, never half-written.  Good
 * rows go to Redis in batches that write only what differs from what Redis
 * holds (import_batch.c), so a re-import of the same file writes nothing.
 *
 * This file is the command: its options, the run, its messages, progress
 * and summary.  import.h lists the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cli.h"
#include "cli_target.h"
#include "import.h"
#include "import_read.h"
#include "import_tiers.h"

#define WHO           "hotline import"
#define DEFAULT_BATCH 1000
#define MAX_BATCH     100000

enum format { FMT_NONE, FMT_CSV, FMT_JSONL };

struct options {
	struct cli_target_opts target;
	const char *file;
	enum format format;
	bool tiers, dry_run, quiet;
	size_t batch;
};

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* ---- messages and progress ---------------------------------------------------------------------------- */

void progress_clear(struct progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		p->shown = false;
	}
}

static unsigned long rows_seen(const struct importer *im)
{
	return im->n.valid + im->n.rejected;
}

/* One status line, rewritten in place at most twice a second. */
void progress_tick(struct importer *im)
{
	struct progress *p = &im->prog;
	double t;

	if (!p->on)
		return;
	t = elapsed(&p->start);
	if (t - p->last < 0.5)
		return;
	p->last = t;
	fprintf(stderr, "\r%lu rows, %.0f rows/s", rows_seen(im), (double)rows_seen(im) / t);
	if (p->total > 0)
		fprintf(stderr, ", %d%%", (int)(100.0 * (double)p->done / (double)p->total));
	fputs("\033[K", stderr);
	p->shown = true;
}

void progress_row(struct importer *im)
{
	if ((rows_seen(im) & 255) == 0)
		progress_tick(im);
}

/* Report a row (or the file's header) and count it; returns 0: reading goes on. */
int import_reject(struct importer *im, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	progress_clear(&im->prog);
	fprintf(stderr, "%s:%lu: ", im->name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	im->n.rejected++;
	return 0;
}

int import_fail(const char *fmt, ...)
{
	va_list ap;

	fputs(WHO ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* ---- options ------------------------------------------------------------------------------------------ */

static int usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "usage: hotline import customers [FILE] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	    "                                [--redis-user USER --redis-password-file FILE]\n"
	    "                                [--format csv|jsonl] [--tiers] [--batch N] [--dry-run] "
	    "[--quiet]\n"
	    "\n"
	    "Validates customer records from FILE (CSV with a header row, or JSON Lines; '-' is standard\n"
	    "input) and writes the good ones to Redis, changing only what differs.  Bad rows are reported\n"
	    "as FILE:LINE: reason and skipped.\n"
	    "\n"
	    "  -c, --config FILE   daemon config for Redis and phone rules (default " CLI_DEFAULT_CONFIG ")\n"
	    "      --redis ADDR    host:port, [v6addr]:port or unix:/path, instead of the config's\n"
	    "      --prefix P      Redis key prefix, instead of the config's\n"
	    "      --redis-user USER, --redis-password-file FILE\n"
	    "                      log in to Redis as this ACL user (e.g. hotline-admin from\n"
	    "                      config/redis-acl.conf) with the password on the first line of FILE,\n"
	    "                      instead of the config's redis.user and redis.password_file\n"
	    "      --format F      csv or jsonl (default: from the extension .csv, .jsonl, .ndjson)\n"
	    "      --tiers         then recompute every customer's tier from revenue (alone: no FILE)\n"
	    "      --batch N       rows per Redis transaction, 1..%d (default %d)\n"
	    "      --dry-run       validate only; Redis is not contacted\n"
	    "      --quiet         no progress line\n"
	    "\n"
	    "Exit status: 0 all rows imported, 1 some rows rejected, 2 could not run, 64 usage.\n"
	    "(`hotline import queue-log --help`: Asterisk call logs into the calls stream.)\n",
	    MAX_BATCH, DEFAULT_BATCH);
	return rc;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum format format_named(const char *s)
{
	return strcmp(s, "csv") == 0                                 ? FMT_CSV
	       : strcmp(s, "jsonl") == 0 || strcmp(s, "ndjson") == 0 ? FMT_JSONL
	                                                             : FMT_NONE;
}

static int option(int opt, struct options *o)
{
	unsigned long v;

	if (cli_target_take_option(&o->target, opt, optarg))
		return 0;
	switch (opt) {
	case 'f':
		o->format = format_named(optarg);
		return o->format == FMT_NONE ? import_fail("--format must be csv or jsonl, got '%s'", optarg)
		                             : 0;
	case 'b':
		if (!parse_uint(optarg, MAX_BATCH, &v) || v == 0)
			return import_fail("--batch must be 1..%d, got '%s'", MAX_BATCH, optarg);
		o->batch = v;
		return 0;
	case 't':
		o->tiers = true;
		return 0;
	case 'n':
		o->dry_run = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 when help was asked for, -1 on a usage error (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    CLI_TARGET_OPTIONS,
	    {"format", required_argument, NULL, 'f'}, {"batch", required_argument, NULL, 'b'},
	    {"tiers", no_argument, NULL, 't'},        {"dry-run", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
	    CLI_TARGET_LOGIN_OPTIONS,                 {NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct options){.batch = DEFAULT_BATCH};
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return 1;
	if (argc < 2 || strcmp(argv[1], "customers") != 0)
		return import_fail("what to import? 'customers' or 'queue-log'");
	optind = 1;
	opterr = 0; /* getopt would name the program "customers" */
	while ((opt = getopt_long(argc - 1, argv + 1, "c:h", longopts, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == '?' || opt == ':')
			return import_fail("unknown option or missing argument: '%s'", argv[optind]);
		if (option(opt, o) != 0)
			return -1;
	}
	if (optind < argc - 1)
		o->file = argv[1 + optind++];
	if (optind < argc - 1)
		return import_fail("one FILE at most, got '%s' too", argv[1 + optind]);
	if (!o->file && !o->tiers)
		return import_fail("no FILE to import (or --tiers to recompute tiers only)");
	if (o->dry_run && (o->tiers || !o->file))
		return import_fail("--dry-run validates a FILE and cannot be combined with --tiers");
	if (o->file && o->format == FMT_NONE) {
		o->format = ends_with(o->file, ".csv")                                      ? FMT_CSV
		            : ends_with(o->file, ".jsonl") || ends_with(o->file, ".ndjson") ? FMT_JSONL
		                                                                            : FMT_NONE;
		if (o->format == FMT_NONE)
			return import_fail(
			    "cannot tell the format of '%s' from its name: give --format csv or jsonl",
			    o->file);
	}
	return 0;
}

/* ---- the command -------------------------------------------------------------------------------------- */

static int open_input(const struct options *o, struct importer *im)
{
	struct stat st;
	int fd = strcmp(o->file, "-") == 0 ? STDIN_FILENO : open(o->file, O_RDONLY | O_CLOEXEC);

	im->name = fd == STDIN_FILENO ? "<stdin>" : o->file;
	if (fd < 0)
		return import_fail("cannot open %s: %s", o->file, strerror(errno));
	if (fstat(fd, &st) != 0)
		return fd; /* reading will tell */
	if (S_ISDIR(st.st_mode)) {
		if (fd != STDIN_FILENO)
			close(fd);
		return import_fail("cannot read %s: it is a directory", o->file);
	}
	if (S_ISREG(st.st_mode))
		im->prog.total = st.st_size;
	return fd;
}

static void summary(const struct importer *im)
{
	double t = elapsed(&im->prog.start);
	double rate = t > 0 ? (double)rows_seen(im) / t : 0;

	if (im->dry_run)
		printf("dry run: valid %lu, rejected %lu (%.1f s, %.0f rows/s)\n", im->n.valid,
		       im->n.rejected, t, rate);
	else
		printf("added %lu, updated %lu, unchanged %lu, rejected %lu (%.1f s, %.0f rows/s)\n",
		       im->n.added, im->n.updated, im->n.unchanged, im->n.rejected, t, rate);
	fflush(stdout);
}

static int import_file(struct importer *im, const struct options *o, int fd)
{
	int rc = o->format == FMT_CSV ? import_csv(im, fd) : import_jsonl(im, fd);

	if (rc == 0 && !im->dry_run && (rc = batch_flush(im)) == 0 && batch_finish_pending(im) != 0)
		rc = batch_stopped(im);
	progress_clear(&im->prog);
	if (rc != -2)
		summary(im);
	return rc;
}

static void importer_free(struct importer *im)
{
	batch_free(&im->b);
	seen_free(&im->ids);
	seen_free(&im->accounts);
	if (im->rc)
		redisFree(im->rc);
}

int cmd_import(int argc, char **argv)
{
	struct options o;
	struct cli_target target;
	struct importer im = {.batch_size = DEFAULT_BATCH};
	int fd = -1, rc;

	if (argc >= 2 && strcmp(argv[1], "queue-log") == 0)
		return cmd_import_queue_log(argc - 1, argv + 1);
	rc = parse_options(argc, argv, &o);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr,
			        "usage: hotline import customers [FILE] [options]   (--help lists them)\n");
		return rc > 0 ? usage(stdout, CLI_OK) : CLI_USAGE;
	}
	if ((rc = cli_target_setup(&target, WHO, &o.target, true)) != CLI_OK)
		return rc;
	/* A Redis that goes away mid-write must give an error, not kill the import silently. */
	signal(SIGPIPE, SIG_IGN);
	im.target = &target;
	im.batch_size = o.batch;
	im.dry_run = o.dry_run;
	im.prog.on = !o.quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &im.prog.start);
	/* The file first: an unreadable one is reported without touching Redis. */
	if (o.file && (fd = open_input(&o, &im)) < 0)
		rc = -1;
	else if (!o.dry_run && !(im.rc = cli_target_connect(&target, WHO)))
		rc = -1;
	if (rc == 0 && o.file)
		rc = import_file(&im, &o, fd);
	if (rc == 0 && o.tiers)
		rc = import_tiers(im.rc, target.prefix);
	if (fd > STDIN_FILENO)
		close(fd);
	importer_free(&im);
	if (rc == -2)
		return CLI_FINDINGS;
	if (rc != 0)
		return CLI_FAILED;
	return im.n.rejected > 0 ? CLI_FINDINGS : CLI_OK;
}
