/* hotline tail: follow the call and complaint logs live (TAIL over the line
 * protocol), one line per entry, until Ctrl-C.  It remembers the last entry
 * id printed per stream and, when the connection drops, reconnects and
 * resumes after it, so a supervisor's screen misses nothing and repeats
 * nothing across daemon restarts. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_stop.h"
#include "cli_credentials.h"
#include "cli_target.h"
#include "config.h"
#include "failover.h"
#include "line_client.h"
#include "term_text.h"

#define WHO            "hotline tail"
#define ID_MAX         48 /* "<ms>-<seq>": two 64-bit numbers and a dash */
#define CONNECT_MS     5000
#define AUTH_MS        15000 /* Argon2id plus the daemon's delay after failures */
#define SEND_MS        5000
#define TICK_MS        200   /* how long a Ctrl-C may wait to be noticed */
#define IDLE_PING_MS   30000 /* silence after which we check the server is alive */
#define PING_DEAD_MS   15000 /* ... and give up on it */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define START_ATTEMPTS 4 /* rounds of every address before the first TAIL succeeds; then forever */
#define MAX_PENDING    8
#define SUMMARY_CHARS  60
#define FIELD_CHARS    64

/* The only global: set by SIGINT/SIGTERM, polled by every wait. */

enum { CALLS, COMPLAINTS, N_STREAMS };
static const char *const stream_name[N_STREAMS] = {"calls", "complaints"};
static const char *const filter_keys[] = {"queue", "agent", "tier", "severity", "event"};

struct stream_state {
	bool wanted;
	bool active;       /* TAIL answered OK on the current connection */
	char last[ID_MAX]; /* resume point: last id printed, or the TAIL reply's "from"; "$" = new only */
};

enum req_kind { REQ_TAIL, REQ_PING, REQ_OTHER };

struct pending {
	enum req_kind kind;
	int stream;
};

enum outcome { GO_ON, SESSION_LOST, SESSION_STOP, SESSION_FATAL };

struct tail {
	struct failover daemons; /* --host (several: fail over between them) */
	struct cli_credentials cred;
	char *filter; /* the filters as JSON text, or NULL */
	bool json, color;
	struct lc_tls_options tls; /* --tls, --ca */
	struct stream_state s[N_STREAMS];

	/* the current connection */
	struct lc_conn *c;
	struct pending pending[MAX_PENDING]; /* unanswered requests, oldest first */
	unsigned p_head, p_count;
	long long last_rx_ms, ping_sent_ms;
	bool tailed;       /* some TAIL was answered OK on this connection */
	bool reconnecting; /* say so on stderr when the tail is back */
	char why[1400];    /* why the connection ended, for stderr */
};

struct tail_args {
	const char *config, *user, *credentials, *from_any;
	bool host; /* --host given */
	const char *from[N_STREAMS];
	json_t *filter;
};

/* ------------------------------------------------------------------------ */
/* Small helpers */

/* Sleep ms unless stopped; true when a stop was requested. */
static bool nap(unsigned ms)
{
	long long end = cli_monotonic_ms() + ms;

	while (!cli_stop_requested && cli_monotonic_ms() < end) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
	return cli_stop_requested;
}

static int stream_index(const char *name)
{
	for (int i = 0; i < N_STREAMS; i++)
		if (strcmp(name, stream_name[i]) == 0)
			return i;
	return -1;
}

/* A stream entry id "<ms>-<seq>", or "<ms>" meaning "<ms>-0" as Redis and
 * the daemon read it, into its two numbers. */
static bool parse_id(const char *id, unsigned long long *ms, unsigned long long *seq)
{
	char *end;

	if (*id < '0' || *id > '9' || strlen(id) >= ID_MAX)
		return false;
	errno = 0;
	*ms = strtoull(id, &end, 10);
	*seq = 0;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return false;
		*seq = strtoull(end + 1, &end, 10);
	}
	return errno == 0 && *end == '\0';
}

static bool valid_id(const char *id)
{
	unsigned long long ms, seq;

	return parse_id(id, &ms, &seq);
}

static bool valid_from(const char *id)
{
	return strcmp(id, "$") == 0 || valid_id(id);
}

