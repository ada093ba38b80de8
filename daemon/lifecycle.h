/* lifecycle.h - the lives of a call and of a complaint, as pure transition
 * tables.  The daemon checks every logged event against these before it is
 * appended; the audit tool replays the log through the same tables.
 *
 * Call:      offer -> offered; answer: offered -> answered;
 *            hold: answered -> held; resume: held -> answered;
 *            transfer: answered|held -> answered (the receiving agent's leg);
 *            end: answered|held -> ended, offered -> abandoned;
 *            nothing after ended/abandoned; offer only for a new call.
 * Complaint: open -> open; ack: open -> acknowledged;
 *            progress: open|acknowledged|in_progress -> in_progress;
 *            wait: acknowledged|in_progress -> waiting (SLA clock paused);
 *            resume: waiting -> in_progress;
 *            escalate: open|acknowledged|in_progress|waiting -> unchanged (level + 1);
 *            resolve: open|acknowledged|in_progress -> resolved;
 *            close: resolved -> closed;
 *            reopen: resolved -> open, closed -> open within the reopen window.
 */
#ifndef HOTLINE_LIFECYCLE_H
#define HOTLINE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

enum call_state { CALL_NONE, CALL_OFFERED, CALL_ANSWERED, CALL_HELD, CALL_ENDED, CALL_ABANDONED, CALL_STATE_COUNT };
enum call_event { CALL_OFFER, CALL_ANSWER, CALL_HOLD, CALL_RESUME, CALL_TRANSFER, CALL_END, CALL_EVENT_COUNT };

enum complaint_state {
	COMPLAINT_NONE,
	COMPLAINT_OPEN,
	COMPLAINT_ACKNOWLEDGED,
	COMPLAINT_IN_PROGRESS,
	COMPLAINT_WAITING,
	COMPLAINT_RESOLVED,
	COMPLAINT_CLOSED,
	COMPLAINT_STATE_COUNT
};
enum complaint_action {
	COMPLAINT_DO_OPEN,
	COMPLAINT_DO_ACK,
	COMPLAINT_DO_PROGRESS,
	COMPLAINT_DO_WAIT,
	COMPLAINT_DO_RESUME,
	COMPLAINT_DO_ESCALATE,
	COMPLAINT_DO_RESOLVE,
	COMPLAINT_DO_CLOSE,
	COMPLAINT_DO_REOPEN,
	COMPLAINT_ACTION_COUNT
};

enum severity { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL, SEV_COUNT };

/* Names on the wire and in the log: "offered", "in_progress", "critical"... */
const char *call_state_name(enum call_state s);
const char *call_event_name(enum call_event e);
const char *complaint_state_name(enum complaint_state s);
const char *complaint_action_name(enum complaint_action a);
const char *severity_name(enum severity s);

/* Lookups by name (len bytes, exact lowercase match); -1 when unknown. */
int call_state_from_name(const char *s, size_t len);
int call_event_from_name(const char *s, size_t len);
int complaint_state_from_name(const char *s, size_t len);
int complaint_action_from_name(const char *s, size_t len);
int severity_from_name(const char *s, size_t len);

/* The state after event ev, or false when ev is not allowed in from. */
bool call_next_state(enum call_state from, enum call_event ev, enum call_state *to);

/* The same for complaints; within_reopen_window tells whether a closed
 * complaint may still be reopened. */
bool complaint_next_state(enum complaint_state from, enum complaint_action a, bool within_reopen_window,
                          enum complaint_state *to);

/* True for states in which a complaint counts as open (unresolved). */
bool complaint_state_is_open(enum complaint_state s);

#endif
