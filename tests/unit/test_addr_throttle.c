/* test_addr_throttle.c - unit tests for daemon/addr_throttle.c: which
 * addresses share a count, the failure window and the block, and that the
 * table stays within its fixed capacity whatever arrives. */
#include "addr_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check.h"

static const unsigned char HASH_KEY[ADDR_THROTTLE_HASH_KEY_BYTES] = "0123456789abcdef";

static struct addr_key v4(const char *text)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5555)};
	struct addr_key k;

	CHECK(inet_pton(AF_INET, text, &sa.sin_addr) == 1);
	addr_key_from_sockaddr((const struct sockaddr *)&sa, &k);
	return k;
}

static struct addr_key v6(const char *text, uint16_t port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct addr_key k;

	CHECK(inet_pton(AF_INET6, text, &sa.sin6_addr) == 1);
	addr_key_from_sockaddr((const struct sockaddr *)&sa, &k);
	return k;
}

/* The n-th of many distinct IPv4 addresses. */
static struct addr_key nth(uint32_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + n)};
	struct addr_key k;

	addr_key_from_sockaddr((const struct sockaddr *)&sa, &k);
	return k;
}

static bool same(struct addr_key a, struct addr_key b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_format(struct addr_key k, const char *want)
{
	char out[64];

	addr_key_format(&k, out, sizeof(out));
	CHECK_STR(out, want);
}

static void test_keys(void)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/a.sock"};
	struct sockaddr_un un2 = {.sun_family = AF_UNIX, .sun_path = "/run/b.sock"};
	struct addr_key a, b;

	/* The port never matters. */
	CHECK(same(v4("192.0.2.7"), v4("192.0.2.7")));
	CHECK(!same(v4("192.0.2.7"), v4("192.0.2.8")));
	CHECK(!same(v4("127.0.0.1"), v4("127.0.0.2")));
	/* One IPv6 /64 is one address, whatever its lower half. */
	CHECK(same(v6("2001:db8:1:2::1", 1), v6("2001:db8:1:2:ffff:ffff:ffff:ffff", 2)));
	CHECK(!same(v6("2001:db8:1:2::1", 1), v6("2001:db8:1:3::1", 1)));
	/* An IPv4-mapped IPv6 peer (a dual-stack listener) counts as the IPv4 address. */
	CHECK(same(v6("::ffff:192.0.2.7", 9), v4("192.0.2.7")));
	CHECK(!same(v6("::1", 1), v4("0.0.0.1")));
	/* Every unix-socket client is one bucket. */
	addr_key_from_sockaddr((const struct sockaddr *)&un, &a);
	addr_key_from_sockaddr((const struct sockaddr *)&un2, &b);
	CHECK(same(a, b) && a.kind == ADDR_KIND_LOCAL);
	check_format(v4("192.0.2.7"), "192.0.2.7");
	check_format(v6("2001:db8:1:2:3:4:5:6", 7), "2001:db8:1:2::/64");
	check_format(v6("::ffff:10.1.2.3", 7), "10.1.2.3");
	check_format(a, "local");
}

static void test_window_and_block(void)
{
	struct addr_throttle *t = addr_throttle_new(16, HASH_KEY);
	struct addr_key a = v4("192.0.2.1"), other = v4("192.0.2.2");

	if (!t)
		return;
	CHECK(addr_throttle_blocked_for(t, &a, 0) == 0);
	CHECK(!addr_throttle_failure(t, &a, 3, 1000, 100));
	CHECK(!addr_throttle_failure(t, &a, 3, 1000, 200));
	CHECK(addr_throttle_blocked_for(t, &a, 200) == 0);
	/* The third failure within the window blocks for a window from now. */
	CHECK(addr_throttle_failure(t, &a, 3, 1000, 300));
	CHECK(addr_throttle_blocked_for(t, &a, 300) == 1000);
	CHECK(addr_throttle_blocked_for(t, &a, 1299) == 1);
	CHECK(addr_throttle_blocked_for(t, &other, 300) == 0);
	/* A failure whose check was already running does not extend the block. */
	CHECK(!addr_throttle_failure(t, &a, 3, 1000, 800));
	CHECK(addr_throttle_blocked_for(t, &a, 800) == 500);
	CHECK(addr_throttle_blocked_for(t, &a, 1300) == 0);
	/* Counting starts afresh after the block. */
	CHECK(!addr_throttle_failure(t, &a, 3, 1000, 1300));
	CHECK(!addr_throttle_failure(t, &a, 3, 1000, 1400));
	CHECK(addr_throttle_failure(t, &a, 3, 1000, 1500));
	CHECK(addr_throttle_blocked_for(t, &a, 1500) == 1000);

	/* Two failures per window, forever: never three within one. */
	for (uint64_t now = 10000; now < 20000; now += 500)
		CHECK(!addr_throttle_failure(t, &other, 3, 1000, now));
	CHECK(!addr_throttle_failure(t, &other, 2, 1000, 30000));
	CHECK(!addr_throttle_failure(t, &other, 2, 1000, 31000));
	CHECK(addr_throttle_blocked_for(t, &other, 31000) == 0);
	CHECK(addr_throttle_failure(t, &other, 2, 1000, 31999));
	/* max 1: every failure blocks; max 0: off, nothing is even tracked. */
	struct addr_key b = v4("198.51.100.1");
	CHECK(addr_throttle_failure(t, &b, 1, 5000, 0));
	CHECK(addr_throttle_blocked_for(t, &b, 4999) == 1);
	uint32_t tracked = addr_throttle_tracked(t);
	struct addr_key c = v4("198.51.100.2");
	for (int i = 0; i < 100; i++)
		CHECK(!addr_throttle_failure(t, &c, 0, 1000, (uint64_t)i));
	CHECK(addr_throttle_blocked_for(t, &c, 50) == 0);
	CHECK(addr_throttle_tracked(t) == tracked);
	addr_throttle_free(t);
}

