/* hotline verify: check the log streams' hash chain in Redis with the
 * daemon's own routine (daemon/chain.c).  Streams in chunks, so memory does
 * not grow with the log.  Exit 0 intact, 1 findings, 2 could not run. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "chain.h"
#include "cli.h"
#include "cli_target.h"

#define CHUNK "1000"
#define WHO "hotline verify"

struct verify_opts {
	const char *config, *redis, *prefix, *redis_user, *redis_password_file;
	bool trimmed, json;
};

static const redisReply *field(const redisReply *fields, const char *name)
{
	for (size_t i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->len == strlen(name) && memcmp(fields->element[i]->str, name, fields->element[i]->len) == 0)
			return fields->element[i + 1];
	return NULL;
}

static void report(const struct verify_opts *o, const char *stream, const char *id, enum chain_problem p,
                   const char *detail)
{
	if (o->json) {
		json_t *f = json_pack("{s:s,s:s,s:s,s:s}", "stream", stream, "id", id, "problem", chain_problem_name(p),
		                      "detail", detail);
		char *text = json_dumps(f, JSON_COMPACT);

		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(f);
	} else {
		printf("%s %s: %s: %s\n", stream, id, chain_problem_name(p), detail);
	}
}

/* Redis 7 counts every entry ever added to a stream (XINFO STREAM
 * entries-added) and no removal lowers the count, so for a chain written
 * only by hotlined it equals the last seq, trimmed or not.  This catches
 * what the chain cannot show: a stream emptied (XADD MAXLEN 0, which an
 * ACL cannot refuse) and a new chain started, or its newest entries
 * removed.  Returns 1 finding or 0; older Redis (no such field) and a
 * missing stream give 0; -1 when Redis failed. */
static long check_entries_added(redisContext *rc, const struct verify_opts *o, const char *key, const char *stream,
                                uint64_t last_seq, const char *last_id)
{
	redisReply *r = redisCommand(rc, "XINFO STREAM %s", key);
	long long added = -1;
	char detail[256];

	if (r == NULL) {
		fprintf(stderr, WHO ": XINFO STREAM %s failed: %s\n", key, rc->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key") != NULL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, WHO ": XINFO STREAM %s failed: %s\n", key, r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
		freeReplyObject(r);
		return -1;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, "entries-added") == 0 &&
		    r->element[i + 1]->type == REDIS_REPLY_INTEGER)
			added = r->element[i + 1]->integer;
	freeReplyObject(r);
	if (added < 0 || (uint64_t)added == last_seq)
		return 0;
	snprintf(detail, sizeof(detail),
	         "Redis counts %lld entries ever added to the stream but its last seq is %llu: entries were removed "
	         "(a new chain started, or the newest entries deleted) or added outside the chain",
	         added, (unsigned long long)last_seq);
	report(o, stream, last_id[0] ? last_id : "-", CHAIN_ENTRIES_ADDED, detail);
	return 1;
}

/* Verify one stream; returns findings, or -1 when Redis failed. */
static long verify_stream(redisContext *rc, const struct verify_opts *o, const char *prefix, const char *stream,
                          unsigned long long *entries)
{
	struct chain_verifier v;
	char key[300], start[64] = "-", last_id[64] = "";
	long findings = 0, added;

	snprintf(key, sizeof(key), "%slog:%s", prefix, stream);
	chain_verifier_init(&v);
	for (;;) {
		redisReply *r = redisCommand(rc, "XRANGE %s %s + COUNT " CHUNK, key, start);
		size_t n;

		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, WHO ": reading %s failed: %s\n", key, r ? r->str : rc->errstr);
			freeReplyObject(r);
			return -1;
		}
		n = r->elements;
		for (size_t i = 0; i < n; i++) {
			const redisReply *e = r->element[i], *fields = e->element[1];
			const redisReply *seq = field(fields, "seq"), *prev = field(fields, "prev");
			const redisReply *hash = field(fields, "hash"), *entry = field(fields, "entry");
			char detail[256];
			enum chain_problem p;

			if (!seq || !prev || !hash || !entry)
				p = CHAIN_MALFORMED, snprintf(detail, sizeof(detail), "a chain field is missing");
			else
				p = chain_verify_next(&v, o->trimmed, seq->str, seq->len, prev->str, prev->len, hash->str,
				                      hash->len, entry->str, entry->len, detail, sizeof(detail));
			if (p != CHAIN_OK) {
				report(o, stream, e->element[0]->str, p, detail);
				findings++;
			}
			(*entries)++;
			if (i + 1 == n) {
				snprintf(start, sizeof(start), "(%s", e->element[0]->str);
				snprintf(last_id, sizeof(last_id), "%s", e->element[0]->str);
			}
		}
		freeReplyObject(r);
		if (n < 1000) {
			added = check_entries_added(rc, o, key, stream, v.started ? v.last_seq : 0, last_id);
			return added < 0 ? -1 : findings + added;
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hotline verify [calls|complaints|all] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	             "                      [--redis-user USER --redis-password-file FILE] [--trimmed] [--json]\n"
	             "Checks the hash chain and sequence numbers of the log streams.\n"
	             "--trimmed accepts a stream whose first entries were deliberately removed.\n"
	             "--redis-user/--redis-password-file log in to Redis as that ACL user (password on the\n"
	             "first line of FILE) instead of the config's redis.user and redis.password_file.\n"
	             "Exit status: 0 intact, 1 findings (printed, one per line), 2 could not run.\n");
}

int cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, 'r'},
		{"prefix", required_argument, NULL, 'p'}, {"trimmed", no_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
		{"redis-user", required_argument, NULL, 'U'},
		{"redis-password-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	static const char *const all[] = {"calls", "complaints"};
	struct verify_opts o = {0};
	struct cli_target t;
	const char *which = "all";
	redisContext *rc;
	long total = 0;
	int opt, target;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': o.config = optarg; break;
		case 'r': o.redis = optarg; break;
		case 'p': o.prefix = optarg; break;
		case 'U': o.redis_user = optarg; break;
		case 'P': o.redis_password_file = optarg; break;
		case 't': o.trimmed = true; break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc || (strcmp(which, "all") && strcmp(which, "calls") && strcmp(which, "complaints"))) {
		usage(stderr);
		return CLI_USAGE;
	}
	target = cli_target_load(&t, WHO, o.config, o.redis, o.prefix, false);
	if (target == 0)
		target = cli_target_login(&t, WHO, o.redis_user, o.redis_password_file);
	switch (target) {
	case 0: break;
	case -2: return CLI_USAGE;
	default: return CLI_FAILED;
	}
	rc = cli_target_connect(&t, WHO);
	if (rc == NULL)
		return CLI_FAILED;
	for (size_t i = 0; i < 2; i++) {
		unsigned long long entries = 0;
		long findings;

		if (strcmp(which, "all") && strcmp(which, all[i]))
			continue;
		findings = verify_stream(rc, &o, t.prefix, all[i], &entries);
		if (findings < 0) {
			redisFree(rc);
			return CLI_FAILED;
		}
		if (!o.json)
			fprintf(stderr, "%s: %llu entries, %s\n", all[i], entries,
			        findings ? "CHAIN BROKEN (see above)" : "chain intact");
		total += findings;
	}
	redisFree(rc);
	return total ? CLI_FINDINGS : CLI_OK;
}
