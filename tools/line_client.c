/* line_client.c - see line_client.h.
 *
 * The socket is non-blocking underneath so that every wait goes through
 * poll() with the caller's deadline; to the caller the API is blocking. */
#include "line_client.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define INITIAL_BUF 4096
#define MAX_BUF     ((size_t)LC_MAX_LINE + 2) /* the longest line plus CR LF */

struct lc_conn {
	int fd;
	char *buf; /* received bytes; [start, end) not yet returned */
	size_t cap, start, end;
	size_t scanned; /* bytes after start already searched for LF */
	int discarding; /* inside an overlong line: drop bytes until its LF */
	char address[300];
	char err[1200];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1 stands for "no deadline" throughout. */
static long long deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int remaining_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static int fail(struct lc_conn *c, int result, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct lc_conn *c, int result, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return result;
}

/* Wait for events on c's socket: LC_OK (ready, or an error for the next
 * recv/send to report), LC_TIMEOUT or LC_INTR. */
static int wait_fd(struct lc_conn *c, short events, long long deadline)
{
	struct pollfd p = {.fd = c->fd, .events = events};
	int n = poll(&p, 1, remaining_ms(deadline));

	if (n < 0)
		return errno == EINTR ? LC_INTR : fail(c, LC_ERR, "poll: %s", strerror(errno));
	return n == 0 ? LC_TIMEOUT : LC_OK;
}

int lc_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port, unsigned default_port)
{
	const char *h = s, *p = NULL, *colon = strchr(s, ':');
	size_t n = strlen(s);
	char *end;
	unsigned long v;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = s + 1;
		n = (size_t)(close - h);
		p = close[1] == ':' ? close + 2 : NULL;
	} else if (colon && strchr(colon + 1, ':') == NULL) {
		n = (size_t)(colon - s);
		p = colon + 1;
	} /* else a name, an IPv4 address or a bare IPv6 address: no port */
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = default_port;
	if (p == NULL)
		return 0;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* One connect attempt; the socket, or -1 with err set. */
static int connect_one(const struct addrinfo *ai, long long deadline, char *err, size_t errlen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int soerr = 0, one = 1, n;
	socklen_t len = sizeof(soerr);
	struct pollfd p;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto connected;
	if (errno != EINPROGRESS) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto failed;
	}
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	n = poll(&p, 1, remaining_ms(deadline));
	if (n <= 0) {
		snprintf(err, errlen, "%s", n == 0 ? "connection timed out" : strerror(errno));
		goto failed;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
		snprintf(err, errlen, "%s", strerror(soerr ? soerr : errno));
		goto failed;
	}
connected:
	/* Requests are single short lines: do not let Nagle hold them back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
failed:
	close(fd);
	return -1;
}

static struct lc_conn *new_conn(int fd, const char *host, unsigned port)
{
	struct lc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->buf = malloc(INITIAL_BUF)) == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->cap = INITIAL_BUF;
	snprintf(c->address, sizeof(c->address), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	return c;
}

struct lc_conn *lc_connect(const char *host, unsigned port, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	long long deadline = deadline_after(timeout_ms);
	char service[16], why[300] = "no address";
	struct lc_conn *c;
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%u", port);
	/* No AI_ADDRCONFIG: it hides ::1 on hosts whose only IPv6 is loopback. */
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, why, sizeof(why));
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s%s%s:%u: %s", strchr(host, ':') ? "[" : "", host,
		         strchr(host, ':') ? "]" : "", port, why);
		return NULL;
	}
	c = new_conn(fd, host, port);
	if (c == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
	}
	return c;
}

static int send_iov(struct lc_conn *c, struct iovec *iov, int n, long long deadline)
{
	while (n > 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t sent = sendmsg(c->fd, &m, MSG_NOSIGNAL);

		if (sent < 0) {
			int w;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return fail(c, LC_ERR, "send to %s: %s", c->address, strerror(errno));
			/* A half-sent line would break the framing, so a signal
			 * does not abandon it; the deadline bounds the wait. */
			w = wait_fd(c, POLLOUT, deadline);
			if (w == LC_TIMEOUT)
				return fail(c, LC_ERR, "send to %s timed out", c->address);
			if (w == LC_ERR)
				return w;
			continue;
		}
		for (; n > 0 && (size_t)sent >= iov->iov_len; n--, iov++)
			sent -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + sent;
			iov->iov_len -= (size_t)sent;
		}
	}
	return LC_OK;
}

int lc_send_line(struct lc_conn *c, const char *line, int timeout_ms)
{
	size_t len = strlen(line);
	struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};

	if (memchr(line, '\n', len))
		return fail(c, LC_ERR, "refusing to send a line that contains LF");
	return send_iov(c, iov, 2, deadline_after(timeout_ms));
}

