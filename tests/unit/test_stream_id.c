/* test_stream_id.c - unit tests for daemon/stream_id.c. */
#include "stream_id.h"

#include "check.h"

int main(void)
{
	uint64_t ms, seq;

	CHECK(stream_id_parse("1795381813307-12", &ms, &seq) && ms == 1795381813307u && seq == 12);
	CHECK(stream_id_parse("42", &ms, &seq) && ms == 42 && seq == 0);
	CHECK(stream_id_parse("0-0", &ms, &seq) && ms == 0 && seq == 0);
	CHECK(stream_id_parse("18446744073709551615-18446744073709551615", &ms, &seq) && ms == UINT64_MAX &&
	      seq == UINT64_MAX);
	CHECK(!stream_id_parse("18446744073709551616-0", &ms, &seq)); /* beyond 64 bits */
	CHECK(!stream_id_parse("", &ms, &seq));
	CHECK(!stream_id_parse("-1", &ms, &seq));
	CHECK(!stream_id_parse("1-", &ms, &seq));
	CHECK(!stream_id_parse("1-2-3", &ms, &seq));
	CHECK(!stream_id_parse("1 ", &ms, &seq));
	CHECK(!stream_id_parse("$", &ms, &seq));

	/* numbers, not text: 10-0 is after 9-5 */
	CHECK(stream_id_cmp("10-0", "9-5") > 0);
	CHECK(stream_id_cmp("9-5", "10-0") < 0);
	CHECK(stream_id_cmp("9-10", "9-9") > 0);
	CHECK(stream_id_cmp("9", "9-0") == 0);
	CHECK(stream_id_cmp("0-0", "1-0") < 0);
	CHECK(stream_id_cmp("x", "y") < 0); /* unparsable: as strings */
	return check_summary("test_stream_id");
}
