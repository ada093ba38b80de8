/* replay_map.h - recorded complaint id -> the id the target daemon gave it,
 * for one `hotline replay --to` run.
 *
 * A daemon gives a complaint its id when it is opened, so a replay learns
 * each new id from the reply to the open and rewrites the complaint's
 * later events with it.  The map holds at most `capacity` complaints; when
 * full, the one touched least recently is forgotten (counted), and its
 * later events can no longer be replayed.  Memory: capacity x ~160 bytes,
 * allocated up front.
 */
#ifndef HOTLINE_REPLAY_MAP_H
#define HOTLINE_REPLAY_MAP_H

#include <stddef.h>

#include "replay_plan.h"

enum replay_map_state {
	REPLAY_MAP_ABSENT,  /* never opened in this run, or forgotten */
	REPLAY_MAP_PENDING, /* its open is in flight */
	REPLAY_MAP_MAPPED,  /* *assigned is the target's id */
	REPLAY_MAP_FAILED,  /* its open was refused */
};

struct replay_map;

/* NULL when out of memory (capacity >= 1). */
struct replay_map *replay_map_new(size_t capacity);
void replay_map_free(struct replay_map *m);

/* The open of `recorded` was sent: pending until replay_map_resolve. */
void replay_map_expect(struct replay_map *m, const char *recorded);
/* Its reply came: the target's id, or NULL when the open was refused.
 * Does nothing if `recorded` is not in the map. */
void replay_map_resolve(struct replay_map *m, const char *recorded, const char *assigned);
/* Where `recorded` stands (and, when mapped, its new id in *assigned,
 * valid until the map next changes).  Counts as a use (eviction order). */
enum replay_map_state replay_map_get(struct replay_map *m, const char *recorded, const char **assigned);

size_t replay_map_size(const struct replay_map *m);
size_t replay_map_evicted(const struct replay_map *m);

#endif
