/* test_projection.c - unit tests for daemon/projection.c (what a log entry
 * does to the projections), the key classification a rebuild relies on
 * (keys.c) and the ops list (journal_ops.c).
 *
 * The expected writes are spelled out command by command, as text, from
 * proto/LOG.md's projection table: a change in what the daemon writes (and
 * so in what a rebuild reproduces) shows here first.
 */
#include "projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "keys.h"

#define P "hl:"
/* 2026-11-22T09:00:00Z */
#define T0 1795338000LL

/* The ops as lines "CMD arg arg ...". */
static char *ops_text(const struct journal_ops *ops)
{
	static char buf[16384];
	const char *const *argv;
	size_t pos = 0, o = 0;
	int argc;

	buf[0] = '\0';
	while (journal_ops_next(ops, &pos, &argc, &argv)) {
		for (int i = 0; i < argc && o < sizeof(buf) - 2; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "", argv[i]);
		if (o < sizeof(buf) - 2)
			buf[o++] = '\n', buf[o] = '\0';
	}
	return buf;
}

static char *fields_text(const json_t *o)
{
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
	free(t);
	return buf;
}

/* Project entry (JSON text) on before (JSON text); returns compute's result. */
static int project(enum journal_stream s, const char *entry_text, const char *before_text,
                   struct projection *p, char *err)
{
	json_t *entry = json_loads(entry_text, 0, NULL), *before = json_loads(before_text, 0, NULL);
	int rc = projection_compute(P, s, entry, entry_text, before, p, err, 200);

	json_decref(entry);
	json_decref(before);
	return rc;
}

static void test_call_offer(void)
{
	struct projection p;
	char err[200];

	/* A screen pop's link in the hash before the offer does not count. */
	CHECK(
	    project(STREAM_CALLS,
	            "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"pbx\",\"role\":\"agent\","
	            "\"ts\":\"2026-11-22T09:00:00.250Z\",\"customer_id\":\"C1\",\"phone\":\"+8613800000001\","
	            "\"queue\":\"mobile\",\"tier\":\"gold\",\"state\":\"offered\"}",
	            "{\"customer_id\":\"C1\",\"tier\":\"gold\"}", &p, err) == 1);
	CHECK(p.fresh);
	CHECK_STR(p.state_key, P "call:c1");
	CHECK_STR(fields_text(p.fields),
	          "{\"state\":\"offered\",\"agent\":\"pbx\",\"customer_id\":\"C1\","
	          "\"phone\":\"+8613800000001\",\"queue\":\"mobile\",\"tier\":\"gold\","
	          "\"offered_at\":\"2026-11-22T09:00:00.250Z\"}");
	CHECK_STR(ops_text(&p.ops),
	          "HSET " P "calls:open c1 {\"state\":\"offered\",\"queue\":\"mobile\",\"agent\":\"pbx\","
	          "\"since\":\"2026-11-22T09:00:00.250Z\"}\n");
	CHECK(projection_version(&p, NULL) == 1);
	projection_free(&p);
}

