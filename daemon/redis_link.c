#include "redis_link.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <sodium.h>

#include "log.h"

struct redis_link {
	struct event_base *base;
	struct config_redis cfg; /* a copy: the link outlives config reloads */
	char name[32];
	char address[300];

	redisAsyncContext *ac;
	enum redis_link_state state;
	bool freeing;
	bool logging_in; /* connected, AUTH sent, not yet answered */

	struct event *retry_timer;   /* reconnect after backoff */
	struct event *connect_timer; /* connect attempt took too long */
	struct event *liveness_timer;
	unsigned backoff_ms;
	unsigned failed_attempts;
	uint64_t ups; /* transitions to UP; all but the first are reconnects */

	redis_link_state_fn *state_fn;
	void *state_arg;

	unsigned pending;
	uint64_t last_progress_ms; /* last reply, or when pending went 0 -> 1 */
	struct latency_hist latency;
};

struct link_cmd {
	struct redis_link *link;
	redis_reply_fn *fn;
	void *arg;
	uint64_t sent_ns;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval ms_to_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

static void set_state(struct redis_link *link, enum redis_link_state state);
static void connect_now(struct redis_link *link);

static void schedule_reconnect(struct redis_link *link)
{
	struct timeval tv;
	unsigned delay;

	if (link->freeing)
		return;
	/* Exponential backoff with jitter, so many daemons do not reconnect in step. */
	delay = link->backoff_ms + (unsigned)(rand() % (int)(link->backoff_ms / 4 + 1));
	if (link->backoff_ms < link->cfg.reconnect_max_ms) {
		link->backoff_ms *= 2;
		if (link->backoff_ms > link->cfg.reconnect_max_ms)
			link->backoff_ms = link->cfg.reconnect_max_ms;
	}
	tv = ms_to_tv(delay);
	event_add(link->retry_timer, &tv);
}

static void link_ready(struct redis_link *link)
{
	event_del(link->connect_timer);
	link->logging_in = false;
	link->failed_attempts = 0;
	link->backoff_ms = link->cfg.reconnect_min_ms;
	set_state(link, REDIS_LINK_UP);
}

/* The link is up only once Redis accepted the login: every command the
 * daemon sends then runs with the configured user's ACL. */
static void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_link *link = privdata;
	const redisReply *reply = r;

	if (reply == NULL)
		return; /* the connection went first: on_disconnect reconnects */
	if (reply->type == REDIS_REPLY_ERROR) {
		/* The same refusal on every retry is said once (until a success). */
		if (link->failed_attempts++ == 0 || log_enabled(LOG_LEVEL_DEBUG))
			log_error("redis %s: %s refused the login as %s: %.*s; retrying with backoff", link->name,
			          link->address, link->cfg.user[0] ? link->cfg.user : "the default user",
			          (int)reply->len, reply->str);
		/* Closes once this callback returns; on_disconnect reconnects. */
		redisAsyncDisconnect(ac);
		return;
	}
	link_ready(link);
}

