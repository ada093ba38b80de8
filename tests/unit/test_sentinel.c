/* test_sentinel.c - unit tests for daemon/sentinel_reply.c: the replies are
 * real RESP bytes, parsed by hiredis's own reader, as the daemon gets them. */
#include "sentinel_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* One reply from RESP text (caller frees with freeReplyObject). */
static redisReply *resp(const char *text)
{
	redisReader *rd = redisReaderCreate();
	void *reply = NULL;

	if (rd == NULL)
		abort();
	if (redisReaderFeed(rd, text, strlen(text)) != REDIS_OK ||
	    redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL) {
		fprintf(stderr, "bad RESP in the test: %s\n", text);
		abort();
	}
	redisReaderFree(rd);
	return reply;
}

static void expect_addr(const char *text, const char *host, unsigned port, int line)
{
	redisReply *r = resp(text);
	struct sentinel_addr a;
	char why[128] = "";
	bool ok = sentinel_parse_master_addr(r, &a, why, sizeof(why));

	if (check_report(ok, __FILE__, line, "expected %s:%u, refused: %s", host, port, why))
		check_report(strcmp(a.host, host) == 0 && a.port == port, __FILE__, line,
		             "got %s:%u, expected %s:%u", a.host, a.port, host, port);
	freeReplyObject(r);
}

static void expect_no_addr(const char *text, const char *because, int line)
{
	redisReply *r = resp(text);
	struct sentinel_addr a;
	char why[128] = "";
	bool ok = sentinel_parse_master_addr(r, &a, why, sizeof(why));

	check_report(!ok && strstr(why, because) != NULL, __FILE__, line,
	             "expected a refusal with '%s', got %s '%s'", because, ok ? "success" : "refusal", why);
	freeReplyObject(r);
}

static void test_master_addr(void)
{
	expect_addr("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", "127.0.0.1", 6380, __LINE__);
	expect_addr("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n", "::1", 65535, __LINE__);
	expect_addr("*2\r\n$14\r\nredis-2.local.\r\n$1\r\n1\r\n", "redis-2.local.", 1, __LINE__);
	expect_no_addr("*-1\r\n", "does not monitor", __LINE__);
	expect_no_addr("$-1\r\n", "does not monitor", __LINE__);
	expect_no_addr("-ERR unknown command\r\n", "error: ERR unknown command", __LINE__);
	expect_no_addr("*1\r\n$9\r\n127.0.0.1\r\n", "not a [host, port]", __LINE__);
	expect_no_addr("*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n", "not a [host, port]", __LINE__);
	expect_no_addr("*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n", "not a [host, port]", __LINE__);
	expect_no_addr("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n06379\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n63 79\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$0\r\n\r\n$4\r\n6379\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$5\r\na b.c\r\n$4\r\n6379\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$4\r\na\nbc\r\n$4\r\n6379\r\n", "malformed", __LINE__);
	expect_no_addr("*2\r\n$5\r\n[::1]\r\n$4\r\n6379\r\n", "malformed", __LINE__);
	{
		struct sentinel_addr a;
		char why[64];

		CHECK(!sentinel_parse_master_addr(NULL, &a, why, sizeof(why)));
	}
}

static void expect_role(const char *text, bool master, const char *word, int line)
{
	redisReply *r = resp(text);
	char role[64] = "";
	bool is = sentinel_role_is_master(r, role, sizeof(role));

	check_report(is == master && strcmp(role, word) == 0, __FILE__, line, "got %d '%s', expected %d '%s'",
	             is, role, master, word);
	freeReplyObject(r);
}

