/* test_proto.c - unit tests for daemon/proto.c: framing, UTF-8, tokens, JSON arguments, replies.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fsanitize=address,undefined -Idaemon \
 *        daemon/proto.c tests/unit/test_proto.c -ljansson -o /tmp/test_proto
 */
#include "proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Literal with its length, so embedded NULs survive. */
#define S(lit) lit, sizeof(lit) - 1

/* ---- framing ------------------------------------------------------------------------------------------ */

/* An accumulating connection buffer driven the way conn.c drives it: append what was read, then call
 * proto_frame until it needs more.  Events are recorded as "<line>|" or "!|" for PROTO_TOO_LONG. */
struct feed {
	struct proto_framer f;
	char buf[1024];
	size_t len;
	char out[8192];
	size_t out_len;
	bool broken; /* a contract violation was seen (reported on stderr) */
};

static void feed_init(struct feed *fd, size_t max_line)
{
	memset(fd, 0, sizeof(*fd));
	proto_framer_init(&fd->f, max_line);
}

static void feed_record(struct feed *fd, const char *p, size_t n)
{
	if (fd->out_len + n > sizeof(fd->out)) {
		fd->broken = true;
		return;
	}
	memcpy(fd->out + fd->out_len, p, n);
	fd->out_len += n;
}

static void feed_drop(struct feed *fd, size_t n)
{
	memmove(fd->buf, fd->buf + n, fd->len - n);
	fd->len -= n;
}

/* Returns false when the framer wants more input. */
static bool feed_step(struct feed *fd)
{
	const char *line = NULL;
	size_t line_len = 12345, consumed = 12345;
	enum proto_frame_status st = proto_frame(&fd->f, fd->buf, fd->len, &line, &line_len, &consumed);

	if (consumed > fd->len) {
		fprintf(stderr, "  consumed %zu > len %zu\n", consumed, fd->len);
		fd->broken = true;
		return false;
	}
	if (st == PROTO_LINE) {
		if (line < fd->buf || line + line_len > fd->buf + consumed || line_len == 0) {
			fd->broken = true;
			return false;
		}
		feed_record(fd, line, line_len);
		feed_record(fd, "|", 1);
	} else if (st == PROTO_TOO_LONG) {
		feed_record(fd, "!|", 2);
	}
	feed_drop(fd, consumed);
	if (st != PROTO_NEED_MORE)
		return true;
	/* The header promises a decision within max_line + 2 bytes, and discarding keeps nothing. */
	if (fd->len > fd->f.max_line + 1 || (fd->f.discarding && fd->len != 0)) {
		fprintf(stderr, "  NEED_MORE left %zu bytes buffered (max_line %zu, discarding %d)\n",
		        fd->len, fd->f.max_line, fd->f.discarding);
		fd->broken = true;
	}
	return false;
}

static void feed_bytes(struct feed *fd, const char *data, size_t n)
{
	if (fd->len + n > sizeof(fd->buf)) {
		fd->broken = true;
		return;
	}
	memcpy(fd->buf + fd->len, data, n);
	fd->len += n;
	for (int guard = 0; feed_step(fd); guard++) {
		if (guard > 10000) {
			fd->broken = true;
			return;
		}
	}
}

/* Feed input in chunks of at most chunk bytes (0 = all at once); append the events to out. */
static bool run_chunks(size_t max_line, const char *in, size_t in_len, size_t chunk, char *out,
                       size_t *out_len)
{
	struct feed fd;

	feed_init(&fd, max_line);
	for (size_t off = 0; off < in_len;) {
		size_t n = (chunk == 0 || in_len - off < chunk) ? in_len - off : chunk;
		feed_bytes(&fd, in + off, n);
		off += n;
	}
	memcpy(out, fd.out, fd.out_len);
	*out_len = fd.out_len;
	return !fd.broken;
}

static bool same_events(const char *what, const char *got, size_t got_len, const char *want, size_t want_len)
{
	if (got_len == want_len && memcmp(got, want, got_len) == 0)
		return true;
	fprintf(stderr, "  %s: got \"%.*s\", want \"%.*s\"\n", what, (int)got_len, got, (int)want_len, want);
	return false;
}

/* The events must not depend on how the input was split across reads: try it whole, a byte at a
 * time, and at every two-chunk split point. */
static bool frames_ok(size_t max_line, const char *in, size_t in_len, const char *want, size_t want_len)
{
	static char out[8192];
	size_t out_len;
	bool ok = true;

	ok &= run_chunks(max_line, in, in_len, 0, out, &out_len) &&
	      same_events("whole", out, out_len, want, want_len);
	ok &= run_chunks(max_line, in, in_len, 1, out, &out_len) &&
	      same_events("bytewise", out, out_len, want, want_len);
	for (size_t split = 1; split < in_len && ok; split++) {
		struct feed fd;
		feed_init(&fd, max_line);
		feed_bytes(&fd, in, split);
		feed_bytes(&fd, in + split, in_len - split);
		ok &= !fd.broken && same_events("split", fd.out, fd.out_len, want, want_len);
	}
	return ok;
}

