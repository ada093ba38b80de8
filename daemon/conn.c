#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "commands.h"
#include "netaddr.h"
#include "server.h"
#include "tail.h"
#include "tls.h"

static void conn_process_input(struct conn *c);

static const struct config_limits *limits(const struct conn *c)
{
	return &c->srv->cfg->limits;
}

static size_t line_cap(const struct conn *c)
{
	return c->role == ROLE_NONE ? limits(c)->max_line_unauth : limits(c)->max_line;
}

/* Arm the connection's one timer: the auth deadline before AUTH, the idle
 * timeout after (none when idle_timeout is 0). */
static void arm_timer(struct conn *c)
{
	unsigned seconds = c->role == ROLE_NONE ? limits(c)->unauth_timeout_s : limits(c)->idle_timeout_s;
	struct timeval tv = {.tv_sec = seconds};

	if (seconds == 0)
		event_del(c->timer);
	else
		event_add(c->timer, &tv);
}

/* Every role change goes through here, so the server's count of
 * unauthenticated connections (limits.max_unauthenticated) stays exact. */
static void set_role(struct conn *c, enum role role)
{
	if (c->role == ROLE_NONE && role != ROLE_NONE)
		c->srv->stats.conn_unauth--;
	else if (c->role != ROLE_NONE && role == ROLE_NONE)
		c->srv->stats.conn_unauth++;
	c->role = role;
}

static void tls_handshake_failed(struct conn *c, const char *why)
{
	char reason[512];

	c->srv->tls_handshake_failures++;
	c->tls_failed = true;
	snprintf(reason, sizeof(reason), "TLS handshake failed: %s", why);
	conn_close(c, reason);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->tls && !c->tls_open) {
		/* No line can be said before the handshake: just hang up. */
		tls_handshake_failed(c, "timed out");
		return;
	}
	if (c->n_pending > 0 || c->tails[0] || c->tails[1]) {
		/* Waiting on us, or watching a tail: not idle. */
		arm_timer(c);
		return;
	}
	conn_say_goodbye(c, c->role == ROLE_NONE ? "auth timeout" : "idle timeout");
}

static void on_read(struct bufferevent *bev, void *arg)
{
	conn_process_input(arg);
}

static void close_if_flushed(struct conn *c)
{
	if (!c->close_when_flushed && !c->eof)
		return;
	if (c->n_pending > 0 || c->barrier || evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	conn_close(c, c->eof && !c->close_when_flushed ? "client closed" : "closed after final reply");
}

/* Everything queued has been written. */
static void written(struct conn *c)
{
	close_if_flushed(c);
	if (!c->closed)
		tail_conn_writable(c);
}

/* bufferevent wrote a backlog out (plaintext: one the socket could not
 * take at once; TLS: everything). */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->tls)
		bufferevent_disable(c->bev, EV_WRITE); /* back to writing ourselves */
	written(c);
}

/* Output was queued.  A plaintext connection writes it itself once the
 * loop iteration's callbacks are done (conn_flush): all the replies one
 * Redis read completes for it leave in one write, and the socket's write
 * interest is only armed when the socket is full, instead of an
 * epoll_ctl pair and an extra loop iteration per reply.  TLS output goes
 * through the OpenSSL bufferevent as before. */
static void output_added(struct conn *c)
{
	if (!c->tls)
		server_schedule_flush(c->srv, c);
}

