/* The lost record's reader (tools/lost_record.c): a well-formed record is
 * read whole, escapes decoded; any other entry is not a lost record; every
 * way a record can be malformed is refused with a reason naming it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lost_record.h"
#include "loss_entry.h"

#include "check.h"

#define HEAD                                                                                                 \
	"{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\",\"reported_by\":\"hotlined:host1:4242\","   \
	"\"master\":\"127.0.0.1:6381\","
#define ITEM(seq, rest) "{\"seq\":" seq ",\"id\":\"1763860000000-0\",\"hash\":\"0123456789abcdef\"" rest "}"
#define WHAT            ",\"what\":\"CALL offer call:c-1 by agent1\""

static struct lost_record lr;
static char why[200];

static enum lost_parse parse(const char *text)
{
	why[0] = '\0';
	return lost_record_parse(text, strlen(text), &lr, why, sizeof(why));
}

static void good(void)
{
	const char *text = HEAD "\"lost\":[" ITEM(
	    "101", ",\"request_id\":\"a-agent1-7\"" WHAT) ","
	                                                  "{\"what\":\"COMPLAINT open complaint:K1 by "
	                                                  "agent3\",\"hash\":\"fedcba9876543210\","
	                                                  "\"id\":\"1763860000001-3\",\"seq\":102,\"extra\":["
	                                                  "1,{\"x\":2}]}]}";

	CHECK(lost_record_is(text, strlen(text)));
	CHECK(parse(text) == LOST_OK);
	CHECK_STR(lr.ts, "2026-11-23T03:00:00.123Z");
	CHECK(lr.ts_ms == 1795402800123ull);
	CHECK_STR(lr.reported_by, "hotlined:host1:4242");
	CHECK_STR(lr.master, "127.0.0.1:6381");
	CHECK(lr.n == 2);
	CHECK(lr.item[0].seq == 101);
	CHECK_STR(lr.item[0].id, "1763860000000-0");
	CHECK_STR(lr.item[0].hash, "0123456789abcdef");
	CHECK_STR(lr.item[0].request_id, "a-agent1-7");
	CHECK_STR(lr.item[0].what, "CALL offer call:c-1 by agent1");
	CHECK(lr.item[1].seq == 102);
	CHECK_STR(lr.item[1].id, "1763860000001-3");
	CHECK_STR(lr.item[1].request_id, ""); /* absent: the write had none */
	CHECK_STR(lr.item[1].what, "COMPLAINT open complaint:K1 by agent3");
}

static void escapes(void)
{
	/* event, a key and values escaped; whitespace between tokens */
	const char *text =
	    " { \"event\" : \"\\u006cost\" , "
	    "\"ts\":\"2026-11-23T03:00:00Z\",\"reported\\u005fby\":\"h\\u00e9:1\","
	    "\"master\":\"m\\/1\",\"lost\":[ {\"seq\":7,\"id\":\"1-0\",\"hash\":\"00000000000000ff\","
	    "\"request_id\":\"r\\\"q\",\"what\":\"a\\nb \\ud83d\\ude00\"} ] } ";

	CHECK(lost_record_is(text, strlen(text)));
	CHECK(parse(text) == LOST_OK);
	CHECK_STR(lr.reported_by, "h\xc3\xa9:1");
	CHECK_STR(lr.master, "m/1");
	CHECK(lr.n == 1 && lr.item[0].seq == 7);
	CHECK_STR(lr.item[0].request_id, "r\"q");
	CHECK_STR(lr.item[0].what, "a\nb \xf0\x9f\x98\x80");
}

static void not_lost(void)
{
	const char *others[] = {
	    "{\"event\":\"offer\",\"call_id\":\"c-1\",\"note\":\"lost\"}", /* "lost" as a value */
	    "{\"event\":\"offer\",\"lost\":[]}",
	    "{\"lost\":[],\"ts\":\"2026-11-23T03:00:00Z\"}", /* no event */
	    "{\"event\":\"lost\",\"lost\":[]",               /* not JSON */
	    "[\"lost\"]",
	    "{\"event\":\"lost2\",\"x\":\"lost\"}",
	    "{\"event\":1,\"lost\":[]}",
	    "",
	};

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK(!lost_record_is(others[i], strlen(others[i])));
		CHECK(parse(others[i]) == LOST_NOT);
	}
	CHECK(!lost_record_is(NULL, 0));
}

