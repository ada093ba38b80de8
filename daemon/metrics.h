/* metrics.h - the Prometheus text endpoint (config `metrics.listen`, off by
 * default; keep it on loopback or behind a firewall: it has no auth).
 *
 * A small evhttp server on the daemon's own loop: `GET /metrics` answers
 * 200 with the text exposition format 0.0.4 (proto/METRICS.md lists every
 * metric), any other path 404, any other method 405.  Requests are capped
 * (headers, body, a read/write timeout) so a stray client cannot hold
 * memory or a connection for long.  The values are read from the server's
 * counters at scrape time; nothing is kept here.
 */
#ifndef HOTLINE_METRICS_H
#define HOTLINE_METRICS_H

#include <event2/buffer.h>

#include "config.h"

struct server;
struct metrics;

/* Bind ep on srv's loop and start serving.  Logs "metrics on HOST:PORT"
 * with the bound port; NULL on failure (logged). */
struct metrics *metrics_new(struct server *srv, const struct config_endpoint *ep);
void metrics_free(struct metrics *m);

/* Append the whole exposition text for srv to out. */
void metrics_render(const struct server *srv, struct evbuffer *out);

#endif
