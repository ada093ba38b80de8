/* hotline replay --to HOST:PORT: re-drive the recorded log into a running
 * hotlined, as the recorded agents, through a replay account (PROTOCOL.md,
 * "Replay accounts"): for rehearsals, load tests with real traffic shapes,
 * and rebuilding a fresh installation.
 *
 * Entries are read in stream-id order (tools/log_source.c, from Redis or an
 * export file), each turned back into the request that produced it
 * (tools/replay_plan.c) and sent on one connection, so the daemon applies
 * them in the recorded order.  Pacing: the recorded gaps between entries,
 * divided by --speed, or none (--fast); either way at most --in-flight
 * requests are unanswered (pipelined).  Complaint ids are the target's:
 * learnt from each open's reply (tools/replay_map.c).  Every request_id is
 * derived from the entry's stream id, so running a replay again (after an
 * interruption) logs nothing twice: what was logged is answered as a
 * duplicate, with the original reply.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
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
#include "line_client.h"
#include "log_source.h"
#include "replay_map.h"
#include "replay_plan.h"
#include "replay_report.h"
#include "replay_source.h"

#define WHO "hotline replay"
#define CONNECT_MS 5000
#define AUTH_MS 15000         /* Argon2id plus the daemon's delay after failures */
#define SEND_MS 30000         /* a line the daemon does not take in this long: it is stuck */
#define REPLY_MS 60000        /* requests in flight and no reply for this long: give up */
#define DRAIN_MS 10000        /* after Ctrl-C: how long the replies in flight are awaited */
#define TICK_MS 200           /* how long a Ctrl-C may wait to be noticed */
#define IDLE_PING_MS 20000    /* a long recorded gap: PING so an idle timeout does not close us */
#define PROGRESS_MS 1000
#define IN_FLIGHT_DEFAULT 64
#define IN_FLIGHT_MAX 256     /* the daemon's default limits.max_pending */
#define MAP_DEFAULT 100000
#define MAP_MIN 1024          /* always more than IN_FLIGHT_MAX: a pending open is never forgotten */
#define MAP_MAX 10000000
#define MESSAGES_MAX 100      /* per-entry problems printed; the rest are counted */


struct options {
	const char *to, *call, *user, *credentials;
	struct replay_source_spec source;
	double speed;
	bool fast, json;
	unsigned in_flight;
	size_t max_complaints;
	struct lc_tls_options tls;
};

/* A request sent and not yet answered. */
struct pending {
	bool ping;
	bool opens_complaint;
	enum log_stream stream;
	char id[LOG_ID_MAX];
	const char *verb, *sub;
	char subject[REPLAY_ID_MAX + 1];
	char agent[REPLAY_ID_MAX + 1];
};

struct run {
	const struct options *o;
	struct lc_conn *c;
	struct replay_map *map;
	struct pending ring[IN_FLIGHT_MAX + 1]; /* + a PING */
	unsigned head, count;
	struct replay_counts n;
	unsigned messages;
	long long last_send_ms, last_progress_ms;
	bool on_terminal, progress_shown, fatal;
	char fatal_why[1200];
};

/* ------------------------------------------------------------------------ */
/* Small helpers */

static void clear_progress(struct run *r)
{
	if (r->progress_shown)
		fputs("\r\033[K", stderr);
	r->progress_shown = false;
}

/* On a terminal: one line, rewritten every second. */
static void progress(struct run *r)
{
	long long now = cli_monotonic_ms();

	if (!r->on_terminal || now - r->last_progress_ms < PROGRESS_MS)
		return;
	r->last_progress_ms = now;
	fprintf(stderr, "\r\033[K" WHO ": %llu entries read, %llu sent, %llu in flight, %llu errors", r->n.read,
	        r->n.sent, (unsigned long long)r->count, r->n.errors);
	r->progress_shown = true;
}

