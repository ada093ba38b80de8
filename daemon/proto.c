/* proto.c - framing, validation, tokenising and reply formatting for the line protocol.
 *
 * Everything here is a pure function of its arguments so that it can be unit-tested and fuzzed;
 * the only state is the framer's discarding flag, owned by the caller.
 */
#include "proto.h"

#include "json_out.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void proto_framer_init(struct proto_framer *f, size_t max_line)
{
	f->max_line = max_line;
	f->discarding = false;
}

/* Drop bytes up to and including the next LF.  Returns how many bytes were dropped; the framer
 * leaves discarding mode only once that LF has been seen. */
static size_t frame_discard(struct proto_framer *f, const char *buf, size_t len)
{
	const char *lf = memchr(buf, '\n', len);

	if (!lf)
		return len;
	f->discarding = false;
	return (size_t)(lf - buf) + 1;
}

/* The overlong-line decision must not depend on how the bytes were split into reads, so it is made
 * from the first max_line + 2 bytes only: a line of exactly max_line bytes followed by CRLF is the
 * longest thing that is still acceptable. */
static size_t frame_window(size_t max_line, size_t n)
{
	if (max_line > SIZE_MAX - 2)
		return n;
	return n < max_line + 2 ? n : max_line + 2;
}

enum proto_frame_status proto_frame(struct proto_framer *f, const char *buf, size_t len, const char **line,
                                    size_t *line_len, size_t *consumed)
{
	size_t pos = 0;

	*line = NULL;
	*line_len = 0;
	/* pos == len is tested before any pointer arithmetic because buf may be NULL when len is 0. */
	while (pos < len) {
		if (f->discarding) {
			pos += frame_discard(f, buf + pos, len - pos);
			continue;
		}

		const char *rest = buf + pos;
		size_t n = len - pos;

		size_t window = frame_window(f->max_line, n);
		const char *lf = memchr(rest, '\n', window);
		if (lf) {
			size_t i = (size_t)(lf - rest);
			size_t l = (i > 0 && rest[i - 1] == '\r') ? i - 1 : i;

			if (l == 0) {
				pos += i + 1;
				continue;
			}
			if (l <= f->max_line) {
				*line = rest;
				*line_len = l;
				*consumed = pos + i + 1;
				return PROTO_LINE;
			}
			/* Only the LF is left of this line; discarding mode drops it on the next call. */
			f->discarding = true;
			*consumed = pos + i;
			return PROTO_TOO_LONG;
		}

		/* max_line + 1 bytes without LF is too long, unless the last of them is a CR that may
		 * yet turn out to be the CR of a CRLF. */
		if (n > f->max_line && (n - f->max_line >= 2 || rest[f->max_line] != '\r')) {
			f->discarding = true;
			*consumed = pos + window;
			return PROTO_TOO_LONG;
		}
		break;
	}
	*consumed = pos;
	return PROTO_NEED_MORE;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629, NUL excluded) starting at s, or 0 when the
 * bytes there are not one.  The second-byte ranges are what exclude overlongs, surrogates and code
 * points above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		need = 2;
	} else if (c < 0xf0) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	}
	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return need;
}

/* True when the 8 bytes at s are all ASCII and none is NUL: the common case for request lines.  Once
 * every byte is known to be below 0x80, adding 0x7f to each sets its top bit unless it was 0, and
 * cannot carry into the next byte, so this stays clean under integer-overflow sanitizers too. */
static bool ascii_word_clean(const unsigned char *s)
{
	const uint64_t lows = 0x7f7f7f7f7f7f7f7fu, highs = 0x8080808080808080u;
	uint64_t v;

	memcpy(&v, s, sizeof(v));
	return (v & highs) == 0 && ((v + lows) & highs) == highs;
}

bool proto_valid_utf8(const char *s, size_t len, size_t *bad_offset)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		if (len - i >= 8 && ascii_word_clean(u + i)) {
			i += 8;
			continue;
		}
		size_t n = utf8_seq_len(u + i, len - i);
		if (n == 0) {
			if (bad_offset)
				*bad_offset = i;
			return false;
		}
		i += n;
	}
	return true;
}

bool proto_find_control(const char *s, size_t len, size_t *offset, unsigned *code_point)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		unsigned cp;

		/* Only ASCII bytes and the lead byte C2 can start a control;
		 * other bytes >= 0x80 are parts of longer characters. */
		if (u[i] < 0x20 || u[i] == 0x7f)
			cp = u[i];
		else if (u[i] == 0xc2 && i + 1 < len && u[i + 1] <= 0x9f)
			cp = u[i + 1]; /* C2 80..C2 9F encode U+0080..U+009F */
		else
			continue;
		if (cp == '\t')
			continue;
		*offset = i;
		*code_point = cp;
		return true;
	}
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

void proto_skip_space(const char **cursor, size_t *remaining)
{
	while (*remaining > 0 && is_space(**cursor)) {
		(*cursor)++;
		(*remaining)--;
	}
}

bool proto_next_token(const char **cursor, size_t *remaining, struct proto_token *tok)
{
	size_t n = 0;

	proto_skip_space(cursor, remaining);
	if (*remaining == 0)
		return false;
	while (n < *remaining && !is_space((*cursor)[n]))
		n++;
	tok->p = *cursor;
	tok->len = n;
	*cursor += n;
	*remaining -= n;
	return true;
}

/* ASCII-only on purpose: the locale must not change how commands are recognised. */
static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

bool proto_token_is(const struct proto_token *tok, const char *word)
{
	size_t i;

	for (i = 0; i < tok->len; i++) {
		if (word[i] == '\0' ||
		    ascii_lower((unsigned char)tok->p[i]) != ascii_lower((unsigned char)word[i]))
			return false;
	}
	return word[i] == '\0';
}

