/* json_text.h - JSON text at the speed of the log: a strict validating
 * scanner for one flat-ish JSON object, string unescaping, integer parsing,
 * and the reverse (escaping bytes as a JSON string), all pure.
 *
 * Why not jansson: export files and entries are read a million at a time,
 * and jansson builds a tree (one allocation per key and value) for every
 * one; measured on make_log's export file, jansson spends ~7 us on a line
 * and ~4.5 us on its entry, more than everything else the audit does.  The
 * scanner allocates nothing: it checks the whole text against RFC 8259
 * (UTF-8 included, as jansson does) and hands back the top-level members as
 * spans of the text; nested objects and arrays are checked and skipped.
 * jansson stays in use wherever a tree is actually wanted.
 */
#ifndef HOTLINE_JSON_TEXT_H
#define HOTLINE_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_kind {
	JSON_K_STRING,
	JSON_K_NUMBER,
	JSON_K_OBJECT,
	JSON_K_ARRAY,
	JSON_K_TRUE,
	JSON_K_FALSE,
	JSON_K_NULL
};

/* Deeper nesting than this is refused (the log's entries are flat; the
 * deepest, a rejected write's "args", is two levels). */
#define JSON_TEXT_MAX_DEPTH 32

struct json_member {
	const char *key; /* raw, between the quotes: escapes not decoded */
	size_t key_len;
	bool key_escaped; /* key holds a backslash escape (decode with json_unescape) */
	enum json_kind kind;
	const char *value; /* raw; a string's is between the quotes */
	size_t value_len;
	bool value_escaped; /* a string value holding a backslash escape */
};

/* Check that text[0..len) is exactly one JSON object (whitespace around it
 * allowed) and store its top-level members, in order, in m[0..max).  *n is
 * the number of members (it may exceed max: the rest are checked, not
 * stored).  Returns NULL, or a short reason with *err_at the byte offset
 * where the text stopped being JSON. */
const char *json_scan_object(const char *text, size_t len, struct json_member *m, size_t max, size_t *n,
                             size_t *err_at);

/* The same for text[0..len) being exactly one JSON array: its elements, in
 * order, in m[0..max) (key NULL; a string's value is between the quotes,
 * as for members).  Used on an array member's raw value, for the few
 * entries that carry a list of objects (a lost record's "lost"). */
const char *json_scan_array(const char *text, size_t len, struct json_member *m, size_t max, size_t *n,
                            size_t *err_at);

/* Decode the raw body of a string that json_scan_object accepted into out,
 * which may be raw itself (decoding never makes it longer).  Returns the
 * decoded length; \u0000 decodes to a NUL byte. */
size_t json_unescape(const char *raw, size_t raw_len, char *out);

/* A number value that is an integer in int64 range (no fraction, no
 * exponent). */
bool json_int(const char *raw, size_t len, int64_t *out);

/* A growable byte buffer for building output. */
struct text_buf {
	char *p;
	size_t len, cap;
	bool failed; /* an allocation failed: the contents are incomplete */
};

void text_buf_add(struct text_buf *b, const void *data, size_t n);
void text_buf_addc(struct text_buf *b, char c);
void text_buf_adds(struct text_buf *b, const char *s);
void text_buf_free(struct text_buf *b);

/* Append s[0..len) as a JSON string, quotes included.  Bytes that are not
 * UTF-8 cannot be written exactly; each is written as U+FFFD and false is
 * returned (true: the string decodes back to exactly these bytes). */
bool json_escape(struct text_buf *b, const char *s, size_t len);

#endif
