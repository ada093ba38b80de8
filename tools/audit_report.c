#include "audit_report.h"

#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "json_text.h"

static const char *const check_names[AUDIT_CHECK_COUNT] = {"integrity", "consistency", "sla"};

/* Text from the log on a terminal: no control characters. */
static void put_safe(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* A JSON string of s; text from the log that is not UTF-8 (jansson refuses
 * it) gets U+FFFD for each bad byte. */
static json_t *utf8_string(const char *s)
{
	struct text_buf b = {0};
	json_t *j = json_string(s);

	if (j || s == NULL)
		return j;
	json_escape(&b, s, strlen(s));
	j = b.failed ? NULL : json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
	text_buf_free(&b);
	return j;
}

static void dump(FILE *out, const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	fputs(text ? text : "null", out);
	free(text);
}

void report_begin(struct audit_report *rep, FILE *out, bool json, const struct report_header *h)
{
	char end[32], age[32];

	memset(rep, 0, sizeof(*rep));
	rep->out = out;
	rep->json = json;
	audit_format_time(h->end_ms, end);
	audit_format_duration(h->open_age_ms, age);
	if (json) {
		json_t *head = json_pack("{s:s,s:s?,s:s?,s:[],s:s,s:I}", "source", h->source, "from",
		                         h->from_id, "to", h->to_id, "streams", "end", end, "open_age_s",
		                         (json_int_t)(h->open_age_ms / 1000));

		for (int i = 0; i < LOG_STREAM_COUNT; i++)
			if (h->streams & LOG_STREAM_MASK(i))
				json_array_append_new(json_object_get(head, "streams"),
				                      json_string(log_stream_name(i)));
		fputs("{\"audit\":", out);
		dump(out, head);
		fputs(",\"findings\":[", out);
		json_decref(head);
		return;
	}
	fprintf(out, "hotline audit of ");
	put_safe(out, h->source);
	if (h->from_id)
		fprintf(out, ", from stream id %s", h->from_id);
	if (h->to_id)
		fprintf(out, ", to stream id %s", h->to_id);
	fputc('\n', out);
	fprintf(out, "open calls and deadlines judged at %s; a call open longer than %s is a finding\n\n",
	        end, age);
}

static void count_kind(struct audit_report *rep, const struct audit_finding *f)
{
	size_t i;

	for (i = 0; i < rep->n_kinds; i++)
		if (rep->kinds[i].check == f->check && rep->kinds[i].notice == f->notice &&
		    strcmp(rep->kinds[i].kind, f->kind) == 0)
			break;
	if (i == rep->n_kinds) {
		if (i == REPORT_MAX_KINDS)
			return;
		rep->kinds[i].check = f->check;
		rep->kinds[i].notice = f->notice;
		rep->kinds[i].kind = f->kind;
		rep->n_kinds++;
	}
	rep->kinds[i].n++;
}

void report_finding(void *arg, const struct audit_finding *f)
{
	struct audit_report *rep = arg;

	count_kind(rep, f);
	if (f->notice)
		rep->notices++;
	else
		rep->findings++;
	if (rep->json) {
		json_t *j =
		    json_pack("{s:s,s:s,s:b,s:s,s:s}", "check", check_names[f->check], "kind", f->kind,
		              "notice", f->notice, "stream", log_stream_name(f->stream), "id", f->id);

		if (f->object)
			json_object_set_new(j, "object", utf8_string(f->object));
		if (f->related)
			json_object_set_new(j, "related", json_string(f->related));
		if (f->request_id)
			json_object_set_new(j, "request_id", utf8_string(f->request_id));
		if (f->missing_to)
			json_object_set_new(
			    j, "missing",
			    json_pack("[I,I]", (json_int_t)f->missing_from, (json_int_t)f->missing_to));
		if (f->severity)
			json_object_set_new(j, "severity", json_string(f->severity));
		if (f->tier)
			json_object_set_new(j, "tier", json_string(f->tier));
		json_object_set_new(j, "detail", utf8_string(f->detail));
		fputs(rep->n_findings_printed++ ? ",\n" : "\n", rep->out);
		dump(rep->out, j);
		json_decref(j);
		return;
	}
	fprintf(rep->out, "%s %s [%s/%s] ", log_stream_name(f->stream), f->id,
	        f->notice ? "notice" : check_names[f->check], f->kind);
	put_safe(rep->out, f->detail);
	fputc('\n', rep->out);
}

/* ---- summary ---- */

static json_t *summary_json(const struct audit_report *rep, const struct audit *a)
{
	json_t *streams = json_object(), *by_kind = json_object(), *entries = json_object();

	for (int i = 0; i < LOG_STREAM_COUNT; i++) {
		const struct integrity_stream *st = &a->integrity.s[i];

		json_object_set_new(entries, log_stream_name(i), json_integer((json_int_t)a->entries[i]));
		json_object_set_new(streams, log_stream_name(i),
		                    json_pack("{s:I,s:I,s:I,s:s?}", "entries", (json_int_t)st->entries,
		                              "first_seq", (json_int_t)st->first_seq, "last_seq",
		                              (json_int_t)st->v.last_seq, "head",
		                              st->v.started ? st->v.last_hash : NULL));
	}
	for (size_t i = 0; i < rep->n_kinds; i++) {
		char key[80];

		snprintf(key, sizeof(key), "%s/%s",
		         rep->kinds[i].notice ? "notice" : check_names[rep->kinds[i].check],
		         rep->kinds[i].kind);
		json_object_set_new(by_kind, key, json_integer((json_int_t)rep->kinds[i].n));
	}
	return json_pack("{s:o,s:o,s:I,s:I,s:o,s:b}", "entries", entries, "streams", streams, "findings",
	                 (json_int_t)rep->findings, "notices", (json_int_t)rep->notices, "by_kind", by_kind,
	                 "clean", rep->findings == 0);
}

static uint64_t get_u(const json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

/* "86.0%" or "-" */
static void pct(const json_t *ratio, char out[16])
{
	if (json_is_real(ratio))
		snprintf(out, 16, "%.1f%%", json_real_value(ratio) * 100);
	else
		snprintf(out, 16, "-");
}

static void avg(const json_t *v, char out[16])
{
	if (json_is_real(v))
		snprintf(out, 16, "%.2f", json_real_value(v));
	else
		snprintf(out, 16, "-");
}

static void secs(const json_t *v, char out[32])
{
	if (json_is_real(v))
		audit_format_duration((uint64_t)(json_real_value(v) * 1000), out);
	else
		snprintf(out, 32, "-");
}

static void complaints_row(FILE *out, const char *name, const json_t *c)
{
	fprintf(out,
	        "  %-18.18s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
	        " %8" PRIu64 "\n",
	        name, get_u(c, "opened"), get_u(c, "resolved"), get_u(c, "resolved_late"), get_u(c, "closed"),
	        get_u(c, "reopened"), get_u(c, "escalated"), get_u(c, "overdue"));
}

static void print_figures(FILE *out, const json_t *fig)
{
	const json_t *calls = json_object_get(fig, "calls"), *csat = json_object_get(calls, "csat");
	const json_t *fcr = json_object_get(fig, "first_contact_resolution");
	const json_t *complaints = json_object_get(fig, "complaints"), *v;
	const char *key;
	char a[16], b[16], c[32], d[16];

	fprintf(out, "\nCALLS\n");
	pct(json_object_get(calls, "answer_rate"), a);
	pct(json_object_get(calls, "abandon_rate"), b);
	secs(json_object_get(calls, "aht_s"), c);
	avg(json_object_get(csat, "average"), d);
	fprintf(out, "  offered %" PRIu64 ", answered %" PRIu64 " (%s), abandoned %" PRIu64 " (%s)\n",
	        get_u(calls, "offered"), get_u(calls, "answered"), a, get_u(calls, "abandoned"), b);
	fprintf(out,
	        "  ended after an answer %" PRIu64 ", held %" PRIu64 ", transferred %" PRIu64
	        ", average handle time %s\n",
	        get_u(calls, "ended"), get_u(calls, "held"), get_u(calls, "transferred"), c);
	fprintf(out, "  CSAT %s from %" PRIu64 " ratings\n", d, get_u(csat, "count"));
	pct(json_object_get(fcr, "rate"), a);
	fprintf(out,
	        "  first-contact resolution %s: %" PRIu64 " resolved at first contact, %" PRIu64
	        " called again within %" PRIu64 " d, %" PRIu64 " not '%s', %" PRIu64
	        " still in their window\n",
	        a, get_u(fcr, "resolved_first"), get_u(fcr, "repeated"), get_u(fcr, "window_s") / 86400,
	        get_u(fcr, "not_resolved"), json_string_value(json_object_get(fcr, "disposition")),
	        get_u(fcr, "pending"));

	fprintf(out, "\n  %-18s %8s %8s %8s %10s %8s %8s\n", "agent", "answered", "legs", "ended", "AHT/leg",
	        "CSAT", "ratings");
	json_object_foreach((json_t *)json_object_get(fig, "agents"), key, v)
	{
		secs(json_object_get(v, "aht_s"), c);
		avg(json_object_get(v, "csat_average"), d);
		fprintf(out, "  %-18.18s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10s %8s %8" PRIu64 "\n", key,
		        get_u(v, "answered"), get_u(v, "legs"), get_u(v, "ended"), c, d,
		        get_u(v, "csat_count"));
	}
	fprintf(out, "\n  %-18s %8s %8s %8s %8s %8s %8s\n", "queue", "offered", "answered", "rate", "abandon",
	        "CSAT", "ratings");
	json_object_foreach((json_t *)json_object_get(fig, "queues"), key, v)
	{
		pct(json_object_get(v, "answer_rate"), a);
		avg(json_object_get(v, "csat_average"), d);
		fprintf(out, "  %-18.18s %8" PRIu64 " %8" PRIu64 " %8s %8" PRIu64 " %8s %8" PRIu64 "\n", key,
		        get_u(v, "offered"), get_u(v, "answered"), a, get_u(v, "abandoned"), d,
		        get_u(v, "csat_count"));
	}

	fprintf(out, "\nCOMPLAINTS\n  %-18s %8s %8s %8s %8s %8s %8s %8s\n", "", "opened", "resolved", "late",
	        "closed", "reopened", "escal.", "overdue");
	complaints_row(out, "all", complaints);
	json_object_foreach((json_t *)json_object_get(complaints, "by_tier"), key, v)
	    complaints_row(out, key, v);
	json_object_foreach((json_t *)json_object_get(complaints, "by_category"), key, v)
	    complaints_row(out, key, v);
	fprintf(out, "\n  deadlines %-9s %-9s %10s %10s %10s %10s\n", "severity", "tier", "in time", "late",
	        "open", "overdue");
	json_object_foreach((json_t *)json_object_get(fig, "deadlines"), key, v)
	{
		const char *tier;
		const json_t *cell;

		json_object_foreach((json_t *)v, tier, cell) fprintf(
		    out, "            %-9s %-9s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
		    key, tier, get_u(cell, "resolved_in_time"), get_u(cell, "resolved_late"),
		    get_u(cell, "open_in_time"), get_u(cell, "open_overdue"));
	}
}

bool report_end(struct audit_report *rep, const struct audit *a)
{
	json_t *summary = summary_json(rep, a), *figures = figures_json(&a->fig);

	if (summary == NULL || figures == NULL) {
		json_decref(summary);
		json_decref(figures);
		return false;
	}
	if (rep->json) {
		fputs(rep->n_findings_printed ? "\n],\"summary\":" : "],\"summary\":", rep->out);
		dump(rep->out, summary);
		fputs(",\"figures\":", rep->out);
		dump(rep->out, figures);
		fputs("}\n", rep->out);
	} else {
		fprintf(rep->out, "%sSUMMARY\n", rep->findings + rep->notices ? "\n" : "");
		for (int i = 0; i < LOG_STREAM_COUNT; i++) {
			const struct integrity_stream *st = &a->integrity.s[i];

			fprintf(rep->out, "  %-10s %" PRIu64 " entries", log_stream_name(i), a->entries[i]);
			if (st->v.started)
				fprintf(rep->out, ", seq %" PRIu64 "..%" PRIu64 ", head %s", st->first_seq,
				        st->v.last_seq, st->v.last_hash);
			fputc('\n', rep->out);
		}
		fprintf(rep->out, "  %" PRIu64 " finding%s, %" PRIu64 " notice%s%s", rep->findings,
		        rep->findings == 1 ? "" : "s", rep->notices, rep->notices == 1 ? "" : "s",
		        rep->n_kinds ? ":" : "");
		for (size_t i = 0; i < rep->n_kinds; i++)
			fprintf(rep->out, "%s %s/%s %" PRIu64, i ? "," : "",
			        rep->kinds[i].notice ? "notice" : check_names[rep->kinds[i].check],
			        rep->kinds[i].kind, rep->kinds[i].n);
		fputc('\n', rep->out);
		print_figures(rep->out, figures);
	}
	json_decref(summary);
	json_decref(figures);
	return true;
}
