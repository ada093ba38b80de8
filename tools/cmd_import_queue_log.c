/* hotline import queue-log: an Asterisk queue_log file into hotline call
 * entries, appended to the live calls stream in Redis or written as an
 * export file.
 *
 * queue_log.c reads each line, queue_log_map.c turns the events into call
 * entries, and one of two sinks writes them: stream_append.c (Redis: the
 * chain checked atomically against concurrent daemons, each line once
 * however often it is imported) or chain_file.c (an export file on a fresh
 * chain).  This file is the command: options, the run, messages and the
 * summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "chain_file.h"
#include "cli.h"
#include "cli_target.h"
#include "import.h"
#include "import_redis.h"
#include "keys.h"
#include "line_reader.h"
#include "queue_log.h"
#include "queue_log_map.h"
#include "stream_append.h"

#define WHO       "hotline import"
#define MAX_NOTES 1000 /* FILE:LINE notes printed; the summary counts them all */

struct options {
	struct cli_target_opts target;
	const char *file, *out;
	bool dry_run;
};

struct run {
	const char *name; /* the input as named in messages */
	const struct cli_target *target;
	redisContext *rc;
	struct stream_append sa;
	bool sa_open;
	struct chain_file cf;
	bool cf_open;
	struct qlm *map;
	unsigned long malformed, notes, written;
	bool hook_failed; /* a hook reported its own failure */
};

/* ---- options ------------------------------------------------------------------------------------------ */

static int usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "usage: hotline import queue-log FILE [--out FILE.jsonl] [-c CONFIG] [--redis ADDR]\n"
	    "                                     [--prefix P] [--redis-user USER --redis-password-file FILE]\n"
	    "                                     [--dry-run]\n"
	    "\n"
	    "Turns an Asterisk queue_log ('-' is standard input) into hotline call entries and appends\n"
	    "them to the calls log stream in Redis, each line at most once however often it is imported,\n"
	    "or with --out writes them as an export file on a fresh hash chain.  Malformed lines are\n"
	    "reported as FILE:LINE: reason and skipped; calls left open, events out of order and calls\n"
	    "first seen mid-way are noted the same way.\n"
	    "\n"
	    "  -o, --out FILE      write an export file (JSON Lines; '-' is standard output) instead\n"
	    "  -c, --config FILE   daemon config for Redis and phone rules (default " CLI_DEFAULT_CONFIG ")\n"
	    "      --redis ADDR    host:port, [v6addr]:port or unix:/path, instead of the config's\n"
	    "      --prefix P      Redis key prefix, instead of the config's\n"
	    "      --redis-user USER, --redis-password-file FILE\n"
	    "                      log in to Redis as that ACL user (hotline-admin in the shipped\n"
	    "                      config/redis-acl.conf) instead of the config's redis.user\n"
	    "      --dry-run       read and map only; nothing is written and Redis is not contacted\n"
	    "\n"
	    "Exit status: 0 every line read, 1 some lines malformed, 2 could not run, 64 usage.\n");
	return rc;
}

/* 0 to run, 1 when help was asked for, -1 on a usage error (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    CLI_TARGET_OPTIONS,
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_TARGET_LOGIN_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct options){0};
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:c:h", longopts, NULL)) != -1) {
		if (cli_target_take_option(&o->target, opt, optarg))
			continue;
		switch (opt) {
		case 'o':
			o->out = optarg;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'h':
			return 1;
		default:
			return import_fail("unknown option or missing argument: '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->file = argv[optind++];
	if (optind < argc)
		return import_fail("one FILE at most, got '%s' too", argv[optind]);
	if (!o->file)
		return import_fail("no queue_log FILE to import");
	if (o->out && o->dry_run)
		return import_fail("--dry-run writes nothing: it cannot be combined with --out");
	if (o->out && (o->target.redis || o->target.prefix))
		return import_fail("--out writes a file: --redis and --prefix do not apply");
	return 0;
}

/* ---- hooks of the mapper ------------------------------------------------------------------------------ */

static void note(void *arg, unsigned long line, const char *msg)
{
	struct run *r = arg;

	if (r->notes++ < MAX_NOTES)
		fprintf(stderr, "%s:%lu: note: %s\n", r->name, line, msg);
	else if (r->notes == MAX_NOTES + 1)
		fprintf(stderr, "%s: further notes are not shown (the summary counts them)\n", r->name);
}

