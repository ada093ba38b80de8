#include "listener.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "conn.h"
#include "log.h"
#include "netaddr.h"
#include "server.h"

/* When accept fails for lack of descriptors, stop accepting for a moment
 * instead of spinning on a listener that stays readable. */
#define ACCEPT_PAUSE_MS 100

struct listener {
	struct server *srv;
	struct evconnlistener *evl;
	struct event *resume;
	struct tls *tls; /* NULL: plaintext */
	char name[300];
};

/* Why a new connection is turned away, and the line it is told. */
struct refusal {
	const char *line;  /* the ERR line, LF included */
	const char *limit; /* the config key, for the log */
};

static const struct refusal too_many = {
	"ERR rate_limited too many connections; try another server or later\n", "max_connections"};
static const struct refusal too_many_unauth = {
	"ERR rate_limited too many connections waiting to authenticate; retry later\n", "max_unauthenticated"};

static void refuse(struct server *srv, evutil_socket_t fd, bool tls, const struct refusal *why, unsigned limit)
{
	static uint64_t last_log_ms;
	uint64_t now = stats_now_ms();

	/* Best effort on a fresh socket: the kernel buffer takes one short line.
	 * A TLS client would only see garbage instead of a handshake: it just
	 * sees the connection close. */
	if (!tls && write(fd, why->line, strlen(why->line)) < 0) {
		/* nothing to do: the client is being refused anyway */
	}
	evutil_closesocket(fd);
	srv->stats.conn_rejected++;
	if (now - last_log_ms >= 1000) {
		log_warn("refusing connections: %s (%u) reached; %llu refused so far", why->limit, limit,
		         (unsigned long long)srv->stats.conn_rejected);
		last_log_ms = now;
	}
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *addr, int addrlen,
                      void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	const struct config_limits *lim = &srv->cfg->limits;
	struct conn *c;

	if (srv->shutting_down) {
		evutil_closesocket(fd);
		return;
	}
	if (srv->stats.conn_current >= lim->max_connections) {
		refuse(srv, fd, l->tls != NULL, &too_many, lim->max_connections);
		return;
	}
	/* Every new connection starts unauthenticated: a flood of peers that
	 * never log in cannot take the slots of those who do. */
	if (srv->stats.conn_unauth >= lim->max_unauthenticated) {
		refuse(srv, fd, l->tls != NULL, &too_many_unauth, lim->max_unauthenticated);
		return;
	}
	c = l->tls ? conn_new_tls(srv, fd, addr, addrlen, l->tls) : conn_new(srv, fd, addr, addrlen);
	if (c == NULL) {
		log_error("cannot set up a new connection: out of memory");
		return;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->stats.conn_current++;
	srv->stats.conn_total++;
	clog_debug(c, "connected");
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	evconnlistener_enable(l->evl);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000};

	log_error("accept on %s failed: %s; pausing %d ms", l->name, evutil_socket_error_to_string(err),
	          ACCEPT_PAUSE_MS);
	evconnlistener_disable(evl);
	event_add(l->resume, &tv);
}

static struct listener *create(struct server *srv, const struct config_listen *cfg, struct tls *tls)
{
	struct netaddr_error err;
	struct listener *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->srv = srv;
	l->tls = tls;
	l->evl = netaddr_listen(srv->base, cfg->host, cfg->port, 1024, on_accept, l, l->name, sizeof(l->name), &err);
	if (l->evl == NULL) {
		if (err.resolving)
			log_error("cannot resolve listen address %s:%u: %s", cfg->host, cfg->port, err.reason);
		else
			log_error("cannot listen on %s:%u: %s", cfg->host, cfg->port, err.reason);
		free(l);
		return NULL;
	}
	l->resume = evtimer_new(srv->base, on_resume, l);
	evconnlistener_set_error_cb(l->evl, on_accept_error);
	log_info("listening on %s%s", l->name, tls ? " (tls)" : "");
	return l;
}

struct listener *listener_new(struct server *srv, const struct config_listen *cfg)
{
	return create(srv, cfg, NULL);
}

struct listener *listener_new_tls(struct server *srv, const struct config_listen *cfg, struct tls *tls)
{
	return create(srv, cfg, tls);
}

void listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->evl);
	if (l->resume)
		event_free(l->resume);
	free(l);
}
