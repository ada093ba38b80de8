/* hotline replay (without --rebuild or --to): the timeline of what
 * happened, in log order, one line per entry: when, which stream, the
 * event, the call or complaint, who, the state change and the fields that
 * matter; or the chosen entries as export records with --json.
 *
 * Streams the log (log_source.h); what it remembers is bounded: the last
 * state of up to STATES_KEPT records (to print "from -> to"; forgotten
 * wholesale when full, then shown as "? -> to"), and for --call and
 * --customer the ids of the records that belong to the selection (at most
 * LINKED_MAX, else it says so and stops).
 *
 * --customer reads a re-readable source (Redis, a file) twice: first to
 * learn every call and complaint of the customer, then to print them whole
 * -- a call's offer is logged before a screen pop may link it to the
 * customer, so the customer is often named only from its second entry on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cli_target.h"
#include "id_map.h"
#include "lost_record.h"
#include "replay.h"
#include "term_text.h"

#define WHO         "hotline replay"
#define STATES_KEPT 8192
#define LINKED_MAX  100000
#define FIELD_CHARS 64
#define TEXT_CHARS  120

struct timeline {
	const struct replay_opts *o;
	struct cli_target target;
	redisContext *rc; /* NULL when reading a file */
	struct id_map *states, *linked;
	bool linked_full;
	unsigned long long read, shown, unreadable;
};

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "c:<call_id>" or "k:<complaint_id>": a record, whichever stream it is in. */
static bool record_key(enum log_stream s, const json_t *entry, char out[ID_MAP_KEY_MAX])
{
	const char *id = str(entry, s == LOG_CALLS ? "call_id" : "complaint_id");

	return id && snprintf(out, ID_MAP_KEY_MAX, "%c:%s", s == LOG_CALLS ? 'c' : 'k', id) < ID_MAP_KEY_MAX;
}

static bool link_record(struct timeline *t, const char *key)
{
	if (id_map_get(t->linked, key) || id_map_put(t->linked, key, ""))
		return true;
	t->linked_full = true;
	return false;
}

/* ---- which entries ---- */

static bool names_customer(const struct timeline *t, const json_t *entry)
{
	const char *c = str(entry, "customer_id");

	return c && strcmp(c, t->o->customer) == 0;
}

/* Whether the entry belongs to the selection; learns linked records. */
static bool selected(struct timeline *t, const struct log_record *r, const json_t *entry)
{
	const struct replay_opts *o = t->o;
	char key[ID_MAP_KEY_MAX];

	if (!o->call && !o->customer && !o->complaint)
		return true;
	/* A lost record belongs to no call, customer or complaint. */
	if (entry == NULL || (r->entry && lost_record_is(r->entry, r->entry_len)) ||
	    !record_key(r->stream, entry, key))
		return false;
	if (o->complaint)
		return r->stream == LOG_COMPLAINTS && strcmp(key + 2, o->complaint) == 0;
	if (o->call) {
		const char *call = str(entry, "call_id");

		if (r->stream == LOG_CALLS)
			return strcmp(key + 2, o->call) == 0;
		/* A complaint opened about the call, then the rest of its life. */
		if (call && strcmp(call, o->call) == 0 &&
		    strcmp(str(entry, "event") ? str(entry, "event") : "", "open") == 0)
			return link_record(t, key);
		return id_map_get(t->linked, key) != NULL;
	}
	if (names_customer(t, entry))
		return link_record(t, key);
	return id_map_get(t->linked, key) != NULL;
}

/* ---- output ---- */

static void add(char *buf, size_t size, const char *label, const char *value, size_t max, bool quote)
{
	char clean[4 * TEXT_CHARS + 8];
	size_t n = strlen(buf);

	if (value == NULL || n + 4 >= size)
		return;
	term_clean(clean, sizeof(clean), value, max);
	snprintf(buf + n, size - n, quote ? " %s=\"%s\"" : " %s=%s", label, clean);
}

static void add_int(char *buf, size_t size, const char *label, const json_t *v)
{
	char text[32];

	if (!json_is_integer(v))
		return;
	snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	add(buf, size, label, text, sizeof(text), false);
}

