/* replay.h - `hotline replay`: the timeline of what happened (replay_timeline.c)
 * and the rebuild of the projections from the log (replay_rebuild.c), both
 * reading the log through log_source.h.  `replay --to` (re-driving the
 * events into a running daemon) is replay_to() in cli.h. */
#ifndef HOTLINE_REPLAY_H
#define HOTLINE_REPLAY_H

#include <stdbool.h>

#include "cli_target.h"
#include "log_source.h"

struct replay_opts {
	struct cli_target_opts target; /* which Redis; NULL members = the config's */
	const char *file;
	/* timeline */
	const char *call, *customer, *complaint;        /* at most one */
	char from_id[LOG_ID_MAX], until_id[LOG_ID_MAX]; /* "" = unbounded */
	bool json;
	/* rebuild */
	bool rebuild, force;
};

int replay_timeline(const struct replay_opts *o);
int replay_rebuild(const struct replay_opts *o);

#endif
