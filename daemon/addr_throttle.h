/* addr_throttle.h - failed logins counted per source address, in a table of
 * fixed size.
 *
 * Closing a connection after a few failed AUTHs does not slow a guesser who
 * opens many connections; this counts failures per source address.  An
 * address is an IPv4 address, an IPv6 /64 (the smallest network one
 * customer gets, so hopping between addresses inside it gains nothing), or
 * "local" for every unix-socket client together.  After `max` failures
 * within `window_ms` of the first of them, the address is blocked for
 * window_ms: its AUTHs are refused without running Argon2id.  Failures
 * that arrive while it is blocked (checks that were already running) do
 * not extend the block, so when it ends is known in advance.
 *
 * Memory is fixed when the table is made: `capacity` entries and a bucket
 * array, whatever the attacker does.  With every entry in use, the least
 * recently failed address is forgotten, so a flood of addresses can only
 * wash out state (a known limit of any bounded table), never grow memory.
 * Buckets are chosen with SipHash under a random key, so nobody can aim
 * addresses at one chain.  Pure: the caller passes the time and limits
 * (the limits are read from the live config on every call, so a reload
 * applies at once).
 */
#ifndef HOTLINE_ADDR_THROTTLE_H
#define HOTLINE_ADDR_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum addr_kind {
	ADDR_KIND_LOCAL = 0, /* unix sockets and anything not IP */
	ADDR_KIND_IPV4 = 1,  /* bytes[0..3] */
	ADDR_KIND_IPV6 = 2,  /* bytes[0..7]: the /64 prefix */
};

/* What failures are counted under; compare with memcmp (no padding). */
struct addr_key {
	uint8_t kind;
	uint8_t bytes[8];
};

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as its IPv4 address. */
void addr_key_from_sockaddr(const struct sockaddr *sa, struct addr_key *key);

/* "192.0.2.7", "2001:db8:1:2::/64" or "local", for log lines. */
void addr_key_format(const struct addr_key *key, char *out, size_t outlen);

#define ADDR_THROTTLE_HASH_KEY_BYTES 16

struct addr_throttle;

/* A table of capacity (1..2^24) entries; NULL when out of memory. */
struct addr_throttle *addr_throttle_new(uint32_t capacity, const unsigned char hash_key[ADDR_THROTTLE_HASH_KEY_BYTES]);
void addr_throttle_free(struct addr_throttle *t);

/* Milliseconds until key's block ends; 0 when it may try now. */
uint64_t addr_throttle_blocked_for(const struct addr_throttle *t, const struct addr_key *key, uint64_t now_ms);

/* Count one failed AUTH from key.  Returns true when this failure is the
 * one that blocks the address (to be logged once).  max == 0: nothing is
 * counted. */
bool addr_throttle_failure(struct addr_throttle *t, const struct addr_key *key, unsigned max, uint64_t window_ms,
                           uint64_t now_ms);

/* Addresses currently in the table, and entries forgotten to make room. */
uint32_t addr_throttle_tracked(const struct addr_throttle *t);
uint64_t addr_throttle_evictions(const struct addr_throttle *t);

/* Bytes the table occupies (fixed at creation). */
size_t addr_throttle_memory(const struct addr_throttle *t);

#endif
