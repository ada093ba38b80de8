#include "id_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char key[ID_MAP_KEY_MAX]; /* "" = free */
	char value[ID_MAP_VALUE_MAX];
};

struct id_map {
	struct slot *slots;
	size_t size; /* a power of two, kept at least twice the count */
	size_t count, max;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct slot *find(const struct slot *slots, size_t size, const char *key)
{
	size_t i = (size_t)hash(key) & (size - 1);

	while (slots[i].key[0] && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (size - 1);
	return (struct slot *)&slots[i];
}

struct id_map *id_map_new(size_t max_entries)
{
	struct id_map *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->size = 64;
	m->max = max_entries ? max_entries : 1;
	m->slots = calloc(m->size, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void id_map_free(struct id_map *m)
{
	if (m) {
		free(m->slots);
		free(m);
	}
}

const char *id_map_get(const struct id_map *m, const char *key)
{
	const struct slot *s;

	if (strlen(key) >= ID_MAP_KEY_MAX || !key[0])
		return NULL;
	s = find(m->slots, m->size, key);
	return s->key[0] ? s->value : NULL;
}

static bool grow(struct id_map *m)
{
	size_t size = m->size * 2;
	struct slot *slots = calloc(size, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < m->size; i++)
		if (m->slots[i].key[0])
			*find(slots, size, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->size = size;
	return true;
}

bool id_map_put(struct id_map *m, const char *key, const char *value)
{
	struct slot *s;

	if (!key[0] || strlen(key) >= ID_MAP_KEY_MAX || strlen(value) >= ID_MAP_VALUE_MAX)
		return false;
	s = find(m->slots, m->size, key);
	if (!s->key[0]) {
		if (m->count >= m->max)
			return false;
		if ((m->count + 1) * 2 > m->size) {
			if (!grow(m))
				return false;
			s = find(m->slots, m->size, key);
		}
		strcpy(s->key, key);
		m->count++;
	}
	strcpy(s->value, value);
	return true;
}

void id_map_clear(struct id_map *m)
{
	memset(m->slots, 0, m->size * sizeof(*m->slots));
	m->count = 0;
}

size_t id_map_count(const struct id_map *m)
{
	return m->count;
}