static void test_call_answer_keeps_the_leg_owner(void)
{
	struct projection p;
	char err[200];

	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"super1\",\"role\":\"supervisor\","
	              "\"ts\":\"2026-11-22T09:00:01.500Z\",\"queue\":\"mobile\",\"state\":\"answered\"}",
	              "{\"state\":\"offered\",\"agent\":\"agent1\",\"v\":\"1\",\"queue\":\"mobile\"}", &p,
	              err) == 1);
	CHECK(!p.fresh);
	CHECK_STR(fields_text(p.fields), "{\"state\":\"answered\",\"agent\":\"agent1\",\"queue\":\"mobile\","
	                                 "\"leg_at_ms\":\"1795338001500\"}");
	CHECK_STR(json_string_value(json_object_get(p.state, "agent")), "agent1");
	CHECK(json_object_get(p.state, "v") == NULL);
	{
		json_t *before = json_pack("{s:s}", "v", "1");

		CHECK(projection_version(&p, before) == 2);
		json_decref(before);
	}
	CHECK_STR(ops_text(&p.ops),
	          "HSET " P "calls:open c1 {\"state\":\"answered\",\"queue\":\"mobile\",\"agent\":"
	          "\"agent1\",\"since\":\"2026-11-22T09:00:01.500Z\"}\n");
	projection_free(&p);

	/* Nobody held it: the answering agent does. */
	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"agent2\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:00:01.500Z\",\"state\":\"answered\"}",
	              "{}", &p, err) == 1);
	CHECK_STR(json_string_value(json_object_get(p.fields, "agent")), "agent2");
	/* No queue: the wallboard card says null. */
	CHECK_STR(ops_text(&p.ops),
	          "HSET " P "calls:open c1 {\"state\":\"answered\",\"queue\":null,\"agent\":"
	          "\"agent2\",\"since\":\"2026-11-22T09:00:01.500Z\"}\n");
	projection_free(&p);
}

static void test_call_hold_transfer(void)
{
	struct projection p;
	char err[200];

	/* hold: the card names whoever acted, the state keeps the leg owner */
	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"hold\",\"call_id\":\"c1\",\"agent\":\"agent1\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:00:02.000Z\",\"state\":\"held\"}",
	              "{\"state\":\"answered\",\"agent\":\"agent1\",\"v\":\"2\"}", &p, err) == 1);
	CHECK_STR(fields_text(p.fields), "{\"state\":\"held\"}");
	CHECK_STR(json_string_value(json_object_get(p.state, "agent")), "agent1");
	projection_free(&p);

	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"transfer\",\"call_id\":\"c1\",\"agent\":\"agent1\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:00:03.000Z\",\"to\":\"agent2\",\"leg_ms\":2000,\"state\":"
	              "\"answered\"}",
	              "{\"state\":\"held\",\"agent\":\"agent1\",\"v\":\"3\"}", &p, err) == 1);
	CHECK_STR(fields_text(p.fields),
	          "{\"state\":\"answered\",\"agent\":\"agent2\",\"leg_at_ms\":\"1795338003000\"}");
	projection_free(&p);

	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"transfer\",\"call_id\":\"c1\",\"agent\":\"agent1\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:00:03.000Z\",\"state\":\"answered\"}",
	              "{}", &p, err) == -1);
	CHECK(strstr(err, "'to'") != NULL);
}

static void test_call_end(void)
{
	struct projection p;
	char err[200];

	CHECK(
	    project(STREAM_CALLS,
	            "{\"event\":\"end\",\"call_id\":\"c1\",\"agent\":\"agent2\",\"role\":\"agent\","
	            "\"ts\":\"2026-11-22T09:05:00.000Z\",\"customer_id\":\"C1\",\"disposition\":\"resolved\","
	            "\"csat\":4,\"leg_ms\":1000,\"state\":\"ended\"}",
	            "{\"state\":\"answered\",\"agent\":\"agent2\",\"v\":\"4\"}", &p, err) == 1);
	CHECK_STR(fields_text(p.fields), "{\"state\":\"ended\",\"customer_id\":\"C1\","
	                                 "\"ended_at\":\"2026-11-22T09:05:00.000Z\"}");
	/* contact, newest first, 50 kept; the hash expires a week after the end */
	CHECK_STR(ops_text(&p.ops),
	          "LPUSH " P
	          "customer:C1:contacts {\"time\":\"2026-11-22T09:05:00.000Z\",\"kind\":\"call\",\"agent\":"
	          "\"agent2\",\"summary\":\"call ended: resolved\",\"call_id\":\"c1\",\"csat\":4}\n"
	          "LTRIM " P "customer:C1:contacts 0 49\n"
	          "PEXPIREAT " P "call:c1 1795943100000\n"
	          "HDEL " P "calls:open c1\n");
	projection_free(&p);

	/* Abandoned, nobody known: no contact; csat null when not given. */
	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"end\",\"call_id\":\"c2\",\"agent\":\"agent1\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:05:00.000Z\",\"state\":\"abandoned\"}",
	              "{\"state\":\"offered\",\"v\":\"1\"}", &p, err) == 1);
	CHECK_STR(ops_text(&p.ops), "PEXPIREAT " P "call:c2 1795943100000\nHDEL " P "calls:open c2\n");
	projection_free(&p);
	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"end\",\"call_id\":\"c2\",\"agent\":\"agent1\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:05:00.000Z\",\"customer_id\":\"C2\",\"state\":\"abandoned\"}",
	              "{}", &p, err) == 1);
	CHECK(strstr(ops_text(&p.ops), "\"summary\":\"call abandoned\",\"call_id\":\"c2\",\"csat\":null}") !=
	      NULL);
	projection_free(&p);
}

