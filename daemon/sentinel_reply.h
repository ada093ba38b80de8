/* sentinel_reply.h - the pure half of Redis Sentinel support: reading what
 * Sentinels and masters answer, and choosing which Sentinel to ask next.
 * No sockets, no event loop: the daemon (sentinel.c), the CLI (cli_target.c)
 * and the unit tests share it.
 *
 * The client rules follow Redis's "Sentinel client spec": ask the Sentinels
 * in turn with SENTINEL get-master-addr-by-name; the first that answers
 * moves to the front of the list; connect to the address it names and check
 * with ROLE that it really is a master before using it.
 */
#ifndef HOTLINE_SENTINEL_REPLY_H
#define HOTLINE_SENTINEL_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"

/* "host:port" or "[v6addr]:port" with room to spare. */
#define SENTINEL_ADDR_TEXT 300

struct sentinel_addr {
	char host[256];
	uint16_t port;
};

/* The reply to SENTINEL get-master-addr-by-name: [host, port].  False, with
 * the reason in why, for a nil (the Sentinel does not know the name), an
 * error, or anything malformed (a host with blanks or control characters,
 * a port outside 1..65535). */
bool sentinel_parse_master_addr(const redisReply *r, struct sentinel_addr *out, char *why, size_t whylen);

/* The reply to ROLE: true when its first element is "master".  The role
 * word ("slave", "sentinel", ...) or a short description of a bad reply is
 * copied into role. */
bool sentinel_role_is_master(const redisReply *r, char *role, size_t rolelen);

/* A +switch-master message: "<name> <old-ip> <old-port> <new-ip> <new-port>".
 * True when it is well formed and names master_name. */
bool sentinel_parse_switch(const char *msg, size_t len, const char *master_name, struct sentinel_addr *from,
                           struct sentinel_addr *to);

bool sentinel_addr_equal(const struct sentinel_addr *a, const struct sentinel_addr *b);
/* "host:port", IPv6 in brackets. */
void sentinel_addr_format(const struct sentinel_addr *a, char *out, size_t len);

/* The order in which the configured Sentinels are asked: the file's order
 * at first; the one that answered last goes first. */
struct sentinel_order {
	unsigned n;
	unsigned char at[CONFIG_MAX_SENTINELS]; /* indexes into config_redis.sentinels */
};

void sentinel_order_init(struct sentinel_order *o, unsigned n);
/* Move Sentinel `index` (into the config's list) to the front. */
void sentinel_order_promote(struct sentinel_order *o, unsigned index);

#endif
