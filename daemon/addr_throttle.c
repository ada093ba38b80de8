#include "addr_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define NIL UINT32_MAX
#define CAPACITY_MAX (1u << 24)

struct entry {
	struct addr_key key;
	uint32_t failures;        /* in the current counting window */
	uint64_t window_start_ms; /* when the counting window began */
	uint64_t blocked_until_ms;
	uint32_t chain_next;         /* next entry in the same bucket */
	uint32_t lru_prev, lru_next; /* least recently failed first */
};

struct addr_throttle {
	unsigned char hash_key[ADDR_THROTTLE_HASH_KEY_BYTES];
	uint32_t capacity, used;
	uint32_t bucket_mask;
	uint32_t *buckets; /* first entry of each chain, or NIL */
	struct entry *entries;
	uint32_t lru_oldest, lru_newest;
	uint64_t evictions;
};

void addr_key_from_sockaddr(const struct sockaddr *sa, struct addr_key *key)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		key->kind = ADDR_KIND_IPV4;
		memcpy(key->bytes, &s4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = s6->sin6_addr.s6_addr;

		if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
			key->kind = ADDR_KIND_IPV4;
			memcpy(key->bytes, a + 12, 4);
		} else {
			key->kind = ADDR_KIND_IPV6;
			memcpy(key->bytes, a, 8);
		}
	} else {
		key->kind = ADDR_KIND_LOCAL;
	}
}

void addr_key_format(const struct addr_key *key, char *out, size_t outlen)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (key->kind == ADDR_KIND_IPV4) {
		inet_ntop(AF_INET, key->bytes, text, sizeof(text));
		snprintf(out, outlen, "%s", text);
	} else if (key->kind == ADDR_KIND_IPV6) {
		uint8_t full[16] = {0};

		memcpy(full, key->bytes, 8);
		inet_ntop(AF_INET6, full, text, sizeof(text));
		snprintf(out, outlen, "%s/64", text);
	} else {
		snprintf(out, outlen, "local");
	}
}

struct addr_throttle *addr_throttle_new(uint32_t capacity, const unsigned char hash_key[ADDR_THROTTLE_HASH_KEY_BYTES])
{
	struct addr_throttle *t;
	uint32_t nbuckets = 1;

	if (capacity == 0 || capacity > CAPACITY_MAX)
		return NULL;
	while (nbuckets < capacity)
		nbuckets <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->buckets = malloc(nbuckets * sizeof(*t->buckets));
	t->entries = calloc(capacity, sizeof(*t->entries));
	if (t->buckets == NULL || t->entries == NULL) {
		addr_throttle_free(t);
		return NULL;
	}
	memcpy(t->hash_key, hash_key, sizeof(t->hash_key));
	t->capacity = capacity;
	t->bucket_mask = nbuckets - 1;
	for (uint32_t i = 0; i < nbuckets; i++)
		t->buckets[i] = NIL;
	t->lru_oldest = t->lru_newest = NIL;
	return t;
}

void addr_throttle_free(struct addr_throttle *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t->entries);
	free(t);
}

static uint32_t bucket_of(const struct addr_throttle *t, const struct addr_key *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, (const unsigned char *)key, sizeof(*key), t->hash_key);
	memcpy(&v, h, sizeof(v));
	return v & t->bucket_mask;
}

static uint32_t find(const struct addr_throttle *t, const struct addr_key *key)
{
	uint32_t i = t->buckets[bucket_of(t, key)];

	while (i != NIL && memcmp(&t->entries[i].key, key, sizeof(*key)) != 0)
		i = t->entries[i].chain_next;
	return i;
}

static void lru_unlink(struct addr_throttle *t, uint32_t i)
{
	struct entry *e = &t->entries[i];

	if (e->lru_prev != NIL)
		t->entries[e->lru_prev].lru_next = e->lru_next;
	else
		t->lru_oldest = e->lru_next;
	if (e->lru_next != NIL)
		t->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		t->lru_newest = e->lru_prev;
}

static void lru_append(struct addr_throttle *t, uint32_t i)
{
	struct entry *e = &t->entries[i];

	e->lru_prev = t->lru_newest;
	e->lru_next = NIL;
	if (t->lru_newest != NIL)
		t->entries[t->lru_newest].lru_next = i;
	else
		t->lru_oldest = i;
	t->lru_newest = i;
}

static void chain_remove(struct addr_throttle *t, uint32_t i)
{
	uint32_t *link = &t->buckets[bucket_of(t, &t->entries[i].key)];

	while (*link != i)
		link = &t->entries[*link].chain_next;
	*link = t->entries[i].chain_next;
}

/* A fresh entry for key: an unused slot, else the least recently failed
 * address's. */
static uint32_t insert(struct addr_throttle *t, const struct addr_key *key)
{
	uint32_t i, b;

	if (t->used < t->capacity) {
		i = t->used++;
	} else {
		i = t->lru_oldest;
		lru_unlink(t, i);
		chain_remove(t, i);
		t->evictions++;
	}
	memset(&t->entries[i], 0, sizeof(t->entries[i]));
	t->entries[i].key = *key;
	b = bucket_of(t, key);
	t->entries[i].chain_next = t->buckets[b];
	t->buckets[b] = i;
	lru_append(t, i);
	return i;
}

uint64_t addr_throttle_blocked_for(const struct addr_throttle *t, const struct addr_key *key, uint64_t now_ms)
{
	uint32_t i = find(t, key);

	if (i == NIL || now_ms >= t->entries[i].blocked_until_ms)
		return 0;
	return t->entries[i].blocked_until_ms - now_ms;
}

bool addr_throttle_failure(struct addr_throttle *t, const struct addr_key *key, unsigned max, uint64_t window_ms,
                           uint64_t now_ms)
{
	uint32_t i;
	struct entry *e;

	if (max == 0)
		return false;
	i = find(t, key);
	if (i == NIL) {
		i = insert(t, key);
		t->entries[i].window_start_ms = now_ms;
	} else {
		lru_unlink(t, i);
		lru_append(t, i);
	}
	e = &t->entries[i];
	if (now_ms < e->blocked_until_ms)
		return false;
	if (now_ms >= e->window_start_ms + window_ms) {
		e->window_start_ms = now_ms;
		e->failures = 0;
	}
	if (++e->failures < max)
		return false;
	/* Counting starts afresh once the block is over. */
	e->blocked_until_ms = now_ms + window_ms;
	e->window_start_ms = e->blocked_until_ms;
	e->failures = 0;
	return true;
}

uint32_t addr_throttle_tracked(const struct addr_throttle *t)
{
	return t->used;
}

uint64_t addr_throttle_evictions(const struct addr_throttle *t)
{
	return t->evictions;
}

size_t addr_throttle_memory(const struct addr_throttle *t)
{
	return sizeof(*t) + (size_t)(t->bucket_mask + 1) * sizeof(*t->buckets) + (size_t)t->capacity * sizeof(*t->entries);
}