static const char open_entry[] =
    "{\"event\":\"open\",\"complaint_id\":\"K1\",\"agent\":\"agent1\",\"role\":\"agent\","
    "\"ts\":\"2026-11-22T09:00:00.999Z\",\"customer_id\":\"C1\",\"tier\":\"gold\",\"severity\":\"high\","
    "\"category\":\"billing\",\"phone\":\"+8613800000001\",\"call_id\":\"c1\",\"summary\":\"charged twice\","
    "\"state\":\"open\",\"due\":\"2026-11-22T13:00:00Z\",\"level\":0}";

static void test_complaint_open(void)
{
	struct projection p;
	char err[200];

	CHECK(project(STREAM_COMPLAINTS, open_entry, "{}", &p, err) == 1);
	CHECK(p.fresh);
	CHECK_STR(p.state_key, P "complaint:K1");
	CHECK_STR(
	    fields_text(p.fields),
	    "{\"state\":\"open\",\"severity\":\"high\",\"tier\":\"gold\",\"category\":\"billing\","
	    "\"summary\":"
	    "\"charged twice\",\"opened_at\":\"1795338000\",\"due\":\"1795352400\",\"opened_by\":\"agent1\","
	    "\"level\":\"0\",\"customer_id\":\"C1\",\"phone\":\"+8613800000001\",\"call_id\":\"c1\"}");
	CHECK_STR(
	    ops_text(&p.ops),
	    "RPUSH " P "complaint:K1:history "
	    "{\"event\":\"open\",\"complaint_id\":\"K1\",\"agent\":\"agent1\","
	    "\"role\":\"agent\",\"ts\":\"2026-11-22T09:00:00.999Z\",\"customer_id\":\"C1\",\"tier\":\"gold\","
	    "\"severity\":\"high\",\"category\":\"billing\",\"phone\":\"+8613800000001\",\"call_id\":\"c1\","
	    "\"summary\":\"charged twice\",\"state\":\"open\",\"due\":\"2026-11-22T13:00:00Z\",\"level\":0}\n"
	    "ZADD " P "complaints:open 1795352400 K1\n"
	    "ZADD " P "complaints:unassigned 1795352400 K1\n"
	    "HSET " P
	    "customer:C1:open_complaints K1 {\"complaint_id\":\"K1\",\"state\":\"open\",\"severity\":"
	    "\"high\",\"category\":\"billing\",\"tier\":\"gold\",\"due\":\"2026-11-22T13:00:00Z\",\"level\":"
	    "0,"
	    "\"summary\":\"charged twice\"}\n"
	    "LPUSH " P "customer:C1:contacts {\"time\":\"2026-11-22T09:00:00.999Z\",\"kind\":\"complaint\","
	    "\"agent\":\"agent1\",\"summary\":\"complaint open: billing\",\"complaint_id\":\"K1\"}\n"
	    "LTRIM " P "customer:C1:contacts 0 49\n");
	projection_free(&p);

	/* The history keeps the entry's stored bytes, not a re-serialisation. */
	{
		json_t *entry = json_loads(open_entry, 0, NULL);

		CHECK(projection_compute(P, STREAM_COMPLAINTS, entry, "{ \"as\" : \"stored\" }", NULL, &p,
		                         err, 200) == 1);
		const char *want = "RPUSH " P "complaint:K1:history { \"as\" : \"stored\" }\n";

		CHECK(strncmp(ops_text(&p.ops), want, strlen(want)) == 0);
		projection_free(&p);
		json_decref(entry);
	}
}

