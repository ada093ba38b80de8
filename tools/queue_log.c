/* queue_log.c - the queue_log line parser (see queue_log.h).
 *
 * The data fields of each event are as app_queue.c writes them (Asterisk
 * 1.4 to 20; the older, shorter variants are the same fields cut short).
 * ATTENDEDTRANSFER's destination takes one field (BRIDGE|bridge, APP|app)
 * or two (LINK|chan1|chan2), so its numbers are counted from the end.
 */
#include "queue_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "customer.h"
#include "proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define N(i)          (1u << (i)) /* data field i holds an integer */

struct kind_info {
	const char *name;
	enum ql_class cls;
	const char *fields[6]; /* NULL-terminated */
	unsigned numeric;      /* N(i) for each integer field */
	bool numbers_at_end;   /* the last three fields are holdtime, calltime, origposition */
};

/* clang-format off */
static const struct kind_info kinds[QL_KIND_COUNT] = {
#define K(kind, cls_, ...) [QL_##kind] = {.name = #kind, .cls = QL_CLASS_##cls_, .fields = {__VA_ARGS__}}
#define KN(kind, cls_, num, ...) [QL_##kind] = {.name = #kind, .cls = QL_CLASS_##cls_, .numeric = (num), \
                                               .fields = {__VA_ARGS__}}
	KN(ABANDON, CALL, N(0) | N(1) | N(2), "position", "origposition", "waittime"),
	K(ADDMEMBER, MEMBER, "paused"),
	K(AGENTCALLBACKLOGIN, MEMBER, "extension@context"),
	KN(AGENTCALLBACKLOGOFF, MEMBER, N(1), "extension@context", "logintime", "reason"),
	K(AGENTDUMP, RING, NULL),
	K(AGENTLOGIN, MEMBER, "channel"),
	KN(AGENTLOGOFF, MEMBER, N(1), "channel", "logintime"),
	[QL_ATTENDEDTRANSFER] = {.name = "ATTENDEDTRANSFER", .cls = QL_CLASS_CALL,
	                         .fields = {"method", "destination", "holdtime", "calltime", "origposition"},
	                         .numeric = N(2) | N(3) | N(4), .numbers_at_end = true},
	KN(BLINDTRANSFER, CALL, N(2) | N(3) | N(4), "extension", "context", "holdtime", "calltime", "origposition"),
	KN(COMPLETEAGENT, CALL, N(0) | N(1) | N(2), "holdtime", "calltime", "origposition"),
	KN(COMPLETECALLER, CALL, N(0) | N(1) | N(2), "holdtime", "calltime", "origposition"),
	K(CONFIGRELOAD, SYSTEM, NULL),
	KN(CONNECT, CALL, N(0) | N(2), "holdtime", "bridgedchanneluniqueid", "ringtime"),
	K(DID, CALL, "did"),
	KN(ENTERQUEUE, CALL, N(2), "url", "callerid", "origposition", "calleridname"),
	KN(EXITEMPTY, CALL, N(0) | N(1) | N(2), "position", "origposition", "waittime"),
	KN(EXITWITHKEY, CALL, N(1) | N(2) | N(3), "key", "position", "origposition", "waittime"),
	KN(EXITWITHTIMEOUT, CALL, N(0) | N(1) | N(2), "position", "origposition", "waittime"),
	K(INFO, CUSTOM, NULL),
	K(PAUSE, MEMBER, "reason"),
	K(PAUSEALL, MEMBER, "reason"),
	KN(PENALTY, MEMBER, N(0), "penalty"),
	K(QUEUESTART, SYSTEM, NULL),
	K(REMOVEMEMBER, MEMBER, NULL),
	KN(RINGCANCELED, RING, N(0), "ringtime"),
	KN(RINGINUSE, MEMBER, N(0), "ringinuse"),
	KN(RINGNOANSWER, RING, N(0), "ringtime"),
	K(SYSCOMPAT, CALL, NULL),
	KN(TRANSFER, CALL, N(2) | N(3) | N(4), "extension", "context", "holdtime", "calltime", "origposition"),
	K(UNPAUSE, MEMBER, "reason"),
	K(UNPAUSEALL, MEMBER, "reason"),
	[QL_OTHER] = {.name = "(other)", .cls = QL_CLASS_CUSTOM, .fields = {NULL}},
#undef K
#undef KN
};
/* clang-format on */

const char *ql_kind_name(enum ql_kind k)
{
	return (unsigned)k < QL_KIND_COUNT ? kinds[k].name : "(unknown)";
}

