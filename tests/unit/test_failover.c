/* test_failover.c - unit tests for tools/failover.c: the client-side rule
 * for several daemons (proto/PROTOCOL.md), step by step. */
#include "failover.h"

#include <string.h>

#include "check.h"

static void test_add(void)
{
	struct failover f;

	failover_init(&f, 200, 5000);
	CHECK(failover_add(&f, "127.0.0.1:7301", 7300) == 0);
	CHECK(failover_add(&f, "b:2,[::1]:3,c", 7300) == 0);
	CHECK(f.n == 4);
	CHECK(strcmp(f.host[0], "127.0.0.1") == 0 && f.port[0] == 7301);
	CHECK(strcmp(f.host[1], "b") == 0 && f.port[1] == 2);
	CHECK(strcmp(f.host[2], "::1") == 0 && f.port[2] == 3);
	CHECK(strcmp(f.host[3], "c") == 0 && f.port[3] == 7300);
	CHECK(failover_add(&f, "d:1,,e:2", 7300) == -1); /* an empty entry */
	CHECK(failover_add(&f, "x:99999", 7300) == -1);
	CHECK(failover_add(&f, "[::1", 7300) == -1);
	CHECK(failover_add(&f, "", 7300) == -1);
	CHECK(failover_add(&f, "a:1,", 7300) == -1);
	failover_init(&f, 200, 5000);
	CHECK(failover_add(&f, "a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8", 7300) == 0);
	CHECK(f.n == FAILOVER_MAX_ADDRS);
	CHECK(failover_add(&f, "a:9", 7300) == -1);
}

static void test_rounds(void)
{
	struct failover f;

	failover_init(&f, 200, 1000);
	CHECK(failover_add(&f, "a:1,b:2,c:3", 7300) == 0);
	CHECK(f.current == 0);
	/* a fails, b fails: the next one at once */
	CHECK(failover_next(&f, false, 0) == 0 && f.current == 1);
	CHECK(failover_next(&f, false, 0) == 0 && f.current == 2);
	/* c fails too: a whole round, so wait the backoff with jitter (100..200) */
	CHECK(failover_next(&f, false, 0) == 100 && f.current == 0);
	CHECK(failover_rounds_failed(&f) == 1);
	CHECK(failover_next(&f, false, 7) == 0 && failover_next(&f, false, 7) == 0);
	CHECK(failover_next(&f, false, 200) == 200 + 200 % 201); /* the backoff doubled to 400 */
	CHECK(failover_rounds_failed(&f) == 2);
	for (int i = 0; i < 30; i++) {
		unsigned d = failover_next(&f, false, (unsigned)i * 7919u);

		CHECK(d == 0 || (d >= 500 && d <= 1000)); /* capped at max_ms */
	}
	/* a working session resets everything; losing it moves on at once */
	f.current = 1;
	CHECK(failover_next(&f, true, 0) == 0 && f.current == 2);
	CHECK(f.failed == 0 && f.backoff_ms == 200 && failover_rounds_failed(&f) == 0);
	CHECK(failover_next(&f, false, 0) == 0 && f.current == 0);
	CHECK(failover_next(&f, false, 0) == 0 && f.current == 1);
	CHECK(failover_next(&f, false, 0) == 100 && f.current == 2);
}

static void test_one_address(void)
{
	struct failover f;

	failover_init(&f, 200, 5000);
	CHECK(failover_add(&f, "a:1", 7300) == 0);
	/* the same daemon again, but not at once */
	CHECK(failover_next(&f, true, 12345) == 200 && f.current == 0);
	CHECK(failover_next(&f, false, 0) == 100);
	CHECK(failover_next(&f, false, 0) == 200);
	CHECK(failover_next(&f, false, 0) == 400);
	CHECK(failover_rounds_failed(&f) == 3);
}

int main(void)
{
	test_add();
	test_rounds();
	test_one_address();
	return check_summary("test_failover");
}