/* Stop the run (the first reason is kept). */
static void fail_run(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail_run(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->fatal)
		return;
	va_start(ap, fmt);
	vsnprintf(r->fatal_why, sizeof(r->fatal_why), fmt, ap);
	va_end(ap);
	r->fatal = true;
}

/* A problem with one entry, on stderr; after MESSAGES_MAX only counted. */
static void problem(struct run *r, enum log_stream s, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct run *r, enum log_stream s, const char *id, const char *fmt, ...)
{
	va_list ap;

	if (r->messages > MESSAGES_MAX)
		return;
	clear_progress(r);
	if (r->messages++ == MESSAGES_MAX) {
		fprintf(stderr, WHO ": further problems are only counted\n");
		return;
	}
	fprintf(stderr, WHO ": %s %s: ", log_stream_name(s), id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------------ */
/* Replies */

/* A refusal that every later request would get too: not a replay account. */
static bool refused_for_the_account(const char *line)
{
	return strncmp(line, "ERR bad_request unknown field 'as'", 34) == 0 ||
	       (strncmp(line, "ERR forbidden ", 14) == 0 && strstr(line, "is not allowed for role"));
}

static void on_reply(struct run *r, const struct pending *p, const char *line)
{
	if (p->ping) {
		if (strcmp(line, "OK") != 0)
			fail_run(r, "%s answered PING with: %.200s", lc_address(r->c), line);
		return;
	}
	if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0) {
		json_t *body = line[2] ? json_loads(line + 3, 0, NULL) : NULL;

		if (json_is_true(json_object_get(body, "duplicate")))
			r->n.duplicate++;
		else
			r->n.ok++;
		if (p->opens_complaint) {
			const char *assigned = json_string_value(json_object_get(body, "complaint_id"));

			replay_map_resolve(r->map, p->subject, assigned);
			if (assigned)
				r->n.opened++;
			else
				problem(r, p->stream, p->id, "the reply to COMPLAINT open names no complaint_id: %.200s",
				        line);
		}
		json_decref(body);
		return;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		const char *code = line + 4;

		if (refused_for_the_account(line)) {
			fail_run(r, "%s is not a replay account (role replay in the daemon's users list): %.300s",
			      r->o->user ? r->o->user : "the user", line);
			return;
		}
		replay_count_error(&r->n, code, strcspn(code, " "));
		if (p->opens_complaint)
			replay_map_resolve(r->map, p->subject, NULL);
		problem(r, p->stream, p->id, "%s %s %s as %s: %.400s", p->verb, p->sub, p->subject, p->agent, line);
		return;
	}
	fail_run(r, "%s sent something that is not a reply: %.200s", lc_address(r->c), line);
}

/* Read and handle at most one line within timeout_ms.  True when a reply
 * was handled. */
static bool pump(struct run *r, int timeout_ms)
{
	char *line;
	size_t len;
	int rc;

	if (r->fatal)
		return false;
	rc = lc_read_line(r->c, timeout_ms, &line, &len);
	switch (rc) {
	case LC_OK:
		break;
	case LC_TIMEOUT:
	case LC_INTR:
		return false;
	case LC_EOF:
		fail_run(r, "%s closed the connection", lc_address(r->c));
		return false;
	default:
		fail_run(r, "%s", lc_error(r->c));
		return false;
	}
	if (strncmp(line, "* ", 2) == 0) {
		/* Nothing is pushed to a replay account but a goodbye. */
		if (strncmp(line, "* bye", 5) == 0)
			fail_run(r, "%s is closing the connection: %.200s", lc_address(r->c), line);
		return false;
	}
	if (r->count == 0) {
		fail_run(r, "%s sent a reply to no request: %.200s", lc_address(r->c), line);
		return false;
	}
	{
		struct pending p = r->ring[r->head];

		r->head = (r->head + 1) % (IN_FLIGHT_MAX + 1);
		r->count--;
		on_reply(r, &p, line);
	}
	return true;
}

/* Wait for the oldest reply, at most REPLY_MS (a reply is due soon even
 * after Ctrl-C: the request is already with the daemon). */
static void await_reply(struct run *r)
{
	long long give_up = cli_monotonic_ms() + REPLY_MS;

	while (!r->fatal) {
		if (pump(r, TICK_MS))
			return;
		if (cli_monotonic_ms() >= give_up) {
			fail_run(r, "no reply from %s for %d s", lc_address(r->c), REPLY_MS / 1000);
			return;
		}
	}
}

static void drain(struct run *r, int budget_ms)
{
	long long give_up = cli_monotonic_ms() + budget_ms;

	while (r->count > 0 && !r->fatal && cli_monotonic_ms() < give_up)
		pump(r, TICK_MS);
}

/* ------------------------------------------------------------------------ */
/* Sending */

static void push_pending(struct run *r, const struct pending *p)
{
	r->ring[(r->head + r->count) % (IN_FLIGHT_MAX + 1)] = *p;
	r->count++;
	r->last_send_ms = cli_monotonic_ms();
}

static void send_ping(struct run *r)
{
	struct pending p = {.ping = true};

	if (lc_send_line(r->c, "PING", SEND_MS) != LC_OK) {
		fail_run(r, "%s", lc_error(r->c));
		return;
	}
	push_pending(r, &p);
}

/* Until `due` (monotonic ms): replies are handled meanwhile. */
static void wait_until(struct run *r, long long due)
{
	for (;;) {
		long long now = cli_monotonic_ms(), step = due - now;

		if (step <= 0 || cli_stop_requested || r->fatal)
			return;
		if (r->count == 0 && now - r->last_send_ms >= IDLE_PING_MS)
			send_ping(r);
		pump(r, step < TICK_MS ? (int)step : TICK_MS);
		progress(r);
	}
}

static void send_request(struct run *r, const struct log_record *rec, const struct replay_request *rq)
{
	struct pending p = {.opens_complaint = rq->opens_complaint, .stream = rec->stream, .verb = rq->verb,
	                    .sub = rq->sub};
	char *line;

	while (r->count >= r->o->in_flight && !r->fatal)
		await_reply(r);
	if (r->fatal)
		return;
	line = replay_request_line(rq);
	if (line == NULL) {
		fail_run(r, "out of memory");
		return;
	}
	if (lc_send_line(r->c, line, SEND_MS) != LC_OK)
		fail_run(r, "%s", lc_error(r->c));
	free(line);
	if (r->fatal)
		return;
	snprintf(p.id, sizeof(p.id), "%s", rec->id);
	memcpy(p.subject, rq->subject, sizeof(p.subject));
	memcpy(p.agent, rq->agent, sizeof(p.agent));
	push_pending(r, &p);
	if (rq->opens_complaint)
		replay_map_expect(r->map, rq->subject);
	r->n.sent++;
}

/* ------------------------------------------------------------------------ */
/* Which entries, and with which complaint id */

static bool worth_sending(struct run *r, const struct log_record *rec, struct replay_request *rq)
{
	enum replay_map_state st = REPLAY_MAP_ABSENT;
	const char *assigned = NULL;

	switch (rq->verdict) {
	case REPLAY_SEND:
		break;
	case REPLAY_SKIP_REJECTED:
		r->n.rejected++;
		return false;
	case REPLAY_SKIP_LOST:
		r->n.lost++;
		return false;
	case REPLAY_SKIP_UNKNOWN:
		r->n.unknown++;
		problem(r, rec->stream, rec->id, "event '%s' not replayed: %s", rq->event, rq->why);
		return false;
	default:
		r->n.malformed++;
		problem(r, rec->stream, rec->id, "not replayed: %s", rq->why);
		return false;
	}
	if (rq->stream == LOG_COMPLAINTS && !rq->opens_complaint)
		st = replay_map_get(r->map, rq->subject, &assigned);
	/* --call: the call's events, and the complaints opened about it. */
	if (r->o->call) {
		const char *call = replay_request_call(rq);

		if (!(call && strcmp(call, r->o->call) == 0) && st == REPLAY_MAP_ABSENT) {
			r->n.not_selected++;
			return false;
		}
	}
	if (rq->stream != LOG_COMPLAINTS || rq->opens_complaint)
		return true;
	/* Its open is in flight: its new id comes with the open's reply. */
	while (st == REPLAY_MAP_PENDING && !r->fatal) {
		await_reply(r);
		st = replay_map_get(r->map, rq->subject, &assigned);
	}
	if (st == REPLAY_MAP_MAPPED) {
		replay_request_set_complaint(rq, assigned);
		return true;
	}
	if (!r->fatal) {
		r->n.unmapped++;
		problem(r, rec->stream, rec->id, "%s %s %s not replayed: %s", rq->verb, rq->sub, rq->subject,
		        st == REPLAY_MAP_FAILED ? "its open was refused"
		                                : "its open is not in this replay (before --from, or forgotten: "
		                                  "see --max-complaints)");
	}
	return false;
}

static void drive(struct run *r, struct log_source *src)
{
	struct log_record rec;
	long long wall0 = 0;
	uint64_t first_ms = 0;
	bool started = false;
	int rc = 0;

	while (!cli_stop_requested && !r->fatal && (rc = log_source_next(src, &rec)) == 1) {
		struct replay_request rq;

		r->n.read++;
		replay_plan(rec.stream, rec.id, rec.entry, rec.entry_len, &rq);
		if (worth_sending(r, &rec, &rq)) {
			if (!started) {
				started = true;
				first_ms = rec.id_ms;
				wall0 = cli_monotonic_ms();
			}
			/* The recorded gap since the first entry sent, scaled. */
			/* (A hand-made file may go back in time: no wait then.) */
			if (!r->o->fast && rec.id_ms > first_ms)
				wait_until(r, wall0 + (long long)llround((double)(rec.id_ms - first_ms) / r->o->speed));
			if (!cli_stop_requested)
				send_request(r, &rec, &rq);
		}
		replay_request_free(&rq);
		progress(r);
	}
	if (rc < 0)
		fail_run(r, "reading the log: %s", log_source_error(src));
	drain(r, cli_stop_requested ? DRAIN_MS : REPLY_MS);
	if (r->count > 0 && !r->fatal)
		fail_run(r, "%u requests were still unanswered", r->count);
	clear_progress(r);
}

/* ------------------------------------------------------------------------ */
/* The target */

static int connect_target(struct run *r, const struct cli_credentials *cred)
{
	char host[256];
	unsigned port;
	char err[600];
	int rc;

	if (lc_parse_hostport(r->o->to, host, sizeof(host), &port, LC_DEFAULT_PORT) != 0) {
		fprintf(stderr, WHO ": --to takes HOST:PORT or [v6addr]:PORT, got '%s'\n", r->o->to);
		return CLI_USAGE;
	}
	r->c = lc_connect(host, port, CONNECT_MS, err, sizeof(err));
	if (r->c == NULL) {
		fprintf(stderr, WHO ": %s\n", err);
		return CLI_FAILED;
	}
	if (r->o->tls.enabled && (rc = lc_start_tls(r->c, &r->o->tls, CONNECT_MS)) != LC_OK) {
		fprintf(stderr, WHO ": %s\n", lc_error(r->c));
		return CLI_FAILED;
	}
	if ((rc = lc_auth(r->c, cred->user, cred->secret, AUTH_MS)) != LC_OK) {
		fprintf(stderr, WHO ": %s\n", lc_error(r->c));
		return CLI_FAILED;
	}
	return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Options */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: hotline replay --to HOST:PORT [--fast | --speed N] [--from T] [--until T]\n"
	        "                      [--call ID] [--file FILE | -c CONFIG | --redis ADDR] [--prefix P]\n"
	        "                      [--redis-user USER --redis-password-file FILE]\n"
	        "                      [--user USER] [--credentials FILE] [--tls] [--ca FILE]\n"
	        "                      [--in-flight N] [--max-complaints N] [--json]\n"
	        "Re-drives the recorded calls and complaints into the hotlined at HOST:PORT, as the\n"
	        "recorded agents, through an account of role replay (each entry it logs is marked\n"
	        "replayed_by). Entries are read from the log in Redis (the config's, or --redis and\n"
	        "--prefix) or from an export file (--file, - for standard input).\n"
	        "  --to HOST:PORT       the daemon to replay into ([v6addr]:PORT for IPv6)\n"
	        "  --speed N            the recorded gaps between entries divided by N (default 1:\n"
	        "                       the original pace)\n"
	        "  --fast               no gaps: as fast as the daemon answers\n"
	        "  --from T, --until T  only entries in this range (inclusive): RFC 3339 with a zone,\n"
	        "                       a date (a whole UTC day as --until), @UNIX seconds or a stream id\n"
	        "  --call ID            only this call's events and the complaints opened about it\n"
	        "  --in-flight N        requests sent before their replies, 1..%d (default %d)\n"
	        "  --max-complaints N   complaints whose new ids are remembered at once (default %d)\n"
	        "  --json               the report as one JSON object\n"
	        "  --user, --credentials, --tls, --ca   as for hotline tail: the replay account's\n"
	        "                       user:secret from a mode 600 file or HOTLINE_USER/HOTLINE_SECRET\n"
	        "Complaints get new ids from the daemon; a complaint opened before --from is not\n"
	        "replayed (its events are counted). Running the same replay again logs nothing twice\n"
	        "(within the daemon's idempotency.ttl_h).\n"
	        "Exit status: 0 every entry replayed (or logged before); 1 some were refused (ERR) or\n"
	        "could not be replayed; 2 could not run or did not finish (run it again to continue);\n"
	        "64 usage error.\n",
	        IN_FLIGHT_MAX, IN_FLIGHT_DEFAULT, MAP_DEFAULT);
}

