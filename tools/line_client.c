/* line_client.c - see line_client.h.
 *
 * The socket is non-blocking underneath so that every wait goes through
 * poll() with the caller's deadline; to the caller the API is blocking.
 * Over TLS the same holds: OpenSSL works on the non-blocking socket and its
 * WANT_READ / WANT_WRITE become polls for that direction. */
#include "line_client.h"

#include "cli_stop.h"
#include "tls_errors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define INITIAL_BUF 4096
#define MAX_BUF     ((size_t)LC_MAX_LINE + 2) /* the longest line plus CR LF */

struct lc_conn {
	int fd;
	char *buf; /* received bytes; [start, end) not yet returned */
	size_t cap, start, end;
	size_t scanned; /* bytes after start already searched for LF */
	int discarding; /* inside an overlong line: drop bytes until its LF */
	SSL_CTX *ctx;   /* TLS, once lc_start_tls succeeded or tried */
	SSL *ssl;
	char host[256]; /* as given to lc_connect: the name the certificate must carry */
	char address[300];
	char err[1200];
};

/* -1 stands for "no deadline" throughout. */
static long long deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : cli_monotonic_ms() + timeout_ms;
}

static int remaining_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - cli_monotonic_ms();
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
	snprintf(c->host, sizeof(c->host), "%s", host);
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

/* ------------------------------------------------------------------------ */
/* TLS */

/* OpenSSL writes to the socket with write(2), which raises SIGPIPE when the
 * server has gone: hold SIGPIPE back around SSL calls and drop one they
 * raised, so a vanished server is an error return, not a killed CLI. */
struct pipe_guard {
	sigset_t old;
	int was_pending;
};

static void pipe_block(struct pipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
}

static void pipe_unblock(struct pipe_guard *g)
{
	sigset_t set, pending;
	struct timespec zero = {0, 0};
	int saved = errno;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE))
		sigtimedwait(&set, NULL, &zero);
	sigprocmask(SIG_SETMASK, &g->old, NULL);
	errno = saved;
}

static int tls_setup(struct lc_conn *c, const struct lc_tls_options *opt, const char *name)
{
	unsigned char ip[16];
	char why[600];
	FILE *f;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		openssl_error_text(why, sizeof(why), "out of memory");
		return fail(c, LC_ERR, "cannot set up TLS: %s", why);
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* A server that closes without close_notify ends the input, as over
	 * plain TCP: lines are whole or dropped, so nothing can be truncated. */
	SSL_CTX_set_options(c->ctx,
	                    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (opt->ca_file) {
		if ((f = fopen(opt->ca_file, "r")) == NULL)
			return fail(c, LC_TLS_VERIFY, "cannot read the CA file %s: %s", opt->ca_file,
			            strerror(errno));
		fclose(f);
		if (SSL_CTX_load_verify_locations(c->ctx, opt->ca_file, NULL) != 1) {
			openssl_error_text(why, sizeof(why), "no certificate in it");
			return fail(c, LC_TLS_VERIFY, "cannot load the CA file %s: %s", opt->ca_file, why);
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		openssl_error_text(why, sizeof(why), "unknown error");
		return fail(c, LC_TLS_VERIFY, "cannot load the system's trusted CAs: %s", why);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		openssl_error_text(why, sizeof(why), "out of memory");
		return fail(c, LC_ERR, "cannot set up TLS: %s", why);
	}
	/* An IP address is matched against the certificate's IP entries and
	 * is not sent as SNI (RFC 6066); a name is both. */
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) != 1)
			return fail(c, LC_ERR, "cannot check the certificate for address %s", name);
	} else if (SSL_set1_host(c->ssl, name) != 1 || SSL_set_tlsext_host_name(c->ssl, name) != 1) {
		return fail(c, LC_ERR, "cannot check the certificate for name %s", name);
	}
	return LC_OK;
}