enum ql_kind ql_kind_from_name(const char *s, size_t len)
{
	for (size_t k = 0; k < QL_OTHER; k++)
		if (strlen(kinds[k].name) == len && memcmp(kinds[k].name, s, len) == 0)
			return (enum ql_kind)k;
	return QL_OTHER;
}

enum ql_class ql_kind_class(enum ql_kind k)
{
	return (unsigned)k < QL_KIND_COUNT ? kinds[k].cls : QL_CLASS_CUSTOM;
}

const char *const *ql_kind_field_names(enum ql_kind k)
{
	return kinds[(unsigned)k < QL_KIND_COUNT ? k : QL_OTHER].fields;
}

/* ---- fields ----------------------------------------------------------------------------------------------
 */

static size_t n_fields(enum ql_kind k)
{
	size_t n = 0;

	while (n < ARRAY_SIZE(kinds[0].fields) && kinds[k].fields[n])
		n++;
	return n;
}

/* The data index of k's field number i on a line with n data fields, or -1 when the line lacks it. */
static int data_index(enum ql_kind k, size_t i, size_t n)
{
	size_t nf = n_fields(k);

	if (kinds[k].numbers_at_end && i + 3 >= nf)
		return n >= nf ? (int)(n - (nf - i)) : -1;
	return i < n ? (int)i : -1;
}

const struct ql_field *ql_get(const struct ql_line *l, const char *name)
{
	size_t nf;

	if ((unsigned)l->kind >= QL_KIND_COUNT)
		return NULL;
	nf = n_fields(l->kind);
	for (size_t i = 0; i < nf; i++) {
		if (strcmp(kinds[l->kind].fields[i], name) == 0) {
			int d = data_index(l->kind, i, l->n_data);

			return d >= 0 && l->data[d].len > 0 ? &l->data[d] : NULL;
		}
	}
	return NULL;
}

static bool parse_int(const char *s, size_t len, long long *v)
{
	size_t i = len > 0 && s[0] == '-';
	long long x = 0;

	if (len == i || len - i > 18)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = s[0] == '-' ? -x : x;
	return true;
}

bool ql_get_int(const struct ql_line *l, const char *name, long long *v)
{
	const struct ql_field *f = ql_get(l, name);

	return f && parse_int(f->s, f->len, v);
}

bool ql_is_none(const struct ql_field *f)
{
	return f->len == 0 || (f->len == 4 && memcmp(f->s, "NONE", 4) == 0);
}

/* ---- the parser ------------------------------------------------------------------------------------------
 */

/* Unix seconds, optionally with a fraction ("1366720340" or "1366720340.250"); up to year 9999. */
static bool parse_time(const char *s, size_t len, int64_t *ms)
{
	const char *dot = memchr(s, '.', len);
	size_t int_len = dot ? (size_t)(dot - s) : len;
	long long sec;
	int64_t frac = 0;

	if (int_len == 0 || s[0] == '-' || !parse_int(s, int_len, &sec) || sec <= 0 || sec > 253402300799LL)
		return false;
	if (dot) {
		size_t n = len - int_len - 1;

		if (n == 0 || n > 9)
			return false;
		for (size_t i = 0; i < n; i++) {
			if (dot[1 + i] < '0' || dot[1 + i] > '9')
				return false;
			if (i < 3)
				frac = frac * 10 + (dot[1 + i] - '0');
		}
		for (size_t i = n; i < 3; i++)
			frac *= 10;
	}
	*ms = (int64_t)sec * 1000 + frac;
	return true;
}

/* C0 controls, DEL, and C1 (U+0080..U+009F, C2 80..C2 9F in UTF-8): nothing a terminal should be sent. */
static long control_at(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0))
			return (long)i;
	}
	return -1;
}

static bool event_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > QL_EVENT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

__attribute__((format(printf, 3, 4))) static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return false;
}

/* At most 40 bytes of a field for a message (the parser has refused control characters by then). */
#define SHOWN(f) ((f)->len > 40 ? 40 : (int)(f)->len), (f)->s, ((f)->len > 40 ? "..." : "")

static bool check_numbers(const struct ql_line *l, char *why, size_t whylen)
{
	const struct kind_info *k = &kinds[l->kind];
	size_t nf = n_fields(l->kind);

	for (size_t i = 0; i < nf; i++) {
		int d = data_index(l->kind, i, l->n_data);
		long long v;

		if (!(k->numeric & N(i)) || d < 0 || l->data[d].len == 0 ||
		    parse_int(l->data[d].s, l->data[d].len, &v))
			continue;
		return fail(why, whylen, "%s: field %d (%s): '%.*s%s' is not an integer", k->name, 6 + d,
		            k->fields[i], SHOWN(&l->data[d]));
	}
	return true;
}

