#include "replay_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

/* Nodes live in one array; a node is in a hash chain (hnext) and in the
 * use order (newer/older, most recent at m->newest). */
struct node {
	char recorded[REPLAY_ID_MAX + 1];
	char assigned[REPLAY_ID_MAX + 1];
	unsigned char state;
	uint32_t hnext, newer, older;
};

struct replay_map {
	struct node *nodes;
	uint32_t *buckets;
	size_t capacity, used, nbuckets, evicted;
	uint32_t newest, oldest;
};

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

struct replay_map *replay_map_new(size_t capacity)
{
	struct replay_map *m = calloc(1, sizeof(*m));

	if (m == NULL || capacity == 0 || capacity >= NIL)
		goto fail;
	m->capacity = capacity;
	for (m->nbuckets = 16; m->nbuckets < 2 * capacity; m->nbuckets *= 2)
		;
	m->nodes = calloc(capacity, sizeof(*m->nodes));
	m->buckets = malloc(m->nbuckets * sizeof(*m->buckets));
	if (m->nodes == NULL || m->buckets == NULL)
		goto fail;
	memset(m->buckets, 0xff, m->nbuckets * sizeof(*m->buckets));
	m->newest = m->oldest = NIL;
	return m;
fail:
	replay_map_free(m);
	return NULL;
}

void replay_map_free(struct replay_map *m)
{
	if (m == NULL)
		return;
	free(m->nodes);
	free(m->buckets);
	free(m);
}

static uint32_t *slot_of(struct replay_map *m, const char *recorded)
{
	uint32_t *p = &m->buckets[hash(recorded) & (m->nbuckets - 1)];

	while (*p != NIL && strcmp(m->nodes[*p].recorded, recorded) != 0)
		p = &m->nodes[*p].hnext;
	return p;
}

static void unlink_use(struct replay_map *m, uint32_t i)
{
	struct node *n = &m->nodes[i];

	if (n->newer != NIL)
		m->nodes[n->newer].older = n->older;
	else
		m->newest = n->older;
	if (n->older != NIL)
		m->nodes[n->older].newer = n->newer;
	else
		m->oldest = n->newer;
}

static void make_newest(struct replay_map *m, uint32_t i)
{
	struct node *n = &m->nodes[i];

	n->newer = NIL;
	n->older = m->newest;
	if (m->newest != NIL)
		m->nodes[m->newest].newer = i;
	m->newest = i;
	if (m->oldest == NIL)
		m->oldest = i;
}

/* A free node: a new one while there is room, else the least recently used. */
static uint32_t take_node(struct replay_map *m)
{
	uint32_t i;

	if (m->used < m->capacity)
		return (uint32_t)m->used++;
	i = m->oldest;
	unlink_use(m, i);
	*slot_of(m, m->nodes[i].recorded) = m->nodes[i].hnext;
	m->evicted++;
	return i;
}

void replay_map_expect(struct replay_map *m, const char *recorded)
{
	uint32_t *slot, i;

	if (strlen(recorded) > REPLAY_ID_MAX)
		return;
	slot = slot_of(m, recorded);
	if (*slot != NIL) {
		i = *slot;
		unlink_use(m, i);
	} else {
		i = take_node(m);
		slot = slot_of(m, recorded); /* the chains may have changed */
		memcpy(m->nodes[i].recorded, recorded, strlen(recorded) + 1);
		m->nodes[i].hnext = NIL;
		*slot = i;
	}
	m->nodes[i].state = REPLAY_MAP_PENDING;
	m->nodes[i].assigned[0] = '\0';
	make_newest(m, i);
}

void replay_map_resolve(struct replay_map *m, const char *recorded, const char *assigned)
{
	uint32_t i = *slot_of(m, recorded);

	if (i == NIL)
		return;
	if (assigned && strlen(assigned) <= REPLAY_ID_MAX) {
		memcpy(m->nodes[i].assigned, assigned, strlen(assigned) + 1);
		m->nodes[i].state = REPLAY_MAP_MAPPED;
	} else {
		m->nodes[i].state = REPLAY_MAP_FAILED;
	}
}

enum replay_map_state replay_map_get(struct replay_map *m, const char *recorded, const char **assigned)
{
	uint32_t i = *slot_of(m, recorded);

	*assigned = NULL;
	if (i == NIL)
		return REPLAY_MAP_ABSENT;
	unlink_use(m, i);
	make_newest(m, i);
	if (m->nodes[i].state == REPLAY_MAP_MAPPED)
		*assigned = m->nodes[i].assigned;
	return (enum replay_map_state)m->nodes[i].state;
}

size_t replay_map_size(const struct replay_map *m)
{
	return m->used;
}

size_t replay_map_evicted(const struct replay_map *m)
{
	return m->evicted;
}