static int emit(void *arg, const struct qlm_entry *e)
{
	struct run *r = arg;

	int rc = 0;

	if (r->sa_open)
		rc = stream_append_add(&r->sa, e->source_id, e->json, e->json_len);
	else if (r->cf_open && (rc = chain_file_append(&r->cf, e->ts_ms, e->json, e->json_len)) == 0)
		r->written++;
	r->hook_failed = rc != 0;
	return rc;
}

/* The one customer using this number (the phone index, proto/KEYS.md); several is no answer. */
static int customer_of(void *arg, const char *phone, char out[CUSTOMER_ID_MAX + 1])
{
	struct run *r = arg;
	char key[KEY_MAX];
	const char *argv[2];
	size_t len[2];
	redisReply *rep;
	int found = 0;

	if (key_phone(key, r->target->prefix, phone) < 0)
		return 0;
	argv[0] = "SMEMBERS", len[0] = 8;
	argv[1] = key, len[1] = strlen(key);
	if (import_append_argv(r->rc, 2, argv, len) != 0 ||
	    (rep = import_reply(r->rc, REDIS_REPLY_ARRAY, false, "looking up a caller's phone number")) ==
	        NULL) {
		r->hook_failed = true;
		return -1;
	}
	if (rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_STRING &&
	    customer_valid_key_part(rep->element[0]->str, rep->element[0]->len, CUSTOMER_ID_MAX)) {
		memcpy(out, rep->element[0]->str, rep->element[0]->len + 1);
		found = 1;
	}
	freeReplyObject(rep);
	return found;
}

/* ---- the run ------------------------------------------------------------------------------------------ */

static int open_input(const char *file, const char **name)
{
	struct stat st;
	int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);

	*name = fd == STDIN_FILENO ? "<stdin>" : file;
	if (fd < 0)
		return import_fail("cannot open %s: %s", file, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return import_fail("cannot read %s: it is a directory", file);
	}
	return fd;
}

static void malformed(struct run *r, unsigned long line, const char *why)
{
	r->malformed++;
	fprintf(stderr, "%s:%lu: %s\n", r->name, line, why);
}

/* Read, parse and map every line.  0, or -1 when writing failed (reported). */
static int read_all(struct run *r, int fd)
{
	struct line_reader lr;
	struct ql_line l;
	char why[256], *text;
	size_t len;
	int rc = 0;

	if (line_reader_init(&lr, fd, QL_MAX_LINE + 1) != 0)
		return import_fail("out of memory");
	while (rc == 0) {
		enum line_status st = line_reader_next(&lr, &text, &len);

		if (st == LINE_END)
			break;
		if (st == LINE_ERROR) {
			rc = import_fail("cannot read %s: %s", r->name, strerror(lr.err));
		} else if (st == LINE_TOO_LONG) {
			snprintf(why, sizeof(why), "line longer than %d bytes", QL_MAX_LINE);
			malformed(r, lr.line, why);
		} else if (len == 0 || (len == 1 && text[0] == '\r')) {
			continue; /* blank */
		} else if (!ql_parse(text, len, &l, why, sizeof(why))) {
			malformed(r, lr.line, why);
		} else if ((rc = qlm_feed(r->map, &l, lr.line)) != 0 && !r->hook_failed) {
			import_fail("out of memory mapping %s:%lu", r->name, lr.line);
		}
	}
	line_reader_free(&lr);
	if (rc == 0)
		qlm_finish(r->map);
	return rc;
}

