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
#include "sentinel.h"

struct redis_link {
	struct event_base *base;
	struct config_redis cfg; /* a copy: the link outlives config reloads */
	char name[32];
	char address[300];

	redisAsyncContext *ac;
	enum redis_link_state state;
	bool freeing;
	bool logging_in;  /* connected, AUTH sent, not yet answered */
	bool asking_role; /* (Sentinel) logged in, ROLE sent, not yet answered */

	/* With Redis Sentinel: the address comes from the Sentinels, and a
	 * connection is UP only once ROLE says master. */
	struct sentinel *sentinel;
	struct sentinel_query *query;

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

static void on_role(redisAsyncContext *ac, void *reply, void *privdata);

/* Give up this connection (a timeout, a replica, a moved master) and try
 * again after the backoff.  Its callbacks find ac->data NULL and stay out;
 * commands still pending get their NULL reply.  Safe inside one of the
 * context's own reply callbacks: hiredis then defers the free. */
static void drop(struct redis_link *link)
{
	redisAsyncContext *ac = link->ac;

	event_del(link->connect_timer);
	link->ac = NULL;
	link->logging_in = link->asking_role = false;
	if (ac) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	set_state(link, REDIS_LINK_DOWN);
	schedule_reconnect(link);
}

static void link_ready(struct redis_link *link)
{
	event_del(link->connect_timer);
	link->logging_in = link->asking_role = false;
	link->failed_attempts = 0;
	link->backoff_ms = link->cfg.reconnect_min_ms;
	set_state(link, REDIS_LINK_UP);
}

/* Logged in (or no login configured).  With Sentinels the connection must
 * first show it reached the master: the Sentinels' answer may be stale.
 * ROLE runs as the configured user, so the ACL must allow it. */
static void logged_in(struct redis_link *link)
{
	struct timeval tv = ms_to_tv(link->cfg.command_timeout_ms);

	link->logging_in = false;
	if (link->sentinel == NULL) {
		link_ready(link);
		return;
	}
	/* Not drop() on failure: this may run inside hiredis's connect
	 * callback, where the context must not be freed; the timer drops it. */
	if (redisAsyncCommand(link->ac, on_role, NULL, "ROLE") != REDIS_OK)
		log_warn("redis %s: cannot ask %s for its ROLE", link->name, link->address);
	link->asking_role = true;
	event_del(link->connect_timer);
	event_add(link->connect_timer, &tv); /* its timeout drops the connection */
}

/* The link is up only once Redis accepted the login: every command the
 * daemon sends then runs with the configured user's ACL. */
static void on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_link *link = ac->data;
	const redisReply *reply = r;

	(void)privdata;
	if (link == NULL || reply == NULL)
		return; /* dropped, or the connection went first: on_disconnect reconnects */
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
	logged_in(link);
}

static int send_auth(struct redis_link *link, redisAsyncContext *ac)
{
	const char *argv[3] = {"AUTH", link->cfg.user, link->cfg.password};
	size_t argvlen[3] = {4, strlen(link->cfg.user), strlen(link->cfg.password)};

	link->logging_in = true;
	if (link->cfg.user[0])
		return redisAsyncCommandArgv(ac, on_auth, NULL, 3, argv, argvlen);
	return redisAsyncCommandArgv(ac, on_auth, NULL, 2, (const char *[]){"AUTH", link->cfg.password},
	                             (size_t[]){4, argvlen[2]});
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_link *link = ac->data;

	if (link == NULL)
		return;
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
		logged_in(link);
		return;
	}
	/* The connect timer keeps running: it bounds the login too. */
	if (send_auth(link, link->ac) != REDIS_OK) {
		log_error("redis %s: cannot send AUTH to %s", link->name, link->address);
		redisAsyncDisconnect(link->ac);
	}
}

static void on_role(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_link *link = ac->data;
	char role[64];

	(void)privdata;
	if (link == NULL || reply == NULL)
		return; /* detached, or dropped: on_disconnect tells */
	if (((const redisReply *)reply)->type == REDIS_REPLY_ERROR) {
		/* Most likely an ACL without +role (config/redis-acl.md). */
		if (link->failed_attempts++ == 0 || log_enabled(LOG_LEVEL_DEBUG))
			log_error("redis %s: %s refused ROLE to %s: %s; a master is only used once ROLE says so",
			          link->name, link->address, link->cfg.user[0] ? link->cfg.user : "the default user",
			          ((const redisReply *)reply)->str);
		drop(link);
		return;
	}
	if (!sentinel_role_is_master(reply, role, sizeof(role))) {
		if (link->failed_attempts++ == 0 || log_enabled(LOG_LEVEL_DEBUG))
			log_warn("redis %s: %s is not the master (ROLE: %s); asking the Sentinels again",
			         link->name, link->address, role);
		drop(link);
		return;
	}
	link_ready(link);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_link *link = ac->data;
	bool was_logging_in;

	if (link == NULL)
		return; /* dropped: drop() already rescheduled */
	was_logging_in = link->logging_in;
	link->ac = NULL;
	link->logging_in = link->asking_role = false;
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

	if (link->ac == NULL)
		return;
	if (link->logging_in)
		log_warn("redis %s: %s did not answer AUTH within %u ms", link->name, link->address,
		         link->cfg.connect_timeout_ms);
	else if (link->asking_role)
		log_warn("redis %s: %s did not answer ROLE within %u ms", link->name, link->address,
		         link->cfg.command_timeout_ms);
	else
		log_warn("redis %s: connect to %s timed out after %u ms", link->name, link->address,
		         link->cfg.connect_timeout_ms);
	/* Connected or not, drop() detaches first: no callback reports it again. */
	drop(link);
}

