#include "sentinel.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <sodium.h>

#include "log.h"

struct follower {
	sentinel_moved_fn *fn;
	void *arg;
};

/* The watcher: one subscribed connection to a Sentinel at a time. */
struct watcher {
	redisAsyncContext *ac;
	unsigned next;    /* position in the ask order of the Sentinel to try next */
	unsigned current; /* index into cfg.sentinels of the one connected to */
	bool subscribed;
	unsigned backoff_ms;
	struct event *retry, *connect_timer;
	char watching[SENTINEL_ADDR_TEXT];
};

struct sentinel {
	struct event_base *base;
	struct config_redis cfg; /* a copy: outlives reloads, like the links' */
	struct sentinel_order order;
	struct sentinel_query *queries; /* in flight, to cancel-check on free */
	struct follower followers[SENTINEL_MAX_FOLLOWERS];
	bool known;
	struct sentinel_addr master;
	char master_text[SENTINEL_ADDR_TEXT];
	uint64_t switches;
	struct watcher w;
	bool freeing;
};

struct sentinel_query {
	struct sentinel_query *next, *prev;
	struct sentinel *s;
	sentinel_answer_fn *fn;
	void *arg;
	struct sentinel_order order; /* a snapshot: promotions meanwhile do not reshuffle it */
	unsigned tried;
	unsigned current;
	redisAsyncContext *ac;
	struct event *deadline; /* connect, then reply */
	struct event *step;     /* the next attempt, off the hiredis stack */
	char err[600];
};

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

static void format_sentinel(const struct sentinel *s, unsigned index, char *out, size_t len)
{
	struct sentinel_addr a;

	snprintf(a.host, sizeof(a.host), "%s", s->cfg.sentinels[index].host);
	a.port = s->cfg.sentinels[index].port;
	sentinel_addr_format(&a, out, len);
}

/* Free a context from anywhere, its callbacks told it is no longer ours:
 * they find ac->data NULL and return.  Inside one of its own reply
 * callbacks hiredis defers the free until that callback returns. */
static void detach_free(redisAsyncContext *ac)
{
	if (ac == NULL)
		return;
	ac->data = NULL;
	redisAsyncFree(ac);
}

/* Connect to Sentinel `index` with data as the context's owner.  NULL
 * (reason in err) when it cannot even start. */
