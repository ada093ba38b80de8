#include "json_text.h"

#include <stdlib.h>
#include <string.h>

struct scan {
	const char *p, *start, *end;
	const char *err;
};

static bool fail(struct scan *s, const char *why)
{
	if (s->err == NULL)
		s->err = why;
	return false;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at p (which has at least 4 bytes), or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_value(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629) starting at p, or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Whether any of the 8 bytes at p is '"', '\\', a control character or
 * not ASCII (bit tricks from "Bit Twiddling Hacks": a byte below n sets
 * its top bit in (v - n*ONES) & ~v; exact as to whether any byte does). */
static bool special8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t v, quote, backslash;

	memcpy(&v, p, 8);
	quote = v ^ (ones * '"');
	backslash = v ^ (ones * '\\');
	return (((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
	        v) &
	       highs;
}

/* At the opening quote: check the string, leave p after the closing one. */
static bool scan_string(struct scan *s, bool *escaped)
{
	const unsigned char *p = (const unsigned char *)s->p + 1, *end = (const unsigned char *)s->end;

	*escaped = false;
	for (;;) {
		/* The common case first: plain ASCII, eight bytes at a time. */
		while (end - p >= 8 && !special8(p))
			p += 8;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p >= end) {
			s->p = (const char *)p;
			return fail(s, "unterminated string");
		}
		if (*p == '"') {
			s->p = (const char *)p + 1;
			return true;
		}
		if (*p < 0x20) {
			s->p = (const char *)p;
			return fail(s, "control character in a string");
		}
		if (*p >= 0x80) {
			size_t n = utf8_seq(p, end);

			if (n == 0) {
				s->p = (const char *)p;
				return fail(s, "invalid UTF-8");
			}
			p += n;
			continue;
		}
		/* a backslash */
		*escaped = true;
		if (end - p < 2) {
			s->p = (const char *)p;
			return fail(s, "invalid escape");
		}
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			s->p = (const char *)p;
			return fail(s, "invalid escape");
		}
		long cp = end - p >= 6 ? hex4((const char *)p + 2) : -1;

		if (cp < 0) {
			s->p = (const char *)p;
			return fail(s, "invalid \\u escape");
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF) {
			s->p = (const char *)p;
			return fail(s, "lone low surrogate");
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			long lo =
			    end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4((const char *)p + 8) : -1;

			if (lo < 0xDC00 || lo > 0xDFFF) {
				s->p = (const char *)p;
				return fail(s, "high surrogate without its low half");
			}
			p += 12;
			continue;
		}
		p += 6;
	}
}

static bool scan_digits(struct scan *s)
{
	const char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from || fail(s, "digit expected");
}

static bool scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

static bool scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "unexpected character");
	s->p += n;
	return true;
}

static bool scan_value(struct scan *s, int depth, enum json_kind *kind);

/* At '{' or '[': check the container, leave p after its end. */
static bool scan_container(struct scan *s, int depth, bool object)
{
	char close = object ? '}' : ']';
	enum json_kind k;
	bool escaped;

	if (depth >= JSON_TEXT_MAX_DEPTH)
		return fail(s, "nested too deeply");
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		skip_ws(s);
		if (object) {
			if (s->p >= s->end || *s->p != '"')
				return fail(s, "member name expected");
			if (!scan_string(s, &escaped))
				return false;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return fail(s, "':' expected");
			s->p++;
			skip_ws(s);
		}
		if (!scan_value(s, depth + 1, &k))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return true;
		}
		return fail(s, object ? "',' or '}' expected" : "',' or ']' expected");
	}
}

static bool scan_value(struct scan *s, int depth, enum json_kind *kind)
{
	bool escaped;

	if (s->p >= s->end)
		return fail(s, "value expected");
	switch (*s->p) {
	case '"':
		*kind = JSON_K_STRING;
		return scan_string(s, &escaped);
	case '{':
		*kind = JSON_K_OBJECT;
		return scan_container(s, depth, true);
	case '[':
		*kind = JSON_K_ARRAY;
		return scan_container(s, depth, false);
	case 't':
		*kind = JSON_K_TRUE;
		return scan_literal(s, "true");
	case 'f':
		*kind = JSON_K_FALSE;
		return scan_literal(s, "false");
	case 'n':
		*kind = JSON_K_NULL;
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
			*kind = JSON_K_NUMBER;
			return scan_number(s);
		}
		return fail(s, "value expected");
	}
}

/* The value at s->p, into m's value fields (a string without its quotes). */
static bool scan_element(struct scan *s, struct json_member *m)
{
	const char *from = s->p;

	m->value_escaped = false;
	if (s->p < s->end && *s->p == '"') {
		m->kind = JSON_K_STRING;
		if (!scan_string(s, &m->value_escaped))
			return false;
		m->value = from + 1;
		m->value_len = (size_t)(s->p - from) - 2;
		return true;
	}
	if (!scan_value(s, 1, &m->kind))
		return false;
	m->value = from;
	m->value_len = (size_t)(s->p - from);
	return true;
}

/* After an element of an object or array: 1 another follows (',' taken),
 * 0 the container ends (close taken), -1 neither (s failed). */
