#include "spooler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "commands.h"
#include "logwrite.h"
#include "redis_link.h"
#include "server.h"
#include "spool.h"

/* After a replay fails for a reason other than the link (a bug, Redis
 * refusing the script), wait this long before trying again. */
#define REPLAY_RETRY_MS 2000

struct spooler {
	struct server *srv;
	struct spool *spool;
	json_t *states;       /* record key -> state last spooled for it */
	json_t *replies;      /* "<user>:<request_id>" -> reply given while spooling */
	struct event *replay; /* next replay step, off the current stack */
	bool replaying;       /* a replayed request is in flight */
	size_t replayed;
	char err[512];
};

static bool open_spool(struct spooler *sp)
{
	const struct config_spool *cfg = &sp->srv->cfg->spool;

	if (sp->spool)
		return true;
	sp->spool = spool_open(cfg->path, cfg->max_bytes, sp->err, sizeof(sp->err));
	if (sp->spool == NULL) {
		log_error("spool unusable: %s", sp->err);
		return false;
	}
	if (spool_pending(sp->spool) > 0)
		log_warn("spool %s holds %zu writes from an earlier run; they will be logged when Redis is up",
		         cfg->path, spool_pending(sp->spool));
	return true;
}

static void replay_step(evutil_socket_t fd, short what, void *arg);

struct spooler *spooler_new(struct server *srv)
{
	struct spooler *sp = calloc(1, sizeof(*sp));
	struct stat st;

	if (sp == NULL)
		return NULL;
	sp->srv = srv;
	sp->states = json_object();
	sp->replies = json_object();
	sp->replay = evtimer_new(srv->base, replay_step, sp);
	if (sp->states == NULL || sp->replies == NULL || sp->replay == NULL) {
		spooler_free(sp);
		return NULL;
	}
	/* Writes acknowledged before a crash or restart must reach the log. */
	if (stat(srv->cfg->spool.path, &st) == 0)
		open_spool(sp);
	return sp;
}

void spooler_free(struct spooler *sp)
{
	if (sp == NULL)
		return;
	if (sp->replay)
		event_free(sp->replay);
	spool_close(sp->spool);
	json_decref(sp->states);
	json_decref(sp->replies);
	free(sp);
}

bool spooler_engaged(const struct spooler *sp)
{
	return redis_link_state(sp->srv->redis) != REDIS_LINK_UP || (sp->spool && spool_pending(sp->spool) > 0);
}

size_t spooler_pending(const struct spooler *sp)
{
	return sp->spool ? spool_pending(sp->spool) : 0;
}

size_t spooler_bytes(const struct spooler *sp)
{
	return sp->spool ? spool_bytes(sp->spool) : 0;
}

static void schedule(struct spooler *sp, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	event_add(sp->replay, &tv);
}

void spooler_take(struct spooler *sp, struct logwrite *w)
{
	const char *known = json_string_value(json_object_get(sp->states, w->record));
	char next[32] = "", *text;
	json_t *reply = NULL, *intent;
	long long now_ms;
	char now[40];
	int rc;

	char retry_key[2 * LOGWRITE_ID_MAX + 2];
	const json_t *original;

	if (!open_spool(sp)) {
		logwrite_reply_err(w, ERR_UNAVAILABLE, "Redis unreachable and the local spool is unusable");
		return;
	}
	/* A retry of a write spooled earlier in this outage: the original answer. */
	snprintf(retry_key, sizeof(retry_key), "%s:%s", logwrite_idem_user(w), w->request_id);
	original = w->request_id[0] ? json_object_get(sp->replies, retry_key) : NULL;
	if (original) {
		reply = json_deep_copy(original);
		json_object_set_new(reply, "duplicate", json_true());
		logwrite_reply_ok_read(w, reply);
		json_decref(reply);
		return;
	}
	if (!w->ops->spool(w, known, next, &reply))
		return; /* refused by the rules this daemon can still check */
	if (!w->request_id[0]) {
		unsigned char rnd[12];
		char hex[25];

		/* The id that makes the replay idempotent. */
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(w->request_id, sizeof(w->request_id), "spool-%s", hex);
	}
	json_object_set_new(w->args, "request_id", json_string(w->request_id));
	now_ms = logwrite_now(w, now);
	intent = json_pack("{s:i,s:s,s:s,s:s,s:s,s:O,s:I}", "v", 1, "user", w->user, "role", role_name(w->role),
	                   "verb", w->verb, "sub", w->sub, "args", w->args, "at_ms", (json_int_t)now_ms);
	/* A replay account's write stays its own (idempotency, replayed_by). */
	if (intent && w->replayed_by[0])
		json_object_set_new(intent, "replayed_by", json_string(w->replayed_by));
	text = intent ? json_dumps(intent, JSON_COMPACT) : NULL;
	json_decref(intent);
	rc = text ? spool_append(sp->spool, text, strlen(text)) : -1;
	free(text);
	if (rc != 0) {
		json_decref(reply);
		if (rc == -2)
			logwrite_reply_err(w, ERR_UNAVAILABLE, "Redis unreachable and the local spool is full");
		else
			logwrite_reply_err(w, ERR_UNAVAILABLE, "Redis unreachable and the spool write failed: %s",
			                   strerror(errno));
		return;
	}
	if (next[0])
		json_object_set_new(sp->states, w->record, json_string(next));
	json_object_set_new(reply, "spooled", json_true());
	snprintf(retry_key, sizeof(retry_key), "%s:%s", logwrite_idem_user(w), w->request_id);
	json_object_set(sp->replies, retry_key, reply);
	logwrite_reply_ok_read(w, reply);
	json_decref(reply);
}