static int send_auth(struct redis_link *link, redisAsyncContext *ac)
{
	const char *argv[3] = {"AUTH", link->cfg.user, link->cfg.password};
	size_t argvlen[3] = {4, strlen(link->cfg.user), strlen(link->cfg.password)};

	link->logging_in = true;
	if (link->cfg.user[0])
		return redisAsyncCommandArgv(ac, on_auth, link, 3, argv, argvlen);
	return redisAsyncCommandArgv(ac, on_auth, link, 2, (const char *[]){"AUTH", link->cfg.password},
	                             (size_t[]){4, argvlen[2]});
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_link *link = ac->data;

	if (status != REDIS_OK) {
		event_del(link->connect_timer);
		/* hiredis frees the context after this callback returns. */
		if (link->failed_attempts++ == 0 || log_enabled(LOG_LEVEL_DEBUG))
			log_warn("redis %s: cannot connect to %s: %s", link->name, link->address, ac->errstr);
		link->ac = NULL;
		set_state(link, REDIS_LINK_DOWN);
		schedule_reconnect(link);
		return;
	}
	if (!link->cfg.password[0]) {
		link_ready(link);
		return;
	}
	/* The connect timer keeps running: it bounds the login too. */
	if (send_auth(link, link->ac) != REDIS_OK) {
		log_error("redis %s: cannot send AUTH to %s", link->name, link->address);
		redisAsyncDisconnect(link->ac);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_link *link = ac->data;
	bool was_logging_in = link->logging_in;

	link->ac = NULL;
	link->logging_in = false;
	event_del(link->connect_timer);
	if (link->freeing)
		return;
	/* A refused login was already reported by on_auth. */
	if (!was_logging_in || status != REDIS_OK)
		log_warn("redis %s: link to %s lost: %s", link->name, link->address,
		         status == REDIS_OK ? "closed" : ac->errstr);
	set_state(link, REDIS_LINK_DOWN);
	schedule_reconnect(link);
}

static void set_state(struct redis_link *link, enum redis_link_state state)
{
	enum redis_link_state old = link->state;

	link->state = state;
	if (old == state || state == REDIS_LINK_CONNECTING)
		return;
	if (state == REDIS_LINK_UP) {
		link->ups++;
		log_info("redis link up: %s connected to %s", link->name, link->address);
	} else if (old == REDIS_LINK_UP) {
		log_warn("redis link down: %s lost %s; reconnecting with backoff", link->name, link->address);
	} else {
		return; /* CONNECTING -> DOWN: still down, nothing new to tell */
	}
	if (link->state_fn)
		link->state_fn(state, link->state_arg);
}

static void connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct redis_link *link = arg;
	redisAsyncContext *ac = link->ac;

	if (ac == NULL)
		return;
	if (link->logging_in) {
		log_warn("redis %s: %s did not answer AUTH within %u ms", link->name, link->address,
		         link->cfg.connect_timeout_ms);
		/* Connected: the free fails on_auth (NULL) and calls on_disconnect,
		 * which reconnects without a second message. */
		redisAsyncFree(ac);
		return;
	}
	log_warn("redis %s: connect to %s timed out after %u ms", link->name, link->address,
	         link->cfg.connect_timeout_ms);
	/* Not yet connected: hiredis 0.14 calls neither callback on this free. */
	link->ac = NULL;
	redisAsyncFree(ac);
	set_state(link, REDIS_LINK_DOWN);
	schedule_reconnect(link);
}