static redisAsyncContext *connect_sentinel(struct sentinel *s, unsigned index, void *data,
                                           redisConnectCallback *on_connect,
                                           redisDisconnectCallback *on_disconnect, char *err, size_t errlen)
{
	const struct config_sentinel *sn = &s->cfg.sentinels[index];
	redisAsyncContext *ac = redisAsyncConnect(sn->host, sn->port);

	if (ac == NULL || ac->err) {
		snprintf(err, errlen, "%s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return NULL;
	}
	ac->data = data;
	if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
		snprintf(err, errlen, "cannot attach to the event loop");
		detach_free(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

/* With redis.sentinel_password_file: AUTH [user] password, pipelined
 * ahead of the first question; on_auth sees whether it was accepted. */
static int login(const struct sentinel *s, redisAsyncContext *ac, redisCallbackFn *on_auth)
{
	const struct config_redis *c = &s->cfg;
	const char *argv[3] = {"AUTH", c->sentinel_user, c->sentinel_password};
	size_t argvlen[3] = {4, strlen(c->sentinel_user), strlen(c->sentinel_password)};

	if (!c->sentinel_password[0])
		return REDIS_OK;
	if (!c->sentinel_user[0])
		return redisAsyncCommandArgv(ac, on_auth, NULL, 2, (const char *[]){"AUTH", c->sentinel_password},
		                             (const size_t[]){4, argvlen[2]});
	return redisAsyncCommandArgv(ac, on_auth, NULL, 3, argv, argvlen);
}

/* ---- what is known about the master ---- */

static void tell_followers(struct sentinel *s)
{
	for (size_t i = 0; i < SENTINEL_MAX_FOLLOWERS; i++)
		if (s->followers[i].fn)
			s->followers[i].fn(&s->master, s->followers[i].arg);
}

/* A Sentinel named the master.  A different master than the last one known
 * is a move: the followers connected elsewhere must leave. */
static void learned(struct sentinel *s, const struct sentinel_addr *m, const char *from)
{
	char text[SENTINEL_ADDR_TEXT];
	bool moved;

	if (s->known && sentinel_addr_equal(&s->master, m))
		return;
	moved = s->known;
	sentinel_addr_format(m, text, sizeof(text));
	if (moved)
		log_warn("redis: master '%s' is now %s (was %s; from Sentinel %s)", s->cfg.master_name, text,
		         s->master_text, from);
	else
		log_info("redis: master '%s' is %s (from Sentinel %s)", s->cfg.master_name, text, from);
	s->master = *m;
	s->known = true;
	snprintf(s->master_text, sizeof(s->master_text), "%s", text);
	if (moved)
		tell_followers(s);
}

/* ---- asking for the master ---- */

static void query_unlink(struct sentinel_query *q)
{
	struct sentinel *s = q->s;

	if (q->prev)
		q->prev->next = q->next;
	else if (s->queries == q)
		s->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

static void query_free(struct sentinel_query *q)
{
	detach_free(q->ac);
	q->ac = NULL;
	if (q->deadline)
		event_free(q->deadline);
	if (q->step)
		event_free(q->step);
	free(q);
}

/* The end of a query: free it first, so fn may ask again or free its owner. */
static void deliver(struct sentinel_query *q, const struct sentinel_addr *m)
{
	sentinel_answer_fn *fn = q->fn;
	void *arg = q->arg;
	char err[sizeof(q->err)];
	struct sentinel_addr master;

	query_unlink(q);
	snprintf(err, sizeof(err), "%s", q->err);
	if (m) {
		char from[SENTINEL_ADDR_TEXT];

		master = *m;
		format_sentinel(q->s, q->current, from, sizeof(from));
		sentinel_order_promote(&q->s->order, q->current);
		learned(q->s, &master, from);
	}
	query_free(q);
	fn(m ? &master : NULL, m ? NULL : err, arg);
}

/* This Sentinel did not answer usefully: note why and try the next. */
__attribute__((format(printf, 2, 3))) static void attempt_failed(struct sentinel_query *q, const char *fmt,
                                                                 ...)
{
	char where[SENTINEL_ADDR_TEXT], detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	format_sentinel(q->s, q->current, where, sizeof(where));
	snprintf(q->err, sizeof(q->err), "Sentinel %.300s: %s", where, detail);
	log_debug("redis: %s", q->err);
	event_del(q->deadline);
	if (q->ac) {
		detach_free(q->ac);
		q->ac = NULL;
	}
	event_active(q->step, EV_TIMEOUT, 0);
}

static void query_on_answer(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel_query *q = ac->data;
	struct sentinel_addr m;
	char why[256];

	if (q == NULL || reply == NULL)
		return; /* detached, or the connection dropped: query_on_disconnect follows */
	if (!sentinel_parse_master_addr(reply, &m, why, sizeof(why))) {
		attempt_failed(q, "%s", why);
		return;
	}
	event_del(q->deadline);
	detach_free(q->ac); /* deferred by hiredis until we return */
	q->ac = NULL;
	deliver(q, &m);
}

static void query_on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel_query *q = ac->data;
	const redisReply *r = reply;

	if (q == NULL || r == NULL || r->type != REDIS_REPLY_ERROR)
		return; /* accepted; or detached, or dropped: query_on_disconnect follows */
	attempt_failed(q, "login refused: %.*s", (int)r->len, r->str);
}

static void query_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct sentinel_query *q = ac->data;
	struct timeval tv;

	if (q == NULL)
		return;
	if (status != REDIS_OK) {
		q->ac = NULL; /* hiredis frees it after this callback */
		ac->data = NULL;
		attempt_failed(q, "cannot connect: %s", ac->errstr);
		return;
	}
	if (login(q->s, ac, query_on_auth) != REDIS_OK ||
	    redisAsyncCommand(ac, query_on_answer, NULL, "SENTINEL get-master-addr-by-name %s",
	                      q->s->cfg.master_name) != REDIS_OK) {
		attempt_failed(q, "%s", "cannot send the question");
		return;
	}
	tv = ms_tv(q->s->cfg.command_timeout_ms);
	event_add(q->deadline, &tv);
}

static void query_on_disconnect(const redisAsyncContext *cac, int status)
{
	struct sentinel_query *q = cac->data;

	if (q == NULL)
		return;
	q->ac = NULL;
	attempt_failed(q, "connection lost: %s", status == REDIS_OK ? "closed" : cac->errstr);
}

static void query_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel_query *q = arg;
	bool connected = q->ac && (q->ac->c.flags & REDIS_CONNECTED);

	attempt_failed(q, "no answer within %u ms",
	               connected ? q->s->cfg.command_timeout_ms : q->s->cfg.connect_timeout_ms);
}

static void query_step(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel_query *q = arg;
	char err[256];
	struct timeval tv;

	if (q->tried == q->order.n) {
		deliver(q, NULL);
		return;
	}
	q->current = q->order.at[q->tried++];
	q->ac =
	    connect_sentinel(q->s, q->current, q, query_on_connect, query_on_disconnect, err, sizeof(err));
	if (q->ac == NULL) {
		attempt_failed(q, "cannot connect: %s", err);
		return;
	}
	tv = ms_tv(q->s->cfg.connect_timeout_ms);
	event_add(q->deadline, &tv);
}

struct sentinel_query *sentinel_ask(struct sentinel *s, sentinel_answer_fn *fn, void *arg)
{
	struct sentinel_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->s = s;
	q->fn = fn;
	q->arg = arg;
	q->order = s->order;
	snprintf(q->err, sizeof(q->err), "no Sentinel configured");
	q->deadline = evtimer_new(s->base, query_on_deadline, q);
	q->step = evtimer_new(s->base, query_step, q);
	if (q->deadline == NULL || q->step == NULL) {
		query_free(q);
		return NULL;
	}
	q->next = s->queries;
	if (q->next)
		q->next->prev = q;
	s->queries = q;
	event_active(q->step, EV_TIMEOUT, 0);
	return q;
}

void sentinel_query_cancel(struct sentinel_query *q)
{
	if (q == NULL)
		return;
	query_unlink(q);
	query_free(q);
}

/* ---- the +switch-master watcher ---- */

static void watch_connect(struct sentinel *s);

static void watch_retry_later(struct sentinel *s)
{
	struct watcher *w = &s->w;
	struct timeval tv;
	unsigned delay;

	if (s->freeing)
		return;
	w->subscribed = false;
	w->watching[0] = '\0';
	delay = w->backoff_ms + (unsigned)(rand() % (int)(w->backoff_ms / 4 + 1));
	w->backoff_ms =
	    w->backoff_ms * 2 > s->cfg.reconnect_max_ms ? s->cfg.reconnect_max_ms : w->backoff_ms * 2;
	tv = ms_tv(delay);
	event_add(w->retry, &tv);
}

static void watch_on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel *s = ac->data;
	const redisReply *r = reply;
	struct sentinel_addr from, to;
	char from_text[SENTINEL_ADDR_TEXT], to_text[SENTINEL_ADDR_TEXT];

	if (s == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return; /* detached, or the connection dropped */
	if (strcmp(r->element[0]->str, "subscribe") == 0) {
		s->w.subscribed = true;
		s->w.backoff_ms = s->cfg.reconnect_min_ms;
		sentinel_order_promote(&s->order, s->w.current);
		log_info("redis: watching Sentinel %s for +switch-master of '%s'", s->w.watching,
		         s->cfg.master_name);
		return;
	}
	if (strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
		return;
	if (!sentinel_parse_switch(r->element[2]->str, r->element[2]->len, s->cfg.master_name, &from, &to))
		return; /* another master's, or a format we do not know */
	sentinel_addr_format(&from, from_text, sizeof(from_text));
	sentinel_addr_format(&to, to_text, sizeof(to_text));
	s->switches++;
	log_warn("redis: switch-master '%s' from %s to %s (Sentinel %s)", s->cfg.master_name, from_text,
	         to_text, s->w.watching);
	learned(s, &to, s->w.watching);
}

/* First the master as this Sentinel sees it (a switch may have happened
 * while nobody watched), then SUBSCRIBE: hiredis 0.14 cannot tell a plain
 * reply from a message once a SUBSCRIBE is queued, so not pipelined. */
static void watch_on_master(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel *s = ac->data;
	struct sentinel_addr m;
	char why[256];

	if (s == NULL || reply == NULL)
		return;
	if (sentinel_parse_master_addr(reply, &m, why, sizeof(why)))
		learned(s, &m, s->w.watching);
	else
		log_warn("redis: Sentinel %s: no master '%s': %s", s->w.watching, s->cfg.master_name, why);
	if (redisAsyncCommand(ac, watch_on_message, NULL, "SUBSCRIBE +switch-master") != REDIS_OK)
		log_warn("redis: cannot subscribe to +switch-master on Sentinel %s", s->w.watching);
}

static void watch_on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel *s = ac->data;
	const redisReply *r = reply;

	if (s == NULL || r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	log_warn("redis: Sentinel %s refused the login: %.*s", s->w.watching, (int)r->len, r->str);
	detach_free(s->w.ac);
	s->w.ac = NULL;
	watch_retry_later(s);
}

static void watch_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct sentinel *s = ac->data;
	struct watcher *w;

	if (s == NULL)
		return;
	w = &s->w;
	event_del(w->connect_timer);
	if (status != REDIS_OK) {
		w->ac = NULL; /* hiredis frees it after this callback */
		ac->data = NULL;
		log_debug("redis: cannot watch Sentinel %s: %s", w->watching, ac->errstr);
		watch_retry_later(s);
		return;
	}
	/* A dead Sentinel that never resets the connection is found by TCP keepalive. */
	redisEnableKeepAlive(&ac->c);
	if (login(s, ac, watch_on_auth) != REDIS_OK ||
	    redisAsyncCommand(ac, watch_on_master, NULL, "SENTINEL get-master-addr-by-name %s",
	                      s->cfg.master_name) != REDIS_OK)
		log_warn("redis: cannot ask Sentinel %s for the master", w->watching);
}

static void watch_on_disconnect(const redisAsyncContext *cac, int status)
{
	struct sentinel *s = cac->data;

	if (s == NULL)
		return;
	s->w.ac = NULL;
	log_warn("redis: lost the watch on Sentinel %s: %s; trying the next Sentinel", s->w.watching,
	         status == REDIS_OK ? "closed" : cac->errstr);
	watch_retry_later(s);
}

static void watch_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel *s = arg;

	log_debug("redis: Sentinel %s did not accept within %u ms", s->w.watching, s->cfg.connect_timeout_ms);
	detach_free(s->w.ac);
	s->w.ac = NULL;
	watch_retry_later(s);
}