static void print_summary(const struct run *r, const struct options *o)
{
	/* With the export file on standard output, the summary goes beside it. */
	FILE *f = o->out && strcmp(o->out, "-") == 0 ? stderr : stdout;
	const struct qlm_stats *s = qlm_stats(r->map);
	unsigned long written = r->sa_open ? r->sa.written : r->written;
	unsigned long dups = (r->sa_open ? r->sa.duplicates : 0) + s->repeats;
	bool any = false;

	fprintf(f, "%s: lines %lu, entries %lu, written %lu, duplicates %lu, malformed %lu%s\n", r->name,
	        s->lines + r->malformed, s->entries, written, dups, r->malformed,
	        o->dry_run ? " (dry run)" : "");
	fprintf(f, "skipped by kind:");
	for (size_t k = 0; k < QL_OTHER; k++)
		if (s->skipped[k]) {
			fprintf(f, "%s %s %lu", any ? "," : "", ql_kind_name((enum ql_kind)k), s->skipped[k]);
			any = true;
		}
	for (size_t i = 0; i < s->n_custom; i++) {
		fprintf(f, "%s %s %lu", any ? "," : "", s->custom[i].name, s->custom[i].n);
		any = true;
	}
	if (s->skipped[QL_OTHER] > 0 && s->n_custom == QLM_CUSTOM_NAMES) {
		unsigned long named = 0;

		for (size_t i = 0; i < s->n_custom; i++)
			named += s->custom[i].n;
		if (s->skipped[QL_OTHER] > named)
			fprintf(f, ", other custom events %lu", s->skipped[QL_OTHER] - named);
	}
	fprintf(f, "%s\n", any ? "" : " none");
	fprintf(f,
	        "calls: first seen mid-call %lu, refused by the call's life %lu, out of time order %lu, "
	        "repeated lines %lu\n",
	        s->mid_call, s->refused, s->time_back, s->repeats);
	fprintf(
	    f,
	    "left open: %lu waiting in a queue (no exit event), %lu connected (no completion or transfer)\n",
	    s->open_waiting, s->open_connected);
	if (r->sa_open)
		fprintf(f, "appends resent because another writer had moved the stream's head: %lu\n",
		        r->sa.resent);
	fflush(f);
}

static int open_sink(struct run *r, const struct options *o)
{
	char stream_key[KEY_MAX], seen_key[KEY_MAX];

	if (o->dry_run)
		return 0;
	if (o->out) {
		if (chain_file_open(&r->cf, WHO, o->out, "calls") != 0)
			return -1;
		r->cf_open = true;
		return 0;
	}
	if ((r->rc = cli_target_connect(r->target, WHO)) == NULL)
		return -1;
	snprintf(stream_key, sizeof(stream_key), "%slog:calls", r->target->prefix);
	if (key_import_seen(seen_key, r->target->prefix, "queue_log") < 0)
		return import_fail("the key prefix is too long");
	if (stream_append_init(&r->sa, r->rc, stream_key, seen_key) != 0)
		return -1;
	r->sa_open = true;
	return 0;
}

static int close_sink(struct run *r, int rc)
{
	if (r->sa_open) {
		if (rc == 0)
			rc = stream_append_flush(&r->sa);
		stream_append_free(&r->sa);
	}
	if (r->cf_open) {
		if (rc == 0)
			rc = chain_file_close(&r->cf);
		else
			chain_file_abort(&r->cf);
	}
	return rc;
}

int cmd_import_queue_log(int argc, char **argv)
{
	struct options o;
	struct cli_target target;
	struct run r = {.target = &target};
	struct qlm_options mo = {.phone = &target.phone};
	struct qlm_hooks hooks = {.emit = emit, .notice = note, .arg = &r};
	int fd, rc = parse_options(argc, argv, &o);

	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr,
			        "usage: hotline import queue-log FILE [options]   (--help lists them)\n");
		return rc > 0 ? usage(stdout, CLI_OK) : CLI_USAGE;
	}
	if ((rc = cli_target_setup(&target, WHO, &o.target, true)) != CLI_OK)
		return rc;
	/* A Redis that goes away mid-write must give an error, not kill the import silently. */
	signal(SIGPIPE, SIG_IGN);
	/* The file first: an unreadable one is reported without touching Redis. */
	if ((fd = open_input(o.file, &r.name)) < 0)
		return CLI_FAILED;
	if (open_sink(&r, &o) != 0) {
		rc = -1;
	} else {
		if (r.sa_open)
			hooks.customer_of = customer_of;
		if ((r.map = qlm_new(&mo, &hooks)) == NULL)
			rc = import_fail("out of memory");
		else
			rc = read_all(&r, fd);
	}
	rc = close_sink(&r, rc);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r.map && rc == 0)
		print_summary(&r, &o);
	qlm_free(r.map);
	if (r.rc)
		redisFree(r.rc);
	if (rc != 0)
		return CLI_FAILED;
	return r.malformed > 0 ? CLI_FINDINGS : CLI_OK;
}
