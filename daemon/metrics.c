#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "addr_throttle.h"
#include "commands.h"
#include "conn.h"
#include "journal.h"
#include "log.h"
#include "loss.h"
#include "netaddr.h"
#include "redis_link.h"
#include "sentinel.h"
#include "server.h"
#include "spooler.h"
#include "stats.h"
#include "tail.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_PATH "/metrics"
/* A scrape is one short GET: anything bigger or slower is not Prometheus. */
#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE    1024
#define TIMEOUT_S        10
#define ACCEPT_PAUSE_MS  100

struct metrics {
	struct server *srv;
	struct evhttp *http;
	struct evconnlistener *evl; /* owned by http once bound */
	char name[300];
};

/* ---- exposition helpers ---- */

/* A label value: backslash, double quote and line feed are escaped. */
static void add_label_value(struct evbuffer *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		evbuffer_add(b, esc, 2);
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
}

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} (or plain name when label is NULL) and a space. */
static void series(struct evbuffer *b, const char *name, const char *label, const char *value)
{
	evbuffer_add_printf(b, "%s", name);
	if (label) {
		evbuffer_add_printf(b, "{%s=\"", label);
		add_label_value(b, value);
		evbuffer_add(b, "\"}", 2);
	}
	evbuffer_add(b, " ", 1);
}

static void sample_u64(struct evbuffer *b, const char *name, const char *label, const char *value, uint64_t v)
{
	series(b, name, label, value);
	evbuffer_add_printf(b, "%" PRIu64 "\n", v);
}

