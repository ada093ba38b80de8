/* `hotline replay --to`'s pure parts: each log entry back to the request
 * that produced it (tools/replay_plan.c), and the bounded map of recorded
 * complaint ids to the target's (tools/replay_map.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_map.h"
#include "replay_plan.h"

#include "check.h"

/* The line planned for an entry, or the verdict's name. */
static char *plan_line(enum log_stream s, const char *id, const char *entry)
{
	struct replay_request rq;
	char *line;

	replay_plan(s, id, entry, entry ? strlen(entry) : 0, &rq);
	switch (rq.verdict) {
	case REPLAY_SEND:
		line = replay_request_line(&rq);
		break;
	case REPLAY_SKIP_REJECTED:
		line = strdup("skip rejected");
		break;
	case REPLAY_SKIP_UNKNOWN:
		line = strdup("skip unknown");
		break;
	case REPLAY_SKIP_LOST:
		line = strdup("skip lost");
		break;
	default:
		line = malloc(200);
		snprintf(line, 200, "skip malformed: %s", rq.why);
		break;
	}
	replay_request_free(&rq);
	return line;
}

#define PLAN(s, id, entry, want)                                                                             \
	do {                                                                                                 \
		char *got_ = plan_line(s, id, entry);                                                        \
		CHECK_STR(got_, want);                                                                       \
		free(got_);                                                                                  \
	} while (0)

