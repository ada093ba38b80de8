/* bench_resp.h - just enough RESP (the Redis protocol) for `hotline bench`:
 * encode a command, and find where one reply ends in a byte buffer without
 * building it, noting only what a load generator looks at (the type, an
 * error's text, a string, an array's first element).  Pure: no I/O, no
 * allocation, so it can be unit-tested and fuzzed. */
#ifndef HOTLINE_BENCH_RESP_H
#define HOTLINE_BENCH_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_buf.h"

#define RESP_MAX_DEPTH 8 /* nested arrays: a stream read is 4 deep */

enum resp_scan_status {
	RESP_NEED_MORE, /* no complete reply yet */
	RESP_REPLY,     /* one reply of *consumed bytes */
	RESP_BAD,       /* not RESP: the connection cannot be trusted further */
};

struct resp_reply {
	char type;       /* '+' '-' ':' '$' '*' */
	long long n;     /* ':' the integer; '$' the length (-1 nil); '*' the element count (-1 nil) */
	const char *str; /* '+' '-' '$': the text (not NUL-terminated); '*': the first element, when it
	                  * is a string; NULL otherwise */
	size_t len;
};

enum resp_scan_status resp_scan(const char *buf, size_t len, size_t *consumed, struct resp_reply *r);

/* Append one command as a RESP array of bulk strings (argvlen NULL: the
 * arguments are NUL-terminated).  False when the buffer is full. */
bool resp_append_command(struct bench_buf *out, int argc, const char *const *argv, const size_t *argvlen);

/* True when r is a string reply (simple or bulk) equal to s, or an array
 * whose first element is. */
bool resp_is(const struct resp_reply *r, const char *s);

#endif
