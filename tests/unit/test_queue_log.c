/* The queue_log parser and mapper (tools/queue_log.c, tools/queue_log_map.c)
 * on hand-written queue_log content: every event kind Asterisk writes, the
 * older and the realtime-padded variants, malformed lines with their
 * reasons, and the pathologies (no exit event, no completion, transfers,
 * abandoned calls, agent presence, ring attempts, calls first seen
 * mid-way, events refused by the call's life or out of time order, repeated
 * lines, a bounded call table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "lifecycle.h"
#include "queue_log.h"
#include "queue_log_map.h"

#include "check.h"

/* ---- the parser --------------------------------------------------------------------------------------- */

static bool parse(const char *text, struct ql_line *l, char *buf, size_t cap, char *why, size_t whylen)
{
	size_t len = strlen(text);

	if (len + 1 > cap)
		return false;
	memcpy(buf, text, len + 1);
	return ql_parse(buf, len, l, why, whylen);
}

/* The line is refused, and the reason contains want. */
#define CHECK_BAD(text, want)                                                                                \
	do {                                                                                                 \
		char buf_[8192], why_[256] = "";                                                             \
		struct ql_line l_;                                                                           \
		bool ok_ = parse((text), &l_, buf_, sizeof(buf_), why_, sizeof(why_));                       \
		check_report(!ok_ && strstr(why_, (want)) != NULL, __FILE__, __LINE__,                       \
		             "line '%.60s' refused with '%s', wanted '%s'", (text),                          \
		             ok_ ? "(accepted)" : why_, (want));                                             \
	} while (0)

