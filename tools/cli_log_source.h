/* cli_log_source.h - the log a `hotline` command reads, as its options
 * choose it: an export file (--file) or the streams in the Redis of
 * cli_target.h, over an optional time range (--from, --to). */
#ifndef HOTLINE_CLI_LOG_SOURCE_H
#define HOTLINE_CLI_LOG_SOURCE_H

#include <getopt.h>
#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "cli_target.h"
#include "log_source.h"

/* NULL = not given. */
struct cli_log_opts {
	const char *file, *from, *to;
};

/* getopt_long codes of the options below: above any character, and apart
 * from cli_target.h's. */
enum {
	CLI_LOG_OPT_FILE = 0x1100,
	CLI_LOG_OPT_FROM,
	CLI_LOG_OPT_TO,
};

/* Entries of a command's `struct option` table. */
/* clang-format off */
#define CLI_LOG_OPTIONS                                                           \
	{"file", required_argument, NULL, CLI_LOG_OPT_FILE},                      \
	{"from", required_argument, NULL, CLI_LOG_OPT_FROM},                      \
	{"to", required_argument, NULL, CLI_LOG_OPT_TO}
/* clang-format on */

/* Take getopt_long's opt (and its arg) into o when it is one of the options
 * above: true; false when it is the command's own. */
bool cli_log_take_option(struct cli_log_opts *o, int opt, const char *arg);

/* --from and --to as stream ids, written to from_id and to_id, into sel's
 * range (NULL for an open end).  CLI_OK, or CLI_USAGE after a message on
 * stderr prefixed by who. */
int cli_log_select_range(const struct cli_log_opts *o, const char *who, struct log_selection *sel,
                         char from_id[LOG_ID_MAX], char to_id[LOG_ID_MAX]);

/* The records of sel from the export file `file` ("-" = standard input),
 * or, when file is NULL, from the Redis of t (set up), connected into *rc
 * (freed by the caller after log_source_close).  NULL after a message on
 * stderr prefixed by who (*rc then NULL). */
struct log_source *cli_log_open(const char *who, const char *file, const struct cli_target *t,
                                const struct log_selection *sel, redisContext **rc);

#endif