/* Is id later than last ("$": nothing printed yet, so anything is)? */
static bool id_after(const char *id, const char *last)
{
	unsigned long long a_ms, a_seq, b_ms, b_seq;

	if (!parse_id(last, &b_ms, &b_seq))
		return true;
	if (!parse_id(id, &a_ms, &a_seq))
		return true;
	return a_ms > b_ms || (a_ms == b_ms && a_seq > b_seq);
}

/* ------------------------------------------------------------------------ */
/* Output */

static const char *str_field(json_t *ev, const char *key)
{
	return json_string_value(json_object_get(ev, key));
}

/* Append " <label><value>" (cleaned) when the field is a string. */
static void add_field(char *buf, size_t size, json_t *ev, const char *key, const char *label, size_t max)
{
	const char *v = str_field(ev, key);
	char c[4 * SUMMARY_CHARS + 8];
	size_t n = strlen(buf);

	if (v == NULL || n + 2 >= size)
		return;
	term_clean(c, sizeof(c), v, max);
	snprintf(buf + n, size - n, "%s%s%s", n ? " " : "", label, c);
}

/* The entry's time as local HH:MM:SS: from "ts" (RFC 3339, UTC), else the
 * milliseconds of its stream id, else now. */
static void local_time(json_t *ev, char out[16])
{
	const char *ts = str_field(ev, "ts"), *id = str_field(ev, "id");
	struct tm tm = {0};
	unsigned long long ms, seq;
	time_t t = time(NULL);

	if (ts && sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                 &tm.tm_min, &tm.tm_sec) == 6) {
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		t = timegm(&tm);
	} else if (id && parse_id(id, &ms, &seq)) {
		t = (time_t)(ms / 1000);
	}
	if (localtime_r(&t, &tm) == NULL || strftime(out, 16, "%H:%M:%S", &tm) == 0)
		snprintf(out, 16, "??:??:??");
}

static bool is_lost(json_t *ev)
{
	const char *e = str_field(ev, "event");

	return e && strcmp(e, "lost") == 0;
}

/* A lost record (proto/LOG.md): how many entries Redis lost, their seqs,
 * and who found it. */
static void lost_summary(json_t *ev, char *buf, size_t size)
{
	const json_t *items = json_object_get(ev, "lost"), *it;
	size_t i, n;

	snprintf(buf, size, "%zu entr%s lost by Redis: seq", json_array_size(items),
	         json_array_size(items) == 1 ? "y" : "ies");
	json_array_foreach(items, i, it)
	{
		const json_t *seq = json_object_get(it, "seq");

		n = strlen(buf);
		if (n + 24 >= size)
			break;
		if (json_is_integer(seq))
			snprintf(buf + n, size - n, "%s%" JSON_INTEGER_FORMAT, i ? "," : " ",
			         json_integer_value(seq));
		else
			snprintf(buf + n, size - n, "%s?", i ? "," : " ");
	}
	add_field(buf, size, ev, "reported_by", "reported_by=", FIELD_CHARS);
	add_field(buf, size, ev, "master", "master=", FIELD_CHARS);
}

static void summary(json_t *ev, int stream, char *buf, size_t size)
{
	buf[0] = '\0';
	if (is_lost(ev)) {
		lost_summary(ev, buf, size);
		return;
	}
	if (stream == CALLS) {
		add_field(buf, size, ev, "call_id", "", FIELD_CHARS);
		add_field(buf, size, ev, "state", "", FIELD_CHARS);
		if (str_field(ev, "disposition"))
			add_field(buf, size, ev, "disposition", "disposition=", FIELD_CHARS);
		else
			add_field(buf, size, ev, "queue", "queue=", FIELD_CHARS);
		add_field(buf, size, ev, "to", "to=", FIELD_CHARS);
		return;
	}
	add_field(buf, size, ev, "complaint_id", "", FIELD_CHARS);
	add_field(buf, size, ev, "severity", "", FIELD_CHARS);
	add_field(buf, size, ev, "state", "", FIELD_CHARS);
	add_field(buf, size, ev, "summary", "- ", SUMMARY_CHARS);
}

static const char *line_colour(json_t *ev, int stream)
{
	const char *sev = str_field(ev, "severity");

	if ((sev && strcmp(sev, "critical") == 0) || is_lost(ev))
		return "\033[1;31m";
	return stream == COMPLAINTS ? "\033[33m" : NULL;
}

