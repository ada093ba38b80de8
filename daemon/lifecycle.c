/* lifecycle.c - the call and complaint transition tables (see lifecycle.h).
 *
 * Each table maps (state, event) to the next state.  No transition ever
 * leads back to the NONE state, so a zero cell - what designated
 * initializers leave behind - means "refused": only allowed transitions
 * are written down, and anything forgotten is refused rather than allowed.
 */
#include "lifecycle.h"

#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define REFUSED 0
_Static_assert(CALL_NONE == REFUSED && COMPLAINT_NONE == REFUSED, "a zero cell must mean refused");

/* clang-format off */
static const signed char call_next[CALL_STATE_COUNT][CALL_EVENT_COUNT] = {
	[CALL_NONE]     = {[CALL_OFFER] = CALL_OFFERED},
	[CALL_OFFERED]  = {[CALL_ANSWER] = CALL_ANSWERED, [CALL_END] = CALL_ABANDONED},
	[CALL_ANSWERED] = {[CALL_HOLD] = CALL_HELD, [CALL_TRANSFER] = CALL_ANSWERED, [CALL_END] = CALL_ENDED},
	[CALL_HELD]     = {[CALL_RESUME] = CALL_ANSWERED, [CALL_TRANSFER] = CALL_ANSWERED,
	                   [CALL_END] = CALL_ENDED},
	/* ended and abandoned are final */
};

static const signed char complaint_next[COMPLAINT_STATE_COUNT][COMPLAINT_ACTION_COUNT] = {
	[COMPLAINT_NONE]         = {[COMPLAINT_DO_OPEN] = COMPLAINT_OPEN},
	[COMPLAINT_OPEN]         = {[COMPLAINT_DO_ACK] = COMPLAINT_ACKNOWLEDGED,
	                            [COMPLAINT_DO_PROGRESS] = COMPLAINT_IN_PROGRESS,
	                            [COMPLAINT_DO_ESCALATE] = COMPLAINT_OPEN,
	                            [COMPLAINT_DO_RESOLVE] = COMPLAINT_RESOLVED},
	[COMPLAINT_ACKNOWLEDGED] = {[COMPLAINT_DO_PROGRESS] = COMPLAINT_IN_PROGRESS,
	                            [COMPLAINT_DO_WAIT] = COMPLAINT_WAITING,
	                            [COMPLAINT_DO_ESCALATE] = COMPLAINT_ACKNOWLEDGED,
	                            [COMPLAINT_DO_RESOLVE] = COMPLAINT_RESOLVED},
	[COMPLAINT_IN_PROGRESS]  = {[COMPLAINT_DO_PROGRESS] = COMPLAINT_IN_PROGRESS,
	                            [COMPLAINT_DO_WAIT] = COMPLAINT_WAITING,
	                            [COMPLAINT_DO_ESCALATE] = COMPLAINT_IN_PROGRESS,
	                            [COMPLAINT_DO_RESOLVE] = COMPLAINT_RESOLVED},
	[COMPLAINT_WAITING]      = {[COMPLAINT_DO_RESUME] = COMPLAINT_IN_PROGRESS,
	                            [COMPLAINT_DO_ESCALATE] = COMPLAINT_WAITING},
	[COMPLAINT_RESOLVED]     = {[COMPLAINT_DO_CLOSE] = COMPLAINT_CLOSED,
	                            [COMPLAINT_DO_REOPEN] = COMPLAINT_OPEN},
	[COMPLAINT_CLOSED]       = {[COMPLAINT_DO_REOPEN] = COMPLAINT_OPEN},
};

/* Cells of complaint_next that are allowed only within the reopen window. */
static const bool complaint_needs_window[COMPLAINT_STATE_COUNT][COMPLAINT_ACTION_COUNT] = {
	[COMPLAINT_CLOSED] = {[COMPLAINT_DO_REOPEN] = true},
};

static const bool complaint_open[COMPLAINT_STATE_COUNT] = {
	[COMPLAINT_OPEN] = true,
	[COMPLAINT_ACKNOWLEDGED] = true,
	[COMPLAINT_IN_PROGRESS] = true,
	[COMPLAINT_WAITING] = true,
};

static const char *const call_state_names[CALL_STATE_COUNT] = {
	[CALL_NONE] = "none",         [CALL_OFFERED] = "offered", [CALL_ANSWERED] = "answered",
	[CALL_HELD] = "held",         [CALL_ENDED] = "ended",     [CALL_ABANDONED] = "abandoned",
};

