/* TEMPORARY -- delete on merge.  `hotline replay --to HOST:PORT` is written
 * on the `redrive` branch (tools/cmd_replay_to.c, which defines replay_to).
 * This placeholder only lets the `rebuild` branch link on its own; the
 * lead removes this file (and its line in tools/CMakeLists.txt) when the
 * two branches are merged. */
#include <stdio.h>

#include "cli.h"

int replay_to(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "hotline replay --to: not in this build (merged from the redrive branch)\n");
	return CLI_FAILED;
}
