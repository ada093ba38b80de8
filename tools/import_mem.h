/* import_mem.h - memory for `hotline import`: arrays that grow by doubling,
 * an arena of strings freed all at once, and the set of ids and accounts
 * seen in the file (each with the line of the row that claimed it). */
#ifndef HOTLINE_IMPORT_MEM_H
#define HOTLINE_IMPORT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Make room for need elements of size bytes in *p (capacity *cap). */
bool mem_grow(void **p, size_t *cap, size_t need, size_t size);

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

/* A copy of s in the arena *head (NULL: out of memory); arena_free frees them all. */
const char *arena_dup(struct arena_block **head, const char *s);
void arena_free(struct arena_block **head);

struct seen_slot {
	const char *key; /* NULL: free */
	uint32_t hash;
	uint32_t line; /* the row that claimed the key */
};

/* Open addressing, at most half full; keys live in an arena freed at once.
 * About 16 bytes + the key per entry, so a million ids cost ~40 MB. */
struct seen {
	struct seen_slot *slots;
	size_t cap, n;
	struct arena_block *arena;
};

/* The line of the row that claimed key, or 0. */
unsigned long seen_get(const struct seen *s, const char *key);
/* Records key for the row at line (a key already there keeps its line); false: out of memory. */
bool seen_add(struct seen *s, const char *key, unsigned long line);
void seen_free(struct seen *s);

#endif
