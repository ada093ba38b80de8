/* test_lifecycle.c - unit tests for daemon/lifecycle.c.
 *
 * The expected behaviour is written here a second time, differently: as a
 * list of allowed (from, event, to) triples copied from the header comment.
 * Every cell of both matrices is checked against it, so a transition that
 * the tables allow by mistake fails just as much as one they forget.
 */
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

struct triple {
	const char *from, *event, *to;
};

/* By name, so the expectation does not share the enums' ordering. */
/* clang-format off */
static const struct triple call_allowed[] = {
	{"none", "offer", "offered"},
	{"offered", "answer", "answered"},
	{"offered", "end", "abandoned"},
	{"answered", "hold", "held"},
	{"answered", "transfer", "answered"},
	{"answered", "end", "ended"},
	{"held", "resume", "answered"},
	{"held", "transfer", "answered"},
	{"held", "end", "ended"},
};

/* Reopening a closed complaint depends on the window: listed separately. */
static const struct triple complaint_allowed[] = {
	{"none", "open", "open"},
	{"open", "ack", "acknowledged"},
	{"open", "progress", "in_progress"},
	{"acknowledged", "progress", "in_progress"},
	{"in_progress", "progress", "in_progress"},
	{"acknowledged", "wait", "waiting"},
	{"in_progress", "wait", "waiting"},
	{"waiting", "resume", "in_progress"},
	{"open", "escalate", "open"},
	{"acknowledged", "escalate", "acknowledged"},
	{"in_progress", "escalate", "in_progress"},
	{"waiting", "escalate", "waiting"},
	{"open", "resolve", "resolved"},
	{"acknowledged", "resolve", "resolved"},
	{"in_progress", "resolve", "resolved"},
	{"resolved", "close", "closed"},
	{"resolved", "reopen", "open"},
};

static const struct triple complaint_window_only = {"closed", "reopen", "open"};
/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const call_states[] = {"none", "offered", "answered", "held", "ended", "abandoned"};
static const char *const call_events[] = {"offer", "answer", "hold", "resume", "transfer", "end"};
static const char *const complaint_states[] = {"none",    "open",     "acknowledged", "in_progress",
                                               "waiting", "resolved", "closed"};
static const char *const complaint_actions[] = {"open",     "ack",     "progress", "wait",  "resume",
                                                "escalate", "resolve", "close",    "reopen"};
static const char *const severities[] = {"low", "medium", "high", "critical"};

static const struct triple *find(const struct triple *list, size_t n, const char *from, const char *ev)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].from, from) == 0 && strcmp(list[i].event, ev) == 0)
			return &list[i];
	return NULL;
}

static void test_call_matrix(void)
{
	CHECK(N(call_states) == CALL_STATE_COUNT && N(call_events) == CALL_EVENT_COUNT);
	for (int s = 0; s < CALL_STATE_COUNT; s++) {
		for (int e = 0; e < CALL_EVENT_COUNT; e++) {
			const char *from = call_state_name((enum call_state)s);
			const char *ev = call_event_name((enum call_event)e);
			const struct triple *t = find(call_allowed, N(call_allowed), from, ev);
			enum call_state to = CALL_STATE_COUNT;
			bool ok = call_next_state((enum call_state)s, (enum call_event)e, &to);
			check_report(!(ok != (t != NULL) || (t && strcmp(call_state_name(to), t->to) != 0)),
			             __FILE__, __LINE__, "call %s --%s--> %s, expected %s", from, ev,
			             ok ? call_state_name(to) : "refused", t ? t->to : "refused");
			/* Refusal never touches the output. */
			if (!ok)
				CHECK(to == CALL_STATE_COUNT);
		}
	}
	/* A NULL output is allowed for a mere "may I?" question. */
	CHECK(call_next_state(CALL_NONE, CALL_OFFER, NULL));
	CHECK(!call_next_state(CALL_ENDED, CALL_OFFER, NULL));
	CHECK(!call_next_state(CALL_STATE_COUNT, CALL_OFFER, NULL));
	CHECK(!call_next_state((enum call_state) - 1, CALL_OFFER, NULL));
	CHECK(!call_next_state(CALL_NONE, CALL_EVENT_COUNT, NULL));
	CHECK(!call_next_state(CALL_NONE, (enum call_event)200, NULL));
}

static bool expect_complaint(const char *from, const char *act, bool window, const char **to)
{
	if (window && strcmp(from, complaint_window_only.from) == 0 &&
	    strcmp(act, complaint_window_only.event) == 0) {
		*to = complaint_window_only.to;
		return true;
	}
	const struct triple *t = find(complaint_allowed, N(complaint_allowed), from, act);
	*to = t ? t->to : "refused";
	return t != NULL;
}

