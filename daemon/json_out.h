/* json_out.h - compact JSON text of jansson values, fast, for what the
 * daemon writes on every request (replies, pushed lines).
 *
 * The text is byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY | JSON_REAL_PRECISION(real_precision)) gives: object
 * members in insertion order, non-ASCII left as UTF-8, '"' '\' and control
 * characters escaped, reals as jansson prints them.  It costs a fraction: jansson 2.14
 * formats each container's address with snprintf into a hash table (its
 * loop check) and decodes strings one code point at a time; here strings
 * are copied in runs and only checked for UTF-8 where they are not ASCII,
 * and nesting is bounded instead.  Pure: no I/O.
 */
#ifndef HOTLINE_JSON_OUT_H
#define HOTLINE_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define JSON_OUT_MAX_DEPTH 512

/* A growable text buffer (always NUL-terminated once anything is in it). */
struct json_out {
	char *p;
	size_t len, cap;
	bool failed; /* out of memory, or a value that has no JSON text */
	int real_precision; /* significant digits of reals: 17 (jansson's default) unless set */
};

void json_out_init(struct json_out *o);
void json_out_free(struct json_out *o);

/* Append bytes as they are. */
void json_out_raw(struct json_out *o, const char *s, size_t n);
/* Append v's JSON text.  Sets o->failed for a string that is not UTF-8, a
 * real that is not finite, nesting deeper than JSON_OUT_MAX_DEPTH, or lack
 * of memory (as json_dumps would return NULL). */
void json_out_value(struct json_out *o, const json_t *v);

/* The text (the caller frees it) and its length; NULL when anything
 * failed (and o is freed either way). */
char *json_out_take(struct json_out *o, size_t *len);

/* json_dumps(v, JSON_COMPACT) in one call (logged entries, stored JSON). */
char *json_out_dumps(const json_t *v);

#endif
