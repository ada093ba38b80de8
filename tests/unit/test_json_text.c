/* The allocation-free JSON scanner, unescaper and escaper (tools/json_text.c):
 * accepts what RFC 8259 accepts and jansson accepts, refuses the rest with
 * the offset where it went wrong, and round-trips any UTF-8 bytes exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"

#include "check.h"

static const char *scan(const char *text, struct json_member *m, size_t max, size_t *n)
{
	size_t at;

	return json_scan_object(text, strlen(text), m, max, n, &at);
}

static bool member_is(const struct json_member *m, const char *key, enum json_kind kind, const char *raw)
{
	return m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0 && m->kind == kind &&
	       m->value_len == strlen(raw) && memcmp(m->value, raw, m->value_len) == 0;
}

static void members(void)
{
	struct json_member m[8];
	size_t n;

	CHECK(scan(" {\"a\":\"x\",\"b\" : 12 "
	           ",\"c\":{\"d\":[1,2,{\"e\":null}]},\"f\":true,\"g\":false,\"h\":null,"
	           "\"i\":-0.5e+3,\"j\":[]}\n",
	           m, 8, &n) == NULL);
	CHECK(n == 8);
	CHECK(member_is(&m[0], "a", JSON_K_STRING, "x"));
	CHECK(member_is(&m[1], "b", JSON_K_NUMBER, "12"));
	CHECK(member_is(&m[2], "c", JSON_K_OBJECT, "{\"d\":[1,2,{\"e\":null}]}"));
	CHECK(member_is(&m[3], "f", JSON_K_TRUE, "true"));
	CHECK(member_is(&m[4], "g", JSON_K_FALSE, "false"));
	CHECK(member_is(&m[5], "h", JSON_K_NULL, "null"));
	CHECK(member_is(&m[6], "i", JSON_K_NUMBER, "-0.5e+3"));
	CHECK(member_is(&m[7], "j", JSON_K_ARRAY, "[]"));
	CHECK(!m[0].value_escaped && !m[0].key_escaped);
	CHECK(scan("{}", m, 8, &n) == NULL && n == 0);
	CHECK(scan("{\"k\\u0041\":\"a\\\"b\"}", m, 8, &n) == NULL && n == 1 && m[0].key_escaped &&
	      m[0].value_escaped);
}

static void refusals(void)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "\"s\"",
	    "{",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\":1}x",
	    "{\"a\":01}",
	    "{\"a\":1.}",
	    "{\"a\":.5}",
	    "{\"a\":-}",
	    "{\"a\":1e}",
	    "{\"a\":tru}",
	    "{\"a\":nul}",
	    "{a:1}",
	    "{\"a\":'x'}",
	    "{\"a\":\"x}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\u12G4\"}",
	    "{\"a\":\"\\ud800\"}",
	    "{\"a\":\"\\udc00\"}",
	    "{\"a\":\"\\ud800\\u0041\"}",
	    "{\"a\":\"tab\there\"}",
	    "{\"a\":\"\xff\"}",
	    "{\"a\":\"\xc0\xaf\"}",
	    "{\"a\":\"\xed\xa0\x80\"}",
	    "{\"a\":\"\xe2\x82\"}",
	    "{\"a\":[1 2]}",
	    "{\"a\":{\"b\" 1}}",
	    "{\"a\":1 \"b\":2}",
	};
	struct json_member m[4];
	size_t n, at;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = json_scan_object(bad[i], strlen(bad[i]), m, 4, &n, &at);
		json_t *j = json_loadb(bad[i], strlen(bad[i]), JSON_ALLOW_NUL, NULL);

		if (!check_report(why != NULL, __FILE__, __LINE__, "accepted bad text #%zu: %s", i, bad[i]))
			continue;
		CHECK(at <= strlen(bad[i]));
		/* jansson agrees that none of these is a JSON object */
		CHECK(j == NULL || !json_is_object(j));
		json_decref(j);
	}
	/* nesting is bounded */
	char deep[200] = "{\"a\":";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	CHECK(json_scan_object(deep, strlen(deep), m, 4, &n, &at) != NULL);
	/* members beyond max are checked and counted, not stored */
	CHECK(scan("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6}", m, 4, &n) == NULL && n == 6);
	CHECK(scan("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":}", m, 4, &n) != NULL);
	/* the reported offset is where it went wrong */
	CHECK(json_scan_object("{\"a\":1,\"b\":x}", 13, m, 4, &n, &at) != NULL && at == 11);
}

