/* id_map.h - a bounded map from a record id (a call or complaint id, with
 * its stream) to a short value, for the tools that stream the log and must
 * remember a little about the records they saw without growing with the
 * log: it grows as needed up to a fixed number of entries, then refuses. */
#ifndef HOTLINE_ID_MAP_H
#define HOTLINE_ID_MAP_H

#include <stdbool.h>
#include <stddef.h>

#define ID_MAP_KEY_MAX   80 /* bytes of a key, NUL included */
#define ID_MAP_VALUE_MAX 24 /* bytes of a value, NUL included */

struct id_map;

/* NULL when out of memory.  max_entries >= 1. */
struct id_map *id_map_new(size_t max_entries);
void id_map_free(struct id_map *m);

/* The value stored under key, or NULL. */
const char *id_map_get(const struct id_map *m, const char *key);
/* Insert or replace; false when the map holds max_entries already (or is
 * out of memory) or key/value are too long. */
bool id_map_put(struct id_map *m, const char *key, const char *value);
void id_map_clear(struct id_map *m);
size_t id_map_count(const struct id_map *m);

#endif
