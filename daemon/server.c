#include "server.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "addr_throttle.h"
#include "durability.h"
#include "journal.h"
#include "keys.h"
#include "listener.h"
#include "log.h"
#include "loss.h"
#include "metrics.h"
#include "notify.h"
#include "pwhash_pool.h"
#include "redis_link.h"
#include "secret_hash.h"
#include "sentinel.h"
#include "sla.h"
#include "spooler.h"
#include "tail.h"
#include "tls.h"

/* How long a SIGTERM drain may take before the remaining clients are cut. */
#define DRAIN_DEADLINE_S 10
#define PWHASH_THREADS 2
/* Source addresses whose failed AUTHs are remembered: 4096 x 48 bytes plus
 * the buckets, about 210 KiB, fixed; the least recently failed address is
 * forgotten when a new one needs room. */
#define AUTH_THROTTLE_ADDRS 4096

static void reap(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv->reap)) != NULL) {
		TAILQ_REMOVE(&srv->reap, c, entry);
		conn_free(c);
	}
}

/* Runs after the other callbacks of the loop iteration that queued work. */
static void flush_queued(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv->flushq)) != NULL) {
		TAILQ_REMOVE(&srv->flushq, c, flush_entry);
		c->flush_queued = false;
		conn_flush(c);
	}
}

void server_schedule_flush(struct server *srv, struct conn *c)
{
	if (c->flush_queued || c->closed)
		return;
	c->flush_queued = true;
	TAILQ_INSERT_TAIL(&srv->flushq, c, flush_entry);
	event_active(srv->flusher, EV_TIMEOUT, 0);
}

static void finish_if_drained(struct server *srv)
{
	if (srv->shutting_down && TAILQ_EMPTY(&srv->conns))
		event_base_loopexit(srv->base, NULL);
}

void server_conn_closed(struct server *srv, struct conn *c)
{
	if (c->flush_queued) {
		TAILQ_REMOVE(&srv->flushq, c, flush_entry);
		c->flush_queued = false;
	}
	TAILQ_REMOVE(&srv->conns, c, entry);
	TAILQ_INSERT_TAIL(&srv->reap, c, entry);
	srv->stats.conn_current--;
	event_active(srv->reaper, EV_TIMEOUT, 0);
	finish_if_drained(srv);
}

void server_conn_idle(struct server *srv, struct conn *c)
{
	if (srv->shutting_down)
		conn_say_goodbye(c, "shutdown");
}

/* Settings that are bound at start (sockets, the Redis link) keep their
 * running values; say so rather than silently ignoring the change. */
static void keep_restart_only_settings(const struct config *old, struct config *fresh)
{
	if (fresh->n_listen != old->n_listen || memcmp(fresh->listen, old->listen, sizeof(old->listen)) != 0)
		log_warn("reload: 'listen' changed; it takes effect at the next restart");
	if (memcmp(&fresh->redis, &old->redis, sizeof(old->redis)) != 0)
		log_warn("reload: 'redis' changed; it takes effect at the next restart");
	if (memcmp(&fresh->tls.listen, &old->tls.listen, sizeof(old->tls.listen)) != 0)
		log_warn("reload: 'tls.listen' changed; it takes effect at the next restart");
	if (memcmp(&fresh->metrics.listen, &old->metrics.listen, sizeof(old->metrics.listen)) != 0)
		log_warn("reload: 'metrics.listen' changed; it takes effect at the next restart");
	memcpy(fresh->listen, old->listen, sizeof(old->listen));
	fresh->n_listen = old->n_listen;
	fresh->tls.listen = old->tls.listen;
	fresh->metrics.listen = old->metrics.listen;
	fresh->redis = old->redis;
}