static void histogram(struct evbuffer *b, const char *name, const char *label, const char *value,
                      const struct latency_hist *h)
{
	uint64_t cumulative = 0;

	for (size_t i = 0; i < STATS_LATENCY_BUCKETS; i++) {
		cumulative += h->buckets[i];
		evbuffer_add_printf(b, "%s_bucket{%s=\"", name, label);
		add_label_value(b, value);
		if (i < STATS_LATENCY_BUCKETS - 1)
			evbuffer_add_printf(b, "\",le=\"%g\"} %" PRIu64 "\n", stats_latency_bounds[i],
			                    cumulative);
		else
			evbuffer_add_printf(b, "\",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
	}
	evbuffer_add_printf(b, "%s_sum{%s=\"", name, label);
	add_label_value(b, value);
	evbuffer_add_printf(b, "\"} %.17g\n", h->sum_s);
	/* The +Inf bucket and _count must agree; the buckets are the truth. */
	evbuffer_add_printf(b, "%s_count{%s=\"", name, label);
	add_label_value(b, value);
	evbuffer_add_printf(b, "\"} %" PRIu64 "\n", cumulative);
}

/* ---- the metrics ---- */

static size_t n_verbs(void)
{
	size_t n = command_count();

	return n < STATS_MAX_COMMANDS ? n : STATS_MAX_COMMANDS;
}

static void render_requests(const struct server *srv, struct evbuffer *b)
{
	const struct stats *st = &srv->stats;

	family(b, "hotline_requests_total", "counter", "Requests answered, by verb.");
	for (size_t i = 0; i < n_verbs(); i++)
		sample_u64(b, "hotline_requests_total", "verb", command_at(i)->name, st->verbs[i].count);
	family(b, "hotline_request_errors_total", "counter", "Requests answered with ERR, by verb.");
	for (size_t i = 0; i < n_verbs(); i++)
		sample_u64(b, "hotline_request_errors_total", "verb", command_at(i)->name,
		           st->verbs[i].errors);
	family(b, "hotline_errors_total", "counter",
	       "ERR replies by wire error code (including lines that never reached a verb).");
	for (int i = 0; i < STATS_ERR_COUNT; i++)
		sample_u64(b, "hotline_errors_total", "code", stats_error_name((enum stats_error)i),
		           st->errors[i]);
	family(b, "hotline_request_duration_seconds", "histogram",
	       "Time from reading a request line to queueing its reply, by verb.");
	for (size_t i = 0; i < n_verbs(); i++)
		histogram(b, "hotline_request_duration_seconds", "verb", command_at(i)->name,
		          &st->verb_latency[i]);
}

static void render_redis(const struct server *srv, struct evbuffer *b)
{
	const struct redis_link *links[2] = {srv->redis, srv->tailer ? tailer_link(srv->tailer) : NULL};
	static const char *const names[2] = {"main", "tail"};

	family(b, "hotline_redis_up", "gauge", "1 when the Redis link is connected, else 0.");
	for (int i = 0; i < 2; i++)
		if (links[i])
			sample_u64(b, "hotline_redis_up", "link", names[i],
			           redis_link_state(links[i]) == REDIS_LINK_UP);
	family(b, "hotline_redis_pending_commands", "gauge",
	       "Commands sent on the Redis link awaiting a reply.");
	for (int i = 0; i < 2; i++)
		if (links[i])
			sample_u64(b, "hotline_redis_pending_commands", "link", names[i],
			           redis_link_pending(links[i]));
	family(b, "hotline_redis_reconnects_total", "counter",
	       "Times the Redis link reconnected after a loss.");
	for (int i = 0; i < 2; i++)
		if (links[i])
			sample_u64(b, "hotline_redis_reconnects_total", "link", names[i],
			           redis_link_reconnects(links[i]));
	family(b, "hotline_redis_roundtrip_seconds", "histogram",
	       "Redis command round trips, from queueing to the reply.");
	for (int i = 0; i < 2; i++)
		if (links[i])
			histogram(b, "hotline_redis_roundtrip_seconds", "link", names[i],
			          redis_link_latency(links[i]));
	family(b, "hotline_redis_master_switches_total", "counter",
	       "+switch-master events for our master seen from Redis Sentinel (0 without Sentinel).");
	sample_u64(b, "hotline_redis_master_switches_total", NULL, NULL,
	           srv->sentinel ? sentinel_switches(srv->sentinel) : 0);
	family(b, "hotline_redis_waits_total", "counter", "WAITs sent for redis.wait.");
	sample_u64(b, "hotline_redis_waits_total", NULL, NULL, journal_waits(srv->journal));
	family(b, "hotline_redis_waits_short_total", "counter",
	       "WAITs that returned fewer replicas than redis.wait.replicas.");
	sample_u64(b, "hotline_redis_waits_short_total", NULL, NULL, journal_waits_short(srv->journal));
}

static void render_tails(const struct server *srv, struct evbuffer *b)
{
	const struct conn *c;
	uint64_t backlog = 0;

	TAILQ_FOREACH(c, &srv->conns, entry)
		if (c->tails[0] || c->tails[1])
			backlog += conn_output_pending(c);
	family(b, "hotline_tail_subscribers", "gauge", "Live TAIL subscriptions.");
	sample_u64(b, "hotline_tail_subscribers", NULL, NULL, tailer_subscribers(srv->tailer));
	family(b, "hotline_tail_pushed_total", "counter", "Log entries pushed to tailing connections.");
	sample_u64(b, "hotline_tail_pushed_total", NULL, NULL, tailer_pushed(srv->tailer));
	family(b, "hotline_tail_overflows_total", "counter",
	       "Tails stopped because their reader fell behind.");
	sample_u64(b, "hotline_tail_overflows_total", NULL, NULL, tailer_overflows(srv->tailer));
	family(b, "hotline_tail_backlog_bytes", "gauge",
	       "Output not yet read by connections that have a tail open, summed.");
	sample_u64(b, "hotline_tail_backlog_bytes", NULL, NULL, backlog);
}

void metrics_render(const struct server *srv, struct evbuffer *b)
{
	const struct stats *st = &srv->stats;

	family(b, "hotline_up", "gauge", "1 while the daemon is serving.");
	evbuffer_add_printf(b, "hotline_up 1\n");
	family(b, "hotline_build_info", "gauge", "Always 1; the label carries the daemon's version.");
	sample_u64(b, "hotline_build_info", "version", HOTLINE_VERSION, 1);
	family(b, "hotline_uptime_seconds", "gauge", "Seconds since the daemon started.");
	evbuffer_add_printf(b, "hotline_uptime_seconds %.3f\n",
	                    (double)(stats_now_ms() - st->started_monotonic_ms) / 1000.0);

	family(b, "hotline_connections", "gauge", "Client connections open now.");
	sample_u64(b, "hotline_connections", NULL, NULL, st->conn_current);
	family(b, "hotline_connections_unauthenticated", "gauge", "Of those, connections not authenticated yet.");
	sample_u64(b, "hotline_connections_unauthenticated", NULL, NULL, st->conn_unauth);
	family(b, "hotline_connections_total", "counter", "Client connections accepted.");
	sample_u64(b, "hotline_connections_total", NULL, NULL, st->conn_total);
	family(b, "hotline_connections_rejected_total", "counter",
	       "Client connections refused because limits.max_connections or max_unauthenticated was reached.");
	sample_u64(b, "hotline_connections_rejected_total", NULL, NULL, st->conn_rejected);
	family(b, "hotline_tls_handshake_failures_total", "counter",
	       "TLS connections closed because the handshake failed (e.g. plaintext on the TLS port).");
	sample_u64(b, "hotline_tls_handshake_failures_total", NULL, NULL, srv->tls_handshake_failures);

	family(b, "hotline_auth_throttled_total", "counter",
	       "AUTHs refused without a password check because their source address had too many failures.");
	sample_u64(b, "hotline_auth_throttled_total", NULL, NULL, st->auth_throttled);
	family(b, "hotline_auth_address_blocks_total", "counter",
	       "Times a source address was blocked after limits.max_auth_failures_per_addr failed AUTHs.");
	sample_u64(b, "hotline_auth_address_blocks_total", NULL, NULL, st->auth_addr_blocks);
	family(b, "hotline_auth_addresses_tracked", "gauge",
	       "Source addresses whose failed AUTHs are remembered (a fixed-size table).");
	sample_u64(b, "hotline_auth_addresses_tracked", NULL, NULL, addr_throttle_tracked(srv->auth_throttle));

	render_requests(srv, b);
	render_redis(srv, b);

	family(b, "hotline_spool_pending_writes", "gauge",
	       "Acknowledged writes in the local spool awaiting replay.");
	sample_u64(b, "hotline_spool_pending_writes", NULL, NULL, spooler_pending(srv->spooler));
	family(b, "hotline_spool_bytes", "gauge", "Size of the local spool file.");
	sample_u64(b, "hotline_spool_bytes", NULL, NULL, spooler_bytes(srv->spooler));

	render_tails(srv, b);

	family(b, "hotline_log_entries_appended_total", "counter",
	       "Entries this daemon appended to a log stream.");
	for (int s = 0; s < STREAM_COUNT; s++)
		sample_u64(b, "hotline_log_entries_appended_total", "stream",
		           journal_stream_name((enum journal_stream)s),
		           journal_appended(srv->journal, (enum journal_stream)s));
	family(b, "hotline_log_entries_lost_total", "counter",
	       "Entries this daemon acknowledged that Redis no longer had when the link came back.");
	for (int s = 0; s < STREAM_COUNT; s++)
		sample_u64(b, "hotline_log_entries_lost_total", "stream",
		           journal_stream_name((enum journal_stream)s),
		           loss_count(srv->loss, (enum journal_stream)s));
	family(b, "hotline_log_lost_records_total", "counter",
	       "Lost records this daemon appended: one per lost entry, naming it in the log for the audit.");
	for (int s = 0; s < STREAM_COUNT; s++)
		sample_u64(b, "hotline_log_lost_records_total", "stream",
		           journal_stream_name((enum journal_stream)s),
		           loss_recorded(srv->loss, (enum journal_stream)s));
}

/* ---- HTTP ---- */

/* One response.  libevent 2.1 would write the body even for HEAD, so a
 * HEAD gets the status and headers alone. */
static void reply(struct evhttp_request *req, int code, const char *reason, const char *content_type,
                  struct evbuffer *body)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	evhttp_add_header(headers, "Content-Type", content_type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		body = NULL;
	evhttp_send_reply(req, code, reason, body);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *body = evbuffer_new();

	if (body)
		evbuffer_add(body, text, strlen(text));
	reply(req, code, reason, "text/plain; charset=utf-8", body);
	if (body)
		evbuffer_free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evbuffer *body;

	if (path == NULL || strcmp(path, METRICS_PATH) != 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found",
		           "not found; the metrics are at " METRICS_PATH "\n");
		return;
	}
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, HTTP_BADMETHOD, "Method Not Allowed", "method not allowed; use GET\n");
		return;
	}
	body = evbuffer_new();
	if (body == NULL) {
		reply_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
		return;
	}
	metrics_render(m->srv, body);
	reply(req, HTTP_OK, "OK", CONTENT_TYPE, body);
	evbuffer_free(body);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