static void connect_now(struct redis_link *link)
{
	redisAsyncContext *ac;
	struct timeval tv;

	if (link->cfg.unix_path[0])
		ac = redisAsyncConnectUnix(link->cfg.unix_path);
	else
		ac = redisAsyncConnect(link->cfg.host, link->cfg.port);
	if (ac == NULL || ac->err) {
		log_warn("redis %s: cannot start connecting to %s: %s", link->name, link->address,
		         ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		set_state(link, REDIS_LINK_DOWN);
		schedule_reconnect(link);
		return;
	}
	ac->data = link;
	if (redisLibeventAttach(ac, link->base) != REDIS_OK) {
		log_error("redis %s: cannot attach to the event loop", link->name);
		redisAsyncFree(ac);
		set_state(link, REDIS_LINK_DOWN);
		schedule_reconnect(link);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	link->ac = ac;
	link->pending = 0;
	set_state(link, REDIS_LINK_CONNECTING);
	tv = ms_to_tv(link->cfg.connect_timeout_ms);
	event_add(link->connect_timer, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	connect_now(arg);
}

/* Outstanding commands and no reply for command_timeout_ms: Redis is not
 * answering (a dead peer without a reset looks exactly like this). */
static void liveness_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_link *link = arg;

	if (link->ac == NULL || link->state != REDIS_LINK_UP || link->pending == 0)
		return;
	if (now_ms() - link->last_progress_ms < link->cfg.command_timeout_ms)
		return;
	log_warn("redis %s: no reply from %s for %u ms with %u commands outstanding; dropping the link",
	         link->name, link->address, link->cfg.command_timeout_ms, link->pending);
	/* redisAsyncFree fails every pending callback (NULL reply) and then
	 * calls on_disconnect, which schedules the reconnect. */
	redisAsyncFree(link->ac);
}

struct redis_link *redis_link_new(struct event_base *base, const struct config_redis *cfg, const char *name)
{
	struct redis_link *link = calloc(1, sizeof(*link));
	struct timeval tv;

	if (link == NULL)
		return NULL;
	link->base = base;
	link->cfg = *cfg;
	snprintf(link->name, sizeof(link->name), "%s", name);
	if (cfg->unix_path[0])
		snprintf(link->address, sizeof(link->address), "unix:%s", cfg->unix_path);
	else if (strchr(cfg->host, ':'))
		snprintf(link->address, sizeof(link->address), "[%s]:%u", cfg->host, cfg->port);
	else
		snprintf(link->address, sizeof(link->address), "%s:%u", cfg->host, cfg->port);
	link->state = REDIS_LINK_DOWN;
	link->backoff_ms = cfg->reconnect_min_ms;
	link->retry_timer = evtimer_new(base, retry_cb, link);
	link->connect_timer = evtimer_new(base, connect_timeout, link);
	link->liveness_timer = event_new(base, -1, EV_PERSIST, liveness_cb, link);
	if (!link->retry_timer || !link->connect_timer || !link->liveness_timer) {
		redis_link_free(link);
		return NULL;
	}
	/* Check four times per timeout period: a hang is noticed within 1.25x. */
	tv = ms_to_tv(cfg->command_timeout_ms / 4 ? cfg->command_timeout_ms / 4 : 1);
	event_add(link->liveness_timer, &tv);
	return link;
}

void redis_link_set_state_callback(struct redis_link *link, redis_link_state_fn *fn, void *arg)
{
	link->state_fn = fn;
	link->state_arg = arg;
}

void redis_link_start(struct redis_link *link)
{
	connect_now(link);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct link_cmd *cmd = privdata;
	struct redis_link *link = cmd->link;

	link->pending--;
	link->last_progress_ms = now_ms();
	if (r != NULL)
		latency_observe(&link->latency, (double)(stats_now_ns() - cmd->sent_ns) / 1e9);
	cmd->fn(r, cmd->arg);
	free(cmd);
}

int redis_link_command(struct redis_link *link, redis_reply_fn *fn, void *arg, int argc, const char **argv,
                       const size_t *argvlen)
{
	struct link_cmd *cmd;

	if (link->state != REDIS_LINK_UP || link->ac == NULL)
		return -1;
	cmd = malloc(sizeof(*cmd));
	if (cmd == NULL)
		return -1;
	cmd->link = link;
	cmd->fn = fn;
	cmd->arg = arg;
	cmd->sent_ns = stats_now_ns();
	if (redisAsyncCommandArgv(link->ac, on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
		free(cmd);
		return -1;
	}
	if (link->pending++ == 0)
		link->last_progress_ms = now_ms();
	return 0;
}

enum redis_link_state redis_link_state(const struct redis_link *link)
{
	return link->state;
}

const char *redis_link_state_name(enum redis_link_state state)
{
	switch (state) {
	case REDIS_LINK_UP:
		return "up";
	case REDIS_LINK_CONNECTING:
		return "connecting";
	case REDIS_LINK_DOWN:
		break;
	}
	return "down";
}

const char *redis_link_address(const struct redis_link *link)
{
	return link->address;
}

unsigned redis_link_pending(const struct redis_link *link)
{
	return link->pending;
}

const struct latency_hist *redis_link_latency(const struct redis_link *link)
{
	return &link->latency;
}

uint64_t redis_link_reconnects(const struct redis_link *link)
{
	return link->ups ? link->ups - 1 : 0;
}

void redis_link_free(struct redis_link *link)
{
	if (link == NULL)
		return;
	link->freeing = true;
	if (link->ac) {
		redisAsyncContext *ac = link->ac;

		link->ac = NULL;
		redisAsyncFree(ac);
	}
	if (link->retry_timer)
		event_free(link->retry_timer);
	if (link->connect_timer)
		event_free(link->connect_timer);
	if (link->liveness_timer)
		event_free(link->liveness_timer);
	sodium_memzero(link->cfg.password, sizeof(link->cfg.password));
	free(link);
}