void conn_flush(struct conn *c)
{
	struct evbuffer *out;

	if (c->closed || c->tls || (bufferevent_get_enabled(c->bev) & EV_WRITE))
		return; /* bufferevent is writing a backlog: on_write follows */
	out = bufferevent_get_output(c->bev);
	while (evbuffer_get_length(out) > 0) {
		int n;

		/* bufferevent keeps the start of its output frozen so that only
		 * it drains it; it does the same thaw around its own writes. */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
		if (n > 0)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			char reason[160];

			snprintf(reason, sizeof(reason), "socket error: %s", strerror(errno));
			conn_close(c, reason);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* The socket is full: bufferevent writes the rest when it drains. */
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	written(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (c->closed)
		return; /* a deferred (TLS) callback after conn_close */
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done (plain sockets never report this here). */
		c->tls_open = true;
		if (log_enabled(LOG_LEVEL_DEBUG)) {
			char session[128];

			tls_describe_session(bev, session, sizeof(session));
			clog_debug(c, "TLS handshake done: %s", session);
		}
	}
	if (c->tls && !c->tls_open && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		char why[400];

		tls_error_text(bev,
		               what & BEV_EVENT_EOF ? "the client closed the connection" : "connection error",
		               why, sizeof(why));
		tls_handshake_failed(c, why);
		return;
	}
	if (c->tls && (what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING)) {
		/* libevent reports a write to a closed TLS peer (EPIPE) as a
		 * dirty shutdown: nothing more can be said. */
		c->tls_failed = true;
		conn_close(c, "client closed the connection (TLS write failed)");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* The client may have half-closed after pipelining its requests
		 * (`printf 'PING\n' | nc`): answer what it sent, then close. */
		c->eof = true;
		bufferevent_disable(c->bev, EV_READ);
		/* libevent's OpenSSL bufferevent stops writing too at the end of
		 * input; the answers still have to go out. */
		if (c->tls)
			bufferevent_enable(c->bev, EV_WRITE);
		conn_process_input(c);
		close_if_flushed(c);
	} else if (what & BEV_EVENT_ERROR) {
		char reason[512];

		if (c->tls) {
			char why[400];

			/* Callbacks are deferred here, so errno is long gone. */
			c->tls_failed = true;
			tls_error_text(bev, "connection reset or broken", why, sizeof(why));
			snprintf(reason, sizeof(reason), "TLS error: %s", why);
		} else {
			snprintf(reason, sizeof(reason), "socket error: %s", strerror(EVUTIL_SOCKET_ERROR()));
		}
		conn_close(c, reason);
	}
}

static struct conn *create(struct server *srv, evutil_socket_t fd, const struct sockaddr *addr, int addrlen,
                           struct tls *tls)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL) {
		evutil_closesocket(fd);
		return NULL;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->tls = tls != NULL;
	netaddr_format(addr, c->peer, sizeof(c->peer));
	addr_key_from_sockaddr(addr, &c->addr);
	/* Replies are whole lines written at once: Nagle would only delay them. */
	if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Both take the socket, closing it when they fail. */
	if (tls)
		c->bev = tls_bufferevent_new(tls, srv->base, fd);
	else
		c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = c->bev ? evtimer_new(srv->base, on_timer, c) : NULL;
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else if (!tls)
			evutil_closesocket(fd);
		free(c);
		return NULL;
	}
	c->role = ROLE_NONE;
	srv->stats.conn_unauth++;
	proto_framer_init(&c->framer, line_cap(c));
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	conn_apply_limits(c);
	bufferevent_enable(c->bev, EV_READ);
	if (!tls)
		bufferevent_disable(c->bev, EV_WRITE); /* conn_flush writes */
	return c;
}

struct conn *conn_new(struct server *srv, evutil_socket_t fd, const struct sockaddr *addr, int addrlen)
{
	return create(srv, fd, addr, addrlen, NULL);
}

struct conn *conn_new_tls(struct server *srv, evutil_socket_t fd, const struct sockaddr *addr, int addrlen,
                          struct tls *tls)
{
	return create(srv, fd, addr, addrlen, tls);
}