static void watch_connect(struct sentinel *s)
{
	struct watcher *w = &s->w;
	char err[256];
	struct timeval tv;

	if (s->freeing || w->ac)
		return;
	/* The first try goes to the Sentinel that answered last; then round the list. */
	w->current = s->order.at[w->next++ % s->order.n];
	format_sentinel(s, w->current, w->watching, sizeof(w->watching));
	w->ac = connect_sentinel(s, w->current, s, watch_on_connect, watch_on_disconnect, err, sizeof(err));
	if (w->ac == NULL) {
		log_debug("redis: cannot watch Sentinel %s: %s", w->watching, err);
		watch_retry_later(s);
		return;
	}
	tv = ms_tv(s->cfg.connect_timeout_ms);
	event_add(w->connect_timer, &tv);
}

static void watch_retry(evutil_socket_t fd, short what, void *arg)
{
	watch_connect(arg);
}

/* ---- life ---- */

struct sentinel *sentinel_new(struct event_base *base, const struct config_redis *cfg)
{
	struct sentinel *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->base = base;
	s->cfg = *cfg;
	sentinel_order_init(&s->order, (unsigned)cfg->n_sentinels);
	s->w.backoff_ms = cfg->reconnect_min_ms;
	s->w.retry = evtimer_new(base, watch_retry, s);
	s->w.connect_timer = evtimer_new(base, watch_connect_timeout, s);
	if (s->order.n == 0 || s->w.retry == NULL || s->w.connect_timer == NULL) {
		sentinel_free(s);
		return NULL;
	}
	return s;
}