static void reload(struct server *srv)
{
	char err[1024];
	struct config *fresh, *old = srv->cfg;
	struct conn *c, *next;

	notify_reloading();
	fresh = config_load(old->path, err, sizeof(err));
	if (fresh == NULL) {
		log_error("reload failed, keeping the running config: %s", err);
		notify_ready("reload failed; running with the previous config");
		return;
	}
	keep_restart_only_settings(old, fresh);
	/* New connections get the new certificate; on failure the old one stays. */
	if (srv->tls)
		tls_reload(srv->tls, &fresh->tls);
	if (!sla_use_timezone(fresh->sla.calendar.timezone))
		log_warn("reload: cannot use time zone '%s' for the SLA calendar", fresh->sla.calendar.timezone);
	srv->cfg = fresh;
	log_set_level(fresh->log_level);
	pwhash_pool_set_max_queued(srv->pwhash, fresh->limits.max_auth_inflight);

	/* Sessions of users who were removed or changed role follow the new file. */
	TAILQ_FOREACH_SAFE(c, &srv->conns, entry, next) {
		const struct config_user *u;

		if (c->role == ROLE_NONE) {
			conn_apply_limits(c);
			continue;
		}
		u = config_find_user(fresh, c->user);
		if (u == NULL) {
			conn_say_goodbye(c, "user removed from the configuration");
			continue;
		}
		c->role = u->role;
		conn_apply_limits(c);
	}
	config_free(old);
	log_info("reloaded config from %s (%zu users, log level %s)", fresh->path, fresh->n_users,
	         log_level_name(fresh->log_level));
	notify_ready("running");
}

static void start_drain(struct server *srv, const char *signame)
{
	struct conn *c, *next;
	struct timeval tv = {.tv_sec = DRAIN_DEADLINE_S};

	log_info("%s received: stopping; finishing in-flight requests", signame);
	notify_stopping();
	srv->shutting_down = true;
	for (size_t i = 0; i < srv->n_listeners; i++)
		listener_free(srv->listeners[i]);
	srv->n_listeners = 0;
	listener_free(srv->tls_listener);
	srv->tls_listener = NULL;
	TAILQ_FOREACH_SAFE(c, &srv->conns, entry, next) {
		bufferevent_disable(c->bev, EV_READ);
		if (c->n_pending == 0)
			conn_say_goodbye(c, "shutdown");
	}
	event_add(srv->drain_deadline, &tv);
	finish_if_drained(srv);
}