/* A complete line from the buffer: LC_OK, LC_TOO_LONG, or LC_TIMEOUT
 * meaning "need more bytes". */
static int take_line(struct lc_conn *c, char **line, size_t *len)
{
	char *p = memchr(c->buf + c->start + c->scanned, '\n', c->end - c->start - c->scanned);
	size_t n;

	if (p == NULL) {
		c->scanned = c->end - c->start;
		if (c->discarding || c->scanned >= MAX_BUF) {
			c->discarding = 1;
			c->start = c->end = c->scanned = 0;
		}
		return LC_TIMEOUT;
	}
	*line = c->buf + c->start;
	n = (size_t)(p - *line);
	c->start += n + 1;
	c->scanned = 0;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	(*line)[n] = '\0';
	*len = n;
	if (c->discarding || n > LC_MAX_LINE) {
		c->discarding = 0;
		return fail(c, LC_TOO_LONG, "%s sent a line longer than %d bytes; skipped", c->address,
		            LC_MAX_LINE);
	}
	return LC_OK;
}

/* Make room at the end of the buffer: compact, else grow (take_line keeps
 * the unread part below MAX_BUF, so there is always room after this). */
static int make_room(struct lc_conn *c)
{
	size_t cap;
	char *nb;

	if (c->end < c->cap)
		return LC_OK;
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
		return LC_OK;
	}
	cap = c->cap * 2 > MAX_BUF ? MAX_BUF : c->cap * 2;
	nb = realloc(c->buf, cap);
	if (nb == NULL)
		return fail(c, LC_ERR, "out of memory for a %zu-byte line", cap);
	c->buf = nb;
	c->cap = cap;
	return LC_OK;
}

static int fill(struct lc_conn *c, long long deadline)
{
	int rc;

	if (c->start == c->end)
		c->start = c->end = 0;
	if ((rc = make_room(c)) != LC_OK)
		return rc;
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);

		if (n > 0) {
			c->end += (size_t)n;
			return LC_OK;
		}
		if (n == 0)
			return fail(c, LC_EOF, "%s closed the connection", c->address);
		if (errno == EINTR)
			return LC_INTR;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(c, LC_ERR, "receive from %s: %s", c->address, strerror(errno));
		if ((rc = wait_fd(c, POLLIN, deadline)) != LC_OK)
			return rc;
	}
}

int lc_read_line(struct lc_conn *c, int timeout_ms, char **line, size_t *len)
{
	long long deadline = deadline_after(timeout_ms);

	for (;;) {
		int rc = take_line(c, line, len);

		if (rc != LC_TIMEOUT)
			return rc;
		if ((rc = fill(c, deadline)) != LC_OK)
			return rc;
	}
}

/* The AUTH line is split on spaces and tabs, and a request may not hold
 * control characters. */
static int valid_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int send_auth(struct lc_conn *c, const char *user, const char *secret, long long deadline)
{
	size_t ul = strlen(user), sl = strlen(secret);
	struct iovec iov[5] = {
	    {(void *)"AUTH ", 5}, {(void *)user, ul}, {(void *)" ", 1},
	    {(void *)secret, sl}, {(void *)"\n", 1},
	};

	if (!valid_token(user) || !valid_token(secret))
		return fail(c, LC_ERR,
		            "the user name and secret must be non-empty, without spaces or control "
		            "characters");
	/* Sent from the caller's buffers, so no copy of the secret is left. */
	return send_iov(c, iov, 5, deadline);
}

int lc_auth(struct lc_conn *c, const char *user, const char *secret, int timeout_ms)
{
	long long deadline = deadline_after(timeout_ms);
	char said[600] = "";
	char *line;
	size_t len;
	int rc = send_auth(c, user, secret, deadline);

	while (rc == LC_OK && (rc = lc_read_line(c, remaining_ms(deadline), &line, &len)) == LC_OK) {
		if (strncmp(line, "* ", 2) != 0)
			break;
		snprintf(said, sizeof(said), " (it said: %s)", line);
	}
	if (rc == LC_TIMEOUT)
		return fail(c, LC_ERR, "no reply to AUTH from %s in time", c->address);
	if (rc == LC_EOF)
		return fail(c, LC_EOF, "%s closed the connection during AUTH%s", c->address, said);
	if (rc != LC_OK)
		return rc;
	if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0)
		return LC_OK;
	if (strncmp(line, "ERR auth_failed", 15) == 0)
		return fail(c, LC_AUTH_FAILED, "authentication as %s failed", user);
	return fail(c, LC_ERR, "AUTH refused by %s: %s", c->address, line);
}

const char *lc_error(const struct lc_conn *c)
{
	return c->err;
}

const char *lc_address(const struct lc_conn *c)
{
	return c->address;
}

void lc_close(struct lc_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}
