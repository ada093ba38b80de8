/* fuzz_util.h - small helpers shared by the libFuzzer targets (header only). */
#ifndef HOTLINE_FUZZ_UTIL_H
#define HOTLINE_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A failed property: print it and abort, so libFuzzer records a crash. */
#define FUZZ_CHECK(cond)                                                                          \
	do {                                                                                          \
		if (!(cond)) {                                                                            \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);          \
			abort();                                                                              \
		}                                                                                         \
	} while (0)

/* Deterministic chunk sizes from a seed taken from the input: 1..max, with a bias to tiny chunks. */
struct fuzz_rng {
	uint64_t s;
};

static inline uint32_t fuzz_rng_next(struct fuzz_rng *r)
{
	r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(r->s >> 33);
}

static inline size_t fuzz_chunk(struct fuzz_rng *r, size_t left)
{
	uint32_t x = fuzz_rng_next(r);
	size_t n;

	switch (x & 3) {
	case 0: n = 1; break;
	case 1: n = 1 + (x >> 2) % 8; break;
	case 2: n = 1 + (x >> 2) % 128; break;
	default: n = left; break;
	}
	return n < left ? n : left;
}

/* FNV-1a, to compare what two readings of the same input produced. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}
#define FUZZ_HASH_INIT 14695981039346656037ULL

#endif