/* Out of descriptors: pause rather than spin on a listener that stays
 * readable (and keep libevent from writing its own warning to stderr).
 * The callback argument is evhttp's, so the resume timer is a one-shot on
 * the listener itself; it only fires inside the loop, and the listener
 * lives until server_free, after the loop. */
static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000};

	log_error("metrics: accept failed: %s; pausing %d ms", evutil_socket_error_to_string(err),
	          ACCEPT_PAUSE_MS);
	evconnlistener_disable(evl);
	if (event_base_once(evconnlistener_get_base(evl), -1, EV_TIMEOUT, on_resume, evl, &tv) != 0)
		evconnlistener_enable(evl);
}

struct metrics *metrics_new(struct server *srv, const struct config_endpoint *ep)
{
	const char *host = ep->addr.host;
	unsigned port = ep->addr.port;
	struct netaddr_error err;
	struct metrics *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		log_error("metrics: out of memory");
		return NULL;
	}
	m->srv = srv;
	m->http = evhttp_new(srv->base);
	if (m->http == NULL) {
		log_error("metrics: cannot set up the HTTP server");
		goto fail;
	}
	evhttp_set_timeout(m->http, TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(m->http, MAX_BODY_SIZE);
	/* Every method reaches on_request, which answers 404 or 405 itself
	 * (libevent would say 501 for a method it was told to refuse). */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	                                        EVHTTP_REQ_PATCH);
	evhttp_set_gencb(m->http, on_request, m);

	m->evl = netaddr_listen(srv->base, host, port, 128, NULL, NULL, m->name, sizeof(m->name), &err);
	if (m->evl == NULL) {
		if (err.resolving)
			log_error("cannot resolve metrics listen address %s:%u: %s", host, port, err.reason);
		else
			log_error("cannot listen for metrics on %s:%u: %s", host, port, err.reason);
		goto fail;
	}
	if (evhttp_bind_listener(m->http, m->evl) == NULL) {
		log_error("metrics: cannot attach the HTTP server to %s:%u", host, port);
		evconnlistener_free(m->evl);
		m->evl = NULL;
		goto fail;
	}
	/* evhttp_bind_listener set the accept callback; the error one is ours. */
	evconnlistener_set_error_cb(m->evl, on_accept_error);
	log_info("metrics on %s", m->name);
	return m;
fail:
	metrics_free(m);
	return NULL;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	/* Frees the bound listener (closing its socket) and any open request. */
	if (m->http)
		evhttp_free(m->http);
	free(m);
}