#define FRAMES(max, in, want) frames_ok((max), S(in), S(want))

static void test_frame_basic(void)
{
	struct proto_framer f;
	const char *line;
	size_t len, consumed;
	static const char one[] = "PING\n";
	static const char crlf[] = "PING\r\n";

	proto_framer_init(&f, 16);
	CHECK(f.max_line == 16 && !f.discarding);
	CHECK(proto_frame(&f, one, 5, &line, &len, &consumed) == PROTO_LINE);
	CHECK(line == one && len == 4 && consumed == 5);
	CHECK(proto_frame(&f, crlf, 6, &line, &len, &consumed) == PROTO_LINE);
	CHECK(line == crlf && len == 4 && consumed == 6);
	CHECK(proto_frame(&f, "PIN", 3, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 0);
	CHECK(proto_frame(&f, "PING\r", 5, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 0);
	CHECK(proto_frame(&f, NULL, 0, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 0);
	/* Empty lines are consumed even when no line follows, so they never pile up in the buffer. */
	CHECK(proto_frame(&f, "\n\r\n\nab", 6, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 4);
	CHECK(proto_frame(&f, "\r\n\nab\n", 6, &line, &len, &consumed) == PROTO_LINE);
	CHECK(len == 2 && memcmp(line, "ab", 2) == 0 && consumed == 6);
	CHECK(!f.discarding);
}

static void test_frame_sequences(void)
{
	CHECK(FRAMES(16, "PING\n", "PING|"));
	CHECK(FRAMES(16, "PING\r\n", "PING|"));
	CHECK(FRAMES(16, "one\ntwo\r\nthree\n", "one|two|three|"));
	CHECK(FRAMES(16, "\n\r\n\n\r\nx\n\r\n", "x|"));
	CHECK(FRAMES(16, "partial", ""));
	CHECK(FRAMES(16, "LOGIN {\"agent\":\"a1\"}\n", "!|")); /* 20 bytes > 16 */
	CHECK(FRAMES(32, "LOGIN {\"agent\":\"a1\"}\r\n", "LOGIN {\"agent\":\"a1\"}|"));
	/* A bare CR is data (the caller rejects it as a control character); only CR right before LF goes. */
	CHECK(FRAMES(16, "a\rb\n", "a\rb|"));
	CHECK(FRAMES(16, "a\r\r\n", "a\r|"));
	CHECK(FRAMES(16, "\r\r\n", "\r|"));
	CHECK(FRAMES(16, "\rx\n", "\rx|"));
	/* NUL bytes are passed through; proto_valid_utf8 is what refuses them. */
	CHECK(FRAMES(16, "a\0b\n", "a\0b|"));
}

static void test_frame_limits(void)
{
	CHECK(FRAMES(4, "abcd\n", "abcd|"));
	CHECK(FRAMES(4, "abcd\r\n", "abcd|"));
	CHECK(FRAMES(4, "abcde\n", "!|"));
	CHECK(FRAMES(4, "abcde\r\n", "!|"));
	CHECK(FRAMES(4, "abcd\rx\n", "!|"));
	CHECK(FRAMES(4, "abcd\r\r\n", "!|"));
	CHECK(FRAMES(4, "abcdefghijklmnopqrstuvwxyz\nok\n", "!|ok|"));
	CHECK(FRAMES(4, "abcdefghij\r\nok\r\nabcdefghij\nno\n", "!|ok|!|no|"));
	CHECK(FRAMES(4, "abcdefghij", "!|"));
	CHECK(FRAMES(4, "ab\nabcdefghij\n\nab\n", "ab|!|ab|"));
	CHECK(FRAMES(0, "a\n\n\r\nb\r\n", "!|!|"));
	CHECK(FRAMES(1, "a\r\nbb\nc\n", "a|!|c|"));
}

static void test_frame_too_long_once(void)
{
	struct proto_framer f;
	const char *line;
	size_t len, consumed;

	proto_framer_init(&f, 4);
	/* Decided as soon as max_line + 1 bytes are in, without waiting for the LF. */
	CHECK(proto_frame(&f, "abcde", 5, &line, &len, &consumed) == PROTO_TOO_LONG);
	CHECK(f.discarding && consumed == 5);
	CHECK(proto_frame(&f, "fgh", 3, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 3);
	CHECK(proto_frame(&f, "ijklmnopqrstuvwxyz", 18, &line, &len, &consumed) == PROTO_NEED_MORE);
	CHECK(consumed == 18 && f.discarding);
	CHECK(proto_frame(&f, "z\r\nok\n", 6, &line, &len, &consumed) == PROTO_LINE);
	CHECK(len == 2 && memcmp(line, "ok", 2) == 0 && consumed == 6 && !f.discarding);

	/* max_line + 1 bytes ending in CR: it may still be a max_line line with CRLF. */
	proto_framer_init(&f, 4);
	CHECK(proto_frame(&f, "abcd\r", 5, &line, &len, &consumed) == PROTO_NEED_MORE && consumed == 0);
	CHECK(proto_frame(&f, "abcd\r\n", 6, &line, &len, &consumed) == PROTO_LINE && len == 4);
	CHECK(proto_frame(&f, "abcd\rx", 6, &line, &len, &consumed) == PROTO_TOO_LONG && f.discarding);

	/* The LF was already in view: only it is left for discarding mode to drop. */
	proto_framer_init(&f, 4);
	CHECK(proto_frame(&f, "abcde\nok\n", 9, &line, &len, &consumed) == PROTO_TOO_LONG && consumed == 5);
	CHECK(proto_frame(&f, "\nok\n", 4, &line, &len, &consumed) == PROTO_LINE);
	CHECK(len == 2 && memcmp(line, "ok", 2) == 0 && consumed == 4 && !f.discarding);
}

/* What the framer must produce, computed the obvious way from the complete input. */
static size_t reference_frames(size_t max_line, const char *in, size_t n, char *out)
{
	size_t o = 0, start = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] != '\n')
			continue;
		size_t l = i - start;
		if (l > 0 && in[i - 1] == '\r')
			l--;
		if (l > max_line) {
			memcpy(out + o, "!|", 2);
			o += 2;
		} else if (l > 0) {
			memcpy(out + o, in + start, l);
			o += l;
			out[o++] = '|';
		}
		start = i + 1;
	}
	size_t tail = n - start;
	if (tail >= max_line + 2 || (tail == max_line + 1 && in[n - 1] != '\r')) {
		memcpy(out + o, "!|", 2);
		o += 2;
	}
	return o;
}

static uint32_t lcg(uint32_t *state)
{
	*state = (uint32_t)(((uint64_t)*state * 1103515245u + 12345u) & 0xffffffffu);
	return *state >> 16;
}

static void test_frame_random(void)
{
	static const char alphabet[] = "ab\r\n\n\0";
	uint32_t seed = 42;
	int bad = 0;

	for (int iter = 0; iter < 3000 && bad < 5; iter++) {
		char in[48], want[256], got[8192];
		size_t n = lcg(&seed) % sizeof(in), max_line = lcg(&seed) % 7, want_len, got_len;
		size_t chunk = 1 + lcg(&seed) % 5;

		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[lcg(&seed) % (sizeof(alphabet) - 1)];
		want_len = reference_frames(max_line, in, n, want);
		if (!frames_ok(max_line, in, n, want, want_len) ||
		    !run_chunks(max_line, in, n, chunk, got, &got_len) ||
		    !same_events("random chunks", got, got_len, want, want_len))
			bad++;
	}
	CHECK(bad == 0);
}

/* ---- control characters ------------------------------------------------------------------------------ */

static bool control_at(const char *s, size_t len, size_t want_off, unsigned want_cp)
{
	size_t off = 9999;
	unsigned cp = 9999;
	bool found = proto_find_control(s, len, &off, &cp);

	if (found && off == want_off && cp == want_cp)
		return true;
	fprintf(stderr, "  found=%d offset=%zu U+%04X, want offset %zu U+%04X\n", found, off, cp, want_off, want_cp);
	return false;
}

static bool no_control(const char *s, size_t len)
{
	size_t off = 9999;
	unsigned cp = 9999;

	return !proto_find_control(s, len, &off, &cp) && off == 9999 && cp == 9999;
}

#define CONTROL_AT(lit, off, cp) control_at(S(lit), (off), (cp))
#define NO_CONTROL(lit)          no_control(S(lit))

static void test_controls(void)
{
	CHECK(NO_CONTROL(""));
	CHECK(NO_CONTROL("PING\t{\"a\":1}"));
	CHECK(NO_CONTROL("\xe5\xbc\xa0\xe4\xb8\x89 \xc2\xa0\xc3\xa9 ~")); /* NBSP (U+00A0) is not a control */
	CHECK(NO_CONTROL("\xc3\x9c" "BER \xe5\x90\x8d\xe5\x89\x8d \xf0\x9f\x98\x80")); /* continuation bytes 80..9F */
	CHECK(NO_CONTROL("\xc4\x80\xe2\x80\x9f"));
	CHECK(CONTROL_AT("PI\rNG", 2, 0x0d));
	CHECK(CONTROL_AT("\x1b[2J", 0, 0x1b));
	CHECK(CONTROL_AT("HELP\x7f", 4, 0x7f));              /* DEL */
	CHECK(CONTROL_AT("PING \xc2\x9b" "2J", 5, 0x9b));     /* C1 CSI */
	CHECK(CONTROL_AT("\xc2\x80", 0, 0x80));              /* first C1 */
	CHECK(CONTROL_AT("a\xc2\x9f", 1, 0x9f));             /* last C1 */
	CHECK(CONTROL_AT("ok \xc2\xa0 then \x01", 11, 0x01));
	CHECK(proto_find_control("\0", 1, &(size_t){0}, &(unsigned){0}));
	/* Every byte value on its own. */
	for (unsigned b = 0; b < 0x80; b++) {
		char c = (char)b;
		size_t off;
		unsigned cp;
		bool want = (b < 0x20 && b != '\t') || b == 0x7f;

		CHECK(proto_find_control(&c, 1, &off, &cp) == want);
	}
}

/* ---- UTF-8 -------------------------------------------------------------------------------------------- */

static bool utf8_bad_at(const char *s, size_t len, size_t want_off)
{
	size_t off = 9999;
	bool ok = proto_valid_utf8(s, len, &off);

	if (!ok && off == want_off)
		return true;
	fprintf(stderr, "  valid=%d bad_offset=%zu, want invalid at %zu\n", ok, off, want_off);
	return false;
}

static bool utf8_ok(const char *s, size_t len)
{
	size_t off = 9999;

	return proto_valid_utf8(s, len, &off) && off == 9999;
}

#define UTF8_OK(lit)       utf8_ok(S(lit))
#define UTF8_BAD(lit, off) utf8_bad_at(S(lit), (off))

static void test_utf8_valid(void)
{
	CHECK(proto_valid_utf8(NULL, 0, NULL));
	CHECK(UTF8_OK(""));
	CHECK(UTF8_OK("LOGIN {\"agent\":\"a1\",\"pin\":\"1234\"}"));
	CHECK(UTF8_OK("\xe5\xbc\xa0\xe4\xb8\x89"));                     /* 张三 */
	CHECK(UTF8_OK("NOTE {\"text\":\"\xe5\xbc\xa0\xe4\xb8\x89\"}")); /* multi-byte after the fast path */
	CHECK(UTF8_OK("\xc2\x80\xdf\xbf"));                             /* U+0080, U+07FF */
	CHECK(UTF8_OK("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf")); /* U+0800 U+D7FF U+E000 U+FFFF */
	CHECK(UTF8_OK("\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf")); /* U+10000 U+1F600 U+10FFFF */
	CHECK(UTF8_OK("\x01\x7f\t\r")); /* controls are not this check's job */
}

static void test_utf8_invalid(void)
{
	/* bad_offset is the first byte of the ill-formed sequence. */
	CHECK(UTF8_BAD("a\0b", 1));
	CHECK(UTF8_BAD("abcdefgh\0", 8));
	CHECK(UTF8_BAD("abcdefghijklmno\x80", 15));
	CHECK(UTF8_BAD("abc\0efghijklmnop", 3)); /* NUL inside an 8-byte ASCII word */
	CHECK(UTF8_BAD("abcdefghijklmno\0", 15));
	CHECK(UTF8_BAD("abcdefgh\x80ijklmnop", 8));
	CHECK(UTF8_BAD("ab\xc0\x80", 2)); /* overlong NUL */
	CHECK(UTF8_BAD("ab\xc1\xbf", 2));
	CHECK(UTF8_BAD("ab\xe0\x80\x80", 2));
	CHECK(UTF8_BAD("ab\xe0\x9f\xbf", 2)); /* overlong U+07FF */
	CHECK(UTF8_BAD("ab\xf0\x80\x80\x80", 2));
	CHECK(UTF8_BAD("ab\xf0\x8f\xbf\xbf", 2)); /* overlong U+FFFF */
	CHECK(UTF8_BAD("x\xed\xa0\x80", 1));      /* U+D800 */
	CHECK(UTF8_BAD("x\xed\xbf\xbf", 1));      /* U+DFFF */
	CHECK(UTF8_BAD("\xf4\x90\x80\x80", 0));   /* U+110000 */
	CHECK(UTF8_BAD("\xf5\x80\x80\x80", 0));
	CHECK(UTF8_BAD("\xf8\x88\x80\x80\x80", 0));
	CHECK(UTF8_BAD("ok\xfe", 2));
	CHECK(UTF8_BAD("ok\xff", 2));
	CHECK(UTF8_BAD("\xe5\xbc\xa0\xe4\xb8", 3)); /* truncated at the end */
	CHECK(UTF8_BAD("\xe4\xb8\x41", 0));         /* truncated by an ASCII 'A' */
	CHECK(UTF8_BAD("\xf0\x9f\x98", 0));
	CHECK(UTF8_BAD("a\xc3", 1));
	CHECK(UTF8_BAD("\x80", 0)); /* stray continuation bytes */
	CHECK(UTF8_BAD("a\xbf", 1));
	CHECK(UTF8_BAD("\xe5\xbc\xa0\x80", 3));
	CHECK(UTF8_BAD("\xc3\xa9\xa9", 2));
}

/* Sequence length from the lead byte's bit pattern alone; 0 for a continuation or 0xf8-0xff. */
static size_t reference_seq_len(unsigned c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 0;
}

/* An independent decoder (decode, then check ranges) to compare against the table-driven one. */
static bool reference_utf8(const unsigned char *s, size_t len, size_t *bad)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};

	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		size_t n = reference_seq_len(c);
		uint32_t cp = n == 1 ? c : c & (0x7fu >> n);
		bool ok = n != 0 && c != 0 && i + n <= len;

		for (size_t k = 1; ok && k < n; k++) {
			ok = (s[i + k] & 0xc0) == 0x80;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (ok && n > 1)
			ok = cp >= min_cp[n] && (cp < 0xd800 || cp > 0xdfff) && cp <= 0x10ffff;
		if (!ok) {
			*bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

static void test_utf8_cross_check(void)
{
	static const unsigned char tail[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
	                                     0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xf0, 0xf4, 0xff};
	const size_t nt = sizeof(tail);
	int mismatches = 0;

	for (unsigned lead = 0; lead < 256; lead++) {
		for (size_t a = 0; a < nt; a++) {
			for (size_t b = 0; b < nt; b++) {
				for (size_t c = 0; c < nt; c++) {
					unsigned char s[5] = {'x', (unsigned char)lead, tail[a], tail[b],
					                      tail[c]};
					for (size_t len = 1; len <= 5; len++) {
						size_t b1 = 777, b2 = 777;
						bool v1 = proto_valid_utf8((const char *)s, len, &b1);
						bool v2 = reference_utf8(s, len, &b2);
						if (v1 != v2 || (!v1 && b1 != b2))
							mismatches++;
					}
				}
			}
		}
	}
	CHECK(mismatches == 0);

	/* Longer strings, so the 8-byte ASCII fast path meets NULs and multi-byte text at every alignment. */
	static const unsigned char bytes[] = {'a',  'z',  0x00, 0x7f, 0x80, 0xbf, 0xc3, 0xa9,
	                                      0xe5, 0xbc, 0xa0, 0xed, 0xf0, 0x9f, 0xf4, 0xff};
	uint32_t seed = 1;
	mismatches = 0;
	for (int iter = 0; iter < 50000; iter++) {
		unsigned char s[40];
		size_t len = lcg(&seed) % sizeof(s), b1 = 777, b2 = 777;
		int ascii_bias = (int)(lcg(&seed) % 4);
		for (size_t i = 0; i < len; i++) {
			uint32_t r = lcg(&seed);
			s[i] = (r % 4) < (uint32_t)ascii_bias ? (unsigned char)('a' + r % 26)
			                                      : bytes[r % sizeof(bytes)];
		}
		bool v1 = proto_valid_utf8((const char *)s, len, &b1);
		bool v2 = reference_utf8(s, len, &b2);
		if (v1 != v2 || (!v1 && b1 != b2))
			mismatches++;
	}
	CHECK(mismatches == 0);
}

/* ---- tokens ------------------------------------------------------------------------------------------- */

static bool tok_eq(const struct proto_token *t, const char *want)
{
	return t->len == strlen(want) && memcmp(t->p, want, t->len) == 0;
}

static void test_tokens(void)
{
	static const char line[] = "  LOGIN\t agent-7 \t{\"a\": 1}  ";
	const char *cur = line;
	size_t rem = sizeof(line) - 1;
	struct proto_token t;

	CHECK(proto_next_token(&cur, &rem, &t) && tok_eq(&t, "LOGIN"));
	CHECK(cur == line + 7 && rem == sizeof(line) - 1 - 7); /* the cursor stops right after the token */
	CHECK(proto_next_token(&cur, &rem, &t) && tok_eq(&t, "agent-7"));
	proto_skip_space(&cur, &rem);
	CHECK(*cur == '{');
	CHECK(proto_next_token(&cur, &rem, &t) && tok_eq(&t, "{\"a\":"));
	CHECK(proto_next_token(&cur, &rem, &t) && tok_eq(&t, "1}"));
	CHECK(!proto_next_token(&cur, &rem, &t) && rem == 0);
	CHECK(!proto_next_token(&cur, &rem, &t) && rem == 0);

	cur = " \t \t";
	rem = 4;
	CHECK(!proto_next_token(&cur, &rem, &t) && rem == 0);
	cur = "";
	rem = 0;
	proto_skip_space(&cur, &rem);
	CHECK(!proto_next_token(&cur, &rem, &t));
	cur = "x";
	rem = 1;
	CHECK(proto_next_token(&cur, &rem, &t) && tok_eq(&t, "x") && rem == 0);
	/* Only space and tab separate tokens. */
	cur = "a\rb\vc";
	rem = 5;
	CHECK(proto_next_token(&cur, &rem, &t) && t.len == 5);
}

static void test_token_is(void)
{
	struct proto_token t = {"LoGiN", 5};
	struct proto_token nul = {"lo\0", 3};
	struct proto_token bracket = {"[", 1};
	struct proto_token empty = {"", 0};

	CHECK(proto_token_is(&t, "login"));
	CHECK(proto_token_is(&t, "LOGIN"));
	CHECK(!proto_token_is(&t, "log"));
	CHECK(!proto_token_is(&t, "logins"));
	CHECK(!proto_token_is(&t, "logon"));
	CHECK(!proto_token_is(&nul, "lo"));
	CHECK(!proto_token_is(&bracket, "{")); /* differ only in bit 0x20 but are not letters */
	CHECK(proto_token_is(&empty, ""));
	CHECK(!proto_token_is(&empty, "x"));
}

/* ---- JSON arguments ----------------------------------------------------------------------------------- */

static bool message_clean(const struct proto_error *err)
{
	size_t n = strnlen(err->message, sizeof(err->message));

	if (n == 0 || n >= sizeof(err->message) || !proto_valid_utf8(err->message, n, NULL))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)err->message[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return err->code && strcmp(err->code, ERR_BAD_REQUEST) == 0;
}

/* Parse the part of line after prefix_len bytes, as the dispatcher will. */
static json_t *parse_rest(const char *line, size_t line_len, size_t prefix_len, bool allow_empty,
                          struct proto_error *err)
{
	memset(err, 0, sizeof(*err));
	return proto_parse_json_object(line + prefix_len, line_len - prefix_len, prefix_len, allow_empty,
	                               err);
}

/* Expect failure with exactly this message. */
static bool json_fails(const char *line, size_t line_len, size_t prefix_len, bool allow_empty,
                       const char *want)
{
	struct proto_error err;
	json_t *j = parse_rest(line, line_len, prefix_len, allow_empty, &err);

	if (j) {
		json_decref(j);
		fprintf(stderr, "  unexpectedly parsed \"%.*s\"\n", (int)line_len, line);
		return false;
	}
	if (!message_clean(&err) || (want && strcmp(err.message, want) != 0)) {
		fprintf(stderr, "  message \"%s\", want \"%s\"\n", err.message, want ? want : "(clean)");
		return false;
	}
	return true;
}

/* Expect failure with a message containing this fragment. */
static bool json_fails_with(const char *line, size_t line_len, const char *fragment)
{
	struct proto_error err;
	json_t *j = parse_rest(line, line_len, 0, false, &err);

	if (j) {
		json_decref(j);
		return false;
	}
	if (!message_clean(&err) || !strstr(err.message, fragment)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.message, fragment);
		return false;
	}
	return true;
}

#define JSON_FAILS(line, prefix, want) json_fails(S(line), (prefix), false, (want))
#define JSON_FAILS_WITH(line, frag)    json_fails_with(S(line), (frag))

static void test_json_valid(void)
{
	static const char line[] = "LOGIN  {\"agent\":\"a1\",\"n\":2} \t";
	struct proto_error err;
	json_t *j = parse_rest(S(line), 6, false, &err);

	CHECK(json_is_object(j));
	CHECK_STR(json_string_value(json_object_get(j, "agent")), "a1");
	CHECK(json_integer_value(json_object_get(j, "n")) == 2);
	json_decref(j);

	j = parse_rest(S("NOTE {\"t\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"small\":1e-999999}"), 5, false, &err);
	CHECK_STR(json_string_value(json_object_get(j, "t")), "\xe5\xbc\xa0\xe4\xb8\x89");
	CHECK(json_is_real(json_object_get(j, "small")) &&
	      json_real_value(json_object_get(j, "small")) == 0.0);
	json_decref(j);

	j = parse_rest(S("X {\"max\":9223372036854775807}"), 2, false, &err);
	CHECK(json_integer_value(json_object_get(j, "max")) == INT64_MAX);
	json_decref(j);
}

static void test_json_empty(void)
{
	struct proto_error err;
	json_t *j;

	j = parse_rest(S("PING"), 4, true, &err);
	CHECK(json_is_object(j) && json_object_size(j) == 0);
	json_decref(j);
	j = parse_rest(S("PING  \t "), 4, true, &err);
	CHECK(json_is_object(j) && json_object_size(j) == 0);
	json_decref(j);
	j = proto_parse_json_object(NULL, 0, 0, true, &err);
	CHECK(json_is_object(j));
	json_decref(j);
	CHECK(JSON_FAILS("LOGIN", 5, "missing JSON object argument"));
	CHECK(JSON_FAILS("LOGIN \t ", 5, "missing JSON object argument"));
}

static void test_json_shape(void)
{
	CHECK(JSON_FAILS("X [1,2]", 1, "arguments must be a JSON object"));
	CHECK(JSON_FAILS("X []", 2, "arguments must be a JSON object"));
	/* Without JSON_DECODE_ANY scalars fail in the parser itself. */
	CHECK(JSON_FAILS("X 1", 1, "invalid JSON at position 3: '[' or '{' expected near '1'"));
	CHECK(JSON_FAILS("X \"s\"", 1, "invalid JSON at position 5: '[' or '{' expected near '\"s\"'"));
	CHECK(JSON_FAILS("X {\"a\":1,\"a\":2}", 2,
	                 "duplicate key at position 12: duplicate object key near '\"a\"'"));
	CHECK(JSON_FAILS_WITH("{\"x\":{\"a\":1,\"a\":2}}", "duplicate key"));
	CHECK(JSON_FAILS("X {\"a\":1} x", 1, "invalid JSON at position 11: end of file expected near 'x'"));
	CHECK(JSON_FAILS_WITH("{} {}", "end of file expected"));
	CHECK(JSON_FAILS_WITH("{}\0", "end of file expected"));
}

static void test_json_positions(void)
{
	/* jansson's position is the number of bytes it read: just past the offending token.  '1' is
	 * byte 12 of the line, so the position is 13; 'x' is byte 16, so 17. */
	CHECK(JSON_FAILS("ACTION {\"a\" 1}", 7, "invalid JSON at position 13: ':' expected near '1'"));
	CHECK(JSON_FAILS("CALL 123 {\"a\":1 x}", 9, "invalid JSON at position 17: '}' expected near 'x'"));
	CHECK(JSON_FAILS("{\"a\":tru}", 0, "invalid JSON at position 8: invalid token near 'tru'"));
	CHECK(JSON_FAILS("X {", 1, "invalid JSON at position 3: string or '}' expected near end of file"));
	/* The offset saturates instead of wrapping. */
	static const char bad[] = "{\"a\" 1}";
	struct proto_error err;
	CHECK(!proto_parse_json_object(S(bad), SIZE_MAX - 2, false, &err) && message_clean(&err));
	CHECK(strstr(err.message, "at position 18446744073709551615:") != NULL);
}

static void test_json_hostile(void)
{
	size_t n = 100000;
	char *deep = malloc(n);
	struct proto_error err;

	CHECK(deep != NULL);
	if (!deep)
		return;
	memset(deep, '[', n);
	CHECK(!proto_parse_json_object(deep, n, 0, false, &err) && message_clean(&err));
	CHECK_STR(err.message, "invalid JSON at position 2049: maximum parsing depth reached near '['");
	memset(deep, '{', n);
	CHECK(!proto_parse_json_object(deep, n, 0, false, &err) && message_clean(&err));

	/* JSON_PARSER_MAX_DEPTH is 2048 in jansson 2.14: an object holding 2047 nested arrays passes. */
	size_t k = 0;
	for (int d = 0; d < 2047; d++)
		deep[k++] = '[';
	for (int d = 0; d < 2047; d++)
		deep[k++] = ']';
	json_t *j = proto_parse_json_object(deep, k, 0, false, &err);
	CHECK(!j);
	CHECK_STR(err.message, "arguments must be a JSON object");
	memmove(deep + 5, deep, k);
	memcpy(deep, "{\"a\":", 5);
	deep[k + 5] = '}';
	j = proto_parse_json_object(deep, k + 6, 0, false, &err);
	CHECK(json_is_object(j));
	json_decref(j);
	free(deep);

	CHECK(JSON_FAILS("{\"a\":1e999999}", 0,
	                 "invalid JSON at position 13: real number overflow near '1e999999'"));
	CHECK(JSON_FAILS_WITH("{\"a\":-1e999999}", "real number overflow"));
	CHECK(JSON_FAILS_WITH("{\"a\":99999999999999999999}", "too big integer"));
	CHECK(JSON_FAILS_WITH("{\"a\":-99999999999999999999}", "too big negative integer"));
	CHECK(JSON_FAILS_WITH("{\"a\":9223372036854775808}", "too big integer"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"\\u0000\"}", "JSON_ALLOW_NUL"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"\xff\"}", "unable to decode byte 0xff"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"\xed\xa0\x80\"}", "invalid JSON"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"x\ty\"}", "control character 0x9"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"x\0y\"}", "control character 0x0"));
	CHECK(JSON_FAILS_WITH("{\"a\":\"x\ry\"}", "control character 0xd"));
}

/* Random garbage must never crash and every failure must carry a clean, bounded message. */
static void test_json_random(void)
{
	static const char alphabet[] = "{}[]\":,0123456789eE+-.tfnrul \t\\\xe5\xbc\xa0\xff\r\n\0";
	uint32_t seed = 7;
	int bad = 0, parsed = 0;

	for (int iter = 0; iter < 20000; iter++) {
		char in[24];
		size_t n = lcg(&seed) % sizeof(in);
		size_t off = (iter % 3 == 0) ? SIZE_MAX - lcg(&seed) % 4 : lcg(&seed) % 100;
		struct proto_error err;

		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[lcg(&seed) % (sizeof(alphabet) - 1)];
		if (n > 2 && iter % 2) {
			in[0] = '{';
			in[n - 1] = '}';
		}
		memset(&err, 0x55, sizeof(err));
		json_t *j = proto_parse_json_object(in, n, off, iter % 5 == 0, &err);
		if (j) {
			parsed += json_is_object(j);
			bad += !json_is_object(j);
			json_decref(j);
		} else if (!message_clean(&err)) {
			bad++;
		}
	}
	CHECK(bad == 0);
	CHECK(parsed > 0);
}

/* ---- reply formatting --------------------------------------------------------------------------------- */

/* The invariant every reply must satisfy: one line, exactly out_len bytes, LF only at the end. */
static bool one_line(const char *s, size_t len)
{
	if (!s || strlen(s) != len || len == 0 || s[len - 1] != '\n')
		return false;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == '\n' || s[i] == '\r')
			return false;
	}
	return true;
}