void conn_apply_limits(struct conn *c)
{
	/* Never buffer more input than one maximal line plus its CRLF (the
	 * small cap before AUTH): the framer can always decide within that,
	 * and a flooding client is held back by TCP instead of our memory. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, line_cap(c) + 2);
	if (!c->closed)
		arm_timer(c);
}

static void free_request(struct request *req)
{
	free(req->reply);
	free(req);
}

struct request *conn_request_new(struct conn *c, int verb)
{
	struct request *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->conn = c;
	req->srv = c->srv;
	memcpy(req->user, c->user, sizeof(req->user));
	req->role = c->role;
	req->verb = verb;
	req->started_ns = stats_now_ns();
	if (c->tail)
		c->tail->next = req;
	else
		c->head = req;
	c->tail = req;
	c->n_pending++;
	return req;
}

/* Write every reply at the head of the FIFO that is ready, in order. */
static void flush_ready(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->head && c->head->done) {
		struct request *req = c->head;

		c->head = req->next;
		if (c->head == NULL)
			c->tail = NULL;
		if (evbuffer_add(out, req->reply, req->reply_len) != 0) {
			free_request(req);
			conn_close(c, "out of memory queueing a reply");
			return;
		}
		if (req->on_written)
			req->on_written(req->on_written_arg);
		free_request(req);
	}
	output_added(c);
	if (evbuffer_get_length(out) > limits(c)->max_output) {
		char reason[128];

		snprintf(reason, sizeof(reason), "output buffer over limit (%zu > %zu bytes): client not reading",
		         evbuffer_get_length(out), limits(c)->max_output);
		conn_close(c, reason);
	}
}

struct request *request_new_detached(struct server *srv, const char *user, enum role role, int verb,
                                     request_observer_fn *observer, void *arg)
{
	struct request *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->srv = srv;
	snprintf(req->user, sizeof(req->user), "%s", user);
	req->role = role;
	req->verb = verb;
	req->observer = observer;
	req->observer_arg = arg;
	return req;
}

static void complete(struct request *req, char *line, size_t len, const char *err_code)
{
	struct conn *c = req->conn;

	if (req->observer) {
		req->observer(req->observer_arg, err_code, line);
		req->observer = NULL;
	}
	if (c == NULL) {
		/* The client left while we worked on its request. */
		free(line);
		free_request(req);
		return;
	}
	stats_count_reply(&c->srv->stats, req->verb, err_code);
	stats_observe_latency(&c->srv->stats, req->verb, req->started_ns);
	if (line == NULL) {
		static const char oom[] = "ERR internal out of memory\n";

		line = strdup(oom);
		len = line ? sizeof(oom) - 1 : 0;
		if (line == NULL)
			conn_close_after_replies(c);
	}
	req->reply = line;
	req->reply_len = len;
	req->done = true;
	c->n_pending--;
	flush_ready(c);
	if (c->closed)
		return;
	if (c->read_paused && c->n_pending < limits(c)->max_pending && !c->close_when_flushed && !c->eof) {
		c->read_paused = false;
		bufferevent_enable(c->bev, EV_READ);
	}
	/* Lines may be waiting behind the pending cap or a barrier. */
	conn_process_input(c);
	if (c->n_pending == 0 && !c->closed) {
		if (c->srv->shutting_down)
			server_conn_idle(c->srv, c);
		else
			close_if_flushed(c);
	}
}

void request_reply_ok(struct request *req, const json_t *body)
{
	size_t len = 0;
	char *line = req->conn || req->observer ? proto_format_ok(body, &len) : NULL;

	complete(req, line, len, NULL);
}

void request_reply_verr(struct request *req, const char *code, const char *fmt, va_list ap)
{
	char message[512];
	size_t len = 0;
	char *line = NULL;

	if (req->conn || req->observer) {
		vsnprintf(message, sizeof(message), fmt, ap);
		line = proto_format_err(code, message, &len);
	}
	complete(req, line, len, code);
}

void request_reply_err(struct request *req, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	request_reply_verr(req, code, fmt, ap);
	va_end(ap);
}