static const char opened_state[] =
    "{\"state\":\"open\",\"severity\":\"high\",\"tier\":\"gold\",\"category\":\"billing\",\"summary\":"
    "\"charged twice\","
    "\"opened_at\":\"1795338000\",\"due\":\"1795352400\",\"opened_by\":\"agent1\",\"level\":\"0\","
    "\"customer_id\":\"C1\",\"v\":\"1\"}";

static void test_complaint_claim_wait_resume_escalate(void)
{
	struct projection p;
	char err[200];

	CHECK(project(STREAM_COMPLAINTS,
	              "{\"event\":\"assign\",\"complaint_id\":\"K1\",\"agent\":\"agent2\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:10:00.000Z\",\"customer_id\":\"C1\",\"state\":\"open\","
	              "\"due\":\"2026-11-22T13:00:00Z\",\"owner\":\"agent2\"}",
	              opened_state, &p, err) == 1);
	CHECK_STR(fields_text(p.fields), "{\"owner\":\"agent2\",\"claimed_at\":\"1795338600\"}");
	CHECK_STR(json_string_value(json_object_get(p.state, "state")), "open");
	CHECK(strstr(ops_text(&p.ops), "ZREM " P "complaints:unassigned K1\n") != NULL);
	CHECK(strstr(ops_text(&p.ops), "\"owner\":\"agent2\"") != NULL); /* in the customer's card */
	CHECK(strstr(ops_text(&p.ops), "LPUSH") == NULL);                /* a claim is no contact */
	{
		json_t *before = json_loads(opened_state, 0, NULL);

		CHECK(projection_version(&p, before) == 2);
		json_decref(before);
	}
	projection_free(&p);

	CHECK(
	    project(
	        STREAM_COMPLAINTS,
	        "{\"event\":\"wait\",\"complaint_id\":\"K1\",\"agent\":\"agent2\",\"role\":\"agent\","
	        "\"ts\":\"2026-11-22T09:20:00.000Z\",\"state\":\"waiting\",\"due\":\"2026-11-22T13:00:00Z\"}",
	        opened_state, &p, err) == 1);
	CHECK_STR(fields_text(p.fields), "{\"state\":\"waiting\",\"paused_at\":\"1795339200\"}");
	projection_free(&p);

	CHECK(project(STREAM_COMPLAINTS,
	              "{\"event\":\"resume\",\"complaint_id\":\"K1\",\"agent\":\"agent2\",\"role\":\"agent\","
	              "\"ts\":\"2026-11-22T09:30:00.000Z\",\"state\":\"in_progress\",\"due\":\"2026-11-22T13:"
	              "10:00Z\"}",
	              opened_state, &p, err) == 1);
	CHECK_STR(fields_text(p.fields),
	          "{\"state\":\"in_progress\",\"due\":\"1795353000\",\"paused_at\":\"\"}");
	projection_free(&p);

	CHECK(
	    project(STREAM_COMPLAINTS,
	            "{\"event\":\"escalate\",\"complaint_id\":\"K1\",\"agent\":\"super1\",\"role\":"
	            "\"supervisor\","
	            "\"ts\":\"2026-11-22T09:30:00.000Z\",\"state\":\"open\",\"due\":\"2026-11-22T11:00:00Z\","
	            "\"level\":1}",
	            opened_state, &p, err) == 1);
	CHECK_STR(fields_text(p.fields), "{\"state\":\"open\",\"level\":\"1\",\"due\":\"1795345200\"}");
	CHECK(strstr(ops_text(&p.ops), "ZADD " P "complaints:open 1795345200 K1\n") != NULL);
	projection_free(&p);

	/* A calendar that never opens: the deadline that never comes stays so. */
	CHECK(
	    project(STREAM_COMPLAINTS,
	            "{\"event\":\"escalate\",\"complaint_id\":\"K1\",\"agent\":\"super1\",\"role\":"
	            "\"supervisor\","
	            "\"ts\":\"2026-11-22T09:30:00.000Z\",\"state\":\"open\",\"due\":\"9999-12-31T23:59:59Z\","
	            "\"level\":1}",
	            opened_state, &p, err) == 1);
	CHECK_STR(json_string_value(json_object_get(p.fields, "due")), "9223372036854775807");
	projection_free(&p);
}