static void test_format_ok(void)
{
	size_t len = 0;
	char *s = proto_format_ok(NULL, &len);

	CHECK_STR(s, "OK\n");
	CHECK(len == 3);
	free(s);

	json_t *body = json_object();
	json_object_set_new(body, "z", json_integer(1));
	json_object_set_new(body, "a", json_string("x y"));
	s = proto_format_ok(body, &len);
	CHECK_STR(s, "OK {\"z\":1,\"a\":\"x y\"}\n"); /* insertion order is kept */
	CHECK(one_line(s, len));
	free(s);

	json_object_set_new(body, "evil", json_string("line1\nline2\r\x01\x1f end"));
	json_object_set_new(body, "name", json_string("\xe5\xbc\xa0\xe4\xb8\x89"));
	json_object_set_new(body, "nested", json_pack("{s:[s,s]}", "k", "a\n", "\r\n"));
	json_object_set_new(body, "nul", json_stringn("a\0b", 3));
	s = proto_format_ok(body, &len);
	CHECK(one_line(s, len));
	CHECK(s && strstr(s, "\"line1\\nline2\\r\\u0001\\u001F end\"") != NULL);
	CHECK(s && strstr(s, "\"\xe5\xbc\xa0\xe4\xb8\x89\"") != NULL); /* UTF-8 is sent as is */
	CHECK(s && strstr(s, "\"a\\u0000b\"") != NULL);
	free(s);
	json_decref(body);

	body = json_string("scalar");
	s = proto_format_ok(body, &len);
	CHECK_STR(s, "OK \"scalar\"\n");
	free(s);
	json_decref(body);

	body = json_array();
	s = proto_format_ok(body, NULL);
	CHECK_STR(s, "OK []\n");
	free(s);
	json_decref(body);
}

