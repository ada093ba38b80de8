#include "bench_loop.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_conn.h"

#define MAX_CONNECTING  128 /* connects in flight per loop: stay under the listen backlog */
#define AUTH_INFLIGHT   48  /* logins in flight over all loops: under the daemon's default 64 */
#define TICK_MS         20

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timeval seconds_tv(double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Connected but not logged in: the daemon gives such connections
 * limits.unauth_timeout (30 s by default) before it hangs up, and logins
 * are slow on purpose (Argon2id), so only connect about as fast as logins
 * complete. */
static bool login_backlog(const struct bench_loop *l)
{
	bool logs_in = !l->cfg->wl.resp && l->cfg->secret[0] != '\0';

	return logs_in && l->connecting + l->auth_count + l->auth_inflight >= 2 * l->auth_limit;
}

/* Start connects and logins up to their limits. */
static void pump(struct bench_loop *l)
{
	uint64_t now = bench_now_ns();
	unsigned tries = l->auth_count;

	while (l->connecting < MAX_CONNECTING && l->next_to_connect < l->n_conns && !login_backlog(l))
		bench_conn_connect(&l->conns[l->next_to_connect++]);
	while (tries-- > 0 && l->auth_inflight < l->auth_limit && l->auth_count > 0) {
		unsigned i = l->auth_queue[l->auth_head];
		struct bench_conn *c = &l->conns[i];

		l->auth_head = (l->auth_head + 1) % l->n_conns;
		l->auth_count--;
		if (c->state != BC_WAIT_AUTH)
			continue;
		if (c->retry_at_ns > now) {
			bench_loop_auth_retry(l, i);
			continue;
		}
		l->auth_inflight++;
		bench_conn_auth(c);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

void bench_loop_auth_retry(struct bench_loop *l, unsigned conn)
{
	l->auth_queue[(l->auth_head + l->auth_count) % l->n_conns] = conn;
	l->auth_count++;
	event_active(l->pump_ev, EV_TIMEOUT, 0);
}

void bench_loop_auth_done(struct bench_loop *l)
{
	l->auth_inflight--;
	event_active(l->pump_ev, EV_TIMEOUT, 0);
}

void bench_loop_settled(struct bench_loop *l)
{
	l->settled++;
	event_active(l->pump_ev, EV_TIMEOUT, 0);
	if (l->logging_in && l->settled == l->n_conns)
		event_base_loopexit(l->base, NULL);
}

int bench_loop_init(struct bench_loop *l, const struct bench_config *cfg, unsigned index, unsigned first,
                    unsigned n)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->index = index;
	l->first_conn = first;
	l->n_conns = n;
	l->auth_limit = AUTH_INFLIGHT / (cfg->threads ? cfg->threads : 1);
	if (l->auth_limit == 0)
		l->auth_limit = 1;
	l->base = event_base_new();
	l->stats = bench_stats_new();
	l->conns = calloc(n ? n : 1, sizeof(*l->conns));
	l->auth_queue = calloc(n ? n : 1, sizeof(*l->auth_queue));
	if (!l->base || !l->stats || !l->conns || !l->auth_queue)
		return -1;
	l->tick = event_new(l->base, -1, EV_PERSIST, on_tick, l);
	l->pump_ev = event_new(l->base, -1, 0, on_pump, l);
	if (!l->tick || !l->pump_ev)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (bench_conn_init(&l->conns[i], l, first + i) != 0)
			return -1;
	return 0;
}

void bench_loop_login(struct bench_loop *l)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};

	if (l->n_conns == 0)
		return;
	l->logging_in = true;
	event_add(l->tick, &tv);
	pump(l);
	if (l->settled < l->n_conns)
		event_base_dispatch(l->base);
	event_del(l->tick);
	l->logging_in = false;
}

/* ---- the run ---- */