void sentinel_start(struct sentinel *s)
{
	s->w.next = 0;
	watch_connect(s);
}

void sentinel_free(struct sentinel *s)
{
	if (s == NULL)
		return;
	s->freeing = true;
	/* Queries belong to links, which cancel them; any left is a bug, but
	 * must not outlive us. */
	while (s->queries) {
		struct sentinel_query *q = s->queries;

		query_unlink(q);
		query_free(q);
	}
	detach_free(s->w.ac);
	sodium_memzero(s->cfg.password, sizeof(s->cfg.password));
	sodium_memzero(s->cfg.sentinel_password, sizeof(s->cfg.sentinel_password));
	if (s->w.retry)
		event_free(s->w.retry);
	if (s->w.connect_timer)
		event_free(s->w.connect_timer);
	free(s);
}

int sentinel_follow(struct sentinel *s, sentinel_moved_fn *fn, void *arg)
{
	for (size_t i = 0; i < SENTINEL_MAX_FOLLOWERS; i++)
		if (s->followers[i].fn == NULL) {
			s->followers[i] = (struct follower){fn, arg};
			return 0;
		}
	return -1;
}

void sentinel_unfollow(struct sentinel *s, void *arg)
{
	for (size_t i = 0; i < SENTINEL_MAX_FOLLOWERS; i++)
		if (s->followers[i].arg == arg)
			s->followers[i] = (struct follower){NULL, NULL};
}

const char *sentinel_master_name(const struct sentinel *s)
{
	return s->cfg.master_name;
}

const char *sentinel_master_text(const struct sentinel *s)
{
	return s->master_text;
}

const char *sentinel_watching(const struct sentinel *s)
{
	return s->w.subscribed ? s->w.watching : "";
}

uint64_t sentinel_switches(const struct sentinel *s)
{
	return s->switches;
}
