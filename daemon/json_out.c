#include "json_out.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* jansson's precision for reals when JSON_REAL_PRECISION is not given. */
#define DEFAULT_REAL_PRECISION 17

void json_out_init(struct json_out *o)
{
	memset(o, 0, sizeof(*o));
	o->real_precision = DEFAULT_REAL_PRECISION;
}

void json_out_free(struct json_out *o)
{
	int precision = o->real_precision;

	free(o->p);
	json_out_init(o);
	o->real_precision = precision;
}

/* Room for n more bytes and the NUL. */
static bool reserve(struct json_out *o, size_t n)
{
	size_t cap;
	char *grown;

	if (o->failed)
		return false;
	if (o->cap - o->len > n)
		return true;
	if (n > SIZE_MAX / 4 - o->len) {
		o->failed = true;
		return false;
	}
	cap = o->cap ? o->cap : 256;
	while (cap - o->len <= n)
		cap *= 2;
	grown = realloc(o->p, cap);
	if (grown == NULL) {
		o->failed = true;
		return false;
	}
	o->p = grown;
	o->cap = cap;
	return true;
}

void json_out_raw(struct json_out *o, const char *s, size_t n)
{
	if (!reserve(o, n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_char(struct json_out *o, char c)
{
	if (!reserve(o, 1))
		return;
	o->p[o->len++] = c;
	o->p[o->len] = '\0';
}

/* What jansson escapes, and how: the two mandatory ones and C0 controls
 * (short forms where JSON has them, else \u00XX in capitals). */
static void put_escape(struct json_out *o, unsigned char c)
{
	char seq[8];

	switch (c) {
	case '"':
		json_out_raw(o, "\\\"", 2);
		return;
	case '\\':
		json_out_raw(o, "\\\\", 2);
		return;
	case '\b':
		json_out_raw(o, "\\b", 2);
		return;
	case '\f':
		json_out_raw(o, "\\f", 2);
		return;
	case '\n':
		json_out_raw(o, "\\n", 2);
		return;
	case '\r':
		json_out_raw(o, "\\r", 2);
		return;
	case '\t':
		json_out_raw(o, "\\t", 2);
		return;
	default:
		snprintf(seq, sizeof(seq), "\\u%04X", c);
		json_out_raw(o, seq, 6);
	}
}

static void put_string(struct json_out *o, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	put_char(o, '"');
	while (i < len && !o->failed) {
		size_t start = i;
		bool ascii = true;

		/* A run of bytes that go out as they are. */
		while (i < len && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
			ascii &= u[i] < 0x80;
			i++;
		}
		if (!ascii && !proto_valid_utf8(s + start, i - start, NULL)) {
			o->failed = true; /* json_dumps refuses it too */
			return;
		}
		json_out_raw(o, s + start, i - start);
		if (i < len)
			put_escape(o, u[i++]);
	}
	put_char(o, '"');
}

/* jansson's jsonp_dtostr: %.<precision>g, then ".0" when it would read as
 * an integer, and no '+' or leading zeros in the exponent. */
static void put_real(struct json_out *o, double d)
{
	char buf[64], *e;
	int n;

	if (!isfinite(d)) {
		o->failed = true;
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.*g", o->real_precision > 0 ? o->real_precision : DEFAULT_REAL_PRECISION, d);
	if (n < 0 || (size_t)n >= sizeof(buf) - 3) {
		o->failed = true;
		return;
	}
	if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	e = strchr(buf, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;

		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(buf + n - end) + 1);
			n -= (int)(end - start);
		}
	}
	json_out_raw(o, buf, (size_t)n);
}

static void put_value(struct json_out *o, const json_t *v, unsigned depth)
{
	char num[32];
	int n;

	if (o->failed)
		return;
	if (depth > JSON_OUT_MAX_DEPTH) {
		o->failed = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_char(o, '{');
		for (void *it = json_object_iter((json_t *)v), *first = it; it; it = json_object_iter_next((json_t *)v, it)) {
			if (it != first)
				put_char(o, ',');
			put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
			put_char(o, ':');
			put_value(o, json_object_iter_value(it), depth + 1);
		}
		put_char(o, '}');
		return;
	case JSON_ARRAY:
		put_char(o, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				put_char(o, ',');
			put_value(o, json_array_get(v, i), depth + 1);
		}
		put_char(o, ']');
		return;
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		json_out_raw(o, num, (size_t)n);
		return;
	case JSON_REAL:
		put_real(o, json_real_value(v));
		return;
	case JSON_TRUE:
		json_out_raw(o, "true", 4);
		return;
	case JSON_FALSE:
		json_out_raw(o, "false", 5);
		return;
	case JSON_NULL:
		json_out_raw(o, "null", 4);
		return;
	}
	o->failed = true;
}

void json_out_value(struct json_out *o, const json_t *v)
{
	if (v == NULL) {
		o->failed = true;
		return;
	}
	put_value(o, v, 0);
}

char *json_out_take(struct json_out *o, size_t *len)
{
	char *p = o->p;

	if (o->failed || p == NULL) {
		json_out_free(o);
		return NULL;
	}
	if (len)
		*len = o->len;
	o->p = NULL;
	json_out_free(o);
	return p;
}

char *json_out_dumps(const json_t *v)
{
	struct json_out o;

	json_out_init(&o);
	json_out_value(&o, v);
	return json_out_take(&o, NULL);
}
