/* hotline export: a time range of the log as JSON Lines (the export file
 * format of proto/LOG.md, which audit and replay read in place of Redis) or
 * as CSV, to standard output or atomically to a file.  Streams: memory does
 * not grow with the range.  Exit 0 written, 1 written but some values not
 * exactly (named on stderr), 2 could not write, 64 usage. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cli.h"
#include "cli_log_source.h"
#include "cli_target.h"
#include "export_format.h"
#include "log_source.h"

#define WHO           "hotline export"
#define INEXACT_NAMED 10 /* entries named on stderr before just counting */

struct export_cli {
	struct cli_target_opts target;
	struct cli_log_opts log;
	const char *out;
	bool csv;
	unsigned streams;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: hotline export [calls|complaints|all] [--from T] [--to T] [--format jsonl|csv]\n"
	             "                      [-o FILE] [--file FILE] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	             "                      [--redis-user USER --redis-password-file FILE]\n"
	             "Writes the log (Redis, or an export file given with --file) as JSON Lines,\n"
	             "the export file format `hotline audit --file` reads, or as CSV; to standard\n"
	             "output, or with -o to FILE, replaced atomically once complete.\n"
	             "T: 2026-11-22T09:00:00Z, 2026-11-22 (a whole day as --to), @UNIX_SECONDS or a\n"
	             "stream id.\n"
	             "Exit status: 0 written, 1 written but some entries not exactly (named on\n"
	             "stderr), 2 could not run or write.\n");
}

static int parse_args(int argc, char **argv, struct export_cli *o)
{
	static const struct option options[] = {
	    CLI_TARGET_OPTIONS,
	    CLI_LOG_OPTIONS,
	    {"format", required_argument, NULL, 'm'}, {"output", required_argument, NULL, 'o'},
	    CLI_TARGET_LOGIN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct export_cli){.streams = LOG_ALL_STREAMS};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:o:", options, NULL)) != -1) {
		if (cli_target_take_option(&o->target, opt, optarg) || cli_log_take_option(&o->log, opt, optarg))
			continue;
		switch (opt) {
		case 'o':
			o->out = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0) {
				fprintf(stderr, WHO ": --format is jsonl or csv, not '%s'\n", optarg);
				return CLI_USAGE;
			}
			o->csv = strcmp(optarg, "csv") == 0;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		int s = log_stream_from_name(argv[optind]);

		if (s >= 0)
			o->streams = LOG_STREAM_MASK(s);
		else if (strcmp(argv[optind], "all") != 0)
			optind = argc + 1;
		optind++;
	}
	if (optind != argc || (o->log.file && (o->target.config || o->target.redis || o->target.prefix))) {
		usage(stderr);
		return CLI_USAGE;
	}
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct export_cli o;
	struct log_selection sel;
	struct log_source *src;
	struct log_record r;
	struct atomic_file af = {0};
	struct text_buf line = {0};
	struct cli_target t;
	redisContext *rc = NULL;
	char from_id[LOG_ID_MAX], to_id[LOG_ID_MAX], err[600], *scratch = NULL;
	size_t scratch_cap = 0;
	uint64_t written[LOG_STREAM_COUNT] = {0}, inexact = 0;
	FILE *out = stdout;
	int rv = parse_args(argc, argv, &o), got = 0, write_errno = 0;

	if (rv)
		return rv < 0 ? CLI_OK : rv;
	sel = (struct log_selection){.streams = o.streams};
	if ((rv = cli_log_select_range(&o.log, WHO, &sel, from_id, to_id)) != CLI_OK)
		return rv;
	if (!o.log.file && (rv = cli_target_setup(&t, WHO, &o.target, false)) != CLI_OK)
		return rv;
	if ((src = cli_log_open(WHO, o.log.file, &t, &sel, &rc)) == NULL)
		return CLI_FAILED;
	if (o.out) {
		if (!atomic_file_open(&af, o.out, err, sizeof(err))) {
			fprintf(stderr, WHO ": %s\n", err);
			log_source_close(src);
			redisFree(rc);
			return CLI_FAILED;
		}
		out = af.f;
	}

	rv = CLI_OK;
	if (o.csv) {
		export_csv_header(&line);
		if (fwrite(line.p, 1, line.len, out) != line.len)
			write_errno = errno ? errno : EIO, rv = CLI_FAILED;
	}
	while (rv == CLI_OK && (got = log_source_next(src, &r)) == 1) {
		line.len = 0;
		if (o.csv) {
			if (r.entry_len > scratch_cap) {
				char *p = realloc(scratch, r.entry_len);

				if (p == NULL) {
					fprintf(stderr, WHO ": out of memory\n");
					rv = CLI_FAILED;
					break;
				}
				scratch = p;
				scratch_cap = r.entry_len;
			}
			export_csv_row(&line, &r, scratch);
		} else if (!export_jsonl(&line, &r)) {
			if (inexact++ < INEXACT_NAMED)
				fprintf(stderr,
				        WHO ": %s %s holds bytes that are not UTF-8 (or too many fields): "
				            "written with U+FFFD, so its hash will not verify\n",
				        log_stream_name(r.stream), r.id);
		}
		if (line.failed) {
			fprintf(stderr, WHO ": out of memory\n");
			rv = CLI_FAILED;
		} else if (fwrite(line.p, 1, line.len, out) != line.len) {
			write_errno = errno ? errno : EIO;
			rv = CLI_FAILED;
		}
		written[r.stream]++;
	}
	if (rv == CLI_OK && got < 0) {
		fprintf(stderr, WHO ": %s\n", log_source_error(src));
		rv = CLI_FAILED;
	}
	if (write_errno)
		fprintf(stderr, WHO ": writing %s failed: %s\n", o.out ? o.out : "standard output",
		        strerror(write_errno));
	if (o.out) {
		if (rv == CLI_FAILED) {
			atomic_file_abort(&af);
		} else if (!atomic_file_commit(&af, err, sizeof(err))) {
			fprintf(stderr, WHO ": %s\n", err);
			rv = CLI_FAILED;
		}
	} else if (rv == CLI_OK && (errno = 0, fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, WHO ": writing standard output failed: %s\n", strerror(errno ? errno : EIO));
		rv = CLI_FAILED;
	}
	if (inexact > INEXACT_NAMED)
		fprintf(stderr, WHO ": ... %" PRIu64 " entries in all not written exactly\n", inexact);
	if (rv == CLI_OK && o.out)
		fprintf(stderr, WHO ": %" PRIu64 " call and %" PRIu64 " complaint entries written to %s\n",
		        written[LOG_CALLS], written[LOG_COMPLAINTS], o.out);
	if (rv == CLI_OK && inexact)
		rv = CLI_FINDINGS;
	free(scratch);
	text_buf_free(&line);
	log_source_close(src);
	redisFree(rc);
	return rv;
}
