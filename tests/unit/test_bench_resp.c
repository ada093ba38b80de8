/* test_bench_resp.c - unit tests for tools/bench_resp.c, the RESP scanner and encoder of `hotline bench`.
 *
 * Every reply is scanned whole, then cut at every offset: a prefix must say "need more" (never a reply,
 * never "bad"), the whole must say where it ends exactly, and what it reports (type, integer, first string)
 * must be right.  Commands encoded by resp_append_command must scan back as arrays of their arguments.
 */
#include "bench_resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define S(lit) lit, sizeof(lit) - 1

static void check_reply(const char *buf, size_t len, char type, long long n, const char *str)
{
	struct resp_reply r;
	size_t used = 99;
	char *copy = malloc(len + 8);

	if (copy == NULL) {
		CHECK(!"out of memory");
		return;
	}
	/* Trailing bytes of the next reply must not change the answer. */
	memcpy(copy, buf, len);
	memcpy(copy + len, "+NEXT\r\n", 7);
	for (size_t cut = 0; cut < len; cut++) {
		enum resp_scan_status st = resp_scan(copy, cut, &used, &r);

		if (!check_report(st == RESP_NEED_MORE && used == 0, __FILE__, __LINE__,
		                  "prefix of %zu bytes of %.*s: status %d", cut, (int)len, buf, (int)st))
			break;
	}
	CHECK(resp_scan(copy, len + 7, &used, &r) == RESP_REPLY);
	CHECK(used == len);
	CHECK(r.type == type);
	CHECK(r.n == n);
	if (str) {
		CHECK(r.str && r.len == strlen(str) && memcmp(r.str, str, r.len) == 0);
	} else {
		CHECK(r.str == NULL);
	}
	free(copy);
}

static void check_bad(const char *buf, size_t len)
{
	struct resp_reply r;
	size_t used;

	CHECK(resp_scan(buf, len, &used, &r) == RESP_BAD);
}

int main(void)
{
	struct bench_buf b;
	struct resp_reply r;
	size_t used;

	check_reply(S("+PONG\r\n"), '+', 0, "PONG");
	check_reply(S("-NOSCRIPT No matching script\r\n"), '-', 0, "NOSCRIPT No matching script");
	check_reply(S(":42\r\n"), ':', 42, NULL);
	check_reply(S(":-7\r\n"), ':', -7, NULL);
	check_reply(S("$5\r\nhello\r\n"), '$', 5, "hello");
	check_reply(S("$0\r\n\r\n"), '$', 0, "");
	check_reply(S("$-1\r\n"), '$', -1, NULL);
	check_reply(S("$4\r\na\r\nb\r\n"), '$', 4, "a\r\nb"); /* binary safe */
	check_reply(S("*0\r\n"), '*', 0, NULL);
	check_reply(S("*-1\r\n"), '*', -1, NULL);
	check_reply(S("*3\r\n$2\r\nok\r\n$15\r\n1795381813307-0\r\n:0\r\n"), '*', 3, "ok");
	check_reply(S("*2\r\n$5\r\nstate\r\n*2\r\n$1\r\nv\r\n$1\r\n3\r\n"), '*', 2, "state");
	check_reply(S("*2\r\n:1\r\n$1\r\nx\r\n"), '*', 2, NULL); /* first element not a string */
	check_reply(S("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$3\r\nseq\r\n$1\r\n1\r\n"), '*', 1, NULL); /* XREVRANGE */
	check_reply(S("*2\r\n$-1\r\n$4\r\nlead\r\n"), '*', 2, NULL); /* HMGET with a missing field */

	check_bad(S("?what\r\n"));
	check_bad(S(":12a\r\n"));
	check_bad(S("$3\r\nabcd\r\n")); /* the length lies */
	check_bad(S("$-2\r\n"));
	check_bad(S("+OK\rX"));
	check_bad(S("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")); /* too deep */

	/* Encoding: an array of bulk strings, binary safe. */
	bench_buf_init(&b, 1 << 20);
	{
		const char *argv[] = {"HSET", "hotline:call:x", "note", "a b\r\nc"};
		const char *lens_argv[] = {"SET", "k\0v"};
		const size_t lens[] = {3, 3};

		CHECK(resp_append_command(&b, 4, argv, NULL));
		CHECK(resp_append_command(&b, 2, lens_argv, lens));
		CHECK(bench_buf_len(&b) == sizeof("*4\r\n$4\r\nHSET\r\n$14\r\nhotline:call:x\r\n$4\r\nnote\r\n$6\r\na b\r\nc\r\n") - 1 +
		                               sizeof("*2\r\n$3\r\nSET\r\n$3\r\nk\0v\r\n") - 1);
		CHECK(memcmp(bench_buf_data(&b), S("*4\r\n$4\r\nHSET\r\n$14\r\nhotline:call:x\r\n$4\r\nnote\r\n$6\r\na b\r\nc\r\n")) == 0);
		CHECK(resp_scan(bench_buf_data(&b), bench_buf_len(&b), &used, &r) == RESP_REPLY);
		CHECK(r.type == '*' && r.n == 4 && resp_is(&r, "HSET"));
		bench_buf_consume(&b, used);
		CHECK(resp_scan(bench_buf_data(&b), bench_buf_len(&b), &used, &r) == RESP_REPLY);
		CHECK(r.type == '*' && r.n == 2 && resp_is(&r, "SET") && used == bench_buf_len(&b));
	}
	/* The buffer's cap holds. */
	bench_buf_free(&b);
	bench_buf_init(&b, 64);
	{
		const char *big[] = {"SET", "key", "a value far too long for a sixty-four byte buffer to hold at all"};

		CHECK(!resp_append_command(&b, 3, big, NULL));
		CHECK(bench_buf_len(&b) == 0);
	}
	bench_buf_free(&b);
	return check_summary("test_bench_resp");
}