static void set_address(struct redis_link *link)
{
	if (link->cfg.unix_path[0])
		snprintf(link->address, sizeof(link->address), "unix:%s", link->cfg.unix_path);
	else if (strchr(link->cfg.host, ':'))
		snprintf(link->address, sizeof(link->address), "[%s]:%u", link->cfg.host, link->cfg.port);
	else if (link->cfg.host[0])
		snprintf(link->address, sizeof(link->address), "%s:%u", link->cfg.host, link->cfg.port);
	else
		snprintf(link->address, sizeof(link->address), "master '%s' (Sentinel)",
		         link->cfg.master_name);
}

static void connect_to_address(struct redis_link *link);

static void on_master(const struct sentinel_addr *m, const char *err, void *arg)
{
	struct redis_link *link = arg;

	link->query = NULL;
	if (m == NULL) {
		if (link->failed_attempts++ == 0 || log_enabled(LOG_LEVEL_DEBUG))
			log_warn("redis %s: no Sentinel named master '%s': %s", link->name,
			         link->cfg.master_name, err);
		set_state(link, REDIS_LINK_DOWN);
		schedule_reconnect(link);
		return;
	}
	snprintf(link->cfg.host, sizeof(link->cfg.host), "%s", m->host);
	link->cfg.port = m->port;
	set_address(link);
	connect_to_address(link);
}

static void connect_now(struct redis_link *link)
{
	if (link->sentinel == NULL) {
		connect_to_address(link);
		return;
	}
	if (link->query)
		return;
	set_state(link, REDIS_LINK_CONNECTING);
	link->query = sentinel_ask(link->sentinel, on_master, link);
	if (link->query == NULL) {
		log_error("redis %s: out of memory asking the Sentinels", link->name);
		set_state(link, REDIS_LINK_DOWN);
		schedule_reconnect(link);
	}
}

static void connect_to_address(struct redis_link *link)
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
	set_address(link);
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

/* The Sentinels say our master moved: a connection elsewhere (the old
 * master may live on as a replica) is left at once for the new one. */
static void on_master_moved(const struct sentinel_addr *m, void *arg)
{
	struct redis_link *link = arg;
	bool here = link->cfg.port == m->port && strcmp(link->cfg.host, m->host) == 0;

	if (link->query || link->freeing)
		return; /* asking right now: the answer will be the new master */
	link->backoff_ms = link->cfg.reconnect_min_ms;
	if (link->ac == NULL) {
		event_del(link->retry_timer);
		connect_now(link);
		return;
	}
	if (here)
		return;
	log_warn("redis %s: leaving %s: the master moved", link->name, link->address);
	drop(link);
}

int redis_link_use_sentinel(struct redis_link *link, struct sentinel *s)
{
	if (sentinel_follow(s, on_master_moved, link) != 0)
		return -1;
	link->sentinel = s;
	return 0;
}

void redis_link_start(struct redis_link *link)
{
	connect_now(link);
}

static bool is_readonly(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct link_cmd *cmd = privdata;
	struct redis_link *link = cmd->link;

	link->pending--;
	link->last_progress_ms = now_ms();
	if (r != NULL)
		latency_observe(&link->latency, (double)(stats_now_ns() - cmd->sent_ns) / 1e9);
	/* A replica refused the write: the master moved under us (a failover
	 * we have not heard of yet).  Nothing was written, so the caller gets
	 * what a lost link gives, and the link goes to find the master. */
	if (is_readonly(r) && link->ac == ac) {
		log_warn("redis %s: %s is a read-only replica now; reconnecting", link->name, link->address);
		cmd->fn(NULL, cmd->arg);
		free(cmd);
		drop(link);
		return;
	}
	cmd->fn(is_readonly(r) ? NULL : r, cmd->arg);
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
	if (link->sentinel)
		sentinel_unfollow(link->sentinel, link);
	sentinel_query_cancel(link->query);
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
	sodium_memzero(link->cfg.sentinel_password, sizeof(link->cfg.sentinel_password));
	free(link);
}
