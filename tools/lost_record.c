#include "lost_record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_text.h"

#define MAX_MEMBERS 32 /* of the record or of an item: the daemon writes 5 */
#define KEY_MAX     32 /* longer keys are none of ours */

static bool bad(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return false;
}

/* A member's name, decoded into buf (KEY_MAX + 1); NULL when too long to
 * be one we know. */
static const char *key_of(const struct json_member *m, char buf[KEY_MAX + 1])
{
	size_t n;

	if (m->key_len > (m->key_escaped ? 6 * KEY_MAX : KEY_MAX))
		return NULL;
	if (m->key_escaped) {
		char raw[6 * KEY_MAX];

		n = json_unescape(m->key, m->key_len, raw);
		if (n > KEY_MAX || memchr(raw, '\0', n))
			return NULL;
		memcpy(buf, raw, n);
	} else {
		n = m->key_len;
		memcpy(buf, m->key, n);
	}
	buf[n] = '\0';
	return buf;
}

/* A string member's value, decoded into out (max bytes + NUL): 1 ok, 0 not
 * a string, -1 too long or holding a NUL. */
static int take_string(const struct json_member *m, char *out, size_t max)
{
	char raw[6 * LOST_WHAT_MAX];
	size_t n;

	if (m->kind != JSON_K_STRING)
		return 0;
	if (!m->value_escaped) {
		if (m->value_len > max)
			return -1;
		memcpy(out, m->value, m->value_len);
		out[m->value_len] = '\0';
		return 1;
	}
	/* Every decoded byte takes at most six bytes of text ("\u0041"). */
	if (m->value_len > 6 * max || m->value_len > sizeof(raw))
		return -1;
	n = json_unescape(m->value, m->value_len, raw);
	if (n > max || memchr(raw, '\0', n))
		return -1;
	memcpy(out, raw, n);
	out[n] = '\0';
	return 1;
}

/* A required string member of 1..max bytes; item is 0 for the record's own. */
static bool need_string(const struct json_member *m, const char *name, size_t item, char *out, size_t max,
                        char *why, size_t why_len)
{
	char where[32] = "";
	int got;

	if (item)
		snprintf(where, sizeof(where), "item %zu: ", item);
	if (m == NULL)
		return bad(why, why_len, "%sno \"%s\"", where, name);
	got = take_string(m, out, max);
	if (got == 0)
		return bad(why, why_len, "%s\"%s\" is not a string", where, name);
	if (got < 0 || out[0] == '\0')
		return bad(why, why_len, "%s\"%s\" is empty, longer than %zu bytes or holds a NUL", where,
		           name, max);
	return true;
}

/* Find the named members among m[0..n): slot[i] for names[i], NULL when
 * absent.  false (why set) when one appears twice. */
static bool pick(const struct json_member *m, size_t n, const char *const *names, size_t count,
                 const struct json_member **slot, size_t item, char *why, size_t why_len)
{
	char buf[KEY_MAX + 1];

	for (size_t k = 0; k < count; k++)
		slot[k] = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key = key_of(&m[i], buf);

		for (size_t k = 0; key && k < count; k++) {
			if (strcmp(key, names[k]) != 0)
				continue;
			if (slot[k]) {
				if (item)
					return bad(why, why_len, "item %zu: \"%s\" appears twice", item, key);
				return bad(why, why_len, "\"%s\" appears twice", key);
			}
			slot[k] = &m[i];
		}
	}
	return true;
}

/* The text's top-level members when it is a JSON object whose "event" is
 * "lost"; false for any other entry. */
static bool is_lost(const char *text, size_t len, struct json_member *m, size_t *n)
{
	char buf[KEY_MAX + 1], event[8];

	/* Cheap first: every lost record holds "lost" (its event, and its
	 * list); almost no other entry does. */
	if (text == NULL || memmem(text, len, "\"lost\"", 6) == NULL)
		return false;
	if (json_scan_object(text, len, m, MAX_MEMBERS, n, NULL) != NULL)
		return false;
	if (*n > MAX_MEMBERS)
		*n = MAX_MEMBERS; /* "event" comes first */
	for (size_t i = 0; i < *n; i++) {
		const char *key = key_of(&m[i], buf);

		if (key && strcmp(key, "event") == 0)
			return take_string(&m[i], event, sizeof(event) - 1) == 1 &&
			       strcmp(event, "lost") == 0;
	}
	return false;
}

bool lost_record_is(const char *text, size_t len)
{
	struct json_member m[MAX_MEMBERS];
	size_t n;

	return is_lost(text, len, m, &n);
}

static bool is_hex16(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == LOST_HASH_LEN;
}