static void drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c, *next;

	log_warn("drain deadline (%d s) passed; closing the remaining connections", DRAIN_DEADLINE_S);
	TAILQ_FOREACH_SAFE(c, &srv->conns, entry, next) {
		conn_close(c, "shutdown deadline");
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	if (sig == SIGHUP) {
		if (!srv->shutting_down) {
			reload(srv);
			durability_recheck(srv->durability);
		}
		return;
	}
	if (srv->shutting_down) {
		log_warn("second %s: exiting now", sig == SIGINT ? "SIGINT" : "SIGTERM");
		srv->exit_code = 1;
		event_base_loopbreak(srv->base);
		return;
	}
	start_drain(srv, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_client_named(redisReply *r, void *arg)
{
	if (r && r->type == REDIS_REPLY_ERROR)
		log_warn("redis: CLIENT SETNAME refused: %.*s", (int)r->len, r->str);
}

/* "hotlined:<host>:<pid>", the name of the writing Redis connection, so
 * CLIENT LIST shows which instances write (hotline replay --rebuild
 * refuses to run beside them).  A client name may not contain spaces: the
 * host name is reduced to [A-Za-z0-9.-]. */
static void make_instance_name(struct server *srv)
{
	char host[64] = "";

	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			*p = '_';
	snprintf(srv->instance_name, sizeof(srv->instance_name), "%s:%s:%ld", KEY_WRITER_CLIENT_NAME,
	         host[0] ? host : "unknown", (long)getpid());
}

static void name_redis_link(struct server *srv)
{
	if (redis_link_command(srv->redis, on_client_named, NULL, 3,
	                       (const char *[]){"CLIENT", "SETNAME", srv->instance_name}, NULL) != 0)
		log_warn("redis: cannot queue CLIENT SETNAME");
}

static void on_redis_state(enum redis_link_state state, void *arg)
{
	struct server *srv = arg;

	if (state == REDIS_LINK_UP) {
		name_redis_link(srv);
		durability_link_up(srv->durability);
		journal_link_up(srv->journal);
		loss_check(srv->loss);
		spooler_link_up(srv->spooler);
	}
}

static int make_dummy_hash(struct server *srv)
{
	unsigned char random_secret[32];
	char hash[SECRET_HASH_MAX];

	randombytes_buf(random_secret, sizeof(random_secret));
	if (secret_hash((const char *)random_secret, sizeof(random_secret), hash) != 0)
		return -1;
	snprintf(srv->dummy_hash, sizeof(srv->dummy_hash), "%s", hash);
	return 0;
}

/* Keyed afresh each run, so its buckets cannot be predicted from outside. */
static struct addr_throttle *new_auth_throttle(void)
{
	unsigned char hash_key[ADDR_THROTTLE_HASH_KEY_BYTES];

	randombytes_buf(hash_key, sizeof(hash_key));
	return addr_throttle_new(AUTH_THROTTLE_ADDRS, hash_key);
}

/* With epoll, libevent applies interest changes when it next waits, and
 * an add and a delete of the same event in one loop iteration cancel out.
 * hiredis's adapter re-adds its one-shot read event after every reply and
 * toggles its write event per batch of commands; without the changelist
 * each of those is an epoll_ctl system call (several per request).  The
 * changelist's one caveat is file descriptors cloned with dup(), which the
 * daemon never makes. */
static struct event_base *new_event_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

struct server *server_new(struct config *cfg)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		config_free(cfg);
		return NULL;
	}
	srv->cfg = cfg;
	TAILQ_INIT(&srv->conns);
	/* SLA deadlines in business hours are computed in the calendar's zone;
	 * log timestamps stay UTC. */
	if (!sla_use_timezone(cfg->sla.calendar.timezone))
		log_warn("cannot use time zone '%s' for the SLA calendar; using UTC", cfg->sla.calendar.timezone);
	TAILQ_INIT(&srv->reap);
	TAILQ_INIT(&srv->flushq);
	srv->stats.started_monotonic_ms = stats_now_ms();
	make_instance_name(srv);
	if (sodium_init() < 0 || make_dummy_hash(srv) != 0) {
		log_error("libsodium initialisation failed");
		goto fail;
	}
	srv->base = new_event_base();
	if (srv->base == NULL) {
		log_error("cannot create the event loop");
		goto fail;
	}
	srv->reaper = event_new(srv->base, -1, 0, reap, srv);
	srv->flusher = event_new(srv->base, -1, 0, flush_queued, srv);
	srv->drain_deadline = evtimer_new(srv->base, drain_deadline, srv);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, on_signal, srv);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	if (!srv->reaper || !srv->flusher || !srv->drain_deadline || !srv->sig_hup || !srv->sig_term || !srv->sig_int ||
	    event_add(srv->sig_hup, NULL) || event_add(srv->sig_term, NULL) || event_add(srv->sig_int, NULL)) {
		log_error("cannot set up signal handling");
		goto fail;
	}
	srv->pwhash = pwhash_pool_new(srv->base, PWHASH_THREADS, cfg->limits.max_auth_inflight);
	if (srv->pwhash == NULL)
		goto fail;
	srv->auth_throttle = new_auth_throttle();
	if (srv->auth_throttle == NULL) {
		log_error("out of memory for the failed-login table");
		goto fail;
	}
	if (cfg->redis.n_sentinels > 0) {
		srv->sentinel = sentinel_new(srv->base, &cfg->redis);
		if (srv->sentinel == NULL) {
			log_error("cannot set up Redis Sentinel");
			goto fail;
		}
	}
	srv->redis = redis_link_new(srv->base, &cfg->redis, "main");
	if (srv->redis && srv->sentinel && redis_link_use_sentinel(srv->redis, srv->sentinel) != 0) {
		log_error("cannot follow the Redis master");
		goto fail;
	}
	srv->journal = journal_new(srv);
	srv->loss = loss_new(srv);
	srv->spooler = srv->journal ? spooler_new(srv) : NULL;
	srv->tailer = srv->redis ? tailer_new(srv) : NULL;
	srv->durability = durability_new(srv);
	if (srv->redis == NULL || srv->journal == NULL || srv->loss == NULL || srv->spooler == NULL ||
	    srv->tailer == NULL || srv->durability == NULL) {
		log_error("cannot create the Redis link");
		goto fail;
	}
	redis_link_set_state_callback(srv->redis, on_redis_state, srv);
	for (size_t i = 0; i < cfg->n_listen; i++) {
		srv->listeners[i] = listener_new(srv, &cfg->listen[i]);
		if (srv->listeners[i] == NULL)
			goto fail;
		srv->n_listeners++;
	}
	/* After the plaintext listeners: tests take the first "listening on"
	 * lines as the plaintext ports. */
	if (cfg->tls.listen.enabled) {
		srv->tls = tls_new(&cfg->tls);
		srv->tls_listener = srv->tls ? listener_new_tls(srv, &cfg->tls.listen.addr, srv->tls) : NULL;
		if (srv->tls_listener == NULL)
			goto fail;
	}
	if (cfg->metrics.listen.enabled) {
		srv->metrics = metrics_new(srv, &cfg->metrics.listen);
		if (srv->metrics == NULL)
			goto fail;
	}
	return srv;