static void malformed(void)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
	    {"{\"event\":\"lost\",\"reported_by\":\"h\",\"master\":\"m\",\"lost\":[" ITEM("1", WHAT) "]}",
	     "no \"ts\""},
	    {"{\"event\":\"lost\",\"ts\":\"yesterday\",\"reported_by\":\"h\",\"master\":\"m\",\"lost\":"
	     "[" ITEM("1", WHAT) "]}",
	     "\"ts\" is not an RFC 3339 time"},
	    {"{\"event\":\"lost\",\"ts\":5,\"reported_by\":\"h\",\"master\":\"m\",\"lost\":[" ITEM("1",
	                                                                                           WHAT) "]}",
	     "\"ts\" is not a string"},
	    {"{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00Z\",\"master\":\"m\",\"lost\":[" ITEM(
	         "1", WHAT) "]}",
	     "no \"reported_by\""},
	    {"{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00Z\",\"reported_by\":\"h\",\"master\":\"\","
	     "\"lost\":[" ITEM("1", WHAT) "]}",
	     "\"master\" is empty, longer than 128 bytes or holds a NUL"},
	    {HEAD "\"lost\":[" ITEM("1", WHAT) "],\"master\":\"again\"}", "\"master\" appears twice"},
	    {HEAD "\"x\":1}", "no \"lost\""},
	    {HEAD "\"lost\":{\"seq\":1}}", "\"lost\" is not an array"},
	    {HEAD "\"lost\":[]}", "\"lost\" has 0 items (1..32)"},
	    {HEAD "\"lost\":[" ITEM("1", WHAT) ",7]}", "item 2 is not an object"},
	    {HEAD "\"lost\":[{\"id\":\"1-0\",\"hash\":\"0123456789abcdef\"" WHAT "}]}", "item 1: no \"seq\""},
	    {HEAD "\"lost\":[" ITEM("0", WHAT) "]}", "item 1: \"seq\" is not an integer >= 1"},
	    {HEAD "\"lost\":[" ITEM("-3", WHAT) "]}", "item 1: \"seq\" is not an integer >= 1"},
	    {HEAD "\"lost\":[" ITEM("1.5", WHAT) "]}", "item 1: \"seq\" is not an integer >= 1"},
	    {HEAD "\"lost\":[" ITEM("\"1\"", WHAT) "]}", "item 1: \"seq\" is not an integer >= 1"},
	    {HEAD "\"lost\":[" ITEM("99999999999999999999", WHAT) "]}",
	     "item 1: \"seq\" is not an integer >= 1"},
	    {HEAD "\"lost\":[{\"seq\":1,\"hash\":\"0123456789abcdef\"" WHAT "}]}", "item 1: no \"id\""},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"c-1\",\"hash\":\"0123456789abcdef\"" WHAT "}]}",
	     "item 1: \"id\" is not a stream id"},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"1763860000000\",\"hash\":\"0123456789abcdef\"" WHAT "}]}",
	     "item 1: \"id\" is not a stream id"},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"1-0\",\"hash\":\"0123456789ABCDEF\"" WHAT "}]}",
	     "item 1: \"hash\" is not 16 lowercase hex digits"},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"1-0\",\"hash\":\"0123456789abcde\"" WHAT "}]}",
	     "item 1: \"hash\" is not 16 lowercase hex digits"},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"1-0\",\"hash\":\"0123456789abcdef0\"" WHAT "}]}",
	     "item 1: \"hash\" is empty, longer than 16 bytes or holds a NUL"},
	    {HEAD "\"lost\":[{\"seq\":1,\"id\":\"1-0\"" WHAT "}]}", "item 1: no \"hash\""},
	    {HEAD "\"lost\":[" ITEM("1", ",\"request_id\":\"\"" WHAT) "]}",
	     "item 1: \"request_id\" is empty, longer than 128 bytes or holds a NUL"},
	    {HEAD "\"lost\":[" ITEM("1", ",\"request_id\":7" WHAT) "]}",
	     "item 1: \"request_id\" is not a string"},
	    {HEAD "\"lost\":[" ITEM("1", ",\"what\":\"a\\u0000b\"") "]}",
	     "item 1: \"what\" is empty, longer than 256 bytes or holds a NUL"},
	    {HEAD "\"lost\":[" ITEM("1", WHAT) "," ITEM("2", ",\"seq\":3" WHAT) "]}",
	     "item 2: \"seq\" appears twice"},
	};
	char big[8192];
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(lost_record_is(cases[i].text, strlen(cases[i].text)));
		CHECK(parse(cases[i].text) == LOST_MALFORMED);
		CHECK_STR(why, cases[i].why);
	}

	/* 33 items: too many */
	n = (size_t)snprintf(big, sizeof(big), HEAD "\"lost\":[");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s" ITEM("%d", WHAT), i ? "," : "", i + 1);
	snprintf(big + n, sizeof(big) - n, "]}");
	CHECK(parse(big) == LOST_MALFORMED);
	CHECK_STR(why, "\"lost\" has 33 items (1..32)");
	/* 32 is the most */
	n = (size_t)snprintf(big, sizeof(big), HEAD "\"lost\":[");
	for (int i = 0; i < 32; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s" ITEM("%d", WHAT), i ? "," : "", i + 1);
	snprintf(big + n, sizeof(big) - n, "]}");
	CHECK(parse(big) == LOST_OK && lr.n == 32 && lr.item[31].seq == 32);

	/* "what" of 256 bytes is the most, also when written with escapes */
	n = (size_t)snprintf(big, sizeof(big),
	                     HEAD
	                     "\"lost\":[{\"seq\":1,\"id\":\"1-0\",\"hash\":\"0123456789abcdef\",\"what\":\"");
	for (int i = 0; i < 256; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\\u0041");
	snprintf(big + n, sizeof(big) - n, "\"}]}");
	CHECK(parse(big) == LOST_OK && strlen(lr.item[0].what) == 256);
	n = (size_t)snprintf(big, sizeof(big),
	                     HEAD
	                     "\"lost\":[{\"seq\":1,\"id\":\"1-0\",\"hash\":\"0123456789abcdef\",\"what\":\"");
	for (int i = 0; i < 257; i++)
		big[n++] = 'w';
	snprintf(big + n, sizeof(big) - n, "\"}]}");
	CHECK(parse(big) == LOST_MALFORMED);
	CHECK_STR(why, "item 1: \"what\" is empty, longer than 256 bytes or holds a NUL");
}

/* What the daemon writes (daemon/loss_entry.c) is what the tools read. */
/* "what" and "request_id" are optional: the daemon writes them when it knows. */
static void optional_members(void)
{
	CHECK(parse(HEAD "\"lost\":[{\"seq\":3,\"id\":\"1-0\",\"hash\":\"0123456789abcdef\"}]}") == LOST_OK);
	CHECK(lr.n == 1 && lr.item[0].seq == 3 && lr.item[0].what[0] == '\0' && lr.item[0].request_id[0] == '\0');
}

static void round_trip(void)
{
	const struct loss_item items[] = {
	    {.seq = 7, .id = "1795401525612-3", .hash = "0123456789abcdef", .request_id = "r-\"7\"",
	     .what = "COMPLAINT open complaint:K20261123-ABCDEFGH by agent3"},
	    {.seq = 8, .id = "1795401525613-0", .hash = "fedcba9876543210"},
	};
	struct lost_record rt;
	char rt_why[200] = "";
	char *text = loss_entry_build("2026-11-23T03:00:00.123Z", "hotlined:vm:42", "unix:/run/redis.sock", items, 2);

	CHECK(text != NULL);
	if (text == NULL)
		return;
	CHECK(lost_record_is(text, strlen(text)));
	CHECK(lost_record_parse(text, strlen(text), &rt, rt_why, sizeof(rt_why)) == LOST_OK);
	CHECK_STR(rt_why, "");
	CHECK(rt.n == 2 && rt.ts_ms == 1795402800123u);
	CHECK_STR(rt.reported_by, "hotlined:vm:42");
	CHECK_STR(rt.master, "unix:/run/redis.sock");
	CHECK(rt.item[0].seq == 7 && rt.item[1].seq == 8);
	CHECK_STR(rt.item[0].id, "1795401525612-3");
	CHECK_STR(rt.item[0].hash, "0123456789abcdef");
	CHECK_STR(rt.item[0].request_id, "r-\"7\"");
	CHECK_STR(rt.item[0].what, "COMPLAINT open complaint:K20261123-ABCDEFGH by agent3");
	CHECK_STR(rt.item[1].request_id, "");
	CHECK_STR(rt.item[1].what, "");
	free(text);
}

int main(void)
{
	round_trip();
	optional_members();
	good();
	escapes();
	not_lost();
	malformed();
	return check_summary("lost_record");
}
