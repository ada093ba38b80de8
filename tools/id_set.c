#include "id_set.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define TAG_BITS    3u
#define INITIAL_CAP 1024

void id_hasher_init(struct id_hasher *h)
{
	_Static_assert(sizeof(h->key) == crypto_shorthash_KEYBYTES, "SipHash key size");
	crypto_shorthash_keygen(h->key);
}

uint64_t id_hash(const struct id_hasher *h, const char *id, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(out, (const unsigned char *)id, len, h->key);
	memcpy(&v, out, sizeof(v));
	return v;
}

bool id_set_init(struct id_set *s)
{
	s->count = 0;
	s->cap = INITIAL_CAP;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	return s->slots != NULL;
}

void id_set_free(struct id_set *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->count = 0;
}

/* The slot holding hash, or the empty slot where it would go. */
static size_t find(const struct id_set *s, uint64_t hash)
{
	size_t mask = s->cap - 1, i = (size_t)(hash >> 2) & mask;

	while (s->slots[i] && (s->slots[i] & ~(uint64_t)TAG_BITS) != (hash & ~(uint64_t)TAG_BITS))
		i = (i + 1) & mask;
	return i;
}

enum id_tag id_set_get(const struct id_set *s, uint64_t hash)
{
	return (enum id_tag)(s->slots[find(s, hash)] & TAG_BITS);
}

static bool grow(struct id_set *s)
{
	struct id_set bigger = {.cap = s->cap * 2, .count = s->count};

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return false;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			bigger.slots[find(&bigger, s->slots[i])] = s->slots[i];
	free(s->slots);
	*s = bigger;
	return true;
}

bool id_set_put(struct id_set *s, uint64_t hash, enum id_tag tag)
{
	size_t i = find(s, hash);

	if (!s->slots[i]) {
		if ((s->count + 1) * 4 > s->cap * 3) {
			if (!grow(s))
				return false;
			i = find(s, hash);
		}
		s->count++;
	}
	s->slots[i] = (hash & ~(uint64_t)TAG_BITS) | (uint64_t)tag;
	return true;
}

size_t id_set_bytes(const struct id_set *s)
{
	return s->cap * sizeof(*s->slots);
}