/* Make text safe to put on the wire: control bytes become spaces so it stays one line, and bytes
 * that are not well-formed UTF-8 become '?' so clients that decode replies strictly don't choke. */
static void sanitise(char *s, size_t len)
{
	unsigned char *u = (unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		if (u[i] < 0x20 || u[i] == 0x7f) {
			u[i++] = ' ';
			continue;
		}
		size_t n = utf8_seq_len(u + i, len - i);
		if (n == 0) {
			u[i++] = '?';
			continue;
		}
		i += n;
	}
}

/* what == NULL means the detail is the whole message and pos is meaningless. */
static void set_error(struct proto_error *err, const char *what, size_t pos, const char *detail)
{
	int n;

	err->code = ERR_BAD_REQUEST;
	if (what)
		n = snprintf(err->message, sizeof(err->message), "%s at position %zu: %s", what, pos, detail);
	else
		n = snprintf(err->message, sizeof(err->message), "%s", detail);
	if (n < 0) {
		err->message[0] = '\0';
		return;
	}
	/* If snprintf had to truncate inside a multi-byte character, sanitise turns the fragment into
	 * '?', so the message stays valid UTF-8. */
	sanitise(err->message, strlen(err->message));
}

static bool only_space(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_space(text[i]))
			return false;
	}
	return true;
}

static size_t add_saturating(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

json_t *proto_parse_json_object(const char *text, size_t len, size_t offset_in_line, bool allow_empty,
                                struct proto_error *err)
{
	json_error_t jerr;
	json_t *obj;

	if (only_space(text, len)) {
		if (allow_empty) {
			obj = json_object();
			if (!obj)
				set_error(err, NULL, 0, "out of memory");
			return obj;
		}
		set_error(err, NULL, 0, "missing JSON object argument");
		return NULL;
	}

	/* Without JSON_DECODE_ANY jansson insists on an object or array at the top level and, without
	 * JSON_DISABLE_EOF_CHECK, on nothing but whitespace after it. */
	obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		/* jansson's position is the number of bytes it consumed, i.e. just past the offending
		 * token. */
		size_t pos = add_saturating(offset_in_line, jerr.position > 0 ? (size_t)jerr.position : 0);
		const char *what =
		    json_error_code(&jerr) == json_error_duplicate_key ? "duplicate key" : "invalid JSON";
		set_error(err, what, pos, jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		set_error(err, NULL, 0, "arguments must be a JSON object");
		return NULL;
	}
	return obj;
}

/* Concatenate the pieces and a final LF into one heap string. */
static char *join_line(const char *const *parts, size_t nparts, size_t *out_len)
{
	size_t total = 1;
	char *out, *p;

	for (size_t i = 0; i < nparts; i++) {
		size_t l = strlen(parts[i]);
		if (l > SIZE_MAX - total)
			return NULL;
		total += l;
	}
	if (total == SIZE_MAX)
		return NULL;
	out = malloc(total + 1);
	if (!out)
		return NULL;
	p = out;
	for (size_t i = 0; i < nparts; i++) {
		size_t l = strlen(parts[i]);
		memcpy(p, parts[i], l);
		p += l;
	}
	*p++ = '\n';
	*p = '\0';
	if (out_len)
		*out_len = total;
	return out;
}

/* 15 significant digits: revenue 19.99 stays 19.99, not 19.989999999999998. */
#define REPLY_REAL_PRECISION 15

/* "<head><json>\n" in one allocation.  Compact JSON escapes every control character inside strings, so
 * the line is a single line; a scalar body is written as it is (json_out never refuses one for being a
 * scalar).  NULL when the body has no JSON text (a string that is not UTF-8) or memory ran out. */
static char *format_line(const char *head, const json_t *body, size_t *out_len)
{
	struct json_out o;

	json_out_init(&o);
	o.real_precision = REPLY_REAL_PRECISION;
	json_out_raw(&o, head, strlen(head));
	if (body)
		json_out_value(&o, body);
	json_out_raw(&o, "\n", 1);
	return json_out_take(&o, out_len);
}

char *proto_format_ok(const json_t *body, size_t *out_len)
{
	return format_line(body ? "OK " : "OK", body, out_len);
}

static char *dup_sanitised(const char *s)
{
	size_t len = strlen(s);
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len + 1);
		sanitise(d, len);
	}
	return d;
}

char *proto_format_err(const char *code, const char *message, size_t *out_len)
{
	char *c, *m, *out = NULL;

	if (!code || !*code)
		code = ERR_INTERNAL;
	/* The message is mandatory on the wire so clients can always split "ERR <code> <message>". */
	if (!message || !*message)
		message = code;
	c = dup_sanitised(code);
	m = dup_sanitised(message);
	if (c && m) {
		const char *parts[] = {"ERR ", c, " ", m};
		out = join_line(parts, 4, out_len);
	}
	free(c);
	free(m);
	return out;
}

char *proto_format_push(const char *kind, const json_t *body, size_t *out_len)
{
	struct json_out o;
	char *k = dup_sanitised(kind ? kind : "");

	if (k == NULL)
		return NULL;
	json_out_init(&o);
	o.real_precision = REPLY_REAL_PRECISION;
	json_out_raw(&o, "* ", 2);
	json_out_raw(&o, k, strlen(k));
	json_out_raw(&o, " ", 1);
	/* A push always carries a JSON value so clients can parse every push the same way. */
	if (body)
		json_out_value(&o, body);
	else
		json_out_raw(&o, "{}", 2);
	json_out_raw(&o, "\n", 1);
	free(k);
	return json_out_take(&o, out_len);
}