fail:
	server_free(srv);
	return NULL;
}

int server_run(struct server *srv)
{
	char status[128];

	if (srv->sentinel)
		sentinel_start(srv->sentinel);
	redis_link_start(srv->redis);
	tailer_start(srv->tailer);
	srv->watchdog = notify_watchdog_start(srv->base);
	snprintf(status, sizeof(status), "serving %zu listener(s)",
	         srv->n_listeners + (srv->tls_listener != NULL));
	notify_ready(status);
	if (event_base_dispatch(srv->base) < 0) {
		log_error("event loop failed");
		return 1;
	}
	if (srv->exit_code == 0)
		log_info("shutdown complete");
	return srv->exit_code;
}

void server_free(struct server *srv)
{
	struct conn *c;

	if (srv == NULL)
		return;
	for (size_t i = 0; i < srv->n_listeners; i++)
		listener_free(srv->listeners[i]);
	listener_free(srv->tls_listener);
	metrics_free(srv->metrics);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close(c, "daemon exiting");
	if (srv->reaper)
		reap(-1, 0, srv);
	/* The Redis link and the password pool may still hold orphaned requests;
	 * freeing them completes those (NULL reply / failed check). */
	tailer_free(srv->tailer);
	redis_link_free(srv->redis);
	durability_free(srv->durability); /* after the link: its checks are done */
	sentinel_free(srv->sentinel);     /* after every link that followed it */
	loss_free(srv->loss);
	journal_free(srv->journal);
	spooler_free(srv->spooler);
	pwhash_pool_free(srv->pwhash);
	addr_throttle_free(srv->auth_throttle);
	if (srv->watchdog)
		event_free(srv->watchdog);
	if (srv->sig_hup)
		event_free(srv->sig_hup);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->drain_deadline)
		event_free(srv->drain_deadline);
	if (srv->reaper)
		event_free(srv->reaper);
	if (srv->flusher)
		event_free(srv->flusher);
	tls_free(srv->tls); /* connections' SSL objects held their own references */
	if (srv->base)
		event_base_free(srv->base);
	config_free(srv->cfg);
	free(srv);
}