static bool parse_item(const struct json_member *el, size_t item, struct lost_item *it, char *why,
                       size_t why_len)
{
	static const char *const names[] = {"seq", "id", "hash", "request_id", "what"};
	const struct json_member *f[5];
	struct json_member m[MAX_MEMBERS];
	uint64_t ms, idn;
	int64_t seq;
	size_t n;
	int got;

	if (el->kind != JSON_K_OBJECT)
		return bad(why, why_len, "item %zu is not an object", item);
	if (json_scan_object(el->value, el->value_len, m, MAX_MEMBERS, &n, NULL) != NULL)
		return bad(why, why_len, "item %zu is not an object",
		           item); /* checked with the entry already */
	if (n > MAX_MEMBERS)
		return bad(why, why_len, "item %zu has more than %d members", item, MAX_MEMBERS);
	if (!pick(m, n, names, 5, f, item, why, why_len))
		return false;
	if (f[0] == NULL)
		return bad(why, why_len, "item %zu: no \"seq\"", item);
	if (f[0]->kind != JSON_K_NUMBER || !json_int(f[0]->value, f[0]->value_len, &seq) || seq < 1)
		return bad(why, why_len, "item %zu: \"seq\" is not an integer >= 1", item);
	it->seq = (uint64_t)seq;
	if (!need_string(f[1], "id", item, it->id, LOG_ID_MAX - 1, why, why_len))
		return false;
	if (!log_id_parse(it->id, &ms, &idn) || strchr(it->id, '-') == NULL)
		return bad(why, why_len, "item %zu: \"id\" is not a stream id", item);
	if (!need_string(f[2], "hash", item, it->hash, LOST_HASH_LEN, why, why_len))
		return false;
	if (!is_hex16(it->hash))
		return bad(why, why_len, "item %zu: \"hash\" is not %d lowercase hex digits", item,
		           LOST_HASH_LEN);
	it->request_id[0] = '\0';
	if (f[3]) {
		got = take_string(f[3], it->request_id, LOST_REQUEST_ID_MAX);
		if (got == 0)
			return bad(why, why_len, "item %zu: \"request_id\" is not a string", item);
		if (got < 0 || it->request_id[0] == '\0')
			return bad(why, why_len,
			           "item %zu: \"request_id\" is empty, longer than %d bytes or holds a NUL",
			           item, LOST_REQUEST_ID_MAX);
	}
	/* Optional, like request_id: the daemon writes it whenever it knows. */
	it->what[0] = '\0';
	return f[4] == NULL || need_string(f[4], "what", item, it->what, LOST_WHAT_MAX, why, why_len);
}

enum lost_parse lost_record_parse(const char *text, size_t len, struct lost_record *lr, char *why,
                                  size_t why_len)
{
	static const char *const names[] = {"ts", "reported_by", "master", "lost"};
	const struct json_member *f[4];
	struct json_member m[MAX_MEMBERS], items[LOST_MAX_ITEMS];
	size_t n, count;

	lr->n = 0;
	if (!is_lost(text, len, m, &n))
		return LOST_NOT;
	if (!pick(m, n, names, 4, f, 0, why, why_len))
		return LOST_MALFORMED;
	if (!need_string(f[0], "ts", 0, lr->ts, sizeof(lr->ts) - 1, why, why_len) ||
	    !log_time_parse(lr->ts, strlen(lr->ts), false, &lr->ts_ms)) {
		if (f[0] && f[0]->kind == JSON_K_STRING)
			bad(why, why_len, "\"ts\" is not an RFC 3339 time");
		return LOST_MALFORMED;
	}
	if (!need_string(f[1], "reported_by", 0, lr->reported_by, LOST_NAME_MAX, why, why_len) ||
	    !need_string(f[2], "master", 0, lr->master, LOST_NAME_MAX, why, why_len))
		return LOST_MALFORMED;
	if (f[3] == NULL) {
		bad(why, why_len, "no \"lost\"");
		return LOST_MALFORMED;
	}
	if (f[3]->kind != JSON_K_ARRAY ||
	    json_scan_array(f[3]->value, f[3]->value_len, items, LOST_MAX_ITEMS, &count, NULL) != NULL) {
		bad(why, why_len, "\"lost\" is not an array");
		return LOST_MALFORMED;
	}
	if (count == 0 || count > LOST_MAX_ITEMS) {
		bad(why, why_len, "\"lost\" has %zu items (1..%d)", count, LOST_MAX_ITEMS);
		return LOST_MALFORMED;
	}
	for (size_t i = 0; i < count; i++)
		if (!parse_item(&items[i], i + 1, &lr->item[i], why, why_len))
			return LOST_MALFORMED;
	lr->n = count;
	return LOST_OK;
}
