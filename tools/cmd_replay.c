/* hotline replay: the history of the log played back.
 *
 *   replay [--call ID | --customer ID | --complaint ID] [--from T] [--until T]
 *          [--file F] [--json]          the timeline, in order (replay_timeline.c)
 *   replay --rebuild [--force]          every projection rebuilt from the log
 *                                       (replay_rebuild.c)
 *   replay --to HOST:PORT ...           the events re-driven into a running
 *                                       hotlined (replay_to, cli.h)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "replay.h"

#define WHO "hotline replay"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: hotline replay [--call ID | --customer ID | --complaint ID] [--from T] [--until T]\n"
	    "                      [--file F] [--json] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	    "       hotline replay --rebuild [--force] [--file F] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	    "                      [--redis-user USER --redis-password-file FILE] (both forms)\n"
	    "       hotline replay --to HOST:PORT ...   (see hotline replay --to --help)\n"
	    "The timeline of the call and complaint log, in order: one call (with the complaints\n"
	    "opened about it), one customer (calls and complaints merged), one complaint, or\n"
	    "everything in a time range.  T is RFC 3339 (2026-11-22T09:00:00Z), a date, @unix-seconds\n"
	    "or a stream id.  --json prints the chosen entries as export records (proto/LOG.md).\n"
	    "--file reads an export file (\"-\" = standard input) instead of Redis.\n"
	    "--rebuild recomputes every projection (call and complaint states, queues, histories,\n"
	    "customers' open complaints and recent contacts) from the log and swaps them in at once;\n"
	    "it refuses while a hotlined is connected (--force overrides) and gives up, changing\n"
	    "nothing, if the log grows while it runs.\n"
	    "Exit status: 0 ok, 1 entries that could not be read or projected (reported), 2 could\n"
	    "not run, 64 usage.\n");
}

/* `--to` is the other helper's mode: it parses its own arguments. */
static bool wants_replay_to(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--to") == 0 || strncmp(argv[i], "--to=", 5) == 0)
			return true;
	}
	return false;
}

static bool set_time(const char *arg, bool end, char out[LOG_ID_MAX])
{
	if (log_time_to_id(arg, end, out))
		return true;
	fprintf(stderr,
	        WHO ": '%s' is not a time (RFC 3339 with a zone, a date, @unix-seconds or a stream id)\n",
	        arg);
	return false;
}

static int parse(struct replay_opts *o, int argc, char **argv)
{
	enum {
		O_CALL = 256,
		O_CUSTOMER,
		O_COMPLAINT,
		O_FROM,
		O_UNTIL,
		O_FILE,
		O_JSON,
		O_REBUILD,
		O_FORCE
	};
	/* clang-format off */
	static const struct option options[] = {
		{"call", required_argument, NULL, O_CALL},       {"customer", required_argument, NULL, O_CUSTOMER},
		{"complaint", required_argument, NULL, O_COMPLAINT}, {"from", required_argument, NULL, O_FROM},
		{"until", required_argument, NULL, O_UNTIL},     {"file", required_argument, NULL, O_FILE},
		{"json", no_argument, NULL, O_JSON},             CLI_TARGET_OPTIONS,
		{"rebuild", no_argument, NULL, O_REBUILD},       {"force", no_argument, NULL, O_FORCE},
		CLI_TARGET_LOGIN_OPTIONS,
		{"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	int opt, picked = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		if (cli_target_take_option(&o->target, opt, optarg))
			continue;
		/* clang-format off */
		switch (opt) {
		case O_CALL: o->call = optarg, picked++; break;
		case O_CUSTOMER: o->customer = optarg, picked++; break;
		case O_COMPLAINT: o->complaint = optarg, picked++; break;
		case O_FROM:
			if (!set_time(optarg, false, o->from_id))
				return CLI_USAGE;
			break;
		case O_UNTIL:
			if (!set_time(optarg, true, o->until_id))
				return CLI_USAGE;
			break;
		case O_FILE: o->file = optarg; break;
		case O_JSON: o->json = true; break;
		case O_REBUILD: o->rebuild = true; break;
		case O_FORCE: o->force = true; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
		/* clang-format on */
	}
	if (optind < argc) {
		fprintf(stderr, WHO ": unexpected argument '%s'\n", argv[optind]);
		return CLI_USAGE;
	}
	if (picked > 1) {
		fprintf(stderr, WHO ": give at most one of --call, --customer, --complaint\n");
		return CLI_USAGE;
	}
	if (o->rebuild && (picked || o->json || o->from_id[0] || o->until_id[0])) {
		fprintf(stderr,
		        WHO ": --rebuild replays the whole log: no --call, --customer, --complaint, --from,"
		            " --until or --json\n");
		return CLI_USAGE;
	}
	if (o->force && !o->rebuild) {
		fprintf(stderr, WHO ": --force goes with --rebuild\n");
		return CLI_USAGE;
	}
	return -1; /* go on */
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts o = {0};
	int rc;

	if (wants_replay_to(argc, argv))
		return replay_to(argc, argv);
	rc = parse(&o, argc, argv);
	if (rc >= 0)
		return rc;
	return o.rebuild ? replay_rebuild(&o) : replay_timeline(&o);
}
