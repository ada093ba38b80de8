/* failover.h - which hotlined a client talks to next, and after how long:
 * the client-side rule of proto/PROTOCOL.md ("Several daemons: client-side
 * failover"), so that every client of several daemons behaves the same.
 *
 *   - The addresses are tried in the order given, wrapping around; a client
 *     stays on the one that works (it never moves back by itself).
 *   - When a working session is lost (EOF, reset, `* bye`, a silent
 *     server), the next address is tried at once; with a single address,
 *     after the shortest backoff.
 *   - When a connection attempt fails, the next address is tried at once,
 *     until every address has failed in a row; then the client waits the
 *     backoff (min_ms doubling to max_ms, with jitter: a random part of up
 *     to half of it) before the next round.
 *
 * Pure: no sockets, no clock; the caller supplies the random number.
 */
#ifndef HOTLINE_FAILOVER_H
#define HOTLINE_FAILOVER_H

#include <stdbool.h>

#define FAILOVER_MAX_ADDRS 8

struct failover {
	unsigned n;
	char host[FAILOVER_MAX_ADDRS][256];
	unsigned port[FAILOVER_MAX_ADDRS];
	unsigned current;    /* the address in use, or to try next */
	unsigned failed;     /* attempts failed in a row since a working session */
	unsigned backoff_ms; /* the wait after the next failed round */
	unsigned min_ms, max_ms;
};

void failover_init(struct failover *f, unsigned min_ms, unsigned max_ms);

/* Add "host:port" or several separated by commas ("a:1,b:2"); IPv6 in
 * brackets.  0, or -1 when one is malformed or there would be more than
 * FAILOVER_MAX_ADDRS. */
int failover_add(struct failover *f, const char *list, unsigned default_port);

/* The session on f->current ended: was_up says whether it had worked
 * (logged in and served).  Moves f->current to the address to try next and
 * returns the milliseconds to wait before trying it.  rnd: any random
 * number, for the jitter. */
unsigned failover_next(struct failover *f, bool was_up, unsigned rnd);

/* Every address has failed this many times in a row (whole rounds). */
unsigned failover_rounds_failed(const struct failover *f);

#endif
