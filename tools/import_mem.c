#include "import_mem.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (1024 * 1024)

bool mem_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

/* ---- the arena ---------------------------------------------------------------------------------------- */

const char *arena_dup(struct arena_block **head, const char *s)
{
	size_t len = strlen(s) + 1;
	struct arena_block *b = *head;

	if (!b || b->cap - b->used < len) {
		size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	memcpy(b->data + b->used, s, len);
	b->used += len;
	return b->data + b->used - len;
}

void arena_free(struct arena_block **head)
{
	while (*head) {
		struct arena_block *next = (*head)->next;

		free(*head);
		*head = next;
	}
}

/* ---- seen: ids and accounts of the file --------------------------------------------------------------- */

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct seen_slot *seen_slot(const struct seen *s, const char *key, uint32_t h)
{
	size_t mask = s->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct seen_slot *sl = &s->slots[i];

		if (!sl->key || (sl->hash == h && strcmp(sl->key, key) == 0))
			return sl;
	}
}

unsigned long seen_get(const struct seen *s, const char *key)
{
	if (s->n == 0)
		return 0;
	return seen_slot(s, key, hash_key(key))->line;
}

static bool seen_rehash(struct seen *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	struct seen_slot *old = s->slots;
	size_t old_cap = s->cap;

	s->slots = calloc(cap, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return false;
	}
	s->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*seen_slot(s, old[i].key, old[i].hash) = old[i];
	free(old);
	return true;
}

bool seen_add(struct seen *s, const char *key, unsigned long line)
{
	uint32_t h = hash_key(key);
	struct seen_slot *sl;

	if ((s->n + 1) * 2 > s->cap && !seen_rehash(s))
		return false;
	sl = seen_slot(s, key, h);
	if (sl->key)
		return true;
	sl->key = arena_dup(&s->arena, key);
	if (!sl->key)
		return false;
	sl->hash = h;
	sl->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	s->n++;
	return true;
}

void seen_free(struct seen *s)
{
	arena_free(&s->arena);
	free(s->slots);
}
