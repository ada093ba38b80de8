#include "replay_source.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_target.h"

/* The later of the two streams' last ids: 1, or 0 when both are empty,
 * -1 on error (said on stderr). */
static int current_end(redisContext *rc, const char *prefix, const char *who, char out[LOG_ID_MAX])
{
	uint64_t best_ms = 0, best_n = 0;
	bool any = false;

	for (int s = 0; s < LOG_STREAM_COUNT; s++) {
		redisReply *rep = redisCommand(rc, "XREVRANGE %slog:%s + - COUNT 1", prefix, log_stream_name(s));
		uint64_t ms, n;

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "%s: reading %slog:%s failed: %s\n", who, prefix, log_stream_name(s),
			        rep ? rep->str : rc->errstr);
			freeReplyObject(rep);
			return -1;
		}
		if (rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY &&
		    rep->element[0]->elements >= 1 && rep->element[0]->element[0]->type == REDIS_REPLY_STRING &&
		    log_id_parse(rep->element[0]->element[0]->str, &ms, &n) &&
		    (!any || log_id_cmp(ms, n, best_ms, best_n) > 0)) {
			best_ms = ms;
			best_n = n;
			any = true;
		}
		freeReplyObject(rep);
	}
	if (any)
		snprintf(out, LOG_ID_MAX, "%llu-%llu", (unsigned long long)best_ms, (unsigned long long)best_n);
	return any;
}

/* until_id = the earlier of itself (when set) and the streams' end now. */
static int bound_to_now(struct replay_source *s, const char *prefix, const char *who, struct log_selection *sel)
{
	char now_end[LOG_ID_MAX];
	uint64_t a_ms, a_n, b_ms, b_n;

	switch (current_end(s->rc, prefix, who, now_end)) {
	case -1:
		return CLI_FAILED;
	case 0:
		return CLI_OK; /* both empty: nothing to read anyway */
	default:
		break;
	}
	if (!sel->to_id || (log_id_parse(sel->to_id, &a_ms, &a_n) && log_id_parse(now_end, &b_ms, &b_n) &&
	                    log_id_cmp(b_ms, b_n, a_ms, a_n) < 0)) {
		memcpy(s->until_id, now_end, sizeof(s->until_id));
		sel->to_id = s->until_id;
	}
	return CLI_OK;
}

static bool range_end(const char *who, const char *option, const char *text, bool end, char out[LOG_ID_MAX])
{
	if (log_time_to_id(text, end, out))
		return true;
	fprintf(stderr, "%s: %s takes a time (2026-11-22T09:00:00Z, 2026-11-22, @UNIX) or a stream id; got '%s'\n",
	        who, option, text);
	return false;
}

int replay_source_open(struct replay_source *s, const struct replay_source_spec *spec, const char *who)
{
	struct log_selection sel = {.streams = LOG_ALL_STREAMS};
	struct cli_target t;
	char err[600];
	int status;

	memset(s, 0, sizeof(*s));
	if ((spec->from && !range_end(who, "--from", spec->from, false, s->from_id)) ||
	    (spec->until && !range_end(who, "--until", spec->until, true, s->until_id)))
		return CLI_USAGE;
	sel.from_id = spec->from ? s->from_id : NULL;
	sel.to_id = spec->until ? s->until_id : NULL;
	if (spec->file) {
		s->log = log_source_open_file(spec->file, &sel, err, sizeof(err));
	} else {
		status = cli_target_setup(&t, who, &spec->target, false);
		if (status != CLI_OK)
			return status;
		s->rc = cli_target_connect(&t, who);
		if (s->rc == NULL)
			return CLI_FAILED;
		if ((status = bound_to_now(s, t.prefix, who, &sel)) != CLI_OK) {
			replay_source_close(s);
			return status;
		}
		s->log = log_source_open_redis(s->rc, t.prefix, &sel, err, sizeof(err));
	}
	if (s->log == NULL) {
		fprintf(stderr, "%s: %s\n", who, err);
		replay_source_close(s);
		return CLI_FAILED;
	}
	return CLI_OK;
}

void replay_source_close(struct replay_source *s)
{
	log_source_close(s->log);
	s->log = NULL;
	if (s->rc)
		redisFree(s->rc);
	s->rc = NULL;
}
