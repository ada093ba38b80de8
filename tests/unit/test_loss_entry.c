/* test_loss_entry.c - the lost record a daemon appends (daemon/loss_entry.c,
 * proto/LOG.md "The lost record"), and the "ts" it carries (rfc3339_format_ms). */
#include <stdint.h>
#include <stdlib.h>

#include "loss_entry.h"
#include "rfc3339.h"

#include "check.h"

static void test_format_ms(void)
{
	char ts[RFC3339_MS_MAX];
	uint64_t back;

	rfc3339_format_ms(0, ts);
	CHECK_STR(ts, "1970-01-01T00:00:00.000Z");
	rfc3339_format_ms(1795401525612, ts);
	CHECK_STR(ts, "2026-11-23T02:38:45.612Z");
	rfc3339_format_ms(951782400007, ts); /* a leap day */
	CHECK_STR(ts, "2000-02-29T00:00:00.007Z");
	/* What the log's readers parse gives the same instant back. */
	for (int64_t ms = 1700000000000; ms < 1700000000000 + 86400000LL * 400; ms += 86399999) {
		rfc3339_format_ms(ms, ts);
		CHECK(rfc3339_parse_ms(ts, false, &back) && back == (uint64_t)ms);
	}
}

static void test_build(void)
{
	const struct loss_item items[] = {
	    {.seq = 101, .id = "1795401525612-0", .hash = "0123456789abcdef", .request_id = "a-agent1-7",
	     .what = "CALL offer call:c-1 by agent1"},
	    /* No request_id, nothing known about it; odd bytes are escaped. */
	    {.seq = 102, .id = "1795401525613-4", .hash = "fedcba9876543210", .request_id = "", .what = NULL},
	    {.seq = 9, .id = "1-0", .hash = "00", .request_id = NULL, .what = "say \"hi\"\\\n"},
	};
	char *text;

	text = loss_entry_build("2026-11-23T03:00:00.123Z", "hotlined:h1:42", "127.0.0.1:6381", items, 1);
	CHECK_STR(text, "{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\",\"reported_by\":\"hotlined:h1:42\","
	                "\"master\":\"127.0.0.1:6381\",\"lost\":[{\"seq\":101,\"id\":\"1795401525612-0\","
	                "\"hash\":\"0123456789abcdef\",\"request_id\":\"a-agent1-7\","
	                "\"what\":\"CALL offer call:c-1 by agent1\"}]}");
	free(text);
	text = loss_entry_build("2026-11-23T03:00:00.123Z", "hotlined:h1:42", "[::1]:6381", items + 1, 2);
	CHECK_STR(text, "{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\",\"reported_by\":\"hotlined:h1:42\","
	                "\"master\":\"[::1]:6381\",\"lost\":[{\"seq\":102,\"id\":\"1795401525613-4\","
	                "\"hash\":\"fedcba9876543210\"},{\"seq\":9,\"id\":\"1-0\",\"hash\":\"00\","
	                "\"what\":\"say \\\"hi\\\"\\\\\\n\"}]}");
	free(text);
	/* Not UTF-8: no record rather than a broken one. */
	text = loss_entry_build("t", "hotlined:h1:42", "m",
	                        &(struct loss_item){.seq = 1, .id = "1-0", .hash = "00", .what = "\xff"}, 1);
	CHECK(text == NULL);
}

int main(void)
{
	test_format_ms();
	test_build();
	return check_summary("test_loss_entry");
}