static void calls(void)
{
	PLAN(LOG_CALLS, "1795381813307-0",
	     "{\"event\":\"offer\",\"call_id\":\"pbx-1\",\"agent\":\"agent1\",\"role\":\"agent\",\"ts\":\"2026-11-22T09:"
	     "00:00.000Z\",\"customer_id\":\"C1\",\"phone\":\"+8613800138000\",\"queue\":\"mobile\",\"dnis\":\"+864008001234\","
	     "\"tier\":\"gold\",\"note\":\"n\",\"state\":\"offered\",\"request_id\":\"u-1\"}",
	     "CALL offer {\"call_id\":\"pbx-1\",\"queue\":\"mobile\",\"phone\":\"+8613800138000\",\"customer_id\":\"C1\","
	     "\"dnis\":\"+864008001234\",\"note\":\"n\",\"as\":\"agent1\",\"request_id\":\"rp-calls-1795381813307-0\"}");
	PLAN(LOG_CALLS, "5-1", "{\"event\":\"answer\",\"call_id\":\"pbx-1\",\"agent\":\"a2\",\"role\":\"agent\",\"state\":\"answered\"}",
	     "CALL answer {\"call_id\":\"pbx-1\",\"as\":\"a2\",\"request_id\":\"rp-calls-5-1\"}");
	/* a supervisor's event: as_role */
	PLAN(LOG_CALLS, "6-0", "{\"event\":\"hold\",\"call_id\":\"c\",\"agent\":\"s1\",\"role\":\"supervisor\",\"state\":\"held\"}",
	     "CALL hold {\"call_id\":\"c\",\"as\":\"s1\",\"as_role\":\"supervisor\",\"request_id\":\"rp-calls-6-0\"}");
	PLAN(LOG_CALLS, "7-0",
	     "{\"event\":\"transfer\",\"call_id\":\"c\",\"agent\":\"a1\",\"role\":\"agent\",\"to\":\"a2\",\"leg_ms\":5,\"state\":"
	     "\"answered\"}",
	     "CALL transfer {\"call_id\":\"c\",\"to\":\"a2\",\"as\":\"a1\",\"request_id\":\"rp-calls-7-0\"}");
	PLAN(LOG_CALLS, "8-0",
	     "{\"event\":\"end\",\"call_id\":\"c\",\"agent\":\"a2\",\"role\":\"agent\",\"disposition\":\"resolved\",\"csat\":4,"
	     "\"note\":null,\"leg_ms\":9,\"state\":\"ended\",\"queue\":\"q\"}",
	     "CALL end {\"call_id\":\"c\",\"disposition\":\"resolved\",\"csat\":4,\"as\":\"a2\",\"request_id\":\"rp-calls-8-0\"}");
	/* an imported queue_log call replays like any other */
	PLAN(LOG_CALLS, "9-0",
	     "{\"event\":\"offer\",\"call_id\":\"1700000000.42\",\"agent\":\"1001\",\"role\":\"agent\",\"queue\":\"support\","
	     "\"source\":\"queue_log\",\"state\":\"offered\"}",
	     "CALL offer {\"call_id\":\"1700000000.42\",\"queue\":\"support\",\"as\":\"1001\",\"request_id\":\"rp-calls-9-0\"}");
	/* already replayed once: replayed again, as the same agent */
	PLAN(LOG_CALLS, "10-0",
	     "{\"event\":\"resume\",\"call_id\":\"c\",\"agent\":\"a1\",\"role\":\"agent\",\"replayed_by\":\"rp\",\"state\":\"answered\"}",
	     "CALL resume {\"call_id\":\"c\",\"as\":\"a1\",\"request_id\":\"rp-calls-10-0\"}");

	PLAN(LOG_CALLS, "1-0",
	     "{\"event\":\"answer\",\"call_id\":\"c\",\"agent\":\"a1\",\"role\":\"agent\",\"rejected\":\"conflict: call c is ended; cannot "
	     "answer\",\"spooled\":true,\"args\":{}}",
	     "skip rejected");
	PLAN(LOG_CALLS, "1-0", "{\"event\":\"ring\",\"call_id\":\"c\",\"agent\":\"a1\"}", "skip unknown");
	PLAN(LOG_CALLS, "1-0", "{\"event\":\"open\",\"call_id\":\"c\",\"agent\":\"a1\"}", "skip unknown");
	PLAN(LOG_CALLS, "1-0", "[1]", "skip malformed: the entry is not a JSON object");
	PLAN(LOG_CALLS, "1-0", "{\"event\":", "skip malformed: the entry is not a JSON object");
	PLAN(LOG_CALLS, "1-0", NULL, "skip malformed: the entry field is missing");
	PLAN(LOG_CALLS, "1-0", "{\"call_id\":\"c\",\"agent\":\"a\"}", "skip malformed: no event");
	PLAN(LOG_CALLS, "1-0", "{\"event\":\"answer\",\"agent\":\"a\"}", "skip malformed: no valid call_id");
	PLAN(LOG_CALLS, "1-0", "{\"event\":\"answer\",\"call_id\":\"c\"}", "skip malformed: no valid agent");
	PLAN(LOG_CALLS, "1-0", "{\"event\":\"answer\",\"call_id\":\"c\",\"agent\":\"\"}", "skip malformed: no valid agent");
	PLAN(LOG_CALLS, "1-0",
	     "{\"event\":\"answer\",\"call_id\":\"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
	     "\"agent\":\"a\"}",
	     "skip malformed: no valid call_id");
}