static void details(const struct log_record *r, const json_t *e, char *buf, size_t size)
{
	const json_t *leg = json_object_get(e, "leg_ms");
	const char *role = str(e, "role");

	buf[0] = '\0';
	if (role && strcmp(role, "agent") != 0)
		add(buf, size, "role", role, FIELD_CHARS, false);
	if (r->stream == LOG_CALLS) {
		add(buf, size, "customer", str(e, "customer_id"), FIELD_CHARS, false);
		add(buf, size, "phone", str(e, "phone"), FIELD_CHARS, false);
		add(buf, size, "queue", str(e, "queue"), FIELD_CHARS, false);
		add(buf, size, "tier", str(e, "tier"), FIELD_CHARS, false);
		add(buf, size, "dnis", str(e, "dnis"), FIELD_CHARS, false);
		add(buf, size, "to", str(e, "to"), FIELD_CHARS, false);
		add(buf, size, "disposition", str(e, "disposition"), FIELD_CHARS, false);
		add_int(buf, size, "csat", json_object_get(e, "csat"));
		if (json_is_integer(leg)) {
			char text[32];

			snprintf(text, sizeof(text), "%.1fs", (double)json_integer_value(leg) / 1000.0);
			add(buf, size, "leg", text, sizeof(text), false);
		}
	} else {
		add(buf, size, "customer", str(e, "customer_id"), FIELD_CHARS, false);
		add(buf, size, "call", str(e, "call_id"), FIELD_CHARS, false);
		add(buf, size, "severity", str(e, "severity"), FIELD_CHARS, false);
		add(buf, size, "category", str(e, "category"), FIELD_CHARS, false);
		add(buf, size, "tier", str(e, "tier"), FIELD_CHARS, false);
		add_int(buf, size, "level", json_object_get(e, "level"));
		add(buf, size, "due", str(e, "due"), FIELD_CHARS, false);
		add(buf, size, "owner", str(e, "owner"), FIELD_CHARS, false);
		add(buf, size, "summary", str(e, "summary"), TEXT_CHARS, true);
		add(buf, size, "resolution", str(e, "resolution"), TEXT_CHARS, true);
	}
	add(buf, size, "note", str(e, "note"), TEXT_CHARS, true);
	if (json_is_true(json_object_get(e, "spooled")))
		add(buf, size, "spooled", "yes", 8, false);
	add(buf, size, "REJECTED", str(e, "rejected"), TEXT_CHARS, true);
}

/* "from -> to", from the state remembered for the record. */
static void change(struct timeline *t, const struct log_record *r, const json_t *e, char *buf, size_t size)
{
	const char *to = str(e, "state"), *event = str(e, "event"), *from = NULL;
	char key[ID_MAP_KEY_MAX], clean_from[4 * 24 + 8], clean_to[4 * 24 + 8];
	bool fresh = event && (strcmp(event, "offer") == 0 || strcmp(event, "open") == 0);

	if (to == NULL) {
		snprintf(buf, size, "%s", json_object_get(e, "rejected") ? "(no change)" : "?");
		return;
	}
	if (record_key(r->stream, e, key))
		from = id_map_get(t->states, key);
	else
		key[0] = '\0';
	term_clean(clean_to, sizeof(clean_to), to, 23);
	if (fresh)
		snprintf(buf, size, "-> %s", clean_to);
	else if (from) {
		term_clean(clean_from, sizeof(clean_from), from, 23);
		snprintf(buf, size, "%s -> %s", clean_from, clean_to);
	} else {
		snprintf(buf, size, "? -> %s", clean_to);
	}
	if (key[0] && !id_map_put(t->states, key, clean_to)) {
		id_map_clear(t->states); /* bounded: forget, and show "? ->" for a while */
		id_map_put(t->states, key, clean_to);
	}
}