static int print_human(const struct tail *t, int stream, json_t *ev)
{
	char when[16], event[4 * 16 + 8], agent[4 * FIELD_CHARS + 8], tier[4 * 16 + 8], sum[1024];
	const char *colour = t->color ? line_colour(ev, stream) : NULL;
	const char *e = str_field(ev, "event"), *a = str_field(ev, "agent"), *ti = str_field(ev, "tier");

	local_time(ev, when);
	term_clean(event, sizeof(event), e ? e : "-", 16);
	term_clean(agent, sizeof(agent), a ? a : "-", FIELD_CHARS);
	term_clean(tier, sizeof(tier), ti ? ti : "-", 16);
	summary(ev, stream, sum, sizeof(sum));
	return printf("%s%s %-10s %-9s %-12s %-8s %s%s\n", colour ? colour : "", when, stream_name[stream],
	              event, agent, tier, sum, colour ? "\033[0m" : "");
}

/* The pushed object with "stream" added in front; spliced into the
 * server's text so everything else is printed byte for byte. */
static int print_json(int stream, const char *body, json_t *ev)
{
	const char *rest = body;
	char *text;
	int rc;

	if (json_object_get(ev, "stream") == NULL) {
		while (*rest != '{')
			rest++;
		rest++;
		if (json_object_size(ev) == 0)
			return printf("{\"stream\":\"%s\"}\n", stream_name[stream]);
		return printf("{\"stream\":\"%s\",%s\n", stream_name[stream], rest);
	}
	json_object_set_new(ev, "stream", json_string(stream_name[stream]));
	text = json_dumps(ev, JSON_COMPACT);
	rc = text ? printf("%s\n", text) : -1;
	free(text);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The connection */

static enum outcome lost(struct tail *t, enum outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum outcome lost(struct tail *t, enum outcome o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return o;
}

static enum outcome request(struct tail *t, const char *line, enum req_kind kind, int stream)
{
	if (t->p_count == MAX_PENDING)
		return lost(t, SESSION_LOST, "%s does not answer requests", lc_address(t->c));
	if (lc_send_line(t->c, line, SEND_MS) != LC_OK)
		return lost(t, SESSION_LOST, "%s", lc_error(t->c));
	t->pending[(t->p_head + t->p_count++) % MAX_PENDING] = (struct pending){kind, stream};
	return GO_ON;
}

static enum outcome send_tail(struct tail *t, int s)
{
	size_t size = 64 + ID_MAX + (t->filter ? strlen(t->filter) : 0);
	char *line = malloc(size);
	enum outcome o;

	if (line == NULL)
		return lost(t, SESSION_FATAL, "out of memory");
	snprintf(line, size, "TAIL %s %s%s%s", stream_name[s], t->s[s].last, t->filter ? " " : "",
	         t->filter ? t->filter : "");
	t->s[s].active = false;
	o = request(t, line, REQ_TAIL, s);
	free(line);
	return o;
}

static enum outcome on_event(struct tail *t, int s, const char *body, size_t len)
{
	json_t *ev = json_loadb(body, len, 0, NULL);
	const char *id = json_is_object(ev) ? str_field(ev, "id") : NULL;
	int rc;

	if (id == NULL || !valid_id(id)) {
		fprintf(stderr, WHO ": ignoring a %s entry without a valid id: %.200s\n", stream_name[s],
		        body);
		json_decref(ev);
		return GO_ON;
	}
	/* Not at or before the last one printed: a server resuming from an
	 * earlier point than asked must not make us print anything twice. */
	if (!t->s[s].wanted || !id_after(id, t->s[s].last)) {
		json_decref(ev);
		return GO_ON;
	}
	snprintf(t->s[s].last, sizeof(t->s[s].last), "%s", id);
	rc = t->json ? print_json(s, body, ev) : print_human(t, s, ev);
	json_decref(ev);
	if (rc < 0 || fflush(stdout) != 0)
		return lost(t, SESSION_FATAL, "cannot write to standard output: %s", strerror(errno));
	return GO_ON;
}

/* The server dropped our tail because we read too slowly: ask again at
 * once.  Its last_id may be past our last printed entry (entries the
 * filters skipped advance it), never before it, as the lines it delivered
 * precede this one. */
static enum outcome on_overflow(struct tail *t, const char *body, size_t len)
{
	json_t *o = json_loadb(body, len, 0, NULL);
	const char *name = str_field(o, "stream"), *last = str_field(o, "last_id");
	int s = name ? stream_index(name) : -1;

	if (s >= 0 && t->s[s].wanted && last && valid_id(last) && id_after(last, t->s[s].last))
		snprintf(t->s[s].last, sizeof(t->s[s].last), "%s", last);
	json_decref(o);
	if (s < 0 || !t->s[s].wanted)
		return GO_ON;
	fprintf(stderr, WHO ": fell behind on %s; resuming after %s\n", stream_name[s], t->s[s].last);
	return send_tail(t, s);
}

static enum outcome on_push(struct tail *t, const char *line, size_t len)
{
	const char *kind = line + 2, *sp = strchr(kind, ' ');
	const char *body = sp ? sp + 1 : line + len;
	size_t klen = sp ? (size_t)(sp - kind) : strlen(kind);
	size_t blen = len - (size_t)(body - line);
	char name[32];
	int s;

	snprintf(name, sizeof(name), "%.*s", (int)(klen < sizeof(name) ? klen : sizeof(name) - 1), kind);
	if ((s = stream_index(name)) >= 0)
		return on_event(t, s, body, blen);
	if (strcmp(name, "overflow") == 0)
		return on_overflow(t, body, blen);
	if (strcmp(name, "bye") == 0)
		return lost(t, SESSION_LOST, "%s said goodbye: %s", lc_address(t->c), body);
	return GO_ON; /* a kind added later: not ours */
}

static enum outcome on_tail_ok(struct tail *t, int s, const char *line)
{
	json_t *body = json_loads(line + 2, 0, NULL);
	const char *from = str_field(body, "from");

	/* Resuming from "$" after a reconnect would skip what was logged
	 * meanwhile: pin the concrete position the server started at. */
	if (strcmp(t->s[s].last, "$") == 0 && from && valid_id(from))
		snprintf(t->s[s].last, sizeof(t->s[s].last), "%s", from);
	json_decref(body);
	t->s[s].active = t->tailed = true;
	if (t->reconnecting)
		fprintf(stderr, WHO ": reconnected to %s; %s resumed after %s\n", lc_address(t->c),
		        stream_name[s], t->s[s].last);
	for (int i = 0; i < N_STREAMS; i++)
		if (t->s[i].wanted && !t->s[i].active)
			return GO_ON;
	t->reconnecting = false;
	return GO_ON;
}

static enum outcome on_tail_err(struct tail *t, int s, const char *line)
{
	static const char *const transient[] = {"ERR unavailable ", "ERR rate_limited ", "ERR internal "};

	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strncmp(line, transient[i], strlen(transient[i])) == 0)
			return lost(t, SESSION_LOST, "TAIL %s: %s", stream_name[s], line);
	if (strncmp(line, "ERR forbidden ", 14) == 0)
		return lost(t, SESSION_FATAL, "%s may not tail (supervisors and admins only): %s", t->cred.user,
		            line);
	if (strncmp(line, "ERR unknown_command ", 20) == 0)
		return lost(t, SESSION_FATAL, "the daemon at %s has no TAIL: %s", lc_address(t->c), line);
	return lost(t, SESSION_FATAL, "TAIL %s refused: %s", stream_name[s], line);
}

static enum outcome on_reply(struct tail *t, const char *line)
{
	struct pending p;
	bool ok = strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0;

	if (t->p_count == 0)
		return lost(t, SESSION_LOST, "unexpected line from %s: %.200s", lc_address(t->c), line);
	p = t->pending[t->p_head];
	t->p_head = (t->p_head + 1) % MAX_PENDING;
	t->p_count--;
	if (p.kind == REQ_PING)
		t->ping_sent_ms = 0;
	if (p.kind != REQ_TAIL)
		return GO_ON;
	return ok ? on_tail_ok(t, p.stream, line) : on_tail_err(t, p.stream, line);
}

/* After a long silence, PING: a server that does not answer is gone even
 * if no FIN or RST ever arrives. */
static enum outcome keepalive(struct tail *t)
{
	long long now = cli_monotonic_ms();

	if (t->ping_sent_ms && now - t->ping_sent_ms > PING_DEAD_MS && now - t->last_rx_ms > PING_DEAD_MS)
		return lost(t, SESSION_LOST, "no answer from %s for %d s", lc_address(t->c),
		            PING_DEAD_MS / 1000);
	if (!t->ping_sent_ms && now - t->last_rx_ms > IDLE_PING_MS) {
		t->ping_sent_ms = now;
		return request(t, "PING", REQ_PING, -1);
	}
	return GO_ON;
}

static enum outcome follow(struct tail *t)
{
	enum outcome o = GO_ON;
	char *line;
	size_t len;

	while (o == GO_ON) {
		int rc = cli_stop_requested ? LC_INTR : lc_read_line(t->c, TICK_MS, &line, &len);

		if (cli_stop_requested)
			return SESSION_STOP;
		if (rc == LC_OK) {
			t->last_rx_ms = cli_monotonic_ms();
			o = strncmp(line, "* ", 2) == 0 ? on_push(t, line, len) : on_reply(t, line);
		} else if (rc == LC_TIMEOUT || rc == LC_INTR) {
			o = keepalive(t);
		} else if (rc == LC_TOO_LONG) {
			fprintf(stderr, WHO ": %s\n", lc_error(t->c));
		} else {
			o = lost(t, SESSION_LOST, "%s", lc_error(t->c));
		}
	}
	return o;
}

static enum outcome start(struct tail *t)
{
	int rc = lc_auth(t->c, t->cred.user, t->cred.secret, AUTH_MS);
	enum outcome o = GO_ON;

	if (cli_stop_requested)
		return SESSION_STOP;
	if (rc == LC_AUTH_FAILED)
		return lost(t, SESSION_FATAL, "%s at %s", lc_error(t->c), lc_address(t->c));
	if (rc != LC_OK)
		return lost(t, SESSION_LOST, "%s", lc_error(t->c));
	t->p_head = t->p_count = 0;
	t->ping_sent_ms = 0;
	t->last_rx_ms = cli_monotonic_ms();
	t->tailed = false;
	for (int s = 0; s < N_STREAMS && o == GO_ON; s++)
		if (t->s[s].wanted)
			o = send_tail(t, s);
	return o;
}

/* Best effort on the way out: stop the tails and say QUIT, then wait a
 * moment for the server to close, so it logs a clean goodbye. */
static void say_goodbye(struct tail *t)
{
	long long end = cli_monotonic_ms() + 1000;
	char line[64], *l;
	size_t len;

	for (int s = 0; s < N_STREAMS; s++) {
		snprintf(line, sizeof(line), "UNTAIL %s", stream_name[s]);
		if (t->s[s].active && lc_send_line(t->c, line, 500) != LC_OK)
			return;
	}
	if (lc_send_line(t->c, "QUIT", 500) != LC_OK)
		return;
	while (cli_monotonic_ms() < end) {
		int rc = lc_read_line(t->c, (int)(end - cli_monotonic_ms()), &l, &len);

		if (rc != LC_OK && rc != LC_TOO_LONG && rc != LC_INTR)
			return;
	}
}

static enum outcome session(struct tail *t)
{
	char err[600];
	enum outcome o;

	t->tailed = false;
	t->c = lc_connect(t->daemons.host[t->daemons.current], t->daemons.port[t->daemons.current],
	                  CONNECT_MS, err, sizeof(err));
	if (t->c == NULL)
		return cli_stop_requested ? SESSION_STOP : lost(t, SESSION_LOST, "%s", err);
	if (t->tls.enabled) {
		int rc = lc_start_tls(t->c, &t->tls, CONNECT_MS);

		/* A certificate that does not verify will not verify on the next
		 * try either, and must not be talked to. */
		if (rc != LC_OK) {
			o = SESSION_LOST;
			if (rc == LC_TLS_VERIFY)
				o = SESSION_FATAL;
			else if (cli_stop_requested)
				o = SESSION_STOP;
			o = lost(t, o, "%s", lc_error(t->c));
			lc_close(t->c);
			t->c = NULL;
			return o;
		}
	}
	o = start(t);
	if (o == GO_ON)
		o = follow(t);
	if (o == SESSION_STOP)
		say_goodbye(t);
	for (int s = 0; s < N_STREAMS; s++)
		t->s[s].active = false;
	lc_close(t->c);
	t->c = NULL;
	return o;
}

/* Tell where the next attempt goes, unless it is the same daemon as before. */
static void say_next(const struct tail *t, unsigned delay)
{
	const struct failover *f = &t->daemons;
	const char *h = f->host[f->current];
	char where[300];

	snprintf(where, sizeof(where), strchr(h, ':') ? "[%s]:%u" : "%s:%u", h, f->port[f->current]);
	if (f->n == 1)
		fprintf(stderr, WHO ": %s; reconnecting in %.1f s\n", t->why, delay / 1000.0);
	else if (delay == 0)
		fprintf(stderr, WHO ": %s; failing over to %s\n", t->why, where);
	else
		fprintf(stderr, WHO ": %s; reconnecting to %s in %.1f s\n", t->why, where, delay / 1000.0);
}

static int run(struct tail *t)
{
	bool ever = false;

	for (;;) {
		enum outcome o = session(t);
		unsigned delay;

		if (cli_stop_requested || o == SESSION_STOP)
			return CLI_OK;
		if (o == SESSION_FATAL) {
			fprintf(stderr, WHO ": %s\n", t->why);
			return CLI_FAILED;
		}
		ever |= t->tailed;
		delay = failover_next(&t->daemons, t->tailed, (unsigned)random());
		if (!ever && failover_rounds_failed(&t->daemons) >= START_ATTEMPTS) {
			fprintf(stderr, WHO ": %s; giving up after %u attempts\n", t->why, t->daemons.failed);
			return CLI_FAILED;
		}
		say_next(t, delay);
		t->reconnecting = ever;
		if (nap(delay))
			return CLI_OK;
	}
}

/* ------------------------------------------------------------------------ */
/* Options */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: hotline tail [calls|complaints|all] [--from ID | --from STREAM=ID ...]\n"
	        "                    [--filter KEY=VALUE ...] [--json] [-c CONFIG] [--host HOST:PORT]\n"
	        "                    [--user USER] [--credentials FILE] [--tls] [--ca FILE]\n"
	        "Follows the call and/or complaint log live (default: all), one line per entry, until\n"
	        "Ctrl-C: local time, stream, event, agent, customer tier and a summary.\n"
	        "  --from ID           start after this entry id (exclusive; 0 = from the beginning)\n"
	        "                      instead of with new entries only; with `all`, name the stream:\n"
	        "                      --from calls=ID --from complaints=ID\n"
	        "  --filter KEY=VALUE  only entries whose KEY is VALUE; KEY is queue, agent, tier,\n"
	        "                      severity or event; a repeated key means any of its values,\n"
	        "                      different keys must all match; an entry without the field does\n"
	        "                      not match (calls carry no severity); the filters are\n"
	        "                      sent with every stream tailed\n"
	        "  --json              print each entry as it is pushed, one JSON object per line, with\n"
	        "                      \"stream\" added\n"
	        "  -c, --config FILE   the daemon's config, to connect to its first listen address\n"
	        "                      (default " CLI_DEFAULT_CONFIG " if present, else 127.0.0.1:7300)\n"
	        "  --host HOST:PORT    connect here instead ([v6addr]:port for IPv6); several daemons\n"
	        "                      (comma-separated or --host repeated, at most 8) are failed\n"
	        "                      over between: see below\n"
	        "  --tls               connect with TLS (TLS 1.2 or later), to the config's tls.listen\n"
	        "                      address unless --host is given; the daemon's certificate must\n"
	        "                      verify against the system's trusted CAs and name the host or\n"
	        "                      IP address connected to\n"
	        "  --ca FILE           trust the CA certificate(s) in FILE (PEM) instead of the system's;\n"
	        "                      implies --tls\n"
	        "  --user USER         log in as USER (default: $HOTLINE_USER)\n"
	        "  --credentials FILE  read user:secret from the first line of FILE, which must not be\n"
	        "                      accessible by group or others (chmod 600 FILE)\n"
	        "The secret is never taken from the command line (other users could read it with ps):\n"
	        "set HOTLINE_SECRET (and HOTLINE_USER or --user), or use --credentials. Only supervisors\n"
	        "and admins may tail.\n"
	        "When the connection drops, reconnects and resumes after the last entry printed, so\n"
	        "nothing is missed or repeated: with several --host addresses, at once to the next one\n"
	        "in the list; when every one has failed in a row, after a pause (0.2 s doubling to 5 s,\n"
	        "with jitter); with one, after 0.2 s. Colours only on a terminal, without NO_COLOR.\n"
	        "Exit status: 0 stopped by Ctrl-C or SIGTERM; 2 cannot connect at the start (4 rounds of\n"
	        "every address), login or TAIL refused, or the daemon's TLS certificate does not verify\n"
	        "(at once, no retry);\n"
	        "64 usage error (also missing or unsafe credentials).\n");
}