int lc_start_tls(struct lc_conn *c, const struct lc_tls_options *opt, int timeout_ms)
{
	long long deadline = deadline_after(timeout_ms);
	const char *name;
	char why[600];
	int rc;

	if (opt == NULL || !opt->enabled)
		return LC_OK;
	if (c->ctx)
		return fail(c, LC_ERR, "TLS was already started on this connection");
	name = opt->server_name && *opt->server_name ? opt->server_name : c->host;
	ERR_clear_error();
	if ((rc = tls_setup(c, opt, name)) != LC_OK)
		return rc;
	for (;;) {
		struct pipe_guard g;
		int r, e, saved;
		long v;

		ERR_clear_error();
		pipe_block(&g);
		r = SSL_connect(c->ssl);
		saved = errno;
		e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
		pipe_unblock(&g);
		if (r == 1)
			return LC_OK;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (rc == LC_TIMEOUT)
				return fail(c, LC_ERR, "TLS handshake with %s timed out (is it a TLS port?)",
				            c->address);
			if (rc != LC_OK)
				return rc;
			continue;
		}
		v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK) {
			ERR_clear_error();
			return fail(c, LC_TLS_VERIFY, "the TLS certificate of %s does not verify for %s: %s",
			            c->address, name, X509_verify_cert_error_string(v));
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(why, sizeof(why), "%s",
			         saved ? strerror(saved) : "the server closed the connection");
		else
			openssl_error_text(why, sizeof(why), "unknown error");
		return fail(c, LC_ERR, "TLS handshake with %s failed: %s (is it a TLS port?)", c->address,
		            why);
	}
}

/* SSL_write the iovecs as one record: a line is never split into
 * records, and nothing of it is left in memory afterwards. */
static int send_tls(struct lc_conn *c, const struct iovec *iov, int n, long long deadline)
{
	size_t total = 0, off = 0;
	char *buf;
	int rc = LC_OK;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total > INT_MAX || (buf = malloc(total ? total : 1)) == NULL)
		return fail(c, LC_ERR, "out of memory sending %zu bytes", total);
	for (int i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	for (;;) {
		struct pipe_guard g;
		int r, e, saved;

		ERR_clear_error();
		pipe_block(&g);
		r = SSL_write(c->ssl, buf, (int)total);
		saved = errno;
		e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
		pipe_unblock(&g);
		if (r > 0)
			break; /* without SSL_MODE_ENABLE_PARTIAL_WRITE: all of it */
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			/* Retried with the same buffer, as OpenSSL requires; a
			 * signal does not abandon a half-sent line. */
			int w = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);

			if (w == LC_TIMEOUT) {
				rc = fail(c, LC_ERR, "send to %s timed out", c->address);
				break;
			}
			if (w == LC_ERR) {
				rc = w;
				break;
			}
			continue;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
			rc = fail(c, LC_ERR, "send to %s: %s", c->address,
			          saved ? strerror(saved) : "connection closed");
		} else {
			char why[600];

			openssl_error_text(why, sizeof(why), "unknown error");
			rc = fail(c, LC_ERR, "send to %s: TLS: %s", c->address, why);
		}
		break;
	}
	explicit_bzero(buf, total);
	free(buf);
	return rc;
}

/* Like fill's recv: LC_OK with bytes added, LC_EOF, LC_ERR, LC_TIMEOUT,
 * LC_INTR. */
static int recv_tls(struct lc_conn *c, long long deadline)
{
	for (;;) {
		struct pipe_guard g;
		int r, e, saved, rc;
		size_t room = c->cap - c->end;

		ERR_clear_error();
		pipe_block(&g);
		r = SSL_read(c->ssl, c->buf + c->end, room > INT_MAX ? INT_MAX : (int)room);
		saved = errno;
		e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
		pipe_unblock(&g);
		if (r > 0) {
			c->end += (size_t)r;
			return LC_OK;
		}
		switch (e) {
		case SSL_ERROR_ZERO_RETURN:
			return fail(c, LC_EOF, "%s closed the connection", c->address);
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			if ((rc = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) != LC_OK)
				return rc;
			continue;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0) {
				if (saved == EINTR)
					return LC_INTR;
				if (saved == 0)
					return fail(c, LC_EOF, "%s closed the connection", c->address);
				return fail(c, LC_ERR, "receive from %s: %s", c->address, strerror(saved));
			}
			/* fall through */
		default: {
			char why[600];

			openssl_error_text(why, sizeof(why), "unknown error");
			return fail(c, LC_ERR, "receive from %s: TLS: %s", c->address, why);
		}
		}
	}
}

static int send_iov(struct lc_conn *c, struct iovec *iov, int n, long long deadline)
{
	if (c->ssl)
		return send_tls(c, iov, n, deadline);
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
	if (c->ssl)
		return recv_tls(c, deadline);
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
	if (c->ssl) {
		struct pipe_guard g;

		/* close_notify, best effort: the socket closes right after. */
		pipe_block(&g);
		if (SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		pipe_unblock(&g);
		ERR_clear_error();
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	close(c->fd);
	free(c->buf);
	free(c);
}