/* ---- replay ---- */

static const char *const definite_errors[] = {ERR_BAD_REQUEST, ERR_FORBIDDEN, ERR_NOT_FOUND, ERR_CONFLICT};

static void on_replayed(void *arg, const char *err_code, const char *line)
{
	struct spooler *sp = arg;
	bool definite = err_code == NULL;

	sp->replaying = false;
	for (size_t i = 0; err_code && i < sizeof(definite_errors) / sizeof(definite_errors[0]); i++)
		definite |= strcmp(err_code, definite_errors[i]) == 0;
	if (!definite) {
		/* The link went away again, or Redis refused: keep the record. */
		log_warn("spool replay paused: %s", line ? line : err_code);
		if (redis_link_state(sp->srv->redis) == REDIS_LINK_UP)
			schedule(sp, REPLAY_RETRY_MS);
		return;
	}
	if (err_code)
		log_error("spool replay: a spooled write could not be logged and is dropped: %s", line);
	if (spool_consume(sp->spool) != 0) {
		log_error("spool: %s; replay stopped", spool_error(sp->spool));
		return;
	}
	sp->replayed++;
	schedule(sp, 0);
}

static int role_from_name(const char *name)
{
	for (int r = ROLE_AGENT; r <= ROLE_ADMIN; r++)
		if (strcmp(role_name((enum role)r), name) == 0)
			return r;
	return -1;
}

static int command_index(const char *name)
{
	for (size_t i = 0; i < command_count(); i++)
		if (strcmp(command_at(i)->name, name) == 0)
			return (int)i;
	return -1;
}

/* Run one intent through its verb as a detached request; false if the
 * record is unusable (it is then dropped, loudly). */
static bool replay_one(struct spooler *sp, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *intent = json_loadb(text, len, 0, &jerr);
	const char *user = NULL, *role = NULL, *verb = NULL, *sub = NULL, *by;
	json_t *args = NULL;
	json_int_t at_ms = 0;
	struct command_args cargs = {0};
	struct request *req;
	int idx, r;

	if (intent == NULL || json_unpack(intent, "{s:s,s:s,s:s,s:s,s:o,s:I}", "user", &user, "role", &role, "verb",
	                                  &verb, "sub", &sub, "args", &args, "at_ms", &at_ms) != 0 ||
	    (idx = command_index(verb)) < 0 || (r = role_from_name(role)) < 0) {
		json_decref(intent);
		return false;
	}
	req = request_new_detached(sp->srv, user, (enum role)r, idx, on_replayed, sp);
	if (req == NULL) {
		json_decref(intent);
		return false;
	}
	req->replay_at_ms = at_ms;
	by = json_string_value(json_object_get(intent, "replayed_by"));
	if (by)
		snprintf(req->replayed_by, sizeof(req->replayed_by), "%s", by);
	cargs.sub.p = sub;
	cargs.sub.len = strlen(sub);
	cargs.json = args;
	sp->replaying = true;
	command_at((size_t)idx)->handler(req, &cargs);
	json_decref(intent);
	return true;
}

static void replay_step(evutil_socket_t fd, short what, void *arg)
{
	struct spooler *sp = arg;
	const void *rec;
	size_t len;
	int rc;

	if (sp->replaying || sp->spool == NULL || redis_link_state(sp->srv->redis) != REDIS_LINK_UP)
		return;
	rc = spool_peek(sp->spool, &rec, &len);
	if (rc == 1) {
		if (sp->replayed)
			log_info("spool drained: %zu spooled writes logged", sp->replayed);
		sp->replayed = 0;
		json_object_clear(sp->states);
		json_object_clear(sp->replies);
		return;
	}
	if (rc != 0) {
		log_error("spool: %s; replay stopped", spool_error(sp->spool));
		return;
	}
	if (!replay_one(sp, rec, len)) {
		log_error("spool: an unreadable record was dropped (%zu bytes)", len);
		if (spool_consume(sp->spool) != 0) {
			log_error("spool: %s; replay stopped", spool_error(sp->spool));
			return;
		}
		schedule(sp, 0);
	}
}

void spooler_link_up(struct spooler *sp)
{
	if (sp->spool && spool_pending(sp->spool) > 0) {
		log_info("redis is back: logging %zu spooled writes", spool_pending(sp->spool));
		schedule(sp, 0);
	}
}