static void complaints(void)
{
	struct replay_request rq;
	const char *open =
	    "{\"event\":\"open\",\"complaint_id\":\"K20261122-AAAAAAAA\",\"agent\":\"a1\",\"role\":\"agent\",\"ts\":\"t\","
	    "\"customer_id\":\"C1\",\"tier\":\"gold\",\"severity\":\"high\",\"category\":\"billing\",\"phone\":\"+8613800138000\","
	    "\"call_id\":\"pbx-1\",\"summary\":\"charged twice\",\"state\":\"open\",\"due\":\"2026-11-23T13:00:00Z\"}";
	char *line;

	PLAN(LOG_COMPLAINTS, "11-0", open,
	     "COMPLAINT open {\"customer_id\":\"C1\",\"phone\":\"+8613800138000\",\"call_id\":\"pbx-1\",\"category\":\"billing\","
	     "\"severity\":\"high\",\"summary\":\"charged twice\",\"as\":\"a1\",\"request_id\":\"rp-complaints-11-0\"}");
	replay_plan(LOG_COMPLAINTS, "11-0", open, strlen(open), &rq);
	CHECK(rq.verdict == REPLAY_SEND && rq.opens_complaint);
	CHECK_STR(rq.subject, "K20261122-AAAAAAAA");
	CHECK_STR(rq.agent, "a1");
	CHECK_STR(replay_request_call(&rq), "pbx-1");
	replay_request_free(&rq);

	PLAN(LOG_COMPLAINTS, "12-0",
	     "{\"event\":\"resolve\",\"complaint_id\":\"K1\",\"agent\":\"a1\",\"role\":\"agent\",\"resolution\":\"refund\","
	     "\"note\":\"done\",\"state\":\"resolved\",\"level\":1}",
	     "COMPLAINT resolve {\"complaint_id\":\"K1\",\"resolution\":\"refund\",\"note\":\"done\",\"as\":\"a1\","
	     "\"request_id\":\"rp-complaints-12-0\"}");
	/* the recorded claim: next, naming the complaint, no note */
	PLAN(LOG_COMPLAINTS, "13-0",
	     "{\"event\":\"assign\",\"complaint_id\":\"K1\",\"agent\":\"a2\",\"role\":\"agent\",\"owner\":\"a2\",\"note\":\"x\"}",
	     "COMPLAINT next {\"complaint_id\":\"K1\",\"as\":\"a2\",\"request_id\":\"rp-complaints-13-0\"}");
	for (const char *const *a = (const char *const[]){"ack", "progress", "wait", "resume", "escalate", "close",
	                                                  "reopen", NULL};
	     *a; a++) {
		char entry[200], want[200];

		snprintf(entry, sizeof(entry),
		         "{\"event\":\"%s\",\"complaint_id\":\"K1\",\"agent\":\"s\",\"role\":\"supervisor\",\"note\":\"n\","
		         "\"resolution\":\"r\",\"level\":2}",
		         *a);
		snprintf(want, sizeof(want),
		         "COMPLAINT %s {\"complaint_id\":\"K1\",\"note\":\"n\",\"as\":\"s\",\"as_role\":\"supervisor\","
		         "\"request_id\":\"rp-complaints-14-0\"}",
		         *a);
		PLAN(LOG_COMPLAINTS, "14-0", entry, want);
	}
	/* the complaint as the target daemon knows it */
	{
		const char *ack = "{\"event\":\"ack\",\"complaint_id\":\"K1\",\"agent\":\"a1\"}";

		replay_plan(LOG_COMPLAINTS, "15-0", ack, strlen(ack), &rq);
		CHECK(!rq.opens_complaint && replay_request_call(&rq) == NULL);
		replay_request_set_complaint(&rq, "K20261201-ZZZZZZZZ");
		line = replay_request_line(&rq);
		CHECK_STR(line, "COMPLAINT ack {\"complaint_id\":\"K20261201-ZZZZZZZZ\",\"as\":\"a1\",\"request_id\":"
		                "\"rp-complaints-15-0\"}");
		free(line);
		replay_request_free(&rq);
	}
	PLAN(LOG_COMPLAINTS, "1-0", "{\"event\":\"answer\",\"complaint_id\":\"K1\",\"agent\":\"a\"}", "skip unknown");
	PLAN(LOG_COMPLAINTS, "1-0", "{\"event\":\"ack\",\"call_id\":\"K1\",\"agent\":\"a\"}",
	     "skip malformed: no valid complaint_id");
}

/* A lost record is no request's: never re-driven, in either stream, well
 * formed or not; an entry that merely mentions "lost" still is. */
static void lost_records(void)
{
	const char *lost =
	    "{\"event\":\"lost\",\"ts\":\"2026-11-23T03:00:00.123Z\",\"reported_by\":\"hotlined:h:1\","
	    "\"master\":\"127.0.0.1:6381\",\"lost\":[{\"seq\":101,\"id\":\"1763860000000-0\",\"hash\":"
	    "\"0123456789abcdef\",\"request_id\":\"a-agent1-7\",\"what\":\"CALL offer call:c-1 by "
	    "agent1\"}]}";

	PLAN(LOG_CALLS, "20-0", lost, "skip lost");
	PLAN(LOG_COMPLAINTS, "20-0", lost, "skip lost");
	PLAN(LOG_CALLS, "20-0", "{\"event\":\"lost\",\"lost\":[]}", "skip lost");
	PLAN(LOG_CALLS, "21-0", "{\"event\":\"answer\",\"call_id\":\"c\",\"agent\":\"a1\",\"note\":\"lost\"}",
	     "CALL answer "
	     "{\"call_id\":\"c\",\"note\":\"lost\",\"as\":\"a1\",\"request_id\":\"rp-calls-21-0\"}");
}

