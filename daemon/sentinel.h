/* sentinel.h - Redis Sentinel for the daemon's Redis links.
 *
 * With redis.sentinels configured, a link has no fixed address: it asks
 * the Sentinels for the master (sentinel_ask), connects to the address
 * they name and checks with ROLE that it is a master (redis_link.c).
 * Sentinels are asked in turn, each within redis.connect_timeout_ms and
 * redis.command_timeout_ms; the one that answered is asked first next time.
 *
 * A watcher keeps one connection to a Sentinel subscribed to
 * +switch-master.  When our master moves (or a Sentinel answers with
 * another master than the last one known), every following link is told,
 * so a link still connected to the old master, which may be alive and
 * demoted to a replica, reconnects.  If the watcher's Sentinel goes away
 * it moves to the next one, with backoff.  Everything runs on the event
 * loop with hiredis's async API: nothing blocks.
 */
#ifndef HOTLINE_SENTINEL_H
#define HOTLINE_SENTINEL_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "sentinel_reply.h"

struct sentinel;
struct sentinel_query;

/* master is NULL when no Sentinel named one; err says why. */
typedef void sentinel_answer_fn(const struct sentinel_addr *master, const char *err, void *arg);
/* Our master is now at `master`. */
typedef void sentinel_moved_fn(const struct sentinel_addr *master, void *arg);

struct sentinel *sentinel_new(struct event_base *base, const struct config_redis *cfg);
/* Start the +switch-master watcher. */
void sentinel_start(struct sentinel *s);
/* After every follower left and every query ended or was cancelled. */
void sentinel_free(struct sentinel *s);

/* Ask the Sentinels for the master; fn is called exactly once, later
 * (never from inside this call), unless the query is cancelled.  NULL when
 * out of memory (fn is not called). */
struct sentinel_query *sentinel_ask(struct sentinel *s, sentinel_answer_fn *fn, void *arg);
void sentinel_query_cancel(struct sentinel_query *q);

/* Be told when the master moves; at most SENTINEL_MAX_FOLLOWERS.  -1 when full. */
#define SENTINEL_MAX_FOLLOWERS 8
__attribute__((warn_unused_result)) int sentinel_follow(struct sentinel *s, sentinel_moved_fn *fn, void *arg);
void sentinel_unfollow(struct sentinel *s, void *arg);

/* For STATS: {"master_name","master","watching","switches"}. */
const char *sentinel_master_name(const struct sentinel *s);
const char *sentinel_master_text(const struct sentinel *s); /* "" while unknown */
const char *sentinel_watching(const struct sentinel *s);    /* "" while not subscribed */
uint64_t sentinel_switches(const struct sentinel *s);

#endif
