#include "failover.h"

#include <stdio.h>
#include <string.h>

#include "line_client.h"

void failover_init(struct failover *f, unsigned min_ms, unsigned max_ms)
{
	memset(f, 0, sizeof(*f));
	f->min_ms = min_ms;
	f->max_ms = max_ms;
	f->backoff_ms = min_ms;
}

int failover_add(struct failover *f, const char *list, unsigned default_port)
{
	const char *s = list;

	do {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char one[300];

		if (f->n == FAILOVER_MAX_ADDRS || len == 0 || len >= sizeof(one))
			return -1;
		memcpy(one, s, len);
		one[len] = '\0';
		if (lc_parse_hostport(one, f->host[f->n], sizeof(f->host[f->n]), &f->port[f->n],
		                      default_port) != 0)
			return -1;
		f->n++;
		s = comma ? comma + 1 : NULL;
	} while (s);
	return 0;
}

static unsigned jitter(unsigned ms, unsigned rnd)
{
	return ms / 2 + rnd % (ms / 2 + 1);
}

unsigned failover_next(struct failover *f, bool was_up, unsigned rnd)
{
	unsigned wait;

	if (f->n == 0)
		return f->max_ms;
	f->current = (f->current + 1) % f->n;
	if (was_up) {
		f->failed = 0;
		f->backoff_ms = f->min_ms;
		/* Straight to another daemon; the same one gets a moment first. */
		return f->n > 1 ? 0 : f->min_ms;
	}
	if (++f->failed % f->n != 0)
		return 0;
	wait = jitter(f->backoff_ms, rnd);
	f->backoff_ms = f->backoff_ms * 2 > f->max_ms ? f->max_ms : f->backoff_ms * 2;
	return wait;
}

unsigned failover_rounds_failed(const struct failover *f)
{
	return f->n ? f->failed / f->n : 0;
}