static void test_complaint_resolve_reopen(void)
{
	struct projection p;
	char err[200];

	CHECK(
	    project(STREAM_COMPLAINTS,
	            "{\"event\":\"resolve\",\"complaint_id\":\"K1\",\"agent\":\"agent2\",\"role\":\"agent\","
	            "\"ts\":\"2026-11-22T10:00:00.000Z\",\"customer_id\":\"C1\",\"state\":\"resolved\","
	            "\"due\":\"2026-11-22T13:00:00Z\",\"resolution\":\"refunded\"}",
	            opened_state, &p, err) == 1);
	CHECK_STR(fields_text(p.fields),
	          "{\"state\":\"resolved\",\"resolved_at\":\"1795341600\",\"resolution\":"
	          "\"refunded\"}");
	CHECK(strstr(ops_text(&p.ops),
	             "ZREM " P "complaints:open K1\nZREM " P "complaints:unassigned K1\n"
	             "HDEL " P "customer:C1:open_complaints K1\nLPUSH " P "customer:C1:contacts "
	             "{\"time\":\"2026-11-22T10:00:00.000Z\",\"kind\":\"complaint\",\"agent\":"
	             "\"agent2\",\"summary\":\"complaint resolve: billing\"") != NULL);
	projection_free(&p);

	CHECK(project(
	          STREAM_COMPLAINTS,
	          "{\"event\":\"reopen\",\"complaint_id\":\"K1\",\"agent\":\"agent2\",\"role\":\"agent\","
	          "\"ts\":\"2026-11-22T11:00:00.000Z\",\"customer_id\":\"C1\",\"state\":\"open\","
	          "\"due\":\"2026-11-22T15:00:00Z\"}",
	          "{\"state\":\"closed\",\"owner\":\"agent2\",\"reopened\":\"2\",\"due\":\"1\",\"v\":\"9\"}",
	          &p, err) == 1);
	CHECK_STR(fields_text(p.fields),
	          "{\"state\":\"open\",\"due\":\"1795359600\",\"owner\":\"\",\"reopened\":\"3\"}");
	CHECK(strstr(ops_text(&p.ops), "ZADD " P "complaints:unassigned 1795359600 K1\n") != NULL);
	{
		struct journal_ops ops = {0};
		json_t *before = json_pack("{s:s}", "v", "9");

		projection_state_write(&p, before, &ops);
		CHECK_STR(ops_text(&ops),
		          "HSET " P "complaint:K1 state open due 1795359600 owner  reopened 3 v 10\n");
		journal_ops_free(&ops);
		json_decref(before);
	}
	projection_free(&p);
}