static bool parse_count(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && *end == '\0' && errno == 0 && *out >= lo && *out <= hi;
}

static int parse_args(struct options *o, int argc, char **argv)
{
	static const struct option options[] = {
	    {"to", required_argument, NULL, 'o'},          {"speed", required_argument, NULL, 's'},
	    {"fast", no_argument, NULL, 'F'},              {"from", required_argument, NULL, 'f'},
	    {"until", required_argument, NULL, 'u'},       {"file", required_argument, NULL, 'i'},
	    {"call", required_argument, NULL, 'k'},        CLI_TARGET_OPTIONS,
	    {"user", required_argument, NULL, 'U'},        {"credentials", required_argument, NULL, 'C'},
	    {"secret", required_argument, NULL, 'S'},      {"tls", no_argument, NULL, 'T'},
	    {"ca", required_argument, NULL, 'A'},          {"in-flight", required_argument, NULL, 'w'},
	    {"max-complaints", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
	    CLI_TARGET_LOGIN_OPTIONS,
	    {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
	};
	unsigned long long v;
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		if (cli_target_take_option(&o->source.target, opt, optarg))
			continue;
		switch (opt) {
		case 'o': o->to = optarg; break;
		case 'F': o->fast = true; break;
		case 'f': o->source.from = optarg; break;
		case 'u': o->source.until = optarg; break;
		case 'i': o->source.file = optarg; break;
		case 'k': o->call = optarg; break;
		case 'U': o->user = optarg; break;
		case 'C': o->credentials = optarg; break;
		case 'T': o->tls.enabled = true; break;
		case 'A': o->tls.ca_file = optarg; o->tls.enabled = true; break;
		case 'j': o->json = true; break;
		case 's':
			errno = 0;
			o->speed = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || errno != 0 || !(o->speed > 0) || !isfinite(o->speed)) {
				fprintf(stderr, WHO ": --speed takes a number above 0 (2 = twice as fast); got '%s'\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'w':
			if (!parse_count(optarg, 1, IN_FLIGHT_MAX, &v)) {
				fprintf(stderr, WHO ": --in-flight takes 1..%d; got '%s'\n", IN_FLIGHT_MAX, optarg);
				return CLI_USAGE;
			}
			o->in_flight = (unsigned)v;
			break;
		case 'm':
			if (!parse_count(optarg, MAP_MIN, MAP_MAX, &v)) {
				fprintf(stderr, WHO ": --max-complaints takes %d..%d; got '%s'\n", MAP_MIN, MAP_MAX, optarg);
				return CLI_USAGE;
			}
			o->max_complaints = (size_t)v;
			break;
		case 'S':
			fprintf(stderr, WHO ": secrets are not taken from the command line (ps shows it to every "
			                    "user): set HOTLINE_SECRET or use --credentials FILE\n");
			return CLI_USAGE;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc || o->to == NULL) {
		if (optind < argc)
			fprintf(stderr, WHO ": unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, WHO ": --to HOST:PORT names the daemon to replay into\n");
		usage(stderr);
		return CLI_USAGE;
	}
	if (o->fast && o->speed > 0) {
		fprintf(stderr, WHO ": --fast and --speed exclude each other\n");
		return CLI_USAGE;
	}
	if (o->source.file && (o->source.target.config || o->source.target.redis || o->source.target.prefix)) {
		fprintf(stderr, WHO ": --file replaces the Redis of -c/--redis/--prefix: give one or the other\n");
		return CLI_USAGE;
	}
	if (o->speed == 0)
		o->speed = 1;
	return -1;
}

static void report(const struct run *r)
{
	struct replay_report_context ctx = {.to = lc_address(r->c), .call = r->o->call,
	                                    .max_complaints = r->o->max_complaints,
	                                    .complete = !r->fatal && !cli_stop_requested};
	struct replay_counts n = r->n;

	n.forgotten = replay_map_evicted(r->map);
	if (r->o->json)
		replay_report_json(stdout, &n, &ctx);
	else
		replay_report_text(stdout, &n, &ctx);
	fflush(stdout);
}

int replay_to(int argc, char **argv)
{
	struct options o = {.in_flight = IN_FLIGHT_DEFAULT, .max_complaints = MAP_DEFAULT};
	struct cli_credentials cred = {0};
	struct replay_source src = {0};
	struct run *r = NULL;
	int status;

	if ((status = parse_args(&o, argc, argv)) >= 0)
		return status;
	if ((status = cli_credentials_get(&cred, WHO, o.user, o.credentials)) >= 0)
		return status;
	if (o.user == NULL)
		o.user = cred.user;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->map = replay_map_new(o.max_complaints)) == NULL) {
		fprintf(stderr, WHO ": out of memory\n");
		status = CLI_FAILED;
		goto out;
	}
	r->o = &o;
	if ((status = replay_source_open(&src, &o.source, WHO)) != CLI_OK ||
	    (status = connect_target(r, &cred)) != CLI_OK)
		goto out;
	cli_credentials_wipe(&cred);
	cli_stop_on_signals();
	r->last_send_ms = cli_monotonic_ms();
	r->on_terminal = !o.json && isatty(STDERR_FILENO);
	drive(r, src.log);
	report(r);
	if (r->fatal) {
		fprintf(stderr, WHO ": stopped: %s; run the same command again to continue (what was logged "
		                "is answered as a duplicate)\n", r->fatal_why);
		status = CLI_FAILED;
	} else if (cli_stop_requested) {
		fprintf(stderr, WHO ": interrupted; run the same command again to continue (what was logged "
		                "is answered as a duplicate)\n");
		status = CLI_FAILED;
	} else {
		status = replay_counts_findings(&r->n) ? CLI_FINDINGS : CLI_OK;
	}
out:
	cli_credentials_wipe(&cred);
	replay_source_close(&src);
	if (r) {
		lc_close(r->c);
		replay_map_free(r->map);
		free(r);
	}
	return status;
}
