/* tail.h - supervisors watch the log streams live: TAIL / UNTAIL.
 *
 * One blocking reader per daemon (XREAD BLOCK on its own Redis link, both
 * streams in one command) serves every tailing connection; a new tail
 * first catches up from its resume point with XRANGE on the main link and
 * joins the live broadcast once it has reached the reader's position, so
 * nothing is missed or repeated across a reconnect.  A tail whose
 * connection has more than half of limits.max_output unread gets
 * `* overflow {"stream","last_id"}` and is stopped: a slow supervisor costs
 * its own tail, never the agents' requests or the daemon's memory.
 */
#ifndef HOTLINE_TAIL_H
#define HOTLINE_TAIL_H

#include <stddef.h>

struct server;
struct conn;
struct tailer;

struct tailer *tailer_new(struct server *srv);
void tailer_start(struct tailer *t);
void tailer_free(struct tailer *t);

/* The connection's output drained: resume catch-ups paused for it. */
void tail_conn_writable(struct conn *c);

/* The connection is closing: drop its tails. */
void tail_conn_closed(struct conn *c);

/* For STATS: tails open, and entries pushed / tails stopped for overflow. */
size_t tailer_subscribers(const struct tailer *t);
unsigned long long tailer_pushed(const struct tailer *t);
unsigned long long tailer_overflows(const struct tailer *t);

/* The reader's own Redis link (for metrics). */
struct redis_link;
const struct redis_link *tailer_link(const struct tailer *t);

#endif
