/* fuzz_queue_log.c - the Asterisk queue_log parser and mapper behind `hotline import queue-log`
 * (tools/queue_log.c, tools/queue_log_map.c) over a whole file.
 *
 * Input: byte 0 picks the size of the call table (1..64 calls) and the idle time,
 * byte 1 when the customer lookup fails (never, or at its n-th call), the rest is the file, split
 * at newlines.  Each line is parsed from its own heap buffer of exactly len + 1 bytes, wiped and
 * freed after the mapper has seen it, so a mapper that keeps a pointer into a line is caught by ASan.
 * Properties checked (beyond "no crash, no leak, no ASan/UBSan report"):
 *   - a parsed line has 5 NUL-terminated fields, at most QL_MAX_DATA data fields, no trailing empty
 *     one, a source id "ql-" + 32 hex digits, and the kind its event names;
 *   - a refused line has a reason; parsing the same bytes twice gives the same answer;
 *   - every entry is one JSON object with event, call_id ("ast-..." of at most 64 bytes), agent,
 *     role, ts (RFC 3339 UTC ms), source "queue_log", its source id, and a state exactly when it is
 *     not rejected, a state the lifecycle knows;
 *   - the mapper's counts agree with what it emitted and was fed; a failed lookup stops the run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "lifecycle.h"
#include "queue_log.h"
#include "queue_log_map.h"

struct ctx {
	unsigned long emitted, notes, lookups;
	unsigned long fail_lookup_at; /* 0: never */
	bool lookup_failed;
};

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int emit(void *arg, const struct qlm_entry *e)
{
	struct ctx *c = arg;
	json_error_t err;
	json_t *o = json_loadb(e->json, e->json_len, JSON_REJECT_DUPLICATES, &err);
	const char *ts, *state;

	FUZZ_CHECK(o != NULL && json_is_object(o));
	FUZZ_CHECK(strlen(e->json) == e->json_len);
	FUZZ_CHECK(call_event_from_name(str(o, "event"), strlen(str(o, "event"))) >= 0);
	FUZZ_CHECK(str(o, "call_id") && strcmp(str(o, "call_id"), e->call_id) == 0);
	FUZZ_CHECK(strncmp(e->call_id, "ast-", 4) == 0 && strlen(e->call_id) <= 64);
	FUZZ_CHECK(customer_valid_key_part(e->call_id, strlen(e->call_id), 64));
	FUZZ_CHECK(str(o, "agent") && str(o, "role"));
	ts = str(o, "ts");
	FUZZ_CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	FUZZ_CHECK(strcmp(str(o, "source"), "queue_log") == 0);
	FUZZ_CHECK(strcmp(str(o, "source_id"), e->source_id) == 0);
	state = str(o, "state");
	FUZZ_CHECK(e->rejected == (json_object_get(o, "rejected") != NULL));
	FUZZ_CHECK(e->rejected == (state == NULL));
	FUZZ_CHECK(state == NULL || call_state_from_name(state, strlen(state)) > 0);
	json_decref(o);
	c->emitted++;
	return 0;
}

static void notice(void *arg, unsigned long line, const char *msg)
{
	struct ctx *c = arg;

	FUZZ_CHECK(line >= 1 && msg && msg[0]);
	c->notes++;
}

static int customer_of(void *arg, const char *phone, char out[CUSTOMER_ID_MAX + 1])
{
	struct ctx *c = arg;

	FUZZ_CHECK(phone[0] != '\0' && strlen(phone) < PHONE_MAX);
	if (++c->lookups == c->fail_lookup_at) {
		c->lookup_failed = true;
		return -1;
	}
	if (phone[strlen(phone) - 1] % 3 == 0)
		return 0;
	strcpy(out, "c-1");
	return 1;
}