static const char *const call_event_names[CALL_EVENT_COUNT] = {
	[CALL_OFFER] = "offer",   [CALL_ANSWER] = "answer",     [CALL_HOLD] = "hold",
	[CALL_RESUME] = "resume", [CALL_TRANSFER] = "transfer", [CALL_END] = "end",
};

static const char *const complaint_state_names[COMPLAINT_STATE_COUNT] = {
	[COMPLAINT_NONE] = "none",
	[COMPLAINT_OPEN] = "open",
	[COMPLAINT_ACKNOWLEDGED] = "acknowledged",
	[COMPLAINT_IN_PROGRESS] = "in_progress",
	[COMPLAINT_WAITING] = "waiting",
	[COMPLAINT_RESOLVED] = "resolved",
	[COMPLAINT_CLOSED] = "closed",
};

static const char *const complaint_action_names[COMPLAINT_ACTION_COUNT] = {
	[COMPLAINT_DO_OPEN] = "open",         [COMPLAINT_DO_ACK] = "ack",
	[COMPLAINT_DO_PROGRESS] = "progress", [COMPLAINT_DO_WAIT] = "wait",
	[COMPLAINT_DO_RESUME] = "resume",     [COMPLAINT_DO_ESCALATE] = "escalate",
	[COMPLAINT_DO_RESOLVE] = "resolve",   [COMPLAINT_DO_CLOSE] = "close",
	[COMPLAINT_DO_REOPEN] = "reopen",
};

static const char *const severity_names[SEV_COUNT] = {
	[SEV_LOW] = "low", [SEV_MEDIUM] = "medium", [SEV_HIGH] = "high", [SEV_CRITICAL] = "critical",
};
/* clang-format on */

/* Values come from the wire and the log, so out-of-range ones are expected
 * and get a placeholder rather than an out-of-bounds read. */
static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : "unknown";
}

static int lookup(const char *const *names, size_t n, const char *s, size_t len)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return (int)i;
	return -1;
}

const char *call_state_name(enum call_state s)
{
	return name_of(call_state_names, ARRAY_SIZE(call_state_names), (unsigned)s);
}

const char *call_event_name(enum call_event e)
{
	return name_of(call_event_names, ARRAY_SIZE(call_event_names), (unsigned)e);
}

const char *complaint_state_name(enum complaint_state s)
{
	return name_of(complaint_state_names, ARRAY_SIZE(complaint_state_names), (unsigned)s);
}

const char *complaint_action_name(enum complaint_action a)
{
	return name_of(complaint_action_names, ARRAY_SIZE(complaint_action_names), (unsigned)a);
}

const char *severity_name(enum severity s)
{
	return name_of(severity_names, ARRAY_SIZE(severity_names), (unsigned)s);
}

int call_state_from_name(const char *s, size_t len)
{
	return lookup(call_state_names, ARRAY_SIZE(call_state_names), s, len);
}

int call_event_from_name(const char *s, size_t len)
{
	return lookup(call_event_names, ARRAY_SIZE(call_event_names), s, len);
}

int complaint_state_from_name(const char *s, size_t len)
{
	return lookup(complaint_state_names, ARRAY_SIZE(complaint_state_names), s, len);
}

int complaint_action_from_name(const char *s, size_t len)
{
	return lookup(complaint_action_names, ARRAY_SIZE(complaint_action_names), s, len);
}

int severity_from_name(const char *s, size_t len)
{
	return lookup(severity_names, ARRAY_SIZE(severity_names), s, len);
}

bool call_next_state(enum call_state from, enum call_event ev, enum call_state *to)
{
	if ((unsigned)from >= CALL_STATE_COUNT || (unsigned)ev >= CALL_EVENT_COUNT)
		return false;
	signed char next = call_next[from][ev];
	if (next == REFUSED)
		return false;
	if (to)
		*to = (enum call_state)next;
	return true;
}

bool complaint_next_state(enum complaint_state from, enum complaint_action a, bool within_reopen_window,
                          enum complaint_state *to)
{
	if ((unsigned)from >= COMPLAINT_STATE_COUNT || (unsigned)a >= COMPLAINT_ACTION_COUNT)
		return false;
	signed char next = complaint_next[from][a];
	if (next == REFUSED || (complaint_needs_window[from][a] && !within_reopen_window))
		return false;
	if (to)
		*to = (enum complaint_state)next;
	return true;
}

bool complaint_state_is_open(enum complaint_state s)
{
	return (unsigned)s < COMPLAINT_STATE_COUNT && complaint_open[s];
}
