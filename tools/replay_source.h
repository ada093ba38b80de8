/* replay_source.h - the log `hotline replay --to` reads: an export file, or
 * the streams in Redis as they are when the replay starts (a replay into
 * the same Redis must not read back what it logs itself), over an optional
 * time range.  A thin layer over log_source.h. */
#ifndef HOTLINE_REPLAY_SOURCE_H
#define HOTLINE_REPLAY_SOURCE_H

#include <hiredis/hiredis.h>

#include "cli_target.h"
#include "log_source.h"

struct replay_source_spec {
	const char *file;                    /* an export file ("-" = stdin), or NULL for Redis */
	struct cli_target_opts target;       /* which Redis; NULL members = the config's */
	const char *from, *until;            /* command-line times (log_time_to_id), or NULL */
};

struct replay_source {
	struct log_source *log;
	redisContext *rc;
	/* The range as stream ids; the reader uses them for as long as it runs. */
	char from_id[LOG_ID_MAX], until_id[LOG_ID_MAX];
};

/* Open; CLI_OK, or an exit code after a message on stderr prefixed by who
 * (s is then closed). */
int replay_source_open(struct replay_source *s, const struct replay_source_spec *spec, const char *who);
void replay_source_close(struct replay_source *s);

#endif
