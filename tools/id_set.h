/* id_set.h - which call or complaint ids a pass over the log has seen, in
 * 8 bytes an id, and what became of each: the audit keeps full state only
 * for calls and complaints still open, and this set for every id ever seen
 * (so an offer of an id used before, or an event after a call ended, is
 * still recognised).
 *
 * Each id is stored as a 62-bit keyed hash (SipHash-2-4 via libsodium's
 * crypto_shorthash, with a random key per run, so a crafted log cannot
 * aim collisions at it) plus a 2-bit tag, in an open-addressing table kept
 * between 3/8 and 3/4 full: 11 to 22 bytes per distinct id (1 million ids:
 * 16 MiB at most).  Two distinct ids share a hash with probability about
 * n^2 / 2^63 over the whole log (n = 10 million: 1 in 90,000); the audit
 * would then take the second id for the first.
 *
 * The same hash also places the id in a strmap (strmap.h), so each id is
 * hashed once.  Pure apart from the key, which id_hasher_init draws.
 */
#ifndef HOTLINE_ID_SET_H
#define HOTLINE_ID_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct id_hasher {
	unsigned char key[16];
};

/* A random key (libsodium must be initialised). */
void id_hasher_init(struct id_hasher *h);
uint64_t id_hash(const struct id_hasher *h, const char *id, size_t len);

enum id_tag { ID_ABSENT, ID_OPEN, ID_DONE, ID_STALE };

struct id_set {
	uint64_t *slots; /* 0 = empty; else (hash with the low 2 bits replaced by the tag) */
	size_t cap, count;
};

/* false when out of memory. */
bool id_set_init(struct id_set *s);
void id_set_free(struct id_set *s);

enum id_tag id_set_get(const struct id_set *s, uint64_t hash);
/* Add the id or change its tag (tag != ID_ABSENT); false when out of memory. */
bool id_set_put(struct id_set *s, uint64_t hash, enum id_tag tag);

size_t id_set_bytes(const struct id_set *s);

#endif