static int print_text(struct timeline *t, const struct log_record *r, const json_t *e)
{
	char ts[4 * 32 + 8], event[4 * 12 + 8], id[4 * FIELD_CHARS + 8], agent[4 * FIELD_CHARS + 8];
	char chg[2 * (4 * 24 + 8) + 8], more[4096]; /* chg holds "from -> to", each cleaned to 24 characters */
	const char *idv = str(e, r->stream == LOG_CALLS ? "call_id" : "complaint_id");

	term_clean(ts, sizeof(ts), str(e, "ts") ? str(e, "ts") : r->id, 32);
	term_clean(event, sizeof(event), str(e, "event") ? str(e, "event") : "?", 12);
	term_clean(id, sizeof(id), idv ? idv : "?", FIELD_CHARS);
	term_clean(agent, sizeof(agent), str(e, "agent") ? str(e, "agent") : "?", FIELD_CHARS);
	change(t, r, e, chg, sizeof(chg));
	details(r, e, more, sizeof(more));
	return printf("%-24s %-10s %-9s %-22s %-10s %-28s%s\n", ts, log_stream_name(r->stream), event, id,
	              agent, chg, more);
}

/* A lost record in one line: how many entries, which seqs, reported by
 * whom.  false in *ok when it is not well formed (the line says why). */
static int print_lost(const struct log_record *r, bool *ok)
{
	struct lost_record lr;
	char why[200], clean[4 * 200 + 8], ts[4 * 32 + 8], by[4 * FIELD_CHARS + 8],
	    master[4 * FIELD_CHARS + 8];
	char seqs[LOST_MAX_ITEMS * 22], count[32];
	size_t used = 0;

	*ok = lost_record_parse(r->entry, r->entry_len, &lr, why, sizeof(why)) == LOST_OK;
	if (!*ok) {
		term_clean(clean, sizeof(clean), why, 200);
		return printf("%-24s %-10s %-9s %-22s %-10s %-28s not well formed: %s\n", r->id,
		              log_stream_name(r->stream), "lost", "?", "-", "(no change)", clean);
	}
	seqs[0] = '\0';
	for (size_t i = 0; i < lr.n; i++)
		used += (size_t)snprintf(seqs + used, sizeof(seqs) - used, "%s%" PRIu64, i ? "," : "",
		                         lr.item[i].seq);
	snprintf(count, sizeof(count), "%zu entr%s", lr.n, lr.n == 1 ? "y" : "ies");
	term_clean(ts, sizeof(ts), lr.ts, 32);
	term_clean(by, sizeof(by), lr.reported_by, FIELD_CHARS);
	term_clean(master, sizeof(master), lr.master, FIELD_CHARS);
	return printf("%-24s %-10s %-9s %-22s %-10s %-28s seq=%s reported_by=%s master=%s\n", ts,
	              log_stream_name(r->stream), "lost", count, "-", "(no change)", seqs, by, master);
}

/* The record as an export line (proto/LOG.md): every field as stored. */
static int print_json(const struct log_record *r)
{
	json_t *o = json_pack("{s:s,s:s}", "stream", log_stream_name(r->stream), "id", r->id);
	char *text;
	int rc = -1;

	for (size_t i = 0; o && i < r->nfields; i++) {
		char name[128];
		json_t *v = json_stringn(r->fields[i].value, r->fields[i].value_len);

		if (v == NULL || r->fields[i].name_len >= sizeof(name)) {
			json_decref(v);
			json_decref(o);
			return 0; /* not UTF-8: not representable as an export record */
		}
		memcpy(name, r->fields[i].name, r->fields[i].name_len);
		name[r->fields[i].name_len] = '\0';
		json_object_set_new(o, name, v);
	}
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		rc = printf("%s\n", text);
	free(text);
	json_decref(o);
	return rc;
}

/* ---- the passes ---- */

static struct log_source *open_source(struct timeline *t)
{
	const struct replay_opts *o = t->o;
	struct log_selection sel = {
	    .streams = o->complaint ? LOG_STREAM_MASK(LOG_COMPLAINTS) : LOG_ALL_STREAMS,
	    .from_id = o->from_id[0] ? o->from_id : NULL,
	    .to_id = o->until_id[0] ? o->until_id : NULL,
	};
	char err[512];
	struct log_source *s = o->file
	                           ? log_source_open_file(o->file, &sel, err, sizeof(err))
	                           : log_source_open_redis(t->rc, t->target.prefix, &sel, err, sizeof(err));

	if (s == NULL)
		fprintf(stderr, WHO ": %s\n", err);
	return s;
}