static void test_capacity(void)
{
	struct addr_throttle *t = addr_throttle_new(4, HASH_KEY);
	struct addr_key k[6];
	uint64_t now = 1000;

	if (!t)
		return;
	for (uint32_t i = 0; i < 6; i++)
		k[i] = nth(i);
	/* Four addresses one failure each (max 2), then k0 fails again: k1 is now the least recent. */
	for (uint32_t i = 0; i < 4; i++)
		CHECK(!addr_throttle_failure(t, &k[i], 2, 10000, now++));
	CHECK(addr_throttle_failure(t, &k[0], 2, 10000, now++));
	CHECK(addr_throttle_tracked(t) == 4 && addr_throttle_evictions(t) == 0);
	/* A fifth address takes k1's place; k0 stays blocked, k2 keeps its count. */
	CHECK(!addr_throttle_failure(t, &k[4], 2, 10000, now++));
	CHECK(addr_throttle_tracked(t) == 4 && addr_throttle_evictions(t) == 1);
	CHECK(addr_throttle_blocked_for(t, &k[0], now) > 0);
	CHECK(addr_throttle_failure(t, &k[2], 2, 10000, now++));
	/* k1 was forgotten: its next failure is its first again. */
	CHECK(!addr_throttle_failure(t, &k[1], 2, 10000, now++));
	CHECK(addr_throttle_evictions(t) == 2);
	addr_throttle_free(t);
}

static void test_flood(void)
{
	enum { CAP = 64, FLOOD = 200000 };
	struct addr_throttle *t = addr_throttle_new(CAP, HASH_KEY);
	size_t mem;

	if (!t)
		return;
	mem = addr_throttle_memory(t);
	/* max 1: each address is blocked by its one failure. */
	for (uint32_t i = 0; i < FLOOD; i++)
		addr_throttle_failure(t, (struct addr_key[]){nth(i)}, 1, 60000, 1000 + i);
	CHECK(addr_throttle_tracked(t) == CAP);
	CHECK(addr_throttle_evictions(t) == FLOOD - CAP);
	CHECK(addr_throttle_memory(t) == mem);
	/* Exactly the CAP most recent addresses are remembered (and still blocked). */
	int remembered = 0, wrong = 0;
	for (uint32_t i = 0; i < FLOOD; i++) {
		bool blocked = addr_throttle_blocked_for(t, (struct addr_key[]){nth(i)}, 1000 + FLOOD) > 0;
		remembered += blocked;
		wrong += blocked != (i >= FLOOD - CAP);
	}
	CHECK(remembered == CAP);
	CHECK(wrong == 0);
	printf("addr_throttle: %d entries in %zu bytes, %d addresses flooded through, memory unchanged\n", CAP, mem,
	       FLOOD);
	addr_throttle_free(t);
}

static void test_bounds(void)
{
	CHECK(addr_throttle_new(0, HASH_KEY) == NULL);
	CHECK(addr_throttle_new((1u << 24) + 1, HASH_KEY) == NULL);
	struct addr_throttle *t = addr_throttle_new(1, HASH_KEY);
	struct addr_key a = v4("192.0.2.1"), b = v4("192.0.2.2");
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(addr_throttle_failure(t, &a, 1, 100, 0));
	CHECK(!addr_throttle_failure(t, &b, 2, 100, 1));
	CHECK(addr_throttle_blocked_for(t, &a, 2) == 0); /* forgotten: the table holds one */
	CHECK(addr_throttle_failure(t, &b, 2, 100, 2));
	addr_throttle_free(t);
	addr_throttle_free(NULL);
}

int main(void)
{
	test_keys();
	test_window_and_block();
	test_capacity();
	test_flood();
	test_bounds();
	return check_summary("test_addr_throttle");
}
