#include "bench_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_resp.h"

#define IN_MAX      (8u << 20) /* one reply (a POP card, a stream) never needs more */
#define OUT_MAX     (8u << 20)
#define READ_CHUNK  16384
#define RETRY_NS    (100u * 1000 * 1000) /* after ERR rate_limited on AUTH */

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

int bench_conn_init(struct bench_conn *c, struct bench_loop *l, unsigned index)
{
	const struct bench_config *cfg = l->cfg;
	char user[64];

	memset(c, 0, sizeof(*c));
	c->loop = l;
	c->index = index;
	c->fd = -1;
	c->n_flows = cfg->wl.kind == BENCH_IDLE ? 0 : cfg->pipeline;
	bench_buf_init(&c->in, IN_MAX);
	bench_buf_init(&c->out, OUT_MAX);
	snprintf(user, sizeof(user), "%s%04u", cfg->users_prefix, cfg->users ? index % cfg->users + 1 : index + 1);
	bench_session_init(&c->session, &cfg->wl, user, l->index, index, cfg->seed);
	if (c->n_flows) {
		c->flows = calloc(c->n_flows, sizeof(*c->flows));
		c->clocks = calloc(c->n_flows, sizeof(*c->clocks));
		c->fifo = calloc(c->n_flows, sizeof(*c->fifo));
		if (!c->flows || !c->clocks || !c->fifo)
			return -1;
	}
	return 0;
}

static void close_socket(struct bench_conn *c);

