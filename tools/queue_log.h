/* queue_log.h - one line of an Asterisk queue_log, parsed (pure: no I/O).
 *
 *     epoch|uniqueid|queue|agent|EVENT|data1|data2|...
 *
 * as app_queue.c (ast_queue_log) and the QueueLog() dialplan application
 * write it, one event per line.  Older Asterisk versions write fewer data
 * fields for some events (CONNECT without ringtime, COMPLETECALLER without
 * origposition, ...); realtime exports pad every line to data1..data5 with
 * empty fields.  Both read the same: trailing empty data fields are dropped,
 * and a data field an event would have but the line lacks is simply absent.
 *
 * Every event kind Asterisk writes is known by name (QL_ABANDON ...), with
 * the meaning of its data fields (ql_kind_field_names); any other name (a
 * QueueLog() from the dialplan) parses as QL_OTHER.  A line that cannot be
 * read is refused with a reason that names the field.
 */
#ifndef HOTLINE_QUEUE_LOG_H
#define HOTLINE_QUEUE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QL_MAX_LINE      4096 /* bytes of one line, newline excluded */
#define QL_MAX_DATA      10   /* data fields after the event */
#define QL_NAME_MAX      128  /* bytes of the uniqueid, queue and agent fields */
#define QL_EVENT_MAX     32   /* bytes of an event name */
#define QL_CALL_UID_MAX  54   /* a call's uniqueid: "ast-" + it + "-NNNNN" fits a 64-byte call id */
#define QL_SOURCE_ID_LEN 35   /* "ql-" + 32 hex digits */

/* Sorted by name; QL_OTHER is any name not in this list. */
enum ql_kind {
	QL_ABANDON,
	QL_ADDMEMBER,
	QL_AGENTCALLBACKLOGIN,
	QL_AGENTCALLBACKLOGOFF,
	QL_AGENTDUMP,
	QL_AGENTLOGIN,
	QL_AGENTLOGOFF,
	QL_ATTENDEDTRANSFER,
	QL_BLINDTRANSFER,
	QL_COMPLETEAGENT,
	QL_COMPLETECALLER,
	QL_CONFIGRELOAD,
	QL_CONNECT,
	QL_DID,
	QL_ENTERQUEUE,
	QL_EXITEMPTY,
	QL_EXITWITHKEY,
	QL_EXITWITHTIMEOUT,
	QL_INFO,
	QL_PAUSE,
	QL_PAUSEALL,
	QL_PENALTY,
	QL_QUEUESTART,
	QL_REMOVEMEMBER,
	QL_RINGCANCELED,
	QL_RINGINUSE,
	QL_RINGNOANSWER,
	QL_SYSCOMPAT,
	QL_TRANSFER,
	QL_UNPAUSE,
	QL_UNPAUSEALL,
	QL_OTHER,
	QL_KIND_COUNT
};

/* What an event is about: one caller's call (its uniqueid names the call),
 * a ring attempt on a member, a member's presence, or the queue system. */
enum ql_class { QL_CLASS_CALL, QL_CLASS_RING, QL_CLASS_MEMBER, QL_CLASS_SYSTEM, QL_CLASS_CUSTOM };

struct ql_field {
	const char *s; /* NUL-terminated (the line is split in place) */
	size_t len;
};

struct ql_line {
	int64_t time_ms; /* the epoch field, in milliseconds */
	struct ql_field uniqueid, queue, agent, event;
	enum ql_kind kind;
	size_t n_data; /* trailing empty data fields not counted */
	struct ql_field data[QL_MAX_DATA];
	/* SHA-256 of the line's fields (trailing empty ones and a CR left out):
	 * the same event read from the same or an overlapping file, or from a
	 * realtime export, gets the same id. */
	char source_id[QL_SOURCE_ID_LEN + 1];
};

/* Parse line (len bytes, without its newline; a trailing CR is ignored),
 * splitting it in place: the buffer must have room for a NUL after len
 * bytes.  Returns true, or false with a reason in why. */
bool ql_parse(char *line, size_t len, struct ql_line *out, char *why, size_t whylen);

const char *ql_kind_name(enum ql_kind k);
/* The kind named s (exact, upper case), or QL_OTHER. */
enum ql_kind ql_kind_from_name(const char *s, size_t len);
enum ql_class ql_kind_class(enum ql_kind k);
/* The names of k's data fields, NULL-terminated ("holdtime", ...). */
const char *const *ql_kind_field_names(enum ql_kind k);

/* The data field called name (one of ql_kind_field_names(l->kind)), or
 * NULL when the line does not have it or it is empty. */
const struct ql_field *ql_get(const struct ql_line *l, const char *name);
/* The same as an integer (the parser checked every numeric field). */
bool ql_get_int(const struct ql_line *l, const char *name, long long *v);

/* True for the placeholders Asterisk writes where a field names nothing
 * ("NONE", or empty). */
bool ql_is_none(const struct ql_field *f);

#endif