static void test_format_err(void)
{
	size_t len = 0;
	char *s = proto_format_err(ERR_BAD_REQUEST, "missing JSON object argument", &len);

	CHECK_STR(s, "ERR bad_request missing JSON object argument\n");
	CHECK(one_line(s, len));
	free(s);

	s = proto_format_err(ERR_BAD_REQUEST, "a\r\nb\x01\x7f\tc\n", &len);
	CHECK_STR(s, "ERR bad_request a  b   c \n");
	CHECK(one_line(s, len));
	free(s);

	s = proto_format_err(ERR_NOT_FOUND, "", &len);
	CHECK_STR(s, "ERR not_found not_found\n");
	free(s);
	s = proto_format_err(ERR_FORBIDDEN, NULL, &len);
	CHECK_STR(s, "ERR forbidden forbidden\n");
	CHECK(len == strlen("ERR forbidden forbidden\n"));
	free(s);

	s = proto_format_err(ERR_CONFLICT, "\xe5\xbc\xa0\xe4\xb8\x89 busy", &len);
	CHECK_STR(s, "ERR conflict \xe5\xbc\xa0\xe4\xb8\x89 busy\n");
	free(s);
	s = proto_format_err(ERR_CONFLICT, "bad \xff\xe5\xbc byte", &len);
	CHECK_STR(s, "ERR conflict bad ??? byte\n");
	CHECK(one_line(s, len));
	free(s);

	s = proto_format_err("weird\ncode", "m", &len);
	CHECK_STR(s, "ERR weird code m\n");
	free(s);
	s = proto_format_err(NULL, NULL, &len);
	CHECK_STR(s, "ERR internal internal\n");
	free(s);

	/* A parse error goes out unchanged. */
	struct proto_error err;
	CHECK(!parse_rest(S("X {\"a\" 1}"), 1, false, &err));
	s = proto_format_err(err.code, err.message, &len);
	CHECK_STR(s, "ERR bad_request invalid JSON at position 8: ':' expected near '1'\n");
	free(s);
}

