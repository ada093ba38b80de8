#include "audit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lost_record.h"

/* Look for calls open too long and decide first-contact windows every
 * this many records (and not more often than the tables are large, so a
 * sweep costs O(1) a record). */
#define SWEEP_EVERY 4096

void audit_format_duration(uint64_t ms, char out[32])
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(out, 32, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(out, 32, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, 32, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(out, 32, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
}

bool audit_parse_duration(const char *text, uint64_t *ms)
{
	uint64_t total = 0;
	const char *p = text;

	if (*p == '\0')
		return false;
	while (*p) {
		uint64_t n = 0, unit;
		const char *digits = p;

		while (*p >= '0' && *p <= '9') {
			if (n > UINT64_MAX / 10 - 10)
				return false;
			n = n * 10 + (uint64_t)(*p++ - '0');
		}
		if (p == digits)
			return false;
		switch (*p++) {
		case 's':
			unit = 1000;
			break;
		case 'm':
			unit = 60000;
			break;
		case 'h':
			unit = 3600000;
			break;
		case 'd':
			unit = 86400000;
			break;
		default:
			return false;
		}
		if (n > (UINT64_MAX - total) / unit)
			return false;
		total += n * unit;
	}
	*ms = total;
	return true;
}

int audit_cmp_ids(const char *a, const char *b)
{
	uint64_t am, an, bm, bn;
	bool ga = log_id_parse(a, &am, &an), gb = log_id_parse(b, &bm, &bn);

	if (ga != gb)
		return ga ? -1 : 1;
	return ga ? log_id_cmp(am, an, bm, bn) : strcmp(a, b);
}

void audit_format_time(uint64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "@%" PRIu64, ms / 1000);
}

void audit_emit(struct audit *a, const struct audit_finding *f, const char *fmt, ...)
{
	struct audit_finding copy = *f;
	char detail[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	copy.detail = detail;
	a->sink(a->sink_arg, &copy);
}

static void integrity_finding(void *arg, const struct integrity_finding *i)
{
	struct audit *a = arg;
	struct audit_finding f = {
	    .check = AUDIT_INTEGRITY,
	    .kind = integrity_kind_name(i->kind),
	    .stream = i->stream,
	    .id = i->id,
	    .related = i->related,
	    .missing_from = i->missing_from,
	    .missing_to = i->missing_to,
	    .request_id = i->request_id,
	    .detail = i->detail,
	};

	a->sink(a->sink_arg, &f);
}

bool audit_init(struct audit *a, const struct audit_options *o, audit_sink_fn *sink, void *sink_arg)
{
	memset(a, 0, sizeof(*a));
	a->o = *o;
	a->sink = sink;
	a->sink_arg = sink_arg;
	id_hasher_init(&a->hasher);
	integrity_init(&a->integrity, o->allow_trimmed_start, integrity_finding, a);
	if (!figures_init(&a->fig, &a->hasher, o->fcr_disposition, o->fcr_window_ms) ||
	    !audit_calls_init(a) || !audit_complaints_init(a) || !id_set_init(&a->call_ids) ||
	    !id_set_init(&a->complaint_ids)) {
		audit_free(a);
		return false;
	}
	return true;
}

void audit_free(struct audit *a)
{
	figures_free(&a->fig);
	strmap_free(&a->calls);
	strmap_free(&a->complaints);
	id_set_free(&a->call_ids);
	id_set_free(&a->complaint_ids);
	free(a->scratch);
	a->scratch = NULL;
}

/* A write acknowledged while Redis was unreachable that the rules refused
 * when the spool was replayed: logged, it changed no call or complaint. */
static void rejected_notice(struct audit *a, const struct log_record *r, const struct audit_entry *e)
{
	char object[LOG_ID_MAX + 80];
	struct audit_finding f = {.check = AUDIT_CONSISTENCY,
	                          .kind = "rejected",
	                          .notice = true,
	                          .stream = r->stream,
	                          .id = r->id,
	                          .object = object};

	snprintf(object, sizeof(object), "%.*s", (int)(e->id.len > 64 ? 64 : e->id.len), e->id.p);
	audit_emit(a, &f, "%.*s refused when replayed from a daemon's spool (it changed nothing): %.*s",
	           (int)(e->event.len > 32 ? 32 : e->event.len), e->event.p,
	           (int)(e->rejected.len > 300 ? 300 : e->rejected.len), e->rejected.p);
}

bool audit_record(struct audit *a, const struct log_record *r)
{
	struct audit_entry e;
	char why[200];

	a->entries[r->stream]++;
	if (!a->started[r->stream]) {
		a->started[r->stream] = true;
		/* Read from its beginning: an event for an id never seen is a finding
		 * (otherwise the id may have begun before the range). */
		a->complete[r->stream] = r->seq && r->seq_len == 1 && r->seq[0] == '1';
	}
	integrity_check(&a->integrity, r);
	if (r->id_ms > a->clock_ms)
		a->clock_ms = r->id_ms;
	if (r->entry == NULL)
		return true; /* reported by the integrity check */
	/* A lost record is no call or complaint event: the integrity check
	 * reports what it names (or that it is malformed); it changes no call,
	 * no complaint and no figure. */
	if (lost_record_is(r->entry, r->entry_len))
		return true;
	if (r->entry_len > a->scratch_cap) {
		char *p = realloc(a->scratch, r->entry_len);

		if (p == NULL)
			return false;
		a->scratch = p;
		a->scratch_cap = r->entry_len;
	}
	if (!audit_entry_parse(r->stream, r->entry, r->entry_len, a->scratch, &e, why, sizeof(why))) {
		struct audit_finding f = {
		    .check = AUDIT_CONSISTENCY, .kind = "malformed_entry", .stream = r->stream, .id = r->id};

		audit_emit(a, &f, "%s", why);
	} else if (e.rejected.p) {
		rejected_notice(a, r, &e);
	} else if (r->stream == LOG_CALLS) {
		audit_call_entry(a, r, &e);
	} else {
		audit_complaint_entry(a, r, &e);
	}
	if (++a->since_sweep >= SWEEP_EVERY &&
	    a->since_sweep >= a->calls.count + a->complaints.count + a->fig.fcr.customers.count) {
		a->since_sweep = 0;
		audit_calls_sweep(a);
		audit_complaints_sweep(a);
		figures_sweep(&a->fig, a->clock_ms);
	}
	return !a->out_of_memory && !a->fig.out_of_memory;
}

void audit_finish(struct audit *a)
{
	integrity_finish(&a->integrity);
	audit_calls_finish(a);
	audit_complaints_finish(a);
	figures_finish(&a->fig, a->o.end_ms);
}