static void test_complaint_matrix(void)
{
	CHECK(N(complaint_states) == COMPLAINT_STATE_COUNT && N(complaint_actions) == COMPLAINT_ACTION_COUNT);
	for (int w = 0; w < 2; w++) {
		for (int s = 0; s < COMPLAINT_STATE_COUNT; s++) {
			for (int a = 0; a < COMPLAINT_ACTION_COUNT; a++) {
				const char *from = complaint_state_name((enum complaint_state)s);
				const char *act = complaint_action_name((enum complaint_action)a);
				const char *want;
				bool allowed = expect_complaint(from, act, w, &want);
				enum complaint_state to = COMPLAINT_STATE_COUNT;
				bool ok = complaint_next_state((enum complaint_state)s,
				                               (enum complaint_action)a, w, &to);
				check_report(
				    !(ok != allowed || (ok && strcmp(complaint_state_name(to), want) != 0)),
				    __FILE__, __LINE__, "complaint %s --%s%s--> %s, expected %s", from, act,
				    w ? " (in window)" : "", ok ? complaint_state_name(to) : "refused", want);
				if (!ok)
					CHECK(to == COMPLAINT_STATE_COUNT);
			}
		}
	}
	CHECK(!complaint_next_state(COMPLAINT_STATE_COUNT, COMPLAINT_DO_OPEN, true, NULL));
	CHECK(!complaint_next_state(COMPLAINT_NONE, COMPLAINT_ACTION_COUNT, true, NULL));
	CHECK(!complaint_next_state((enum complaint_state) - 3, COMPLAINT_DO_OPEN, true, NULL));
	CHECK(complaint_next_state(COMPLAINT_CLOSED, COMPLAINT_DO_REOPEN, true, NULL));
	CHECK(!complaint_next_state(COMPLAINT_CLOSED, COMPLAINT_DO_REOPEN, false, NULL));
	/* The window only matters for closed complaints. */
	CHECK(complaint_next_state(COMPLAINT_RESOLVED, COMPLAINT_DO_REOPEN, false, NULL));
}

static void test_open_states(void)
{
	static const char *const open[] = {"open", "acknowledged", "in_progress", "waiting"};
	for (int s = 0; s < COMPLAINT_STATE_COUNT; s++) {
		const char *name = complaint_state_name((enum complaint_state)s);
		bool want = false;
		for (size_t i = 0; i < N(open); i++)
			want = want || strcmp(open[i], name) == 0;
		CHECK(complaint_state_is_open((enum complaint_state)s) == want);
	}
	CHECK(!complaint_state_is_open(COMPLAINT_STATE_COUNT));
	CHECK(!complaint_state_is_open((enum complaint_state) - 1));
}

typedef const char *(*name_fn)(int);
typedef int (*lookup_fn)(const char *, size_t);

static const char *call_state_n(int v)
{
	return call_state_name((enum call_state)v);
}
static const char *call_event_n(int v)
{
	return call_event_name((enum call_event)v);
}
static const char *complaint_state_n(int v)
{
	return complaint_state_name((enum complaint_state)v);
}
static const char *complaint_action_n(int v)
{
	return complaint_action_name((enum complaint_action)v);
}
static const char *severity_n(int v)
{
	return severity_name((enum severity)v);
}

/* Each enum value has the expected name, the name maps back to the value,
 * and near misses (prefix, longer, other case) are unknown. */
static void round_trip(const char *const *want, int count, name_fn name, lookup_fn lookup, int line)
{
	for (int v = 0; v < count; v++) {
		const char *s = name(v);
		size_t len = strlen(s);
		char buf[64];
		int back = lookup(s, len);
		check_report(strcmp(s, want[v]) == 0 && back == v, __FILE__, line,
		             "value %d named '%s' (expected '%s'), looked up as %d", v, s, want[v], back);
		CHECK(lookup(s, len - 1) == -1);
		snprintf(buf, sizeof buf, "%sx", s);
		CHECK(lookup(buf, len + 1) == -1);
		/* len is honoured: trailing bytes beyond it do not matter. */
		CHECK(lookup(buf, len) == v);
		snprintf(buf, sizeof buf, "%s", s);
		buf[0] = (char)(buf[0] - 'a' + 'A');
		CHECK(lookup(buf, len) == -1);
	}
	CHECK(strcmp(name(count), "unknown") == 0);
	CHECK(strcmp(name(-1), "unknown") == 0);
	CHECK(lookup("", 0) == -1);
	CHECK(lookup(NULL, 0) == -1);
	CHECK(lookup("unknown", 7) == -1);
}

static void test_names(void)
{
	round_trip(call_states, CALL_STATE_COUNT, call_state_n, call_state_from_name, __LINE__);
	round_trip(call_events, CALL_EVENT_COUNT, call_event_n, call_event_from_name, __LINE__);
	round_trip(complaint_states, COMPLAINT_STATE_COUNT, complaint_state_n, complaint_state_from_name,
	           __LINE__);
	round_trip(complaint_actions, COMPLAINT_ACTION_COUNT, complaint_action_n, complaint_action_from_name,
	           __LINE__);
	round_trip(severities, SEV_COUNT, severity_n, severity_from_name, __LINE__);
	/* Severities are ordered from least to most urgent. */
	CHECK(SEV_LOW < SEV_MEDIUM && SEV_MEDIUM < SEV_HIGH && SEV_HIGH < SEV_CRITICAL);
}

int main(void)
{
	test_call_matrix();
	test_complaint_matrix();
	test_open_states();
	test_names();
	return check_summary("test_lifecycle");
}
