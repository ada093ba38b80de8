/* fuzz_line.c - the line protocol (daemon/proto.c): framing over random chunk splits, UTF-8
 * validation, tokens, the JSON argument object, and reply formatting.
 *
 * Input: byte 0 picks max_line, byte 1 seeds the chunk splits, the rest is what a client sends.
 * Properties checked (beyond "no crash, no ASan/UBSan report"):
 *   - the lines and line_too_long events do not depend on where the input was split;
 *   - a line has no LF, is 1..max_line bytes, does not end in CR before its LF was dropped;
 *   - the framer never holds more than max_line + 2 bytes undecided;
 *   - every reply from proto_format_ok / _err / _push is exactly one line ending in LF;
 *   - OK <json> round-trips to an equal object (reals to 15 significant digits, as replies are
 *     written: daemon/proto.c REPLY_REAL_PRECISION).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "proto.h"

static void check_one_line(const char *reply, size_t len, const char *prefix)
{
	FUZZ_CHECK(reply != NULL);
	FUZZ_CHECK(len >= 1 && reply[len - 1] == '\n');
	FUZZ_CHECK(reply[len] == '\0');
	FUZZ_CHECK(memchr(reply, '\n', len - 1) == NULL);
	FUZZ_CHECK(memchr(reply, '\r', len) == NULL);
	FUZZ_CHECK(memchr(reply, '\0', len) == NULL);
	FUZZ_CHECK(strncmp(reply, prefix, strlen(prefix)) == 0);
}

/* json_equal, except that reals are equal when they print the same with 15 significant digits:
 * a reply keeps 19.99 as 19.99, so 0.5333333333333333e-22 comes back as 5.33333333333333e-23. */
static bool equal_as_replied(const json_t *a, const json_t *b)
{
	if (json_is_real(a) && json_is_real(b)) {
		char x[40], y[40];

		snprintf(x, sizeof(x), "%.15g", json_real_value(a));
		snprintf(y, sizeof(y), "%.15g", json_real_value(b));
		return strcmp(x, y) == 0;
	}
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, v) {
			const json_t *w = json_object_get(b, k);

			if (w == NULL || !equal_as_replied(v, w))
				return false;
		}
		return true;
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!equal_as_replied(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static void check_ok_roundtrip(const json_t *body)
{
	size_t len = 0;
	char *reply = proto_format_ok(body, &len);

	check_one_line(reply, len, "OK");
	if (body) {
		FUZZ_CHECK(len > 4 && reply[2] == ' ');
		json_error_t jerr;
		json_t *back = json_loadb(reply + 3, len - 4, JSON_REJECT_DUPLICATES, &jerr);
		FUZZ_CHECK(back != NULL);
		FUZZ_CHECK(equal_as_replied(back, body));
		json_decref(back);
	} else {
		FUZZ_CHECK(len == 3);
	}
	free(reply);

	reply = proto_format_push("calls", body, &len);
	if (reply) /* NULL only when body cannot be dumped */
		check_one_line(reply, len, "* calls ");
	free(reply);
}

static void check_err(const char *code, const char *message)
{
	size_t len = 0;
	char *reply = proto_format_err(code, message, &len);

	check_one_line(reply, len, "ERR ");
	free(reply);
}

/* Everything the connection layer does with one framed line before it reaches a handler. */
static void handle_line(const char *line, size_t len, bool allow_empty)
{
	size_t bad = (size_t)-1;
	struct proto_error err;

	if (!proto_valid_utf8(line, len, &bad)) {
		FUZZ_CHECK(bad < len);
		check_err(ERR_BAD_REQUEST, "request is not valid UTF-8");
		return;
	}
	FUZZ_CHECK(memchr(line, '\0', len) == NULL);
	{
		size_t at = (size_t)-1;
		unsigned cp = 0;

		if (proto_find_control(line, len, &at, &cp)) {
			FUZZ_CHECK(at < len && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) && cp != '\t');
			check_err(ERR_BAD_REQUEST, "control character");
			return;
		}
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK(((unsigned char)line[i] >= 0x20 || line[i] == '\t') && line[i] != 0x7f);
	}

	const char *cur = line;
	size_t rem = len;
	struct proto_token tok[2];
	size_t ntok = 0;

	while (ntok < 2 && proto_next_token(&cur, &rem, &tok[ntok])) {
		const struct proto_token *t = &tok[ntok];
		FUZZ_CHECK(t->p >= line && t->len > 0 && t->p + t->len <= line + len);
		FUZZ_CHECK(memchr(t->p, ' ', t->len) == NULL && memchr(t->p, '\t', t->len) == NULL);
		FUZZ_CHECK(cur >= t->p + t->len && cur + rem == line + len);
		(void)proto_token_is(t, "PING");
		(void)proto_token_is(t, "call");
		ntok++;

		/* The rest after the verb (POP {...}) and after verb + action (CALL offer {...}). */
		const char *rest = cur;
		size_t rest_len = rem;
		proto_skip_space(&rest, &rest_len);
		FUZZ_CHECK(rest + rest_len == line + len);
		memset(&err, 0, sizeof(err));
		json_t *obj = proto_parse_json_object(rest, rest_len, (size_t)(rest - line), allow_empty, &err);
		if (obj) {
			FUZZ_CHECK(json_is_object(obj));
			check_ok_roundtrip(obj);
			json_decref(obj);
		} else {
			FUZZ_CHECK(err.code != NULL);
			FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL);
			FUZZ_CHECK(strchr(err.message, '\n') == NULL && strchr(err.message, '\r') == NULL);
			check_err(err.code, err.message);
		}
	}
	if (ntok == 0)
		FUZZ_CHECK(rem == 0 || strspn(cur, " \t") >= rem);

	/* The whole client line echoed in an error message must still give one reply line. */
	char *copy = malloc(len + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, line, len);
	copy[len] = '\0';
	check_err(ERR_UNKNOWN_COMMAND, copy);
	check_err(copy, copy);
	free(copy);
}

