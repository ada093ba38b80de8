/* redis_link.h - one asynchronous hiredis connection on the daemon's loop.
 *
 * The link owns its redisAsyncContext and hides it: callers issue commands
 * and get exactly one callback per command, with the reply or with NULL when
 * the link failed before answering (disconnect, timeout, shutdown).  When the
 * connection drops, the link reconnects on a backoff timer and logs each
 * transition; commands issued while it is not up fail at once (-1) so the
 * caller can answer `unavailable` instead of queueing without bound.
 *
 * With redis.password_file set, every connection logs in first (AUTH
 * [user] password) and the link is up only once Redis accepted it, so
 * nothing runs as any other user; a refused login is logged and retried
 * with the same backoff (an operator may fix the ACL without a restart).
 *
 * hiredis 0.14 (Debian 12) has no connect or command timeouts in its async
 * API; both are enforced here with timers.  The command timeout is a
 * liveness check: if commands are outstanding and nothing at all has come
 * back for command_timeout_ms, Redis is presumed unreachable (e.g. packets
 * dropped) and the link is torn down, which fails every pending callback.
 *
 * A READONLY error means the server is (now) a replica: the command's
 * callback gets NULL, as for a lost link, and the link reconnects.
 */
#ifndef HOTLINE_REDIS_LINK_H
#define HOTLINE_REDIS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "stats.h"

enum redis_link_state {
	REDIS_LINK_DOWN,
	REDIS_LINK_CONNECTING,
	REDIS_LINK_UP,
};

/* reply is NULL when the link failed; it is owned by hiredis and valid only
 * during the callback. */
typedef void redis_reply_fn(redisReply *reply, void *arg);

/* Called on every transition to UP or DOWN (optional). */
typedef void redis_link_state_fn(enum redis_link_state state, void *arg);

struct redis_link;
struct sentinel;

struct redis_link *redis_link_new(struct event_base *base, const struct config_redis *cfg, const char *name);
/* Find the master through the Sentinels (before redis_link_start): on each
 * (re)connect, ask them, connect, and go UP only once ROLE says master;
 * follow the master when it moves.  -1 when s has no room for a follower. */
__attribute__((warn_unused_result)) int redis_link_use_sentinel(struct redis_link *link, struct sentinel *s);
void redis_link_set_state_callback(struct redis_link *link, redis_link_state_fn *fn, void *arg);

/* Begin connecting (and keep reconnecting until redis_link_free). */
void redis_link_start(struct redis_link *link);

/* Queue one command.  Returns 0 when queued (fn will be called exactly
 * once), -1 when the link is not up (fn is not called). */
__attribute__((warn_unused_result)) int redis_link_command(struct redis_link *link, redis_reply_fn *fn, void *arg,
                                                           int argc, const char **argv, const size_t *argvlen);

enum redis_link_state redis_link_state(const struct redis_link *link);
const char *redis_link_state_name(enum redis_link_state state);
const char *redis_link_address(const struct redis_link *link);
unsigned redis_link_pending(const struct redis_link *link);
uint64_t redis_link_reconnects(const struct redis_link *link);
/* Command round trips (queued to reply) on this link. */
const struct latency_hist *redis_link_latency(const struct redis_link *link);

/* Tear down: pending callbacks get NULL, no reconnect. */
void redis_link_free(struct redis_link *link);

#endif