/* Pass one of --customer: every call and complaint naming the customer. */
static int learn_customer(struct timeline *t)
{
	struct log_source *s = open_source(t);
	struct log_record r;
	int got;

	if (s == NULL)
		return CLI_FAILED;
	while ((got = log_source_next(s, &r)) == 1 && !t->linked_full) {
		json_t *e = r.entry ? json_loadb(r.entry, r.entry_len, 0, NULL) : NULL;
		char key[ID_MAP_KEY_MAX];

		if (e && names_customer(t, e) && record_key(r.stream, e, key))
			link_record(t, key);
		json_decref(e);
	}
	if (got < 0)
		fprintf(stderr, WHO ": %s\n", log_source_error(s));
	log_source_close(s);
	return got < 0 ? CLI_FAILED : CLI_OK;
}

static int show(struct timeline *t)
{
	struct log_source *s = open_source(t);
	struct log_record r;
	int got = 0;

	if (s == NULL)
		return CLI_FAILED;
	while (!t->linked_full && (got = log_source_next(s, &r)) == 1) {
		json_t *e = r.entry ? json_loadb(r.entry, r.entry_len, 0, NULL) : NULL;
		int printed = 1;

		t->read++;
		if (!json_is_object(e)) {
			/* Tampered or truncated: say so where it is, whatever the filter. */
			t->unreadable++;
			fprintf(stderr, WHO ": %s %s: the entry is not a JSON object\n",
			        log_stream_name(r.stream), r.id);
		} else if (selected(t, &r, e)) {
			bool well_formed = true;

			if (t->o->json)
				printed = print_json(&r);
			else if (lost_record_is(r.entry, r.entry_len))
				printed = print_lost(&r, &well_formed);
			else
				printed = print_text(t, &r, e);
			if (!well_formed) {
				t->unreadable++;
				fprintf(stderr, WHO ": %s %s: a lost record that is not well formed\n",
				        log_stream_name(r.stream), r.id);
			}
			if (printed == 0) {
				t->unreadable++;
				fprintf(stderr, WHO ": %s %s: a field is not UTF-8 text\n",
				        log_stream_name(r.stream), r.id);
			} else {
				t->shown++;
			}
		}
		json_decref(e);
		if (printed < 0) {
			got = -2;
			break;
		}
	}
	if (got == -1)
		fprintf(stderr, WHO ": %s\n", log_source_error(s));
	else if (got == -2)
		perror(WHO ": writing the timeline");
	log_source_close(s);
	return got < 0 ? CLI_FAILED : CLI_OK;
}

int replay_timeline(const struct replay_opts *o)
{
	struct timeline t = {.o = o};
	int rc = CLI_FAILED;

	if (!o->file) {
		int status = cli_target_setup(&t.target, WHO, &o->target, false);

		if (status != CLI_OK)
			return status;
		t.rc = cli_target_connect(&t.target, WHO);
		if (t.rc == NULL)
			return CLI_FAILED;
	} else if (o->target.redis || o->target.prefix || o->target.config) {
		fprintf(stderr, WHO ": --file reads the export file only (no -c, --redis or --prefix)\n");
		return CLI_USAGE;
	}
	t.states = id_map_new(STATES_KEPT);
	t.linked = id_map_new(LINKED_MAX);
	if (!t.states || !t.linked) {
		fprintf(stderr, WHO ": out of memory\n");
		goto out;
	}
	/* Standard input cannot be read twice: then a customer's calls are
	 * shown from the first entry that names the customer. */
	if (o->customer && !(o->file && strcmp(o->file, "-") == 0) && (rc = learn_customer(&t)) != CLI_OK)
		goto out;
	if (!t.linked_full)
		rc = show(&t);
	if (t.linked_full) {
		fprintf(stderr,
		        WHO ": more than %d calls and complaints belong to this selection; narrow it with "
		            "--from/--until\n",
		        LINKED_MAX);
		rc = CLI_FAILED;
	}
	if (fflush(stdout) != 0) {
		perror(WHO ": writing the timeline");
		rc = CLI_FAILED;
	}
	if (rc == CLI_OK) {
		fprintf(stderr, WHO ": %llu of %llu entries shown\n", t.shown, t.read);
		if (t.unreadable)
			rc = CLI_FINDINGS;
	}
out:
	id_map_free(t.states);
	id_map_free(t.linked);
	if (t.rc)
		redisFree(t.rc);
	return rc;
}
