/* hotline - companion CLI of hotlined: a thin client that speaks the line
 * protocol or reads Redis, and says by its exit code what happened. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"passwd", cmd_passwd, "read a secret and print its Argon2id hash for the config's users list"},
	{"import", cmd_import, "load customers (import customers FILE) or an Asterisk queue_log (import queue-log FILE)"},
	{"tail", cmd_tail, "follow the call and complaint logs live (TAIL), resuming after disconnects"},
	{"replay", cmd_replay, "the timeline of a call, customer or time range; --rebuild the projections; --to HOST:PORT re-drives it"},
	{"verify", cmd_verify, "check the hash chain and sequence numbers of the call and complaint log"},
	{"export", cmd_export, "write the log, or a time range of it, as JSON Lines (audit/replay input) or CSV"},
	{"audit", cmd_audit, "check the log (chain, lives of calls and complaints, deadlines) and report figures"},
	{"demo-data", cmd_demo_data, "generate N realistic synthetic customers (JSON Lines or CSV)"},
	{"bench", cmd_bench, "load generator: hotlined, Redis or a RESP proxy; throughput and latency percentiles"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: hotline <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-12s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n`hotline <command> --help` describes one command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("hotline %s\n", HOTLINE_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "hotline: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