void bench_conn_free(struct bench_conn *c)
{
	close_socket(c);
	bench_buf_free(&c->in);
	bench_buf_free(&c->out);
	free(c->flows);
	free(c->clocks);
	free(c->fifo);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void note_failure(struct bench_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_failure(struct bench_conn *c, const char *fmt, ...)
{
	struct bench_loop *l = c->loop;
	va_list ap;

	if (l->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(l->first_error, sizeof(l->first_error), fmt, ap);
	va_end(ap);
}

static void close_socket(struct bench_conn *c)
{
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->writing = false;
}

/* The one way a connection ends early: during login it failed, while
 * running it was lost (what it still owed is counted unanswered). */
static void conn_fail(struct bench_conn *c, const char *why)
{
	struct bench_loop *l = c->loop;
	enum bench_conn_state was = c->state;

	if (was == BC_FAILED || was == BC_DONE)
		return;
	note_failure(c, "connection %u (%s): %s", c->index, c->session.user, why);
	close_socket(c);
	c->state = BC_FAILED;
	if (was == BC_AUTHING)
		bench_loop_auth_done(l);
	if (was == BC_RUNNING || was == BC_READY) {
		l->stats->conn_lost++;
		for (unsigned i = 0; i < c->fifo_count; i++)
			if (c->fifo[(c->fifo_head + i) % c->n_flows].measured)
				l->stats->unanswered++;
		c->fifo_count = 0;
		if (was == BC_RUNNING)
			bench_loop_conn_done(l);
		return;
	}
	if (was == BC_CONNECTING)
		l->connecting--;
	l->stats->conn_failed++;
	bench_loop_settled(l);
}

static void flush(struct bench_conn *c)
{
	while (bench_buf_len(&c->out) > 0) {
		ssize_t n = write(c->fd, bench_buf_data(&c->out), bench_buf_len(&c->out));

		if (n > 0) {
			bench_buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			char why[128];

			snprintf(why, sizeof(why), "write: %s", strerror(errno));
			conn_fail(c, why);
			return;
		}
		break;
	}
	if (bench_buf_len(&c->out) > 0 && !c->writing) {
		event_add(c->ev_write, NULL);
		c->writing = true;
	} else if (bench_buf_len(&c->out) == 0 && c->writing) {
		event_del(c->ev_write);
		c->writing = false;
	}
}

void bench_conn_connect(struct bench_conn *c)
{
	const struct bench_config *cfg = c->loop->cfg;
	int one = 1;
	char why[160];

	c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		c->state = BC_IDLE;
		conn_fail(c, why);
		return;
	}
	if (cfg->addr.ss_family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = BC_CONNECTING;
	c->ev_read = event_new(c->loop->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
	c->ev_write = event_new(c->loop->base, c->fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->loop->connecting++;
	if (c->ev_read == NULL || c->ev_write == NULL) {
		conn_fail(c, "out of memory");
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) != 0 && errno != EINPROGRESS &&
	    errno != EAGAIN) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		conn_fail(c, why);
		return;
	}
	/* Writable once the connection is made (or has failed). */
	event_add(c->ev_write, NULL);
	c->writing = true;
}

void bench_conn_auth(struct bench_conn *c)
{
	const struct bench_config *cfg = c->loop->cfg;

	c->state = BC_AUTHING;
	if (!bench_buf_printf(&c->out, "AUTH %s %s\n", c->session.user, cfg->secret)) {
		conn_fail(c, "out of memory");
		return;
	}
	flush(c);
}

/* RESP: check the link, and put the journal script in Redis's script cache
 * with an EVAL that returns before writing anything (the state version
 * "x" never matches), so EVALSHA works also through a proxy that has no
 * SCRIPT LOAD. */
static void prime(struct bench_conn *c)
{
	const struct bench_workload *wl = &c->loop->cfg->wl;
	char key[128];
	const char *ping[] = {"PING"};

	snprintf(key, sizeof(key), "%sbench:prime", wl->prefix);
	const char *eval[] = {"EVAL", bench_journal_script(), "3", key, key, "-", "x", "0", "0", "0", "x", "", "1", "", ""};

	c->state = BC_PRIMING;
	c->prime_replies = 2;
	if (!resp_append_command(&c->out, 1, ping, NULL) ||
	    !resp_append_command(&c->out, (int)(sizeof(eval) / sizeof(eval[0])), eval, NULL)) {
		conn_fail(c, "out of memory");
		return;
	}
	flush(c);
}

static void ready(struct bench_conn *c)
{
	c->state = BC_READY;
	c->loop->stats->conn_ready++;
	bench_loop_settled(c->loop);
}

static void connected(struct bench_conn *c)
{
	struct bench_loop *l = c->loop;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		char why[160];

		snprintf(why, sizeof(why), "connect: %s", strerror(err));
		conn_fail(c, why);
		return;
	}
	l->connecting--;
	event_del(c->ev_write);
	c->writing = false;
	event_add(c->ev_read, NULL);
	if (l->cfg->wl.resp) {
		prime(c);
	} else if (l->cfg->secret[0] == '\0') {
		ready(c); /* PING needs no login */
	} else {
		c->state = BC_WAIT_AUTH;
		bench_loop_auth_retry(l, c->index - l->first_conn);
	}
}

/* ---- the run ---- */

static struct bench_pending *fifo_push(struct bench_conn *c)
{
	struct bench_pending *p = &c->fifo[(c->fifo_head + c->fifo_count) % c->n_flows];

	c->fifo_count++;
	return p;
}

static void fifo_pop(struct bench_conn *c)
{
	c->fifo_head = (c->fifo_head + 1) % c->n_flows;
	c->fifo_count--;
}

static const struct bench_now *wall_now(struct bench_loop *l);

/* Send flow i's current round trip; a new step only while not stopping. */
static void send_round_trip(struct bench_conn *c, unsigned i, uint64_t now)
{
	struct bench_loop *l = c->loop;
	struct bench_flow *f = &c->flows[i];
	struct bench_flow_clock *k = &c->clocks[i];
	struct bench_pending *p;
	unsigned expect;
	bool first_phase = f->phase == 0;

	if (f->step == STEP_DONE)
		return;
	if (first_phase) {
		if (l->stopping)
			return;
		k->step_measured = l->measuring;
		if (k->step_measured && !bench_loop_take_request(l))
			return;
		k->step_start = now;
	}
	if (l->cfg->wl.resp) {
		expect = bench_flow_resp(&c->session, f, wall_now(l), &c->out);
		if (expect && k->step_measured)
			l->stats->redis_commands += expect;
	} else {
		expect = bench_flow_line(&c->session, f, &c->out) ? 1 : 0;
	}
	if (expect == 0) {
		conn_fail(c, "request does not fit the output buffer");
		return;
	}
	if (first_phase && k->step_measured)
		l->stats->sent++;
	p = fifo_push(c);
	p->flow = i;
	p->expect = (unsigned short)expect;
	p->got = 0;
	p->measured = k->step_measured;
}

static void begin_transaction(struct bench_conn *c, unsigned i, uint64_t now)
{
	struct bench_flow_clock *k = &c->clocks[i];

	bench_flow_begin(&c->session, &c->flows[i]);
	k->txn_start = now;
	k->txn_measured = c->loop->measuring;
	k->txn_failed = false;
	send_round_trip(c, i, now);
}

void bench_conn_start(struct bench_conn *c, uint64_t now)
{
	if (c->state != BC_READY)
		return;
	c->state = BC_RUNNING;
	for (unsigned i = 0; i < c->n_flows; i++)
		begin_transaction(c, i, now);
	flush(c);
	if (c->state == BC_RUNNING && c->fifo_count == 0 && c->loop->stopping) {
		c->state = BC_DONE;
		bench_loop_conn_done(c->loop);
	}
}

void bench_conn_stop(struct bench_conn *c)
{
	if (c->state == BC_READY || (c->state == BC_RUNNING && c->fifo_count == 0)) {
		bool counted = c->state == BC_RUNNING;

		c->state = BC_DONE;
		if (counted)
			bench_loop_conn_done(c->loop);
	}
}

void bench_conn_abandon(struct bench_conn *c)
{
	if (c->state == BC_RUNNING)
		conn_fail(c, "replies still owed at the drain deadline");
}

/* A step's outcome: count it, then go on with the flow. */
static void step_finished(struct bench_conn *c, unsigned i, enum bench_step step, enum bench_result res,
                          uint64_t now)
{
	struct bench_loop *l = c->loop;
	struct bench_stats *st = l->stats;
	struct bench_flow *f = &c->flows[i];
	struct bench_flow_clock *k = &c->clocks[i];

	if (!k->step_measured) {
		st->warmup_completed++;
	} else {
		uint64_t took = now - k->step_start;

		st->completed++;
		bench_hist_record(&st->all, took);
		bench_hist_record(&st->step[step], took);
		if (now > st->end_ns)
			st->end_ns = now;
		if (res == BENCH_STEP_OK) {
			st->ok++;
		} else {
			st->failed++;
			bench_stats_error(st, f->err);
		}
	}
	if (res != BENCH_STEP_OK)
		k->txn_failed = true;
	if (f->step != STEP_DONE) {
		send_round_trip(c, i, now);
		return;
	}
	if (k->txn_measured && bench_kind_transaction(l->cfg->wl.kind)) {
		if (k->txn_failed) {
			st->txn_failed++;
		} else {
			st->txn_completed++;
			bench_hist_record(&st->txn, now - k->txn_start);
		}
	}
	begin_transaction(c, i, now);
}

static void line_reply(struct bench_conn *c, const char *line, size_t len, uint64_t now)
{
	struct bench_pending *p;
	unsigned i;
	enum bench_step step;
	enum bench_result res;

	if (len >= 2 && line[0] == '*' && line[1] == ' ') {
		/* Pushed by the daemon; a goodbye is followed by the close. */
		c->loop->stats->pushed_lines++;
		if (len >= 5 && memcmp(line, "* bye", 5) == 0)
			note_failure(c, "connection %u: the daemon said %.*s", c->index, (int)(len > 200 ? 200 : len), line);
		return;
	}
	switch (c->state) {
	case BC_AUTHING:
		bench_loop_auth_done(c->loop);
		if (len >= 2 && memcmp(line, "OK", 2) == 0) {
			ready(c);
		} else if (len >= 16 && memcmp(line, "ERR rate_limited", 16) == 0) {
			c->state = BC_WAIT_AUTH;
			c->retry_at_ns = now + RETRY_NS;
			bench_loop_auth_retry(c->loop, c->index - c->loop->first_conn);
		} else {
			char why[300];

			snprintf(why, sizeof(why), "AUTH refused: %.*s", (int)(len > 200 ? 200 : len), line);
			conn_fail(c, why);
		}
		return;
	case BC_RUNNING:
		break;
	default:
		conn_fail(c, "a reply to nothing");
		return;
	}
	if (c->fifo_count == 0) {
		conn_fail(c, "a reply to nothing");
		return;
	}
	p = &c->fifo[c->fifo_head];
	i = p->flow;
	fifo_pop(c);
	step = c->flows[i].step;
	res = bench_flow_line_reply(&c->session, &c->flows[i], line, len);
	step_finished(c, i, step, res, now);
}

static void resp_reply(struct bench_conn *c, const struct resp_reply *r, uint64_t now)
{
	struct bench_pending *p;
	unsigned i, index, expect;
	enum bench_step step;
	enum bench_result res;

	if (c->state == BC_PRIMING) {
		if (r->type == '-') {
			char why[300];

			snprintf(why, sizeof(why), "Redis refused the login check: %.*s", (int)(r->len > 200 ? 200 : r->len),
			         r->str);
			conn_fail(c, why);
		} else if (--c->prime_replies == 0) {
			ready(c);
		}
		return;
	}
	if (c->state != BC_RUNNING || c->fifo_count == 0) {
		conn_fail(c, "a reply to nothing");
		return;
	}
	p = &c->fifo[c->fifo_head];
	i = p->flow;
	index = p->got++;
	expect = p->expect;
	step = c->flows[i].step;
	res = bench_flow_resp_reply(&c->session, &c->flows[i], index, expect, r);
	if (res == BENCH_PENDING)
		return;
	fifo_pop(c);
	if (res == BENCH_NEXT_PHASE)
		send_round_trip(c, i, now);
	else
		step_finished(c, i, step, res, now);
}

/* Every complete reply in the input, in order. */
static void process_input(struct bench_conn *c, uint64_t now)
{
	bool resp = c->loop->cfg->wl.resp;

	while (bench_buf_len(&c->in) > 0 && c->fd >= 0) {
		const char *data = bench_buf_data(&c->in);
		size_t len = bench_buf_len(&c->in), used;

		if (resp) {
			struct resp_reply r;
			enum resp_scan_status st = resp_scan(data, len, &used, &r);

			if (st == RESP_NEED_MORE)
				break;
			if (st == RESP_BAD) {
				conn_fail(c, "not RESP from the server");
				return;
			}
			resp_reply(c, &r, now);
		} else {
			const char *lf = memchr(data, '\n', len);
			size_t n;

			if (lf == NULL)
				break;
			n = (size_t)(lf - data);
			used = n + 1;
			if (n > 0 && data[n - 1] == '\r')
				n--;
			line_reply(c, data, n, now);
		}
		bench_buf_consume(&c->in, used);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;
	uint64_t now = bench_now_ns();
	char *space = bench_buf_space(&c->in, READ_CHUNK);
	ssize_t n;

	if (space == NULL) {
		conn_fail(c, "a reply larger than the input buffer");
		return;
	}
	n = read(fd, space, c->in.cap - c->in.end);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		char why[160];

		snprintf(why, sizeof(why), "%s", n == 0 ? "closed by the server" : strerror(errno));
		conn_fail(c, why);
		return;
	}
	bench_buf_commit(&c->in, (size_t)n);
	process_input(c, now);
	if (c->fd < 0)
		return;
	flush(c);
	if (c->state == BC_RUNNING && c->fifo_count == 0 && c->loop->stopping) {
		c->state = BC_DONE;
		bench_loop_conn_done(c->loop);
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;

	if (c->state == BC_CONNECTING)
		connected(c);
	else
		flush(c);
}

/* The wall-clock time entries carry, formatted once per millisecond. */
static const struct bench_now *wall_now(struct bench_loop *l)
{
	struct timespec ts;
	long long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms != l->wall.ms)
		bench_now_set(&l->wall, ms);
	return &l->wall;
}