static void test_refusals(void)
{
	struct projection p;
	char err[200];
	static const char *const bad[] = {
	    "{\"event\":\"offer\",\"call_id\":\"a:b\",\"agent\":\"x\",\"ts\":\"2026-11-22T09:00:00.000Z\","
	    "\"state\":\"offered\"}",
	    "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"x\",\"ts\":\"2026-11-22T09:00:00.000Z\","
	    "\"state\":\"offered\",\"customer_id\":\"C 1\"}",
	    "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"x\",\"state\":\"offered\"}",
	    "{\"event\":\"offer\",\"call_id\":\"c1\",\"agent\":\"x\",\"ts\":\"yesterday\",\"state\":"
	    "\"offered\"}",
	    "{\"event\":\"dance\",\"call_id\":\"c1\",\"agent\":\"x\",\"ts\":\"2026-11-22T09:00:00.000Z\","
	    "\"state\":\"offered\"}",
	    "[1,2]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(project(STREAM_CALLS, bad[i], "{}", &p, err) == -1);
		CHECK(err[0] != '\0');
		CHECK(p.fields == NULL && p.ops.n == 0);
	}
	CHECK(project(STREAM_COMPLAINTS,
	              "{\"event\":\"open\",\"complaint_id\":\"K2\",\"agent\":\"a\",\"ts\":\"2026-11-22T09:00:"
	              "00.000Z\","
	              "\"state\":\"open\",\"severity\":\"low\",\"tier\":\"lead\",\"category\":\"x\"}",
	              "{}", &p, err) == -1);
	CHECK(strstr(err, "summary") != NULL);
	/* A spooled write the rules refused later: logged, changes nothing. */
	CHECK(project(STREAM_CALLS,
	              "{\"event\":\"answer\",\"call_id\":\"c1\",\"agent\":\"x\",\"ts\":\"2026-11-22T09:00:00."
	              "000Z\","
	              "\"rejected\":\"conflict: call c1 is ended; cannot answer\",\"spooled\":true}",
	              "{}", &p, err) == 0);
	CHECK(p.fields == NULL && p.ops.n == 0);
}

static void test_derived_keys(void)
{
	static const struct {
		const char *key;
		enum key_derived kind;
	} cases[] = {
	    {P "call:c-1", KEY_DERIVED_CALL},
	    {P "calls:open", KEY_DERIVED},
	    {P "complaint:K1", KEY_DERIVED},
	    {P "complaint:K1:history", KEY_DERIVED},
	    {P "complaints:open", KEY_DERIVED},
	    {P "complaints:unassigned", KEY_DERIVED},
	    {P "customer:C1:contacts", KEY_DERIVED},
	    {P "customer:C1:open_complaints", KEY_DERIVED},
	    {P "customer:C1", KEY_NOT_DERIVED},
	    {P "customer::contacts", KEY_NOT_DERIVED},
	    {P "complaint:K1:notes", KEY_NOT_DERIVED},
	    {P "call:", KEY_NOT_DERIVED},
	    {P "call:a:b", KEY_NOT_DERIVED},
	    {P "calls:other", KEY_NOT_DERIVED},
	    {P "log:calls", KEY_NOT_DERIVED},
	    {P "idem:agent1:r1", KEY_NOT_DERIVED},
	    {P "rebuild:stage:call:c1", KEY_NOT_DERIVED},
	    {P "phone:+861", KEY_NOT_DERIVED},
	    {"other:call:c1", KEY_NOT_DERIVED},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_report(key_derived_kind(P, cases[i].key, strlen(cases[i].key)) == cases[i].kind,
		             __FILE__, __LINE__, "key_derived_kind(%s) is not %d", cases[i].key,
		             (int)cases[i].kind);
}

static void test_ops_list(void)
{
	struct journal_ops a = {0}, b = {0};

	journal_ops_addf(&a, 2, "DEL", "x");
	journal_ops_addf(&b, 3, "SET", "y", "1");
	journal_ops_addf(&b, 2, "DEL", "z");
	journal_ops_take(&a, &b);
	CHECK(b.n == 0 && b.argv == NULL);
	CHECK_STR(ops_text(&a), "DEL x\nSET y 1\nDEL z\n");
	journal_ops_free(&a);
	CHECK(a.n == 0);
}

int main(void)
{
	test_call_offer();
	test_call_answer_keeps_the_leg_owner();
	test_call_hold_transfer();
	test_call_end();
	test_complaint_open();
	test_complaint_claim_wait_resume_escalate();
	test_complaint_resolve_reopen();
	test_refusals();
	test_derived_keys();
	test_ops_list();
	return check_summary("test_projection");
}
