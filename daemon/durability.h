/* durability.h - does the main Redis keep the writes it acknowledges?
 *
 * Each time the main link comes up, every DURABILITY_RECHECK_S seconds, and
 * on SIGHUP, the daemon reads appendonly, appendfsync and maxmemory-policy
 * with CONFIG GET (pipelined) and logs them (once per connection, and again
 * when a re-check finds them changed), with a warning when they do not keep
 * acknowledged writes.  Settings that cannot be read (e.g. CONFIG refused by
 * an ACL) are "unknown", which counts as not durable.
 *
 * With redis.durability: strict, logwrite refuses CALL and COMPLAINT writes
 * while the last-read settings are not durable; while Redis is down, writes
 * are still spooled (the spool is fsync'd locally).
 */
#ifndef HOTLINE_DURABILITY_H
#define HOTLINE_DURABILITY_H

#include <stdbool.h>

#include <jansson.h>

#define DURABILITY_RECHECK_S 60
#define DURABILITY_REFUSED_MSG                                                                               \
	"Redis is not configured to keep acknowledged writes (needs appendonly yes, appendfsync always, a "  \
	"noeviction policy)"

struct server;
struct durability;

struct durability *durability_new(struct server *srv);
/* After redis_link_free: pending checks have completed by then. */
void durability_free(struct durability *d);

/* The link just came up: forget the old settings and read them again. */
void durability_link_up(struct durability *d);
/* Read them again now (SIGHUP); nothing when the link is not up. */
void durability_recheck(struct durability *d);

/* appendonly yes, appendfsync always and maxmemory-policy noeviction. */
bool durability_durable(const struct durability *d);
/* False when redis.durability is strict and Redis is not known durable. */
bool durability_allows_writes(const struct durability *d);
/* STATS redis.persistence: {"appendonly","appendfsync","maxmemory_policy","durable"}. */
json_t *durability_to_json(const struct durability *d);

#endif