static void check_parsed(const struct ql_line *l)
{
	const char *const *names = ql_kind_field_names(l->kind);
	long long v;

	FUZZ_CHECK(l->n_data <= QL_MAX_DATA);
	FUZZ_CHECK(l->n_data == 0 || l->data[l->n_data - 1].len > 0);
	FUZZ_CHECK(l->time_ms > 0);
	for (size_t i = 0; i < l->n_data; i++)
		FUZZ_CHECK(l->data[i].s[l->data[i].len] == '\0');
	FUZZ_CHECK(l->uniqueid.s[l->uniqueid.len] == '\0' && l->queue.s[l->queue.len] == '\0');
	FUZZ_CHECK(l->agent.s[l->agent.len] == '\0' && l->event.s[l->event.len] == '\0');
	FUZZ_CHECK(l->kind == ql_kind_from_name(l->event.s, l->event.len));
	FUZZ_CHECK(strlen(l->source_id) == QL_SOURCE_ID_LEN && strncmp(l->source_id, "ql-", 3) == 0);
	FUZZ_CHECK(is_hex(l->source_id + 3, QL_SOURCE_ID_LEN - 3));
	for (size_t i = 0; names[i]; i++) {
		const struct ql_field *f = ql_get(l, names[i]);

		FUZZ_CHECK(f == NULL || (f->len > 0 && f->s[f->len] == '\0'));
		(void)ql_get_int(l, names[i], &v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t tables[] = {1, 2, 3, 8, 64};
	struct phone_rules rules;
	struct ctx c = {0};
	struct qlm_options o = {.phone = &rules};
	struct qlm_hooks h = {.emit = emit, .notice = notice, .customer_of = customer_of, .arg = &c};
	unsigned long fed = 0, lineno = 0;
	struct qlm *m;
	size_t at;
	bool stopped = false;

	if (size < 2)
		return 0;
	phone_rules_default(&rules);
	if (data[0] & 0x80)
		memcpy(rules.default_country, "86", 3);
	o.max_calls = tables[data[0] % 5];
	o.idle_ms = (data[0] & 0x40) ? 5000 : 0;
	c.fail_lookup_at = data[1] % 8;
	m = qlm_new(&o, &h);
	FUZZ_CHECK(m != NULL);
	for (at = 2; at < size && !stopped;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
		char *buf = malloc(len + 1), *again = malloc(len + 1), why[256] = "", why2[256] = "";
		struct ql_line l, l2;
		bool ok, ok2;

		FUZZ_CHECK(buf && again);
		memcpy(buf, data + at, len);
		memcpy(again, data + at, len);
		lineno++;
		ok = ql_parse(buf, len, &l, why, sizeof(why));
		ok2 = ql_parse(again, len, &l2, why2, sizeof(why2));
		FUZZ_CHECK(ok == ok2);
		if (!ok) {
			FUZZ_CHECK(why[0] != '\0' && strcmp(why, why2) == 0);
		} else {
			check_parsed(&l);
			FUZZ_CHECK(strcmp(l.source_id, l2.source_id) == 0);
			fed++;
			if (qlm_feed(m, &l, lineno) != 0) {
				FUZZ_CHECK(c.lookup_failed);
				stopped = true;
			}
		}
		memset(buf, 0xA5, len + 1);
		free(buf);
		free(again);
		at += len + 1;
	}
	if (!stopped)
		qlm_finish(m);
	{
		const struct qlm_stats *s = qlm_stats(m);
		unsigned long mapped = 0, skipped = 0;

		FUZZ_CHECK(s->lines == fed);
		FUZZ_CHECK(s->entries == c.emitted);
		for (int k = 0; k < QL_KIND_COUNT; k++)
			mapped += s->mapped[k], skipped += s->skipped[k];
		FUZZ_CHECK(mapped + skipped + s->repeats + (stopped ? 1 : 0) == fed);
		FUZZ_CHECK(s->refused + s->mid_call <= s->entries);
	}
	qlm_free(m);
	return 0;
}