static void test_fields(void)
{
	char buf[512], why[256];
	struct ql_line l;
	long long v;

	CHECK(parse("1366720340|1366720340.303267|MYQUEUE|NONE|ENTERQUEUE|http://x|13800138000|3|Ann Smith",
	            &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(l.time_ms == 1366720340000LL);
	CHECK_STR(l.uniqueid.s, "1366720340.303267");
	CHECK_STR(l.queue.s, "MYQUEUE");
	CHECK(ql_is_none(&l.agent));
	CHECK(l.kind == QL_ENTERQUEUE);
	CHECK(l.n_data == 4);
	CHECK_STR(ql_get(&l, "url")->s, "http://x");
	CHECK_STR(ql_get(&l, "callerid")->s, "13800138000");
	CHECK(ql_get_int(&l, "origposition", &v) && v == 3);
	CHECK_STR(ql_get(&l, "calleridname")->s, "Ann Smith");
	CHECK(ql_get(&l, "holdtime") == NULL);
	CHECK(strlen(l.source_id) == QL_SOURCE_ID_LEN && strncmp(l.source_id, "ql-", 3) == 0);

	/* Older Asterisk: fewer fields, the missing ones absent. */
	CHECK(parse("1092224245|1092224245.4|q|Agent/1|CONNECT|4", &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(ql_get_int(&l, "holdtime", &v) && v == 4);
	CHECK(ql_get(&l, "bridgedchanneluniqueid") == NULL && !ql_get_int(&l, "ringtime", &v));
	CHECK(parse("1092224245|1092224245.4|q|Agent/1|COMPLETECALLER|4|120", &l, buf, sizeof(buf), why,
	            sizeof(why)));
	CHECK(ql_get_int(&l, "calltime", &v) && v == 120 && !ql_get_int(&l, "origposition", &v));

	/* Fractional seconds, and a negative number where Asterisk prints %ld. */
	CHECK(parse("1366720340.25|u1|q|NONE|ABANDON|1|1|-2", &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(l.time_ms == 1366720340250LL);
	CHECK(ql_get_int(&l, "waittime", &v) && v == -2);

	/* ATTENDEDTRANSFER: a one- or two-field destination; the numbers are the last three. */
	CHECK(parse("1|u1|q|SIP/1|ATTENDEDTRANSFER|LINK|SIP/a-1|SIP/b-2|5|60|1", &l, buf, sizeof(buf), why,
	            sizeof(why)));
	CHECK(ql_get_int(&l, "holdtime", &v) && v == 5);
	CHECK(ql_get_int(&l, "calltime", &v) && v == 60);
	CHECK(ql_get_int(&l, "origposition", &v) && v == 1);
	CHECK(parse("1|u1|q|SIP/1|ATTENDEDTRANSFER|APP|Dial|5|61|2", &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(ql_get_int(&l, "calltime", &v) && v == 61);
	CHECK_BAD("1|u1|q|SIP/1|ATTENDEDTRANSFER|APP|Dial|5|x|2", "field 9 (calltime)");

	/* A custom event from QueueLog() in the dialplan. */
	CHECK(parse("1366720340|u9|q|NONE|MY_SURVEY|5", &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(l.kind == QL_OTHER && strcmp(l.event.s, "MY_SURVEY") == 0);
	/* Member and system events need no call. */
	CHECK(parse("1366720340|NONE|NONE|SIP/8007|PAUSEALL|", &l, buf, sizeof(buf), why, sizeof(why)));
	CHECK(l.kind == QL_PAUSEALL && l.n_data == 0);
}

/* The same event from the file, a realtime export padded to data5, and a CRLF file has one source id. */
static void test_source_ids(void)
{
	char a[256], b[256], c[256], d[256], why[256];
	struct ql_line la, lb, lc, ld;

	CHECK(parse("1366720340|u1|q|NONE|ENTERQUEUE||555|1", &la, a, sizeof(a), why, sizeof(why)));
	CHECK(parse("1366720340|u1|q|NONE|ENTERQUEUE||555|1||", &lb, b, sizeof(b), why, sizeof(why)));
	CHECK(parse("1366720340|u1|q|NONE|ENTERQUEUE||555|1\r", &lc, c, sizeof(c), why, sizeof(why)));
	CHECK(parse("1366720341|u1|q|NONE|ENTERQUEUE||555|1", &ld, d, sizeof(d), why, sizeof(why)));
	CHECK_STR(la.source_id, lb.source_id);
	CHECK_STR(la.source_id, lc.source_id);
	CHECK(strcmp(la.source_id, ld.source_id) != 0);
	CHECK(lb.n_data == 3);
}

static void test_malformed(void)
{
	char longline[6000];

	CHECK_BAD("", "1 field;");
	CHECK_BAD("1366720340|u1|q|NONE", "4 fields;");
	CHECK_BAD("yesterday|u1|q|NONE|ENTERQUEUE", "field 1 (time): 'yesterday' is not Unix seconds");
	CHECK_BAD("0|u1|q|NONE|ENTERQUEUE", "field 1 (time)");
	CHECK_BAD("-5|u1|q|NONE|ENTERQUEUE", "field 1 (time)");
	CHECK_BAD("1366720340.|u1|q|NONE|ENTERQUEUE", "field 1 (time)");
	CHECK_BAD("2012-07-03 15:27:23|u1|q|NONE|ENTERQUEUE", "is not Unix seconds");
	CHECK_BAD("1366720340|u1|q|NONE|", "field 5 (event): '' is not an event name");
	CHECK_BAD("1366720340|u1|q|NONE|ENTER QUEUE", "field 5 (event)");
	CHECK_BAD("1366720340|u1|q|NONE|ABANDON|1|one|30",
	          "ABANDON: field 7 (origposition): 'one' is not an integer");
	CHECK_BAD("1366720340|u1|q|SIP/1|CONNECT|x", "CONNECT: field 6 (holdtime)");
	CHECK_BAD("1366720340|u1|q|SIP/1|RINGNOANSWER|15s", "RINGNOANSWER: field 6 (ringtime)");
	CHECK_BAD("1366720340|u1|q|SIP/1|PENALTY|high", "PENALTY: field 6 (penalty)");
	CHECK_BAD("1366720340|NONE|q|NONE|ENTERQUEUE||555|1",
	          "ENTERQUEUE needs the caller's channel uniqueid");
	CHECK_BAD("1366720340||q|NONE|ABANDON|1|1|1", "ABANDON needs the caller's channel uniqueid");
	CHECK_BAD("1366720340|a b|q|NONE|ABANDON|1|1|1", "uniqueid");
	CHECK_BAD("1366720340|u1234567890123456789012345678901234567890123456789012345|q|NONE|ABANDON|1|1|1",
	          "uniqueid");
	CHECK_BAD("1366720340|u1|NONE|NONE|ENTERQUEUE||555|1", "ENTERQUEUE needs a queue name in field 3");
	CHECK_BAD("1366720340|u1|q|NONE|ENTERQUEUE||55\x01|1", "control character at byte 36");
	CHECK_BAD("1366720340|u1|q|NONE|ENTERQUEUE||55\xff|1", "not UTF-8 at byte 36");
	CHECK_BAD("1366720340|u1|q|NONE|ENTERQUEUE||\xc2\x9b|1", "control character");
	{
		char nul[] = "1366720340|u1|q|NONE|INFO|a\0b";
		char why[128] = "";
		struct ql_line l;

		CHECK(!ql_parse(nul, sizeof(nul) - 1, &l, why, sizeof(why)));
		CHECK_STR(why, "NUL byte at byte 28");
	}
	CHECK_BAD("1|u1|q|NONE|INFO|1|2|3|4|5|6|7|8|9|10|11", "more than 10 data fields");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "1|u1|q|NONE|INFO|", 17);
	CHECK_BAD(longline, "line longer than 4096 bytes");
	memset(longline, 'q', 200);
	memcpy(longline, "1|u1|", 5);
	memcpy(longline + 200, "|NONE|INFO", 11);
	CHECK_BAD(longline, "field 3 (queue) is longer than 128 bytes");
}

/* ---- the mapper ------------------------------------------------------------------------------------------
 */

struct seen {
	json_t *entries; /* array of the entries' JSON objects */
	json_t *raw;     /* and of their text as emitted */
	char notes[64][400];
	unsigned long note_lines[64];
	size_t n_notes;
};

static int fail_emit_at; /* emit fails on this entry (1-based); 0: never */

static int emit(void *arg, const struct qlm_entry *e)
{
	struct seen *s = arg;
	json_error_t err;
	json_t *o = json_loadb(e->json, e->json_len, 0, &err);

	CHECK(o != NULL);
	CHECK(strlen(e->json) == e->json_len);
	CHECK(e->rejected == (json_object_get(o, "rejected") != NULL));
	CHECK_STR(json_string_value(json_object_get(o, "source_id")), e->source_id);
	CHECK_STR(json_string_value(json_object_get(o, "call_id")), e->call_id);
	json_array_append_new(s->entries, o);
	json_array_append_new(s->raw, json_stringn(e->json, e->json_len));
	if (fail_emit_at && (int)json_array_size(s->entries) == fail_emit_at)
		return -1;
	return 0;
}

static void notice(void *arg, unsigned long line, const char *msg)
{
	struct seen *s = arg;

	if (s->n_notes < 64) {
		snprintf(s->notes[s->n_notes], sizeof(s->notes[0]), "%s", msg);
		s->note_lines[s->n_notes++] = line;
	}
}

/* The customer index of the tests: one number has one customer. */
static int customer_of(void *arg, const char *phone, char out[CUSTOMER_ID_MAX + 1])
{
	(void)arg;
	if (strcmp(phone, "+8613800138000") == 0) {
		strcpy(out, "c-ann");
		return 1;
	}
	return strcmp(phone, "+86999") == 0 ? -1 : 0;
}

/* Feed a whole text, line by line; malformed lines are a test failure. */
static struct qlm *run(const char *text, struct seen *s, size_t max_calls, int64_t idle_ms, bool resolve)
{
	static struct phone_rules rules;
	struct qlm_options o = {.phone = &rules, .max_calls = max_calls, .idle_ms = idle_ms};
	struct qlm_hooks h = {
	    .emit = emit, .notice = notice, .customer_of = resolve ? customer_of : NULL, .arg = s};
	struct qlm *m;
	unsigned long lineno = 0;
	const char *p = text;

	phone_rules_default(&rules);
	snprintf(rules.default_country, sizeof(rules.default_country), "86");
	memset(s, 0, sizeof(*s));
	s->entries = json_array();
	s->raw = json_array();
	m = qlm_new(&o, &h);
	CHECK(m != NULL);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[QL_MAX_LINE + 2], why[256];
		struct ql_line l;

		lineno++;
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (nl != NULL);
		if (len == 0)
			continue;
		if (!check_report(ql_parse(buf, len, &l, why, sizeof(why)), __FILE__, __LINE__,
		                  "line %lu: %s", lineno, why))
			continue;
		if (qlm_feed(m, &l, lineno) != 0)
			break;
	}
	qlm_finish(m);
	return m;
}

static void done(struct qlm *m, struct seen *s)
{
	qlm_free(m);
	json_decref(s->entries);
	json_decref(s->raw);
}

static json_t *entry(const struct seen *s, size_t i)
{
	return json_array_get(s->entries, i);
}

static const char *field(const struct seen *s, size_t i, const char *key)
{
	return json_string_value(json_object_get(entry(s, i), key));
}

static long long int_field(const struct seen *s, size_t i, const char *key)
{
	json_t *v = json_object_get(entry(s, i), key);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static bool noted(const struct seen *s, unsigned long line, const char *part)
{
	for (size_t i = 0; i < s->n_notes; i++)
		if (s->note_lines[i] == line && strstr(s->notes[i], part))
			return true;
	return false;
}

/* One of each: every kind Asterisk writes is mapped or counted as skipped. */
static const char every_kind[] =
    "1366720000|NONE|NONE|NONE|QUEUESTART|\n"
    "1366720001|NONE|NONE|NONE|CONFIGRELOAD|\n"
    "1366720002|MANAGER|sales|SIP/8007|ADDMEMBER|\n"
    "1366720003|MANAGER|sales|SIP/8009|ADDMEMBER|PAUSED\n"
    "1366720004|CLI|sales|SIP/8009|REMOVEMEMBER|\n"
    "1366720005|NONE|sales|SIP/8007|PENALTY|2\n"
    "1366720006|NONE|sales|SIP/8007|RINGINUSE|0\n"
    "1366720007|1366720007.1|NONE|Agent/1001|AGENTLOGIN|SIP/8007-00000001\n"
    "1366720008|NONE|NONE|Agent/1002|AGENTCALLBACKLOGIN|8008@from-internal\n"
    "1366720009|NONE|sales|SIP/8007|PAUSE|lunch\n"
    "1366720010|NONE|sales|SIP/8007|UNPAUSE|\n"
    "1366720011|NONE|NONE|SIP/8007|PAUSEALL|\n"
    "1366720012|NONE|NONE|SIP/8007|UNPAUSEALL|\n"
    "1366720100|1366720100.5|sales|NONE|DID|4008001234\n"
    "1366720100|1366720100.5|sales|NONE|ENTERQUEUE||13800138000|1\n"
    "1366720101|1366720100.5|sales|SIP/8009|RINGNOANSWER|15000\n"
    "1366720102|1366720100.5|sales|SIP/8008|AGENTDUMP|\n"
    "1366720103|1366720100.5|sales|SIP/8010|RINGCANCELED|1200\n"
    "1366720104|1366720100.5|sales|SIP/8007|CONNECT|4|1366720104.6|2\n"
    "1366720164|1366720100.5|sales|SIP/8007|COMPLETEAGENT|4|60|1\n"
    "1366720200|1366720200.7|sales|NONE|ENTERQUEUE||02079460958|1\n"
    "1366720210|1366720200.7|sales|SIP/8007|CONNECT|10|1366720210.8|1\n"
    "1366720250|1366720200.7|sales|SIP/8007|COMPLETECALLER|10|40|1\n"
    "1366720300|1366720300.9|sales|NONE|ENTERQUEUE||555|1\n"
    "1366720301|1366720300.9|sales|SIP/8007|CONNECT|1|1366720301.10|1\n"
    "1366720330|1366720300.9|sales|SIP/8007|TRANSFER|2001|from-internal|1|29|1\n"
    "1366720400|1366720400.11|sales|NONE|ENTERQUEUE||556|1\n"
    "1366720401|1366720400.11|sales|SIP/8007|CONNECT|1|1366720401.12|1\n"
    "1366720431|1366720400.11|sales|SIP/8007|BLINDTRANSFER|2002|from-internal|1|30|1\n"
    "1366720500|1366720500.13|sales|NONE|ENTERQUEUE||557|1\n"
    "1366720501|1366720500.13|sales|SIP/8007|CONNECT|1|1366720501.14|1\n"
    "1366720532|1366720500.13|sales|SIP/8007|ATTENDEDTRANSFER|LINK|SIP/a-1|SIP/b-2|1|31|1\n"
    "1366720600|1366720600.15|sales|NONE|ENTERQUEUE||558|1\n"
    "1366720630|1366720600.15|sales|NONE|ABANDON|1|1|30\n"
    "1366720700|1366720700.16|sales|NONE|ENTERQUEUE||559|1\n"
    "1366720760|1366720700.16|sales|NONE|EXITWITHTIMEOUT|1|1|60\n"
    "1366720800|1366720800.17|sales|NONE|ENTERQUEUE||560|1\n"
    "1366720805|1366720800.17|sales|NONE|EXITWITHKEY|5|1|1|5\n"
    "1366720900|1366720900.18|sales|NONE|ENTERQUEUE||561|1\n"
    "1366720901|1366720900.18|sales|NONE|EXITEMPTY|1|1|1\n"
    "1366721000|1366721000.19|sales|NONE|ENTERQUEUE||562|1\n"
    "1366721001|1366721000.19|sales|SIP/8007|SYSCOMPAT|\n"
    "1366721001|1366721000.19|sales|NONE|ABANDON|1|1|1\n"
    "1366721100|1366721100.20|sales|NONE|INFO|IVR|1\n"
    "1366721101|1366721100.20|sales|NONE|MY_SURVEY|5\n"
    "1366729000|1366729000.21|NONE|Agent/1001|AGENTLOGOFF|SIP/8007-00000001|8993\n"
    "1366729001|NONE|NONE|Agent/1002|AGENTCALLBACKLOGOFF|8008@from-internal|8993|"
    "Autologoff\n";

static void test_every_kind(void)
{
	struct seen s;
	struct qlm *m = run(every_kind, &s, 0, 0, true);
	const struct qlm_stats *st = qlm_stats(m);

	for (int k = 0; k < QL_KIND_COUNT; k++)
		check_report(st->mapped[k] + st->skipped[k] >= 1, __FILE__, __LINE__,
		             "kind %s neither mapped nor skipped", ql_kind_name((enum ql_kind)k));
	/* Calls only from the call events; the rest counted as skipped, by kind. */
	CHECK(st->skipped[QL_ADDMEMBER] == 2 && st->skipped[QL_REMOVEMEMBER] == 1 &&
	      st->skipped[QL_PAUSE] == 1);
	CHECK(st->skipped[QL_UNPAUSE] == 1 && st->skipped[QL_PAUSEALL] == 1 &&
	      st->skipped[QL_UNPAUSEALL] == 1);
	CHECK(st->skipped[QL_PENALTY] == 1 && st->skipped[QL_RINGINUSE] == 1 &&
	      st->skipped[QL_AGENTLOGIN] == 1);
	CHECK(st->skipped[QL_RINGNOANSWER] == 1 && st->skipped[QL_RINGCANCELED] == 1 &&
	      st->skipped[QL_AGENTDUMP] == 1);
	CHECK(st->skipped[QL_SYSCOMPAT] == 1 && st->skipped[QL_QUEUESTART] == 1 &&
	      st->skipped[QL_CONFIGRELOAD] == 1);
	CHECK(st->skipped[QL_INFO] == 1 && st->skipped[QL_OTHER] == 1);
	CHECK(st->n_custom == 1 && strcmp(st->custom[0].name, "MY_SURVEY") == 0 && st->custom[0].n == 1);
	CHECK(st->mapped[QL_DID] == 1 && st->mapped[QL_ENTERQUEUE] == 10 && st->mapped[QL_CONNECT] == 5);
	CHECK(st->entries == json_array_size(s.entries));
	CHECK(st->entries == 10 + 5 + 10);
	CHECK(st->mid_call == 0 && st->refused == 0 && st->time_back == 0 && st->repeats == 0);
	CHECK(st->open_waiting == 0 && st->open_connected == 0);
	CHECK(s.n_notes == 0);

	/* The first call, exactly as the daemon shapes an entry, plus its origin. */
	{
		const char *line = "1366720100|1366720100.5|sales|NONE|ENTERQUEUE||13800138000|1";
		unsigned char digest[crypto_hash_sha256_BYTES];
		char hex[2 * crypto_hash_sha256_BYTES + 1], want[1024];

		crypto_hash_sha256(digest, (const unsigned char *)line, strlen(line));
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		snprintf(want, sizeof(want),
		         "{\"event\":\"offer\",\"call_id\":\"ast-1366720100.5\",\"agent\":\"pbx\",\"role\":"
		         "\"pbx\","
		         "\"ts\":\"2013-04-23T12:28:20.000Z\",\"customer_id\":\"c-ann\",\"phone\":\"+"
		         "8613800138000\","
		         "\"queue\":\"sales\",\"dnis\":\"+864008001234\",\"state\":\"offered\",\"source\":"
		         "\"queue_log\","
		         "\"source_id\":\"ql-%.32s\",\"pbx_event\":\"ENTERQUEUE\",\"pbx_data\":\"|"
		         "13800138000|1\"}",
		         hex);
		CHECK_STR(json_string_value(json_array_get(s.raw, 0)), want);
	}
	CHECK_STR(field(&s, 1, "event"), "answer");
	CHECK_STR(field(&s, 1, "agent"), "SIP/8007");
	CHECK_STR(field(&s, 1, "role"), "agent");
	CHECK_STR(field(&s, 1, "customer_id"), "c-ann"); /* carried, like the daemon */
	CHECK_STR(field(&s, 1, "state"), "answered");
	CHECK(json_object_get(entry(&s, 1), "dnis") == NULL);
	CHECK_STR(field(&s, 2, "event"), "end");
	CHECK_STR(field(&s, 2, "disposition"), "agent_hangup");
	CHECK_STR(field(&s, 2, "state"), "ended");
	CHECK(int_field(&s, 2, "leg_ms") == 60000);
	/* The second call: national number normalised, no customer known. */
	CHECK_STR(field(&s, 3, "phone"), "+862079460958");
	CHECK(json_object_get(entry(&s, 3), "customer_id") == NULL);
	CHECK_STR(field(&s, 5, "disposition"), "caller_hangup");
	CHECK(int_field(&s, 5, "leg_ms") == 40000);
	/* Transfers end the queue's part of the call, with where the caller went. */
	CHECK_STR(field(&s, 8, "disposition"), "transferred");
	CHECK_STR(field(&s, 8, "to"), "2001@from-internal");
	CHECK(int_field(&s, 8, "leg_ms") == 29000);
	CHECK_STR(field(&s, 11, "to"), "2002@from-internal");
	CHECK_STR(field(&s, 14, "to"), "LINK|SIP/a-1|SIP/b-2");
	CHECK(int_field(&s, 14, "leg_ms") == 31000);
	/* The exits: abandoned, with no leg. */
	for (size_t i = 16; i <= 22; i += 2) {
		static const char *const disp[] = {"abandoned", "timeout", "exit_key", "queue_empty"};

		CHECK_STR(field(&s, i, "state"), "abandoned");
		CHECK_STR(field(&s, i, "disposition"), disp[(i - 16) / 2]);
		CHECK_STR(field(&s, i, "agent"), "pbx");
		CHECK(json_object_get(entry(&s, i), "leg_ms") == NULL);
	}
	CHECK_STR(field(&s, 24, "pbx_event"),
	          "ABANDON"); /* SYSCOMPAT is followed by Asterisk's own ABANDON */
	done(m, &s);
}

static void test_open_calls(void)
{
	static const char text[] = "1366720100|u1|sales|NONE|ENTERQUEUE||555|1\n"
	                           "1366720200|u2|sales|NONE|ENTERQUEUE||556|1\n"
	                           "1366720210|u2|sales|SIP/8007|CONNECT|10|u3|1\n"
	                           "1366720300|u4|sales|NONE|ENTERQUEUE||557|1\n"
	                           "1366720310|u4|sales|NONE|ABANDON|1|1|10\n";
	struct seen s;
	struct qlm *m = run(text, &s, 0, 0, false);
	const struct qlm_stats *st = qlm_stats(m);

	CHECK(st->open_waiting == 1 && st->open_connected == 1);
	CHECK(noted(&s, 1, "call ast-u1 entered queue sales here and has no exit event"));
	CHECK(noted(&s, 3, "call ast-u2 was connected to SIP/8007 here and has no completion or transfer"));
	CHECK(json_array_size(s.entries) == 5);
	CHECK_STR(field(&s, 0, "state"), "offered"); /* kept as it is: the audit reports it */
	done(m, &s);
}

static void test_refused_and_out_of_order(void)
{
	static const char text[] =
	    /* Asterisk's caller-hung-up-while-connecting path logs ABANDON twice */
	    "1366720100|u1|sales|NONE|ENTERQUEUE||555|1\n"
	    "1366720110|u1|sales|SIP/8007|ABANDON|1|1|10\n"
	    "1366720110|u1|sales|NONE|ABANDON|1|1|10\n"
	    /* a CONNECT after the caller left */
	    "1366720111|u1|sales|SIP/8007|CONNECT|10|x|1\n"
	    /* lines out of time order within a call */
	    "1366720200|u2|sales|NONE|ENTERQUEUE||555|1\n"
	    "1366720260|u2|sales|SIP/8007|CONNECT|60|x|1\n"
	    "1366720230|u2|sales|SIP/8007|COMPLETECALLER|60|30|1\n"
	    /* first seen mid-call: its ENTERQUEUE is in an earlier file */
	    "1366720300|u3|sales|SIP/8008|CONNECT|5|x|1\n"
	    "1366720400|u3|sales|SIP/8008|COMPLETEAGENT|5|100|1\n"
	    "1366720500|u4|sales|NONE|EXITWITHTIMEOUT|1|1|60\n";
	struct seen s;
	struct qlm *m = run(text, &s, 0, 0, false);
	const struct qlm_stats *st = qlm_stats(m);

	CHECK(json_array_size(s.entries) == 10);
	/* The second ABANDON: logged, marked rejected, no state, nothing changed. */
	CHECK_STR(field(&s, 1, "state"), "abandoned");
	CHECK_STR(field(&s, 2, "rejected"), "conflict: call ast-u1 is abandoned; cannot end");
	CHECK(json_object_get(entry(&s, 2), "state") == NULL);
	CHECK(noted(&s, 3, "call ast-u1 is abandoned; cannot end (ABANDON)"));
	CHECK_STR(field(&s, 3, "event"), "answer");
	CHECK_STR(field(&s, 3, "rejected"), "conflict: call ast-u1 is abandoned; cannot answer");
	CHECK(st->refused == 2);
	/* Out of time order: reported, still applied in file order. */
	CHECK(st->time_back == 1);
	CHECK(
	    noted(&s, 7,
	          "call ast-u2: COMPLETECALLER at 2013-04-23T12:30:30.000Z is earlier than the call's event "
	          "at line 6"));
	CHECK_STR(field(&s, 6, "state"), "ended");
	CHECK(int_field(&s, 6, "leg_ms") == 30000);
	/* Mid-call: taken as the PBX states it. */
	CHECK(st->mid_call == 2);
	CHECK(noted(&s, 8, "call ast-u3: CONNECT with no ENTERQUEUE before it"));
	CHECK_STR(field(&s, 7, "state"), "answered");
	CHECK_STR(field(&s, 8, "state"), "ended");
	CHECK(int_field(&s, 8, "leg_ms") == 100000);
	CHECK_STR(field(&s, 9, "state"), "abandoned");
	CHECK(json_object_get(entry(&s, 9), "leg_ms") == NULL);
	CHECK(st->open_waiting == 0 && st->open_connected == 0);
	done(m, &s);
}

static void test_visits_and_repeats(void)
{
	static const char text[] = "1366720100|u1|sales|NONE|ENTERQUEUE||555|1\n"
	                           "1366720105|u1|sales|NONE|EXITWITHKEY|2|1|1|5\n"
	                           "1366720106|u1|support|NONE|ENTERQUEUE||555|1\n"
	                           "1366720106|u1|support|NONE|ENTERQUEUE||555|1\n"
	                           "1366720110|u1|support|SIP/8007|CONNECT|4|x|1\n"
	                           "1366720150|u1|support|SIP/8007|COMPLETECALLER|4|40|1\n"
	                           "1366720150|u1|support|SIP/8007|COMPLETECALLER|4|40|1\n";
	struct seen s;
	struct qlm *m = run(text, &s, 0, 0, false);
	const struct qlm_stats *st = qlm_stats(m);

	/* A channel back in a queue after leaving one is a new call; identical lines are one event. */
	CHECK(json_array_size(s.entries) == 5);
	CHECK_STR(field(&s, 0, "call_id"), "ast-u1");
	CHECK_STR(field(&s, 1, "call_id"), "ast-u1");
	CHECK_STR(field(&s, 2, "call_id"), "ast-u1-2");
	CHECK_STR(field(&s, 2, "queue"), "support");
	CHECK_STR(field(&s, 4, "call_id"), "ast-u1-2");
	CHECK_STR(field(&s, 4, "state"), "ended");
	CHECK(st->repeats == 2 && st->refused == 0);
	done(m, &s);
}

static void test_bounded_table(void)
{
	static const char text[] =
	    "1366720100|u1|sales|NONE|ENTERQUEUE||555|1\n"
	    "1366720101|u2|sales|NONE|ENTERQUEUE||556|1\n"
	    "1366720102|u3|sales|NONE|ENTERQUEUE||557|1\n" /* table of 2: u1 is dropped */
	    "1366720103|u1|sales|NONE|ABANDON|1|1|3\n"     /* so u1 reads as mid-call */
	    "1366730000|u9|sales|NONE|ENTERQUEUE||558|1\n" /* u2, u3 idle beyond 60 s */
	    "1366730001|u9|sales|NONE|ABANDON|1|1|1\n";
	struct seen s;
	struct qlm *m = run(text, &s, 2, 60000, false);
	const struct qlm_stats *st = qlm_stats(m);

	CHECK(
	    noted(&s, 1, "call ast-u1 entered queue sales here and has no exit event (more calls in flight"));
	CHECK(
	    noted(&s, 2, "call ast-u2 entered queue sales here and has no exit event (more calls in flight"));
	CHECK(st->mid_call == 1);
	CHECK(noted(&s, 3, "call ast-u3 entered queue sales here and has no exit event (no event for 1 min"));
	CHECK(st->open_waiting == 3 && st->dropped == 4);
	CHECK(json_array_size(s.entries) == 6);
	done(m, &s);
}

static void test_hooks_fail(void)
{
	static const char text[] = "1366720100|u1|sales|NONE|ENTERQUEUE||999|1\n";
	static const char two[] = "1366720100|u1|sales|NONE|ENTERQUEUE||555|1\n"
	                          "1366720101|u1|sales|NONE|ABANDON|1|1|1\n";
	struct seen s;
	struct qlm *m;

	/* A failed customer lookup stops the run (qlm_feed -1, nothing emitted). */
	m = run(text, &s, 0, 0, true);
	CHECK(json_array_size(s.entries) == 0);
	done(m, &s);
	/* So does a failed write. */
	fail_emit_at = 1;
	m = run(two, &s, 0, 0, false);
	CHECK(json_array_size(s.entries) == 1);
	CHECK(qlm_stats(m)->lines == 1);
	fail_emit_at = 0;
	done(m, &s);
}

int main(void)
{
	char ts[32];

	test_fields();
	test_source_ids();
	test_malformed();
	test_every_kind();
	test_open_calls();
	test_refused_and_out_of_order();
	test_visits_and_repeats();
	test_bounded_table();
	test_hooks_fail();
	qlm_format_ts(1366720340250LL, ts);
	CHECK_STR(ts, "2013-04-23T12:32:20.250Z");
	return check_summary("test_queue_log");
}
