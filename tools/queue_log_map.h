/* queue_log_map.h - Asterisk queue_log events into hotline call entries
 * (pure: no I/O; what it needs from outside comes through hooks).
 *
 * Each caller's visit to a queue becomes one hotline call, "ast-<uniqueid>"
 * ("ast-<uniqueid>-<n>" for the n-th visit of the same channel), whose
 * entries have the shape the daemon writes (proto/LOG.md) plus
 * "source":"queue_log", the line's source_id and the Asterisk event and
 * data ("pbx_event", "pbx_data"):
 *
 *   ENTERQUEUE                        offer     (agent "pbx"; phone from the caller id)
 *   DID (before ENTERQUEUE)           the offer's dnis
 *   CONNECT                           answer    (agent: the member)
 *   COMPLETECALLER / COMPLETEAGENT    end       caller_hangup / agent_hangup, leg_ms = calltime
 *   TRANSFER / BLINDTRANSFER /
 *   ATTENDEDTRANSFER                  end       transferred, "to" the destination, leg_ms = calltime
 *   ABANDON / EXITWITHTIMEOUT /
 *   EXITWITHKEY / EXITEMPTY           end       abandoned / timeout / exit_key / queue_empty
 *
 * Every other kind is counted as skipped, by kind (ring attempts, member
 * presence, system events, custom events).  The call's state after each
 * event is the daemon's (lifecycle.c).  Pathologies are kept, not
 * repaired, and reported through the notice hook:
 *   - a call first seen after its ENTERQUEUE (the file starts mid-call) is
 *     taken as the PBX states it, the way the daemon's spool takes a call it
 *     has not seen;
 *   - an event the call's life refuses (CONNECT after ABANDON, a second
 *     ABANDON) is written with "rejected" and changes nothing, like the
 *     daemon's refused spool replays;
 *   - an event earlier than the call's previous one is reported;
 *   - a call with no exit (or no completion after CONNECT) simply stays open
 *     and is reported when the file ends or the call is dropped from memory.
 * Calls are tracked in a table of bounded size: a call with no event for
 * idle_ms of log time, or the least recent one when the table is full, is
 * dropped, so memory does not grow with the file.
 */
#ifndef HOTLINE_QUEUE_LOG_MAP_H
#define HOTLINE_QUEUE_LOG_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "phone.h"
#include "queue_log.h"

#define QLM_DEFAULT_MAX_CALLS 50000
#define QLM_DEFAULT_IDLE_MS   (6LL * 3600 * 1000)
#define QLM_RECENT            1024 /* a line identical to one of the last this many is a repeat */
#define QLM_CUSTOM_NAMES      16   /* custom event names counted one by one */

struct qlm_entry {
	unsigned long line;
	int64_t ts_ms;
	const char *source_id;
	const char *call_id;
	const char *json; /* the entry, compact, keys in the daemon's order */
	size_t json_len;
	bool rejected;
};

struct qlm_hooks {
	/* An entry to write; 0, or -1 to stop the run (the sink reported why). */
	int (*emit)(void *arg, const struct qlm_entry *e);
	/* A pathology at a line of the file (may be NULL). */
	void (*notice)(void *arg, unsigned long line, const char *msg);
	/* The one customer using a normalised phone number: 1 found (id in out),
	 * 0 none or several, -1 the lookup failed (reported; the run stops).
	 * NULL: no resolution. */
	int (*customer_of)(void *arg, const char *phone, char out[CUSTOMER_ID_MAX + 1]);
	void *arg;
};

struct qlm_options {
	const struct phone_rules *phone; /* how caller ids and DIDs are normalised */
	size_t max_calls;                /* 0: QLM_DEFAULT_MAX_CALLS */
	int64_t idle_ms;                 /* 0: QLM_DEFAULT_IDLE_MS */
};

struct qlm_stats {
	unsigned long lines;   /* lines fed */
	unsigned long entries; /* entries emitted (rejected ones included) */
	unsigned long repeats; /* call lines identical to a recent one: one event, mapped once */
	unsigned long mapped[QL_KIND_COUNT];
	unsigned long skipped[QL_KIND_COUNT];
	struct {
		char name[QL_EVENT_MAX + 1];
		unsigned long n;
	} custom[QLM_CUSTOM_NAMES]; /* skipped QL_OTHER lines by name (the first names seen) */
	size_t n_custom;
	unsigned long mid_call;       /* calls first seen after their ENTERQUEUE */
	unsigned long refused;        /* entries written with "rejected" */
	unsigned long time_back;      /* events earlier than their call's previous event */
	unsigned long open_waiting;   /* calls left in the queue with no exit event */
	unsigned long open_connected; /* calls left connected with no completion or transfer */
	unsigned long dropped;        /* calls dropped from memory before the end of the file */
};

struct qlm;

struct qlm *qlm_new(const struct qlm_options *o, const struct qlm_hooks *h);
/* Map one parsed line (line: its number in the file).  0, or -1 when a hook
 * failed or memory ran out (the run should stop). */
int qlm_feed(struct qlm *m, const struct ql_line *l, unsigned long line);
/* The end of the input: report (notice) and count the calls still open. */
void qlm_finish(struct qlm *m);
const struct qlm_stats *qlm_stats(const struct qlm *m);
void qlm_free(struct qlm *m);

/* "2013-04-23T12:32:20.000Z" for Unix milliseconds. */
void qlm_format_ts(int64_t ms, char out[32]);

#endif
