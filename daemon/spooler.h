/* spooler.h - logged writes that wait in the local spool while Redis is away.
 *
 * While the Redis link is down, a CALL or COMPLAINT write is checked
 * against what this daemon knows (the states it spooled itself), stored as
 * an intent (user, role, verb, arguments, the time it happened, an
 * idempotency id) in the spool file (spool.h: fdatasync'd before the
 * reply), and answered OK with "spooled":true.  Once anything is spooled,
 * later writes queue behind it, so the log keeps the order agents saw.
 *
 * When the link returns, intents are replayed one at a time, in order,
 * through the same verb handlers, with their original time.  A replayed
 * intent that the rules now refuse (another daemon moved the call
 * meanwhile) is still logged, as an entry marked "rejected", never
 * dropped; an intent already logged before a crash is recognised by its
 * idempotency id and not logged twice.
 */
#ifndef HOTLINE_SPOOLER_H
#define HOTLINE_SPOOLER_H

#include <stdbool.h>
#include <stddef.h>

struct server;
struct logwrite;
struct spooler;

/* Opens a spool left by an earlier run (to replay it); otherwise the file
 * is created on first use. */
struct spooler *spooler_new(struct server *srv);
void spooler_free(struct spooler *sp);

/* True when a new write must go to the spool: the link is not up, or
 * spooled writes are still waiting to be replayed. */
bool spooler_engaged(const struct spooler *sp);

/* Spool w (validated, nothing read from Redis) and answer its request. */
void spooler_take(struct spooler *sp, struct logwrite *w);

/* The Redis link is up: replay what waits. */
void spooler_link_up(struct spooler *sp);

size_t spooler_pending(const struct spooler *sp);
size_t spooler_bytes(const struct spooler *sp);

#endif