/* Frame data[0..size) fed in chunks (seeded by rng_seed, or whole when rng is NULL); returns a hash
 * of the events, and handles each line when handle is true. */
static uint64_t run_framer(const uint8_t *data, size_t size, size_t max_line, struct fuzz_rng *rng,
                           bool handle, bool allow_empty)
{
	struct proto_framer f;
	uint64_t h = FUZZ_HASH_INIT;
	char *buf = malloc(size + 1);
	size_t have = 0, fed = 0;
	size_t guard = 0;

	FUZZ_CHECK(buf != NULL);
	proto_framer_init(&f, max_line);
	while (fed < size) {
		size_t n = rng ? fuzz_chunk(rng, size - fed) : size - fed;
		memcpy(buf + have, data + fed, n);
		have += n;
		fed += n;
		for (;;) {
			const char *line = (const char *)1;
			size_t line_len = 12345, consumed = (size_t)-1;
			enum proto_frame_status st = proto_frame(&f, buf, have, &line, &line_len, &consumed);

			FUZZ_CHECK(++guard < 4 * (size + 16));
			FUZZ_CHECK(consumed <= have);
			if (st == PROTO_LINE) {
				FUZZ_CHECK(line >= buf && line_len >= 1 && line_len <= max_line);
				FUZZ_CHECK(line + line_len < buf + consumed);
				FUZZ_CHECK(memchr(line, '\n', line_len) == NULL);
				FUZZ_CHECK(buf[consumed - 1] == '\n');
				h = fuzz_hash(h, "L", 1);
				h = fuzz_hash(h, &line_len, sizeof(line_len));
				h = fuzz_hash(h, line, line_len);
				if (handle)
					handle_line(line, line_len, allow_empty);
			} else if (st == PROTO_TOO_LONG) {
				h = fuzz_hash(h, "T", 1);
			} else {
				FUZZ_CHECK(st == PROTO_NEED_MORE);
			}
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
			if (st == PROTO_NEED_MORE) {
				/* Never needs more than max_line + 2 bytes to decide. */
				FUZZ_CHECK(have <= max_line + 1);
				break;
			}
		}
	}
	free(buf);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_lines[] = {1, 2, 3, 8, 64, 1024, 65536};
	if (size < 2)
		return 0;
	size_t max_line = max_lines[data[0] % (sizeof(max_lines) / sizeof(max_lines[0]))];
	bool allow_empty = (data[0] & 0x80) != 0;
	struct fuzz_rng rng = {.s = data[1]};

	data += 2;
	size -= 2;
	uint64_t whole = run_framer(data, size, max_line, NULL, true, allow_empty);
	uint64_t split = run_framer(data, size, max_line, &rng, false, allow_empty);
	FUZZ_CHECK(whole == split);
	return 0;
}