static void sweep_stop(struct bench_loop *l)
{
	struct timeval tv = {.tv_sec = BENCH_DRAIN_S};

	for (unsigned i = 0; i < l->n_conns; i++)
		bench_conn_stop(&l->conns[i]);
	if (l->done < l->active)
		event_add(l->drain_timer, &tv);
}

static void begin_stop(struct bench_loop *l)
{
	if (l->stopping)
		return;
	l->stopping = true;
	sweep_stop(l);
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
	begin_stop(arg);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	sweep_stop(arg);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct bench_loop *l = arg;

	for (unsigned i = 0; i < l->n_conns; i++)
		bench_conn_abandon(&l->conns[i]);
	event_base_loopexit(l->base, NULL);
}

static void start_measuring(struct bench_loop *l, uint64_t now)
{
	l->measuring = true;
	l->stats->start_ns = now;
	l->stats->end_ns = now;
	if (l->cfg->duration_s > 0) {
		struct timeval tv = seconds_tv(l->cfg->duration_s);

		event_add(l->end_timer, &tv);
	}
}

static void on_warmup_over(evutil_socket_t fd, short what, void *arg)
{
	start_measuring(arg, bench_now_ns());
}

bool bench_loop_take_request(struct bench_loop *l)
{
	if (l->cfg->requests == 0)
		return true;
	if (l->budget == 0)
		return false;
	if (--l->budget == 0) {
		/* No new request from now on; the connections are told once the
		 * current callback is over (this one is still sending). */
		l->stopping = true;
		event_active(l->stop_ev, EV_TIMEOUT, 0);
	}
	return true;
}

void bench_loop_conn_done(struct bench_loop *l)
{
	l->done++;
	if (l->done >= l->active)
		event_base_loopexit(l->base, NULL);
}

void bench_loop_run(struct bench_loop *l)
{
	const struct bench_config *cfg = l->cfg;
	uint64_t now = bench_now_ns();

	l->end_timer = evtimer_new(l->base, on_end, l);
	l->drain_timer = evtimer_new(l->base, on_drain_deadline, l);
	l->warmup_timer = evtimer_new(l->base, on_warmup_over, l);
	l->stop_ev = event_new(l->base, -1, 0, on_stop, l);
	if (!l->end_timer || !l->drain_timer || !l->warmup_timer || !l->stop_ev)
		return;
	for (unsigned i = 0; i < l->n_conns; i++)
		l->active += l->conns[i].state == BC_READY;
	if (cfg->requests) {
		/* This loop's share of the requests. */
		l->budget = cfg->requests / cfg->threads + (l->index < cfg->requests % cfg->threads);
		if (l->budget == 0)
			l->stopping = true;
	}
	if (cfg->warmup_s > 0) {
		struct timeval tv = seconds_tv(cfg->warmup_s);

		event_add(l->warmup_timer, &tv);
	} else {
		start_measuring(l, now);
	}
	for (unsigned i = 0; i < l->n_conns; i++)
		bench_conn_start(&l->conns[i], now);
	if (l->stopping)
		sweep_stop(l);
	if (l->done < l->active)
		event_base_dispatch(l->base);
	/* Not measuring yet (a warmup longer than the run): nothing to report. */
	if (!l->measuring)
		l->stats->start_ns = l->stats->end_ns = 0;
}

void bench_loop_free(struct bench_loop *l)
{
	for (unsigned i = 0; l->conns && i < l->n_conns; i++)
		bench_conn_free(&l->conns[i]);
	free(l->conns);
	free(l->auth_queue);
	if (l->tick)
		event_free(l->tick);
	if (l->pump_ev)
		event_free(l->pump_ev);
	if (l->end_timer)
		event_free(l->end_timer);
	if (l->drain_timer)
		event_free(l->drain_timer);
	if (l->warmup_timer)
		event_free(l->warmup_timer);
	if (l->stop_ev)
		event_free(l->stop_ev);
	if (l->base)
		event_base_free(l->base);
	bench_stats_free(l->stats);
	memset(l, 0, sizeof(*l));
}