static int after_element(struct scan *s, char close)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == ',') {
		s->p++;
		return 1;
	}
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	fail(s, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
	return -1;
}

/* An object ('{': members with names) or an array ('[': elements, which
 * get no key) at the top level of text, its elements into m. */
static const char *scan_top_level(const char *text, size_t len, char open, struct json_member *m, size_t max,
                                  size_t *n, size_t *err_at)
{
	struct scan s = {.p = text, .start = text, .end = text + len};
	const bool object = open == '{';
	const char close = object ? '}' : ']';

	*n = 0;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != open) {
		fail(&s, object ? "not a JSON object" : "not a JSON array");
		goto out;
	}
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == close) {
		s.p++;
	} else {
		for (;;) {
			struct json_member el = {0};
			int next;

			skip_ws(&s);
			if (object) {
				const char *from = s.p;

				if (s.p >= s.end || *s.p != '"') {
					fail(&s, "member name expected");
					goto out;
				}
				if (!scan_string(&s, &el.key_escaped))
					goto out;
				el.key = from + 1;
				el.key_len = (size_t)(s.p - from) - 2;
				skip_ws(&s);
				if (s.p >= s.end || *s.p != ':') {
					fail(&s, "':' expected");
					goto out;
				}
				s.p++;
				skip_ws(&s);
			}
			if (!scan_element(&s, &el))
				goto out;
			if (*n < max)
				m[*n] = el;
			(*n)++;
			next = after_element(&s, close);
			if (next < 0)
				goto out;
			if (next == 0)
				break;
		}
	}
	skip_ws(&s);
	if (s.p != s.end)
		fail(&s, object ? "text after the object" : "text after the array");
out:
	if (err_at)
		*err_at = (size_t)(s.p - s.start);
	return s.err;
}

const char *json_scan_object(const char *text, size_t len, struct json_member *m, size_t max, size_t *n,
                             size_t *err_at)
{
	return scan_top_level(text, len, '{', m, max, n, err_at);
}

const char *json_scan_array(const char *text, size_t len, struct json_member *m, size_t max, size_t *n,
                            size_t *err_at)
{
	return scan_top_level(text, len, '[', m, max, n, err_at);
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t json_unescape(const char *raw, size_t raw_len, char *out)
{
	size_t i = 0, o = 0;

	while (i < raw_len) {
		const char *bs = memchr(raw + i, '\\', raw_len - i);
		size_t plain = bs ? (size_t)(bs - (raw + i)) : raw_len - i;

		memmove(out + o, raw + i, plain);
		o += plain;
		i += plain;
		if (i >= raw_len)
			break;
		char c = raw[i + 1];

		i += 2;
		switch (c) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u': {
			unsigned long cp = (unsigned long)hex4(raw + i);

			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned long lo = (unsigned long)hex4(raw + i + 2);

				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			}
			o += put_utf8(out + o, cp);
			break;
		}
		default:
			out[o++] = c;
			break; /* " \ / */
		}
	}
	return o;
}

bool json_int(const char *raw, size_t len, int64_t *out)
{
	bool neg = len > 0 && raw[0] == '-';
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	size_t i = neg;

	if (i == len)
		return false;
	for (; i < len; i++) {
		if (raw[i] < '0' || raw[i] > '9')
			return false;
		if (v > (limit - (uint64_t)(raw[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(raw[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ---- output ---- */

static bool grow(struct text_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void text_buf_add(struct text_buf *b, const void *data, size_t n)
{
	if (n && grow(b, n)) {
		memcpy(b->p + b->len, data, n);
		b->len += n;
	}
}

void text_buf_addc(struct text_buf *b, char c)
{
	if (grow(b, 1))
		b->p[b->len++] = c;
}

void text_buf_adds(struct text_buf *b, const char *s)
{
	text_buf_add(b, s, strlen(s));
}

void text_buf_free(struct text_buf *b)
{
	free(b->p);
	*b = (struct text_buf){0};
}

bool json_escape(struct text_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	bool exact = true;

	text_buf_addc(b, '"');
	while (p < end) {
		const unsigned char *run = p;

		while (end - p >= 8 && !special8(p))
			p += 8;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		text_buf_add(b, run, (size_t)(p - run));
		if (p >= end)
			break;
		if (*p >= 0x80) {
			size_t n = utf8_seq(p, end);

			if (n == 0) {
				text_buf_add(b, "\xEF\xBF\xBD", 3);
				exact = false;
				p++;
			} else {
				text_buf_add(b, p, n);
				p += n;
			}
			continue;
		}
		switch (*p) {
		case '"':
			text_buf_add(b, "\\\"", 2);
			break;
		case '\\':
			text_buf_add(b, "\\\\", 2);
			break;
		case '\n':
			text_buf_add(b, "\\n", 2);
			break;
		case '\r':
			text_buf_add(b, "\\r", 2);
			break;
		case '\t':
			text_buf_add(b, "\\t", 2);
			break;
		case '\b':
			text_buf_add(b, "\\b", 2);
			break;
		case '\f':
			text_buf_add(b, "\\f", 2);
			break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};

			text_buf_add(b, u, sizeof(u));
		}
		}
		p++;
	}
	text_buf_addc(b, '"');
	return exact;
}
