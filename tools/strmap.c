#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 64

bool strmap_init(struct strmap *m, size_t value_size)
{
	/* Keep keys aligned after values of any size. */
	m->value_size = (value_size + 15) & ~(size_t)15;
	m->count = 0;
	m->cap = INITIAL_CAP;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	return m->slots != NULL;
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; m->slots && i < m->cap; i++)
		free(m->slots[i].entry);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

static const char *key_of(const struct strmap *m, const struct strmap_slot *s)
{
	return (const char *)s->entry + m->value_size;
}

static size_t find(const struct strmap *m, uint64_t hash, const char *key, size_t len)
{
	size_t mask = m->cap - 1, i = (size_t)hash & mask;

	while (m->slots[i].entry && !(m->slots[i].hash == hash && m->slots[i].key_len == len &&
	                              memcmp(key_of(m, &m->slots[i]), key, len) == 0))
		i = (i + 1) & mask;
	return i;
}

void *strmap_get(const struct strmap *m, uint64_t hash, const char *key, size_t len)
{
	return m->slots[find(m, hash, key, len)].entry;
}

static bool grow(struct strmap *m)
{
	struct strmap bigger = *m;

	bigger.cap = m->cap * 2;
	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].entry)
			continue;
		for (j = (size_t)m->slots[i].hash & (bigger.cap - 1); bigger.slots[j].entry;
		     j = (j + 1) & (bigger.cap - 1))
			;
		bigger.slots[j] = m->slots[i];
	}
	free(m->slots);
	*m = bigger;
	return true;
}

void *strmap_put(struct strmap *m, uint64_t hash, const char *key, size_t len, bool *created)
{
	size_t i = find(m, hash, key, len);
	char *entry;

	*created = false;
	if (m->slots[i].entry)
		return m->slots[i].entry;
	if ((m->count + 1) * 2 > m->cap) {
		if (!grow(m))
			return NULL;
		i = find(m, hash, key, len);
	}
	entry = calloc(1, m->value_size + len + 1);
	if (entry == NULL)
		return NULL;
	memcpy(entry + m->value_size, key, len);
	m->slots[i] = (struct strmap_slot){.hash = hash, .entry = entry, .key_len = len};
	m->count++;
	*created = true;
	return entry;
}

/* Empty slot i, moving later entries of the same probe run back into it. */
static void remove_at(struct strmap *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	free(m->slots[i].entry);
	m->count--;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->slots[j].entry)
			break;
		size_t home = (size_t)m->slots[j].hash & mask;
		/* The entry at j may move to i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);

		if (!stays) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = (struct strmap_slot){0};
}

void strmap_del(struct strmap *m, uint64_t hash, const char *key, size_t len)
{
	size_t i = find(m, hash, key, len);

	if (m->slots[i].entry)
		remove_at(m, i);
}

const char *strmap_key(const struct strmap *m, const void *v)
{
	return (const char *)v + m->value_size;
}

void strmap_sweep(struct strmap *m, bool (*fn)(void *arg, const char *key, void *value), void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		while (m->slots[i].entry && fn(arg, key_of(m, &m->slots[i]), m->slots[i].entry))
			remove_at(m, i);
}

size_t strmap_select(const struct strmap *m, bool (*pick)(void *arg, const void *value), void *arg,
                     void ***out)
{
	size_t n = 0, k = 0;

	*out = NULL;
	for (size_t i = 0; i < m->cap; i++)
		n += m->slots[i].entry && pick(arg, m->slots[i].entry);
	if (n == 0)
		return 0;
	*out = malloc(n * sizeof(**out));
	if (*out == NULL)
		return SIZE_MAX;
	for (size_t i = 0; i < m->cap && k < n; i++)
		if (m->slots[i].entry && pick(arg, m->slots[i].entry))
			(*out)[k++] = m->slots[i].entry;
	return k;
}