static bool add_filter(json_t *filter, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[16];
	json_t *v, *old;
	bool known = false;

	if (eq == NULL || eq == arg || eq[1] == '\0' || (size_t)(eq - arg) >= sizeof(key))
		return false;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
	for (size_t i = 0; i < sizeof(filter_keys) / sizeof(filter_keys[0]); i++)
		known |= strcmp(key, filter_keys[i]) == 0;
	if (!known || (v = json_string(eq + 1)) == NULL) /* NULL: not UTF-8 */
		return false;
	old = json_object_get(filter, key);
	if (old == NULL)
		return json_object_set_new(filter, key, v) == 0;
	if (json_is_string(old)) {
		json_t *a = json_array();

		json_array_append(a, old);
		json_object_set_new(filter, key, a);
		old = a;
	}
	return json_array_append_new(old, v) == 0;
}

static bool add_from(struct tail_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[16];
	int s;

	if (eq == NULL) {
		a->from_any = arg;
		return valid_from(arg);
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg < 15 ? eq - arg : 15), arg);
	s = stream_index(name);
	if (s < 0 || !valid_from(eq + 1))
		return false;
	a->from[s] = eq + 1;
	return true;
}

static int parse_args(struct tail *t, struct tail_args *a, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'}, {"host", required_argument, NULL, 'H'},
	    {"user", required_argument, NULL, 'u'},   {"credentials", required_argument, NULL, 'C'},
	    {"from", required_argument, NULL, 'f'},   {"filter", required_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
	    {"secret", required_argument, NULL, 'S'}, {"tls", no_argument, NULL, 'T'},
	    {"ca", required_argument, NULL, 'A'},     {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->config = optarg;
			break;
		case 'H':
			if (failover_add(&t->daemons, optarg, LC_DEFAULT_PORT) != 0) {
				fprintf(stderr,
				        WHO
				        ": --host takes HOST:PORT or [v6addr]:PORT, or several separated by "
				        "commas (at most %d in all); got '%s'\n",
				        FAILOVER_MAX_ADDRS, optarg);
				return CLI_USAGE;
			}
			a->host = true;
			break;
		case 'u':
			a->user = optarg;
			break;
		case 'C':
			a->credentials = optarg;
			break;
		case 'j':
			t->json = true;
			break;
		case 'T':
			t->tls.enabled = true;
			break;
		case 'A':
			t->tls.ca_file = optarg;
			t->tls.enabled = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'f':
			if (!add_from(a, optarg)) {
				fprintf(stderr,
				        WHO ": --from takes $, 0, an entry id like 1795381813307-0, or "
				            "calls=ID / complaints=ID; got '%s'\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'F':
			if (!add_filter(a->filter, optarg)) {
				fprintf(stderr,
				        WHO ": --filter takes KEY=VALUE with KEY one of queue, agent, tier, "
				            "severity, event (UTF-8); got '%s'\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'S':
			fprintf(stderr,
			        WHO ": secrets are not taken from the command line (ps shows it to every "
			            "user): set HOTLINE_SECRET or use --credentials FILE\n");
			return CLI_USAGE;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	return -1;
}

static int pick_streams(struct tail *t, struct tail_args *a, int argc, char **argv)
{
	const char *which = optind < argc ? argv[optind++] : "all";
	int s = stream_index(which);

	if (optind < argc || (s < 0 && strcmp(which, "all") != 0)) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (s < 0 && a->from_any) {
		fprintf(stderr, WHO ": with all, say which stream --from is for: --from calls=ID "
		                    "--from complaints=ID\n");
		return CLI_USAGE;
	}
	for (int i = 0; i < N_STREAMS; i++) {
		const char *from = a->from[i] ? a->from[i] : i == s ? a->from_any : NULL;

		t->s[i].wanted = s < 0 || s == i;
		if (from && !t->s[i].wanted) {
			fprintf(stderr, WHO ": --from %s=... but %s is not tailed\n", stream_name[i],
			        stream_name[i]);
			return CLI_USAGE;
		}
		snprintf(t->s[i].last, sizeof(t->s[i].last), "%s", from ? from : "$");
	}
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Address */

static void set_host(struct tail *t, const char *host, unsigned port)
{
	/* A wildcard listener is reached through loopback. */
	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	snprintf(t->daemons.host[0], sizeof(t->daemons.host[0]), "%s", host);
	t->daemons.port[0] = port;
	t->daemons.n = 1;
}

static int address(struct tail *t, const struct tail_args *a)
{
	const char *file = a->config ? a->config : CLI_DEFAULT_CONFIG;
	struct config *cfg;
	char err[1024];

	if (a->host)
		return -1; /* checked while parsing */
	if (!a->config && access(file, F_OK) != 0 && errno == ENOENT) {
		if (t->tls.enabled) {
			fprintf(stderr,
			        WHO ": with --tls, give --host HOST:PORT (or -c CONFIG with tls.listen)\n");
			return CLI_USAGE;
		}
		set_host(t, "127.0.0.1", LC_DEFAULT_PORT);
		return -1;
	}
	if ((cfg = config_load(file, err, sizeof(err))) == NULL) {
		fprintf(stderr, WHO ": cannot load the config (use --host to skip it): %s\n", err);
		return CLI_FAILED;
	}
	if (t->tls.enabled) {
		const struct config_listen *l = &cfg->tls.listen.addr;
		bool ok = cfg->tls.listen.enabled && l->port != 0;

		if (ok)
			set_host(t, l->host, l->port);
		else
			fprintf(stderr, WHO ": %s %s: use --host\n", file,
			        cfg->tls.listen.enabled
			            ? "has its TLS listener on a port the kernel picks (0)"
			            : "has no TLS listener (tls.listen)");
		config_free(cfg);
		return ok ? -1 : CLI_FAILED;
	}
	if (cfg->n_listen > 0 && cfg->listen[0].port == 0) {
		fprintf(stderr, WHO ": %s listens on a port the kernel picks (0): use --host\n", file);
		config_free(cfg);
		return CLI_FAILED;
	}
	if (cfg->n_listen > 0)
		set_host(t, cfg->listen[0].host, cfg->listen[0].port);
	else
		set_host(t, "127.0.0.1", LC_DEFAULT_PORT);
	config_free(cfg);
	return -1;
}

static int filter_text(struct tail *t, json_t *filter)
{
	if (json_object_size(filter) == 0)
		return -1;
	t->filter = json_dumps(filter, JSON_COMPACT);
	if (t->filter != NULL)
		return -1;
	fprintf(stderr, WHO ": out of memory\n");
	return CLI_FAILED;
}

int cmd_tail(int argc, char **argv)
{
	struct tail *t = calloc(1, sizeof(*t));
	struct tail_args a = {.filter = json_object()};
	int rc;

	if (t)
		failover_init(&t->daemons, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	if (t == NULL || a.filter == NULL) {
		fprintf(stderr, WHO ": out of memory\n");
		rc = CLI_FAILED;
	} else if ((rc = parse_args(t, &a, argc, argv)) < 0 && (rc = pick_streams(t, &a, argc, argv)) < 0 &&
	           (rc = cli_credentials_get(&t->cred, WHO, a.user, a.credentials)) < 0 && (rc = address(t, &a)) < 0 &&
	           (rc = filter_text(t, a.filter)) < 0) {
		t->color = !t->json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
		srandom((unsigned)time(NULL) ^ (unsigned)getpid());
		cli_stop_on_signals();
		rc = run(t);
	}
	json_decref(a.filter);
	if (t) {
		free(t->filter);
		cli_credentials_wipe(&t->cred);
		free(t);
	}
	return rc;
}
