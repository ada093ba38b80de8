/* hotline verify: check the log streams' hash chain and seq, in Redis or in
 * an export file, with the integrity module the audit uses (itself built
 * on the daemon's chain_verify_next).  Streams, so memory does not grow
 * with the log.  Exit 0 intact, 1 findings, 2 could not run. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_log_source.h"
#include "cli_target.h"
#include "log_integrity.h"
#include "log_source.h"

#define WHO "hotline verify"

struct verify_opts {
	struct cli_target_opts target;
	const char *file;
	bool trimmed, json;
};

static void print_finding(void *arg, const struct integrity_finding *f)
{
	const struct verify_opts *o = arg;

	if (o->json) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "stream", log_stream_name(f->stream), "id", f->id,
		                      "problem", integrity_kind_name(f->kind), "detail", f->detail);
		char *text;

		if (f->related)
			json_object_set_new(j, "related", json_string(f->related));
		if (f->request_id)
			json_object_set_new(j, "request_id", json_string(f->request_id));
		if (f->kind == INTEGRITY_GAP || f->kind == INTEGRITY_LOST)
			json_object_set_new(
			    j, "missing",
			    json_pack("[I,I]", (json_int_t)f->missing_from, (json_int_t)f->missing_to));
		text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(j);
	} else {
		printf("%s %s: %s: %s\n", log_stream_name(f->stream), f->id, integrity_kind_name(f->kind),
		       f->detail);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hotline verify [calls|complaints|all] [--file FILE] [-c CONFIG] [--redis ADDR]\n"
	             "                      [--prefix P] [--redis-user USER --redis-password-file FILE]\n"
	             "                      [--trimmed] [--json]\n"
	             "Checks the hash chain and sequence numbers of the log streams in Redis, or in\n"
	             "an export file (--file, \"-\" = standard input).\n"
	             "--trimmed accepts a stream whose first entries were deliberately removed.\n"
	             "Exit status: 0 intact, 1 findings (printed, one per line), 2 could not run.\n");
}

/* Read every selected record through the integrity checks; false when the
 * source failed (message printed). */
static bool run(struct log_source *src, struct integrity *g)
{
	struct log_record r;
	int got;

	while ((got = log_source_next(src, &r)) == 1)
		integrity_check(g, &r);
	if (got < 0) {
		fprintf(stderr, WHO ": %s\n", log_source_error(src));
		return false;
	}
	integrity_finish(g);
	return true;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {
	    CLI_TARGET_OPTIONS,
	    {"trimmed", no_argument, NULL, 't'},      {"json", no_argument, NULL, 'j'},
	    {"file", required_argument, NULL, 'f'},   {"help", no_argument, NULL, 'h'},
	    CLI_TARGET_LOGIN_OPTIONS,                 {NULL, 0, NULL, 0},
	};
	struct verify_opts o = {0};
	struct log_selection sel = {.streams = LOG_ALL_STREAMS};
	struct log_source *src;
	struct integrity g;
	struct cli_target t;
	redisContext *rc = NULL;
	char err[512];
	uint64_t total = 0;
	bool ok;
	int opt, status;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (cli_target_take_option(&o.target, opt, optarg))
			continue;
		switch (opt) {
		case 't':
			o.trimmed = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		int s = log_stream_from_name(argv[optind]);

		if (s >= 0)
			sel.streams = LOG_STREAM_MASK(s);
		else if (strcmp(argv[optind], "all") != 0)
			optind = argc + 1; /* a usage error below */
		optind++;
	}
	if (optind != argc || (o.file && (o.target.config || o.target.redis || o.target.prefix))) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!o.file && (status = cli_target_setup(&t, WHO, &o.target, false)) != CLI_OK)
		return status;
	if ((src = cli_log_open(WHO, o.file, &t, &sel, &rc)) == NULL)
		return CLI_FAILED;
	integrity_init(&g, o.trimmed, print_finding, &o);
	ok = run(src, &g);
	log_source_close(src);
	/* What the chain cannot show: entries removed from the end, or a
	 * stream emptied and restarted (Redis 7's count of entries added). */
	for (int i = 0; ok && rc && i < LOG_STREAM_COUNT; i++) {
		uint64_t added;
		int known;

		if (!(sel.streams & LOG_STREAM_MASK(i)))
			continue;
		known = log_stream_entries_added(rc, t.prefix, (enum log_stream)i, &added, err, sizeof(err));
		if (known < 0) {
			fprintf(stderr, WHO ": %s\n", err);
			ok = false;
		} else if (known > 0) {
			integrity_check_entries_added(&g, (enum log_stream)i, added);
		}
	}
	redisFree(rc);
	if (!ok)
		return CLI_FAILED;
	for (int i = 0; i < LOG_STREAM_COUNT; i++) {
		const struct integrity_stream *st = &g.s[i];

		if (!(sel.streams & LOG_STREAM_MASK(i)))
			continue;
		total += st->findings;
		if (o.json)
			continue;
		fprintf(stderr, "%s: %" PRIu64 " entries, last seq %" PRIu64 ", head %s: %s",
		        log_stream_name(i), st->entries, st->v.last_seq,
		        st->v.started ? st->v.last_hash : "-",
		        st->findings > st->lost ? "CHAIN BROKEN (see above)" : "chain intact");
		if (st->lost)
			fprintf(stderr, "; %" PRIu64 " acknowledged entr%s lost by Redis (see above)",
			        st->lost, st->lost == 1 ? "y" : "ies");
		fputc('\n', stderr);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, WHO ": writing the findings failed\n");
		return CLI_FAILED;
	}
	return total ? CLI_FINDINGS : CLI_OK;
}
