#include "bench_resp.h"

#include <stdio.h>
#include <string.h>

/* A header line "<type><text>\r\n" starting at pos: its end (after the CRLF) in *next. */
static enum resp_scan_status line_at(const char *buf, size_t len, size_t pos, size_t *text_end, size_t *next)
{
	const char *cr = memchr(buf + pos, '\r', len - pos);

	if (cr == NULL)
		return RESP_NEED_MORE;
	if ((size_t)(cr - buf) + 1 >= len)
		return RESP_NEED_MORE;
	if (cr[1] != '\n')
		return RESP_BAD;
	*text_end = (size_t)(cr - buf);
	*next = *text_end + 2;
	return RESP_REPLY;
}

static bool parse_ll(const char *s, size_t n, long long *out)
{
	long long v = 0;
	bool neg = false;
	size_t i = 0;

	if (n == 0 || n > 19)
		return false;
	if (s[0] == '-') {
		neg = true;
		i = 1;
		if (n == 1)
			return false;
	}
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

/* One value at *pos (advanced past it); fills r for the top level only. */
static enum resp_scan_status scan_value(const char *buf, size_t len, size_t *pos, unsigned depth,
                                        struct resp_reply *r)
{
	size_t text_end, next;
	enum resp_scan_status st;
	long long n;
	char type;

	if (*pos >= len)
		return RESP_NEED_MORE;
	if (depth > RESP_MAX_DEPTH)
		return RESP_BAD;
	type = buf[*pos];
	st = line_at(buf, len, *pos + 1, &text_end, &next);
	if (st != RESP_REPLY)
		return st;
	if (r) {
		r->type = type;
		r->n = 0;
		r->str = NULL;
		r->len = 0;
	}
	switch (type) {
	case '+':
	case '-':
		if (r) {
			r->str = buf + *pos + 1;
			r->len = text_end - *pos - 1;
		}
		*pos = next;
		return RESP_REPLY;
	case ':':
		if (!parse_ll(buf + *pos + 1, text_end - *pos - 1, &n))
			return RESP_BAD;
		if (r)
			r->n = n;
		*pos = next;
		return RESP_REPLY;
	case '$':
		if (!parse_ll(buf + *pos + 1, text_end - *pos - 1, &n) || n < -1 || n > 512LL * 1024 * 1024)
			return RESP_BAD;
		if (r)
			r->n = n;
		if (n == -1) {
			*pos = next;
			return RESP_REPLY;
		}
		if (len - next < (size_t)n + 2)
			return RESP_NEED_MORE;
		if (buf[next + (size_t)n] != '\r' || buf[next + (size_t)n + 1] != '\n')
			return RESP_BAD;
		if (r) {
			r->str = buf + next;
			r->len = (size_t)n;
		}
		*pos = next + (size_t)n + 2;
		return RESP_REPLY;
	case '*':
		if (!parse_ll(buf + *pos + 1, text_end - *pos - 1, &n) || n < -1 || n > 1024LL * 1024 * 1024)
			return RESP_BAD;
		if (r)
			r->n = n;
		*pos = next;
		for (long long i = 0; i < n; i++) {
			struct resp_reply first;

			st = scan_value(buf, len, pos, depth + 1, r && i == 0 ? &first : NULL);
			if (st != RESP_REPLY)
				return st;
			if (r && i == 0 && (first.type == '$' || first.type == '+') && first.str) {
				r->str = first.str;
				r->len = first.len;
			}
		}
		return RESP_REPLY;
	default:
		return RESP_BAD;
	}
}

enum resp_scan_status resp_scan(const char *buf, size_t len, size_t *consumed, struct resp_reply *r)
{
	size_t pos = 0;
	enum resp_scan_status st = scan_value(buf, len, &pos, 0, r);

	*consumed = st == RESP_REPLY ? pos : 0;
	return st;
}

bool resp_append_command(struct bench_buf *out, int argc, const char *const *argv, const size_t *argvlen)
{
	size_t need = 16;
	char *w, *start;

	for (int i = 0; i < argc; i++)
		need += 16 + (argvlen ? argvlen[i] : strlen(argv[i])) + 2;
	w = start = bench_buf_space(out, need);
	if (w == NULL)
		return false;
	w += sprintf(w, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		size_t n = argvlen ? argvlen[i] : strlen(argv[i]);

		w += sprintf(w, "$%zu\r\n", n);
		memcpy(w, argv[i], n);
		w += n;
		*w++ = '\r';
		*w++ = '\n';
	}
	bench_buf_commit(out, (size_t)(w - start));
	return true;
}

bool resp_is(const struct resp_reply *r, const char *s)
{
	size_t n = strlen(s);

	return (r->type == '+' || r->type == '$' || r->type == '*') && r->str && r->len == n && memcmp(r->str, s, n) == 0;
}
