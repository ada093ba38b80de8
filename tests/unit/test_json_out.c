/* test_json_out.c - unit tests for daemon/json_out.c, the reply serializer.
 *
 * Its text must be byte for byte what jansson's json_dumps gives with the flags replies used
 * (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)), so it is compared with jansson on fixed
 * edge cases and on thousands of random values: nested objects and arrays, keys and strings with every
 * kind of byte (controls, quotes, backslashes, NUL, multi-byte UTF-8), integers at their limits, reals of
 * every magnitude.  What jansson refuses (a string that is not UTF-8) must be refused too.
 */
#include "json_out.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto.h"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void check_same(const json_t *v, const char *what)
{
	struct json_out o;
	size_t len = 0;
	char *ours, *theirs = json_dumps(v, FLAGS), *plain = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *plain_ours = json_out_dumps(v);

	/* With jansson's default precision too (what logged entries use). */
	if (!check_report(plain != NULL && plain_ours != NULL && strcmp(plain, plain_ours) == 0, __FILE__, __LINE__,
	                  "%s: json_out_dumps differs from json_dumps", what))
		fprintf(stderr, "  ours:   %s\n  jansson: %s\n", plain_ours ? plain_ours : "(null)", plain ? plain : "(null)");
	free(plain);
	free(plain_ours);
	json_out_init(&o);
	o.real_precision = 15;
	json_out_value(&o, v);
	ours = json_out_take(&o, &len);
	if (!check_report(theirs != NULL && ours != NULL && strcmp(ours, theirs) == 0 && len == strlen(theirs),
	                  __FILE__, __LINE__, "%s: json_out differs from json_dumps", what))
		fprintf(stderr, "  ours:   %s\n  jansson: %s\n", ours ? ours : "(null)", theirs ? theirs : "(null)");
	free(ours);
	free(theirs);
}

/* Random UTF-8 text with every kind of byte a string can hold. */
static json_t *random_string(void)
{
	static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f",
	                                     "\x01", "\x1f", "\x7f", "é", "王", "😀", "\xe2\x80\xa8", "long run of plain text"};
	char buf[256];
	size_t n = 0, parts = rnd() % 12;

	for (size_t i = 0; i < parts; i++) {
		const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t l = strlen(p);

		if (n + l + 1 >= sizeof(buf))
			break;
		memcpy(buf + n, p, l);
		n += l;
	}
	if (rnd() % 10 == 0 && n + 1 < sizeof(buf))
		buf[n++] = '\0'; /* an embedded NUL: \u0000 */
	return json_stringn(buf, n);
}

static double random_real(void)
{
	switch (rnd() % 6) {
	case 0:
		return (double)(int64_t)(rnd() % 2000001) - 1000000.0; /* integral: needs ".0" */
	case 1:
		return (double)(rnd() % 100000) / 100.0; /* money */
	case 2:
		return ldexp((double)(rnd() >> 11), (int)(rnd() % 2000) - 1000); /* any magnitude: exponents */
	case 3:
		return -ldexp((double)(rnd() >> 11), (int)(rnd() % 200) - 150);
	case 4:
		return 0.1 * (double)(rnd() % 7);
	default:
		return (rnd() % 2 ? DBL_MAX : DBL_MIN) * (rnd() % 2 ? 1 : -1);
	}
}

static json_t *random_value(int depth)
{
	unsigned kind = (unsigned)(rnd() % (depth > 4 ? 6 : 8));

	switch (kind) {
	case 0:
		return random_string();
	case 1: {
		static const json_int_t edges[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};

		return json_integer(rnd() % 2 ? edges[rnd() % 6] : (json_int_t)rnd());
	}
	case 2: {
		json_t *r = json_real(random_real()); /* NULL when it overflowed to infinity */

		return r ? r : json_null();
	}
	case 3:
		return json_true();
	case 4:
		return json_false();
	case 5:
		return json_null();
	case 6: {
		json_t *a = json_array();

		for (unsigned i = (unsigned)(rnd() % 6); i > 0; i--)
			json_array_append_new(a, random_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();

		for (unsigned i = (unsigned)(rnd() % 6); i > 0; i--) {
			json_t *k = random_string();

			json_object_setn_new(o, json_string_value(k), json_string_length(k), random_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

static void check_fixed(void)
{
	json_t *v, *empties[] = {json_string(""), json_object(), json_array()};

	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		check_same(empties[i], "empty value");
		json_decref(empties[i]);
	}
	v = json_pack("{s:s,s:[i,f,b,n],s:{}}", "match", "unique", "list", 5, 19.99, 1, "nested");
	check_same(v, "reply-like");
	json_decref(v);
	v = json_pack("{s:f,s:f,s:f,s:f,s:f}", "a", 1e300, "b", 1e-300, "c", 123456789012345.0, "d", 1e15, "e", 0.5);
	check_same(v, "reals");
	json_decref(v);
	/* Insertion order is kept, also after deletions and re-insertions. */
	v = json_pack("{s:i,s:i,s:i}", "z", 1, "a", 2, "m", 3);
	json_object_del(v, "a");
	json_object_set_new(v, "a", json_integer(4));
	check_same(v, "member order");
	json_decref(v);
}

static void check_refusals(void)
{
	struct json_out o;
	json_t *bad = json_stringn_nocheck("\xff\xfe", 2), *wrapped = json_pack("{s:O}", "k", bad);
	json_t *deep = json_array(), *inner = deep;

	json_out_init(&o);
	json_out_value(&o, wrapped);
	CHECK(json_out_take(&o, NULL) == NULL);
	CHECK(json_dumps(wrapped, FLAGS) == NULL); /* jansson refuses it too */
	/* Nesting past the bound is refused, not a stack overflow. */
	for (int i = 0; i < JSON_OUT_MAX_DEPTH + 5; i++) {
		json_t *next = json_array();

		json_array_append_new(inner, next);
		inner = next;
	}
	json_out_init(&o);
	json_out_value(&o, deep);
	CHECK(json_out_take(&o, NULL) == NULL);
	json_decref(deep);
	json_decref(wrapped);
	json_decref(bad);
}

/* The protocol's reply lines go through json_out. */
static void check_lines(void)
{
	json_t *body = json_pack("{s:s}", "note", "two\nlines");
	size_t len = 0;
	char *line = proto_format_ok(body, &len);

	CHECK_STR(line, "OK {\"note\":\"two\\nlines\"}\n");
	CHECK(line && len == strlen(line));
	free(line);
	line = proto_format_ok(NULL, &len);
	CHECK_STR(line, "OK\n");
	CHECK(len == 3);
	free(line);
	line = proto_format_push("bye", body, &len);
	CHECK_STR(line, "* bye {\"note\":\"two\\nlines\"}\n");
	free(line);
	line = proto_format_push("overflow", NULL, &len);
	CHECK_STR(line, "* overflow {}\n");
	free(line);
	json_decref(body);
}

int main(void)
{
	char what[64];

	check_fixed();
	check_refusals();
	check_lines();
	for (int i = 0; i < 20000; i++) {
		json_t *v = random_value(0);

		snprintf(what, sizeof(what), "random value %d", i);
		check_same(v, what);
		json_decref(v);
	}
	return check_summary("test_json_out");
}