static void test_format_push(void)
{
	size_t len = 0;
	json_t *body = json_pack("{s:s,s:s}", "call", "c-17", "from", "+4930123\n");
	char *s = proto_format_push("call.ringing", body, &len);

	CHECK_STR(s, "* call.ringing {\"call\":\"c-17\",\"from\":\"+4930123\\n\"}\n");
	CHECK(one_line(s, len));
	free(s);
	json_decref(body);

	s = proto_format_push("bye", NULL, &len);
	CHECK_STR(s, "* bye {}\n");
	CHECK(len == 9);
	free(s);

	body = json_object();
	s = proto_format_push("x\r\ny", body, &len);
	CHECK_STR(s, "* x  y {}\n");
	CHECK(one_line(s, len));
	free(s);
	json_decref(body);
}

int main(void)
{
	test_frame_basic();
	test_frame_sequences();
	test_frame_limits();
	test_frame_too_long_once();
	test_frame_random();
	test_controls();
	test_utf8_valid();
	test_utf8_invalid();
	test_utf8_cross_check();
	test_tokens();
	test_token_is();
	test_json_valid();
	test_json_empty();
	test_json_shape();
	test_json_positions();
	test_json_hostile();
	test_json_random();
	test_format_ok();
	test_format_err();
	test_format_push();

	return check_summary("test_proto");
}