static void test_role(void)
{
	/* What Redis 7 answers as a master, a replica and a Sentinel. */
	expect_role("*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$"
	            "7\r\n3129242\r\n",
	            true, "master", __LINE__);
	expect_role("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n", false,
	            "slave", __LINE__);
	expect_role("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n", false, "sentinel", __LINE__);
	expect_role("-NOPERM no permission\r\n", false, "error: NOPERM no permission", __LINE__);
	expect_role("*0\r\n", false, "a malformed ROLE reply", __LINE__);
	expect_role(":1\r\n", false, "a malformed ROLE reply", __LINE__);
	expect_role("*1\r\n$7\r\nmaster\x01\r\n", false, "master?", __LINE__);
	{
		char role[16];

		CHECK(!sentinel_role_is_master(NULL, role, sizeof(role)));
		CHECK_STR(role, "no reply");
	}
}

static void test_switch(void)
{
	struct sentinel_addr from, to;
	const char *m = "mymaster 127.0.0.1 6379 127.0.0.1 6380";

	CHECK(sentinel_parse_switch(m, strlen(m), "mymaster", &from, &to));
	CHECK(strcmp(from.host, "127.0.0.1") == 0 && from.port == 6379);
	CHECK(strcmp(to.host, "127.0.0.1") == 0 && to.port == 6380);
	CHECK(!sentinel_parse_switch(m, strlen(m), "other", &from, &to));
	CHECK(!sentinel_parse_switch(m, strlen(m), "mymaste", &from, &to));
	CHECK(!sentinel_parse_switch(m, strlen(m) - 5, "mymaster", &from, &to)); /* "... 127.0.0.1 6" cut */
	CHECK(!sentinel_parse_switch(m, 25, "mymaster", &from, &to));
	{
		const char *six = "mymaster 127.0.0.1 6379 127.0.0.1 6380 x";
		const char *v6 = "m ::1 1 fe80::2 2";
		const char *badport = "m a 1 b 99999";

		CHECK(!sentinel_parse_switch(six, strlen(six), "mymaster", &from, &to));
		CHECK(sentinel_parse_switch(v6, strlen(v6), "m", &from, &to));
		CHECK(strcmp(to.host, "fe80::2") == 0 && to.port == 2);
		CHECK(!sentinel_parse_switch(badport, strlen(badport), "m", &from, &to));
		CHECK(!sentinel_parse_switch("", 0, "m", &from, &to));
	}
}

static void test_addr_and_order(void)
{
	struct sentinel_addr a = {"127.0.0.1", 1}, b = {"::1", 26379}, c = {"127.0.0.1", 2};
	char text[SENTINEL_ADDR_TEXT];
	struct sentinel_order o;

	sentinel_addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "127.0.0.1:1");
	sentinel_addr_format(&b, text, sizeof(text));
	CHECK_STR(text, "[::1]:26379");
	CHECK(sentinel_addr_equal(&a, &a) && !sentinel_addr_equal(&a, &c) && !sentinel_addr_equal(&a, &b));

	sentinel_order_init(&o, 3);
	CHECK(o.n == 3 && o.at[0] == 0 && o.at[1] == 1 && o.at[2] == 2);
	sentinel_order_promote(&o, 2); /* the third answered: it is asked first from now on */
	CHECK(o.at[0] == 2 && o.at[1] == 0 && o.at[2] == 1);
	sentinel_order_promote(&o, 1);
	CHECK(o.at[0] == 1 && o.at[1] == 2 && o.at[2] == 0);
	sentinel_order_promote(&o, 1); /* already first */
	CHECK(o.at[0] == 1 && o.at[1] == 2 && o.at[2] == 0);
	sentinel_order_promote(&o, 7); /* not configured: nothing changes */
	CHECK(o.at[0] == 1 && o.at[1] == 2 && o.at[2] == 0);
	sentinel_order_init(&o, 99);
	CHECK(o.n == CONFIG_MAX_SENTINELS && o.at[CONFIG_MAX_SENTINELS - 1] == CONFIG_MAX_SENTINELS - 1);
}

int main(void)
{
	test_master_addr();
	test_role();
	test_switch();
	test_addr_and_order();
	return check_summary("test_sentinel");
}
