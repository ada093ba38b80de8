/* strmap.h - a map from short strings (ids, agent and queue names) to a
 * fixed-size value, for the audit's per-call, per-complaint, per-agent and
 * per-queue state.  Open addressing with linear probing and backward-shift
 * deletion (no tombstones, so a map whose entries come and go - open calls
 * - does not degrade).  The caller supplies the key's hash (id_set.h's
 * keyed SipHash), computed once per id.  Each entry is one allocation:
 * value then key.
 */
#ifndef HOTLINE_STRMAP_H
#define HOTLINE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	uint64_t hash;
	void *entry; /* NULL = empty; value_size bytes of value, then the key */
	size_t key_len;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, count, value_size;
};

bool strmap_init(struct strmap *m, size_t value_size);
/* Frees every entry. */
void strmap_free(struct strmap *m);

/* The value of key, or NULL. */
void *strmap_get(const struct strmap *m, uint64_t hash, const char *key, size_t len);
/* The value of key, created zeroed when new (*created set); NULL when out
 * of memory. */
void *strmap_put(struct strmap *m, uint64_t hash, const char *key, size_t len, bool *created);
void strmap_del(struct strmap *m, uint64_t hash, const char *key, size_t len);

/* The key of the entry whose value is v (NUL-terminated). */
const char *strmap_key(const struct strmap *m, const void *v);

/* Visit every entry; when fn returns true the entry is deleted.  An entry
 * may be visited twice when a deletion moves it (fn must give the same
 * answer again). */
void strmap_sweep(struct strmap *m, bool (*fn)(void *arg, const char *key, void *value), void *arg);

/* The values for which pick returns true, in a new array (*out, to be
 * freed; NULL when there are none).  Returns how many, or SIZE_MAX when out
 * of memory.  For reporting in an order of the caller's choosing: the
 * table's own order depends on the hash key. */
size_t strmap_select(const struct strmap *m, bool (*pick)(void *arg, const void *value), void *arg,
                     void ***out);

#endif