/* Events about one call need its uniqueid: it becomes the call id. */
static bool check_call_fields(const struct ql_line *l, char *why, size_t whylen)
{
	const char *name = kinds[l->kind].name;

	if (ql_is_none(&l->uniqueid) ||
	    !customer_valid_key_part(l->uniqueid.s, l->uniqueid.len, QL_CALL_UID_MAX))
		return fail(
		    why, whylen,
		    "%s needs the caller's channel uniqueid in field 2 (1..%d characters of [A-Za-z0-9_.-]), "
		    "got '%.*s%s'",
		    name, QL_CALL_UID_MAX, SHOWN(&l->uniqueid));
	if (ql_is_none(&l->queue))
		return fail(why, whylen, "%s needs a queue name in field 3, got '%.*s%s'", name,
		            SHOWN(&l->queue));
	return true;
}

static void hash_fields(struct ql_line *l, const struct ql_field *f, size_t n)
{
	crypto_hash_sha256_state st;
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			crypto_hash_sha256_update(&st, (const unsigned char *)"|", 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)f[i].s, f[i].len);
	}
	crypto_hash_sha256_final(&st, digest);
	memcpy(l->source_id, "ql-", 3);
	sodium_bin2hex(l->source_id + 3, QL_SOURCE_ID_LEN - 3 + 1, digest, (QL_SOURCE_ID_LEN - 3) / 2);
}

/* Split at '|' into f (at most max); the number of fields, or 0 when there are more. */
static size_t split(char *line, size_t len, struct ql_field *f, size_t max)
{
	char *p = line, *end = line + len;
	size_t n = 0;

	for (;;) {
		char *bar = memchr(p, '|', (size_t)(end - p));
		char *stop = bar ? bar : end;

		if (n == max)
			return 0;
		f[n].s = p;
		f[n++].len = (size_t)(stop - p);
		if (!bar)
			return n;
		p = bar + 1;
	}
}

bool ql_parse(char *line, size_t len, struct ql_line *out, char *why, size_t whylen)
{
	static const char *const names[] = {"field 1 (time)", "field 2 (uniqueid)", "field 3 (queue)",
	                                    "field 4 (agent)"};
	struct ql_field f[5 + QL_MAX_DATA];
	size_t n, bad;
	long at;

	memset(out, 0, sizeof(*out));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > QL_MAX_LINE)
		return fail(why, whylen, "line longer than %d bytes", QL_MAX_LINE);
	if (!proto_valid_utf8(line, len, &bad))
		return fail(why, whylen, "%s at byte %zu", line[bad] == '\0' ? "NUL byte" : "not UTF-8",
		            bad + 1);
	if ((at = control_at(line, len)) >= 0)
		return fail(why, whylen, "control character at byte %ld", at + 1);
	n = split(line, len, f, sizeof(f) / sizeof(f[0]));
	if (n == 0)
		return fail(why, whylen, "more than %d data fields after the event", QL_MAX_DATA);
	if (n < 5)
		return fail(why, whylen,
		            "%zu field%s; a queue_log line is time|uniqueid|queue|agent|EVENT|data...", n,
		            n == 1 ? "" : "s");
	/* Realtime exports pad every line to data5: the padding is not part of the event. */
	while (n > 5 && f[n - 1].len == 0)
		n--;
	for (size_t i = 0; i < n; i++)
		line[(size_t)(f[i].s - line) + f[i].len] = '\0';
	if (!parse_time(f[0].s, f[0].len, &out->time_ms))
		return fail(why, whylen, "%s: '%.*s%s' is not Unix seconds", names[0], SHOWN(&f[0]));
	for (size_t i = 1; i < 4; i++)
		if (f[i].len > QL_NAME_MAX)
			return fail(why, whylen, "%s is longer than %d bytes", names[i], QL_NAME_MAX);
	if (!event_name_ok(f[4].s, f[4].len))
		return fail(why, whylen,
		            "field 5 (event): '%.*s%s' is not an event name (1..%d of [A-Za-z0-9_-])",
		            SHOWN(&f[4]), QL_EVENT_MAX);
	out->uniqueid = f[1];
	out->queue = f[2];
	out->agent = f[3];
	out->event = f[4];
	out->kind = ql_kind_from_name(f[4].s, f[4].len);
	out->n_data = n - 5;
	memcpy(out->data, f + 5, out->n_data * sizeof(f[0]));
	if (!check_numbers(out, why, whylen))
		return false;
	if (kinds[out->kind].cls == QL_CLASS_CALL && !check_call_fields(out, why, whylen))
		return false;
	hash_fields(out, f, n);
	return true;
}
