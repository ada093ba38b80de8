#include "keys.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fit(int n)
{
	return n < 0 || n >= KEY_MAX ? -1 : n;
}

int key_customer(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s", prefix, id));
}

int key_phone(char out[KEY_MAX], const char *prefix, const char *e164)
{
	return fit(snprintf(out, KEY_MAX, "%sphone:%s", prefix, e164));
}

int key_account(char out[KEY_MAX], const char *prefix, const char *account)
{
	return fit(snprintf(out, KEY_MAX, "%saccount:%s", prefix, account));
}

int key_revenue_index(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scustomers:revenue", prefix));
}

int key_contacts(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s:contacts", prefix, id));
}

int key_open_complaints(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s:open_complaints", prefix, id));
}

int key_import_seen(char out[KEY_MAX], const char *prefix, const char *source)
{
	return fit(snprintf(out, KEY_MAX, "%simport:%s", prefix, source));
}

int key_call(char out[KEY_MAX], const char *prefix, const char *call_id)
{
	return fit(snprintf(out, KEY_MAX, "%scall:%s", prefix, call_id));
}

int key_calls_open(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scalls:open", prefix));
}

int key_complaint(char out[KEY_MAX], const char *prefix, const char *complaint_id)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaint:%s", prefix, complaint_id));
}

int key_complaint_history(char out[KEY_MAX], const char *prefix, const char *complaint_id)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaint:%s:history", prefix, complaint_id));
}

int key_complaints_open(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaints:open", prefix));
}

int key_complaints_unassigned(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaints:unassigned", prefix));
}

int key_rebuild_lock(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%srebuild:lock", prefix));
}

int key_rebuild_stage(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%srebuild:stage:", prefix));
}

/* s (len bytes) starts with lit: the rest after it, else NULL. */
static const char *after(const char *s, size_t len, const char *lit, size_t *rest_len)
{
	size_t n = strlen(lit);

	if (len < n || memcmp(s, lit, n) != 0)
		return NULL;
	*rest_len = len - n;
	return s + n;
}

/* An id part (no ':', not empty) followed by exactly suffix. */
static bool id_then(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	const char *colon = memchr(s, ':', len);
	size_t id_len = colon ? (size_t)(colon - s) : len;

	return id_len > 0 && len - id_len == n && memcmp(s + id_len, suffix, n) == 0;
}

static bool is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

enum key_derived key_derived_kind(const char *prefix, const char *key, size_t len)
{
	const char *rest, *r;
	size_t rest_len, r_len;

	if ((rest = after(key, len, prefix, &rest_len)) == NULL)
		return KEY_NOT_DERIVED;
	if (is(rest, rest_len, "calls:open") || is(rest, rest_len, "complaints:open") ||
	    is(rest, rest_len, "complaints:unassigned"))
		return KEY_DERIVED;
	if ((r = after(rest, rest_len, "call:", &r_len)) && id_then(r, r_len, ""))
		return KEY_DERIVED_CALL;
	if ((r = after(rest, rest_len, "complaint:", &r_len)) && (id_then(r, r_len, "") || id_then(r, r_len, ":history")))
		return KEY_DERIVED;
	if ((r = after(rest, rest_len, "customer:", &r_len)) &&
	    (id_then(r, r_len, ":contacts") || id_then(r, r_len, ":open_complaints")))
		return KEY_DERIVED;
	return KEY_NOT_DERIVED;
}
