/* journal_ops.h - the Redis writes that go with one log entry: which
 * stream it is appended to, and the commands that keep the projections
 * current (run by the append's Lua script right after the XADD, or by
 * `hotline replay --rebuild` when it rebuilds the projections).  Pure: no
 * Redis connection here, so the projection code that fills the list can be
 * unit-tested and shared by the daemon and the CLI.
 */
#ifndef HOTLINE_JOURNAL_OPS_H
#define HOTLINE_JOURNAL_OPS_H

#include <stdbool.h>
#include <stddef.h>

enum journal_stream { STREAM_CALLS, STREAM_COMPLAINTS, STREAM_COUNT };

/* A growable list of Redis commands.  An argument equal to "$ID" is
 * replaced by the new stream entry id when run by the append script. */
struct journal_ops {
	char **argv; /* each command: count, then args (all strings) */
	size_t n, cap;
	bool failed; /* out of memory while adding: the whole list is unusable */
};

void journal_ops_add(struct journal_ops *ops, int argc, const char **argv);
void journal_ops_addf(struct journal_ops *ops, int argc, ...); /* argc const char * args */
/* Move every command of src to the end of dst (src is left empty). */
void journal_ops_take(struct journal_ops *dst, struct journal_ops *src);
void journal_ops_free(struct journal_ops *ops);

/* Walk the commands: *pos starts at 0; fills argc/argv (pointing into ops)
 * and returns true while there is one. */
bool journal_ops_next(const struct journal_ops *ops, size_t *pos, int *argc, const char *const **argv);

#endif
