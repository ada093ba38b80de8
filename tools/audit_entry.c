#include "audit_entry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_text.h"

#define MAX_MEMBERS 64

bool span_is(struct span s, const char *w)
{
	size_t n = strlen(w);

	return s.p && s.len == n && memcmp(s.p, w, n) == 0;
}

void span_copy(struct span s, char *out, size_t size)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	if (s.p == NULL)
		return;
	memcpy(out, s.p, n);
	out[n] = '\0';
}

enum field_type { STRING, INTEGER };

struct field {
	const char *name;
	size_t name_len;
	enum field_type type;
	size_t offset; /* of the struct span, or of the int64_t */
	size_t has;    /* INTEGER: offset of its bool */
};

#define S(name, member)                                                                                      \
	{                                                                                                    \
		name, sizeof(name) - 1, STRING, offsetof(struct audit_entry, member), 0                      \
	}
#define I(name, member)                                                                                      \
	{                                                                                                    \
		name, sizeof(name) - 1, INTEGER, offsetof(struct audit_entry, member),                       \
		    offsetof(struct audit_entry, has_##member)                                               \
	}

/* "call_id" or "complaint_id" is filled in by stream below. */
static const struct field fields[] = {
    S("event", event),
    S("agent", agent),
    S("role", role),
    S("ts", ts),
    S("state", state),
    S("customer_id", customer_id),
    S("queue", queue),
    S("tier", tier),
    S("severity", severity),
    S("category", category),
    S("disposition", disposition),
    S("to", to),
    S("due", due),
    S("rejected", rejected),
    S("source", source),
    I("csat", csat),
    I("leg_ms", leg_ms),
    I("level", level),
};

static bool bad(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return false;
}

bool audit_entry_parse(enum log_stream st, const char *text, size_t len, char *scratch, struct audit_entry *e,
                       char *why, size_t why_len)
{
	struct json_member m[MAX_MEMBERS];
	const char *id_name = st == LOG_CALLS ? "call_id" : "complaint_id";
	size_t n, at, used = 0, id_len = strlen(id_name);
	const char *err = json_scan_object(text, len, m, MAX_MEMBERS, &n, &at);

	memset(e, 0, sizeof(*e));
	if (err) {
		snprintf(why, why_len, "entry is not a JSON object (%s at byte %zu)", err, at + 1);
		return false;
	}
	if (n > MAX_MEMBERS)
		n = MAX_MEMBERS; /* the daemon writes about 15; the rest cannot matter */
	for (size_t i = 0; i < n; i++) {
		const char *key = m[i].key;
		size_t key_len = m[i].key_len;
		struct span *target = NULL;

		if (m[i].key_escaped) {
			key_len = json_unescape(m[i].key, m[i].key_len, scratch + used);
			key = scratch + used;
			used += key_len;
		}
		if (key_len == id_len && memcmp(key, id_name, id_len) == 0) {
			target = &e->id;
		} else {
			const struct field *f = NULL;

			for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
				if (fields[k].name_len == key_len && fields[k].name[0] == key[0] &&
				    memcmp(fields[k].name, key, key_len) == 0) {
					f = &fields[k];
					break;
				}
			if (f == NULL)
				continue; /* a field the audit does not look at */
			if (f->type == INTEGER) {
				if (m[i].kind != JSON_K_NUMBER ||
				    !json_int(m[i].value, m[i].value_len, (int64_t *)((char *)e + f->offset)))
					return bad(why, why_len, "\"%s\" is not an integer", f->name);
				*(bool *)((char *)e + f->has) = true;
				continue;
			}
			target = (struct span *)((char *)e + f->offset);
		}
		if (m[i].kind != JSON_K_STRING)
			return bad(why, why_len, "\"%.*s\" is not a string", (int)key_len, key);
		if (target->p)
			return bad(why, why_len, "\"%.*s\" appears twice", (int)key_len, key);
		if (m[i].value_escaped) {
			target->len = json_unescape(m[i].value, m[i].value_len, scratch + used);
			target->p = scratch + used;
			used += target->len;
		} else {
			target->p = m[i].value;
			target->len = m[i].value_len;
		}
	}
	if (!e->event.p || e->event.len == 0)
		return bad(why, why_len, "no \"%s\"", "event");
	if (!e->id.p || e->id.len == 0)
		return bad(why, why_len, "no \"%s\"", id_name);
	if (!e->ts.p)
		return bad(why, why_len, "no \"%s\"", "ts");
	if (!log_time_parse(e->ts.p, e->ts.len, false, &e->ts_ms))
		return bad(why, why_len, "\"ts\" is not an RFC 3339 time");
	if (e->due.p && !log_time_parse(e->due.p, e->due.len, false, &e->due_ms))
		return bad(why, why_len, "\"due\" is not an RFC 3339 time");
	return true;
}