static void request_ids(void)
{
	char id[REPLAY_ID_MAX + 1];

	replay_request_id(LOG_COMPLAINTS, "18446744073709551615-18446744073709551615", id);
	CHECK_STR(id, "rp-complaints-18446744073709551615-18446744073709551615");
	CHECK(strlen(id) <= 64);
}

static void map(void)
{
	struct replay_map *m = replay_map_new(3);
	const char *got;

	CHECK(m != NULL);
	CHECK(replay_map_get(m, "K1", &got) == REPLAY_MAP_ABSENT && got == NULL);
	replay_map_expect(m, "K1");
	CHECK(replay_map_get(m, "K1", &got) == REPLAY_MAP_PENDING && got == NULL);
	replay_map_resolve(m, "K1", "N1");
	CHECK(replay_map_get(m, "K1", &got) == REPLAY_MAP_MAPPED);
	CHECK_STR(got, "N1");
	replay_map_expect(m, "K2");
	replay_map_resolve(m, "K2", NULL);
	CHECK(replay_map_get(m, "K2", &got) == REPLAY_MAP_FAILED && got == NULL);
	replay_map_resolve(m, "K9", "N9"); /* not expected: ignored */
	CHECK(replay_map_get(m, "K9", &got) == REPLAY_MAP_ABSENT);
	replay_map_expect(m, "K3");
	replay_map_resolve(m, "K3", "N3");
	CHECK(replay_map_size(m) == 3 && replay_map_evicted(m) == 0);
	/* use order now K1 (oldest) K2 K3; touching K1 makes K2 the oldest */
	CHECK(replay_map_get(m, "K1", &got) == REPLAY_MAP_MAPPED);
	replay_map_expect(m, "K4");
	replay_map_resolve(m, "K4", "N4");
	CHECK(replay_map_evicted(m) == 1);
	CHECK(replay_map_get(m, "K2", &got) == REPLAY_MAP_ABSENT);
	CHECK(replay_map_get(m, "K1", &got) == REPLAY_MAP_MAPPED && strcmp(got, "N1") == 0);
	CHECK(replay_map_get(m, "K3", &got) == REPLAY_MAP_MAPPED && strcmp(got, "N3") == 0);
	CHECK(replay_map_get(m, "K4", &got) == REPLAY_MAP_MAPPED && strcmp(got, "N4") == 0);
	/* an open seen again (a re-run's duplicate) is pending again, then mapped */
	replay_map_expect(m, "K3");
	CHECK(replay_map_get(m, "K3", &got) == REPLAY_MAP_PENDING);
	replay_map_resolve(m, "K3", "N3");
	CHECK(replay_map_evicted(m) == 1);
	replay_map_free(m);

	/* many more complaints than room: the most recent ones stay, in a
	 * table whose chains are exercised by collisions and removals */
	m = replay_map_new(1000);
	for (int i = 0; i < 20000; i++) {
		char k[32], v[32];

		snprintf(k, sizeof(k), "K%d", i);
		snprintf(v, sizeof(v), "N%d", i);
		replay_map_expect(m, k);
		replay_map_resolve(m, k, v);
	}
	CHECK(replay_map_evicted(m) == 19000);
	for (int i = 0; i < 20000; i++) {
		char k[32], v[32];
		enum replay_map_state st;

		snprintf(k, sizeof(k), "K%d", i);
		snprintf(v, sizeof(v), "N%d", i);
		st = replay_map_get(m, k, &got);
		if (i < 19000)
			CHECK(st == REPLAY_MAP_ABSENT);
		else
			CHECK(st == REPLAY_MAP_MAPPED && strcmp(got, v) == 0);
	}
	replay_map_free(m);
	CHECK(replay_map_new(0) == NULL);
}

int main(void)
{
	calls();
	lost_records();
	complaints();
	request_ids();
	map();
	return check_summary("test_replay_plan");
}