static void unescaping(void)
{
	const char *text = "{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u4e2d\\ud83d\\ude00\\u0000z\"}";
	struct json_member m[2];
	size_t n, len;
	char out[64];

	CHECK(scan(text, m, 2, &n) == NULL && n == 1);
	len = json_unescape(m[0].value, m[0].value_len, out);
	CHECK(len == 23 &&
	      memcmp(out, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\0z", 23) == 0);
	/* in place */
	char buf[] = "x\\u0041\\n";
	len = json_unescape(buf, strlen(buf), buf);
	CHECK(len == 3 && memcmp(buf, "xA\n", 3) == 0);
}

static void integers(void)
{
	int64_t v;

	CHECK(json_int("0", 1, &v) && v == 0);
	CHECK(json_int("-42", 3, &v) && v == -42);
	CHECK(json_int("9223372036854775807", 19, &v) && v == INT64_MAX);
	CHECK(json_int("-9223372036854775808", 20, &v) && v == INT64_MIN);
	CHECK(!json_int("9223372036854775808", 19, &v));
	CHECK(!json_int("1.5", 3, &v));
	CHECK(!json_int("1e3", 3, &v));
	CHECK(!json_int("-", 1, &v));
	CHECK(!json_int("", 0, &v));
}

/* Escaping then scanning gives back the same bytes, for every byte value. */
static void round_trip(void)
{
	struct text_buf b = {0};
	char bytes[256 + 8], out[2048];
	struct json_member m[2];
	size_t n, at, len;

	for (int i = 0; i < 256; i++)
		bytes[i] = (char)i;
	/* ASCII and control characters: exact */
	text_buf_adds(&b, "{\"v\":");
	CHECK(json_escape(&b, bytes, 128));
	text_buf_addc(&b, '}');
	CHECK(!b.failed);
	CHECK(json_scan_object(b.p, b.len, m, 2, &n, &at) == NULL && n == 1);
	len = json_unescape(m[0].value, m[0].value_len, out);
	CHECK(len == 128 && memcmp(out, bytes, 128) == 0);
	/* jansson reads the same thing */
	json_t *j = json_loadb(b.p, b.len, JSON_ALLOW_NUL, NULL);
	CHECK(j && json_string_length(json_object_get(j, "v")) == 128 &&
	      memcmp(json_string_value(json_object_get(j, "v")), bytes, 128) == 0);
	json_decref(j);
	text_buf_free(&b);

	/* valid UTF-8 passes through; a stray byte becomes U+FFFD and says so */
	CHECK(json_escape(&b, "\xe4\xb8\xad\xf0\x9f\x98\x80", 7));
	CHECK(b.len == 9 && memcmp(b.p, "\"\xe4\xb8\xad\xf0\x9f\x98\x80\"", 9) == 0);
	text_buf_free(&b);
	CHECK(!json_escape(&b,
	                   "a\xff"
	                   "b",
	                   3));
	CHECK(b.len == 7 && memcmp(b.p,
	                           "\"a\xef\xbf\xbd"
	                           "b\"",
	                           7) == 0);
	text_buf_free(&b);
}

static void arrays(void)
{
	const char *text = " [ {\"seq\":1,\"id\":\"1-0\"} , \"a\\nb\", 7, [], null ] ";
	const char *bad[] = {"", "{}", "[", "[1,]", "[1 2]", "[1] x", "[\"a]", "[{\"a\"}]", "[,]"};
	struct json_member m[3];
	size_t n, at;

	CHECK(json_scan_array(text, strlen(text), m, 3, &n, &at) == NULL);
	CHECK(n == 5); /* counted beyond max, stored up to it */
	CHECK(m[0].kind == JSON_K_OBJECT && m[0].key == NULL && m[0].value_len == 20 &&
	      memcmp(m[0].value, "{\"seq\":1,\"id\":\"1-0\"}", 20) == 0);
	CHECK(m[1].kind == JSON_K_STRING && m[1].value_escaped && m[1].value_len == 4 &&
	      memcmp(m[1].value, "a\\nb", 4) == 0);
	CHECK(m[2].kind == JSON_K_NUMBER && m[2].value_len == 1 && m[2].value[0] == '7');
	CHECK(json_scan_array("[]", 2, m, 3, &n, &at) == NULL && n == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(json_scan_array(bad[i], strlen(bad[i]), m, 3, &n, &at) != NULL);
	CHECK(json_scan_array("[1,]", 4, m, 3, &n, &at) != NULL && at == 3);
}

int main(void)
{
	members();
	refusals();
	unescaping();
	integers();
	round_trip();
	arrays();
	return check_summary("json_text");
}
