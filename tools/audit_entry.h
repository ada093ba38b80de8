/* audit_entry.h - the fields of one log entry (proto/LOG.md "The entry")
 * that the audit looks at, read from the entry's JSON text without building
 * a tree (json_text.h).  Pure.
 */
#ifndef HOTLINE_AUDIT_ENTRY_H
#define HOTLINE_AUDIT_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_source.h"

struct span {
	const char *p; /* NULL when the entry does not have the field */
	size_t len;
};

struct audit_entry {
	struct span event, id, agent, role, ts, state, customer_id, queue, tier, severity, category,
	    disposition, to, due, rejected, source;
	bool has_csat, has_leg_ms, has_level;
	int64_t csat, leg_ms, level;
	uint64_t ts_ms;  /* "ts" */
	uint64_t due_ms; /* "due", 0 when absent */
};

/* Read entry text[0..len) of a record of stream st.  Strings holding
 * escapes are decoded into scratch, which must have room for len bytes.
 * Returns true, or false with why (a short sentence) when the entry is
 * malformed: not a JSON object, "event", the id ("call_id" or
 * "complaint_id") or "ts" missing, a field of the wrong type, "ts" or
 * "due" not an RFC 3339 time. */
bool audit_entry_parse(enum log_stream st, const char *text, size_t len, char *scratch, struct audit_entry *e,
                       char *why, size_t why_len);

/* s equals the NUL-terminated word w. */
bool span_is(struct span s, const char *w);
/* Copy s into out (size bytes, NUL-terminated, cut when longer); nothing
 * when s is absent. */
void span_copy(struct span s, char *out, size_t size);

#endif