static void reply_line_too_long(struct conn *c, size_t cap)
{
	struct request *req = conn_request_new(c, -1);

	if (req == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	request_reply_err(req, ERR_LINE_TOO_LONG, "line exceeds %zu bytes%s; it was discarded", cap,
	                  c->role == ROLE_NONE ? " (the limit before AUTH)" : "");
}

/* Frame and dispatch every complete line buffered, until the pending cap,
 * a close, or the end of the input. */
static void conn_process_input(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->processing || c->closed)
		return;
	c->processing = true;
	while (!c->closed && !c->close_when_flushed && !c->barrier) {
		size_t len = evbuffer_get_length(in), cap = line_cap(c), look, consumed = 0, line_len = 0;
		const char *buf, *line = NULL;
		enum proto_frame_status st;

		if (len == 0)
			break;
		if (c->n_pending >= limits(c)->max_pending) {
			/* Stop reading: TCP pushes back on the client until replies drain. */
			c->read_paused = true;
			bufferevent_disable(c->bev, EV_READ);
			break;
		}
		look = len < cap + 2 ? len : cap + 2;
		buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
		if (buf == NULL) {
			conn_close(c, "out of memory framing input");
			break;
		}
		c->framer.max_line = cap;
		st = proto_frame(&c->framer, buf, look, &line, &line_len, &consumed);
		if (st == PROTO_LINE) {
			if (c->role != ROLE_NONE && limits(c)->idle_timeout_s)
				arm_timer(c);
			commands_dispatch(c, line, line_len);
		} else if (st == PROTO_TOO_LONG) {
			reply_line_too_long(c, cap);
		}
		/* c may be closed by now, but its buffers live until the reaper runs. */
		evbuffer_drain(in, consumed);
		if (st == PROTO_NEED_MORE && consumed == 0)
			break;
	}
	c->processing = false;
	if (c->tls_open && !c->closed)
		tls_resume_reading(c->bev);
}

void conn_set_identity(struct conn *c, const char *user, enum role role)
{
	snprintf(c->user, sizeof(c->user), "%s", user);
	set_role(c, role);
	c->auth_failures = 0;
	conn_apply_limits(c);
}

void conn_clear_identity(struct conn *c)
{
	c->user[0] = '\0';
	set_role(c, ROLE_NONE);
	conn_apply_limits(c);
}

void conn_close_after_replies(struct conn *c)
{
	c->close_when_flushed = true;
	bufferevent_disable(c->bev, EV_READ);
}

void conn_set_barrier(struct conn *c)
{
	c->barrier = true;
}

void conn_release_barrier(struct conn *c)
{
	c->barrier = false;
}

void conn_say_goodbye(struct conn *c, const char *reason)
{
	json_t *body;
	char *line;
	size_t len = 0;

	if (c->closed || c->close_when_flushed)
		return;
	if (c->tls && !c->tls_open) {
		/* Nothing can be said before the handshake completes. */
		conn_close(c, reason);
		return;
	}
	body = json_pack("{s:s}", "reason", reason);
	line = body ? proto_format_push("bye", body, &len) : NULL;
	json_decref(body);
	clog_info(c, "saying goodbye: %s", reason);
	bufferevent_disable(c->bev, EV_READ);
	c->close_when_flushed = true;
	if (line == NULL || evbuffer_add(bufferevent_get_output(c->bev), line, len) != 0) {
		free(line);
		conn_close(c, reason);
		return;
	}
	free(line);
	output_added(c);
	close_if_flushed(c);
}

bool conn_push(struct conn *c, const char *line, size_t len, size_t cap)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->closed || evbuffer_get_length(out) + len > cap || evbuffer_add(out, line, len) != 0)
		return false;
	output_added(c);
	return true;
}

size_t conn_output_pending(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void conn_close(struct conn *c, const char *reason)
{
	struct request *req, *next;

	if (c->closed)
		return;
	c->closed = true;
	if (c->role == ROLE_NONE)
		c->srv->stats.conn_unauth--;
	tail_conn_closed(c);
	clog_info(c, "closed: %s", reason);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->tls_open && !c->tls_failed)
		tls_shutdown(c->bev); /* close_notify, best effort */
	event_del(c->timer);
	for (req = c->head; req; req = next) {
		next = req->next;
		req->next = NULL;
		if (req->done)
			free_request(req);
		else
			req->conn = NULL; /* its completion frees it */
	}
	c->head = c->tail = NULL;
	c->n_pending = 0;
	server_conn_closed(c->srv, c);
}

void conn_free(struct conn *c)
{
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
}
