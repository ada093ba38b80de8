#include "durability.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "redis_link.h"
#include "server.h"

#define UNKNOWN "unknown"
#define N_SETTINGS 3

static const char *const setting_names[N_SETTINGS] = {"appendonly", "appendfsync", "maxmemory-policy"};

struct settings {
	char value[N_SETTINGS][48];
};

struct durability {
	struct server *srv;
	struct event *timer;
	struct settings cur;
	unsigned generation; /* bumped per check; a stale check's answer is dropped */
	bool logged;         /* the settings were logged on this connection */
};

/* One pipelined round of CONFIG GETs. */
struct check {
	struct durability *d;
	unsigned generation;
	unsigned pending;
	struct settings got;
	char refusal[128]; /* the first error reply, if any */
	bool lost;         /* the link failed before answering: drop this round */
};

static void set_unknown(struct settings *s)
{
	for (int i = 0; i < N_SETTINGS; i++)
		snprintf(s->value[i], sizeof(s->value[i]), "%s", UNKNOWN);
}

static bool settings_durable(const struct settings *s)
{
	return strcmp(s->value[0], "yes") == 0 && strcmp(s->value[1], "always") == 0 &&
	       strcmp(s->value[2], "noeviction") == 0;
}

bool durability_durable(const struct durability *d)
{
	return settings_durable(&d->cur);
}

bool durability_allows_writes(const struct durability *d)
{
	return d->srv->cfg->redis.durability != REDIS_DURABILITY_STRICT || durability_durable(d);
}

json_t *durability_to_json(const struct durability *d)
{
	return json_pack("{s:s,s:s,s:s,s:b}", "appendonly", d->cur.value[0], "appendfsync", d->cur.value[1],
	                 "maxmemory_policy", d->cur.value[2], "durable", durability_durable(d));
}

static void report(struct durability *d, const struct check *ck)
{
	const struct settings *s = &d->cur;
	char why[256] = "";
	size_t n = 0;

	log_info("redis persistence: appendonly=%s appendfsync=%s maxmemory-policy=%s", s->value[0], s->value[1],
	         s->value[2]);
	if (settings_durable(s))
		return;
	if (ck->refusal[0])
		n += (size_t)snprintf(why + n, sizeof(why) - n, "%s; ", ck->refusal);
	if (strcmp(s->value[0], "yes") != 0 && n < sizeof(why))
		n += (size_t)snprintf(why + n, sizeof(why) - n, "appendonly is %s, not yes; ", s->value[0]);
	if (strcmp(s->value[1], "always") != 0 && n < sizeof(why))
		n += (size_t)snprintf(why + n, sizeof(why) - n, "appendfsync is %s, not always; ", s->value[1]);
	if (strcmp(s->value[2], "noeviction") != 0 && n < sizeof(why))
		n += (size_t)snprintf(why + n, sizeof(why) - n, "maxmemory-policy is %s, not noeviction; ",
		                      s->value[2]);
	if (n >= 2 && n < sizeof(why))
		why[n - 2] = '\0';
	log_warn("redis persistence: acknowledged writes may be lost if Redis restarts or evicts (%s)%s", why,
	         d->srv->cfg->redis.durability == REDIS_DURABILITY_STRICT
	                 ? "; redis.durability is strict: CALL and COMPLAINT writes are refused"
	                 : "");
}

static void on_config_get(redisReply *reply, void *arg)
{
	struct check *ck = arg;
	struct durability *d = ck->d;
	int i = -1;

	/* Which setting: the reply to CONFIG GET x is ["x", value] (or []). */
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING) {
		for (int k = 0; k < N_SETTINGS; k++)
			if (strcmp(reply->element[0]->str, setting_names[k]) == 0)
				i = k;
		if (i >= 0)
			snprintf(ck->got.value[i], sizeof(ck->got.value[i]), "%s", reply->element[1]->str);
	} else if (reply == NULL) {
		ck->lost = true;
	} else if (reply->type == REDIS_REPLY_ERROR && ck->refusal[0] == '\0') {
		snprintf(ck->refusal, sizeof(ck->refusal), "CONFIG GET refused: %s", reply->str);
	}
	if (--ck->pending > 0)
		return;
	if (!ck->lost && ck->generation == d->generation) {
		bool changed = memcmp(&d->cur, &ck->got, sizeof(d->cur)) != 0;

		d->cur = ck->got;
		/* Once per connection, and again when a re-check finds a change. */
		if (!d->logged || changed)
			report(d, ck);
		d->logged = true;
	}
	free(ck);
}

static void start_check(struct durability *d)
{
	struct check *ck;

	if (redis_link_state(d->srv->redis) != REDIS_LINK_UP)
		return;
	ck = calloc(1, sizeof(*ck));
	if (ck == NULL) {
		log_error("redis persistence: out of memory");
		return;
	}
	ck->d = d;
	ck->generation = ++d->generation;
	set_unknown(&ck->got);
	for (int i = 0; i < N_SETTINGS; i++) {
		const char *argv[] = {"CONFIG", "GET", setting_names[i]};

		if (redis_link_command(d->srv->redis, on_config_get, ck, 3, argv, NULL) == 0)
			ck->pending++;
	}
	if (ck->pending == 0)
		free(ck);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	start_check(arg);
}

struct durability *durability_new(struct server *srv)
{
	struct durability *d = calloc(1, sizeof(*d));
	struct timeval tv = {.tv_sec = DURABILITY_RECHECK_S};

	if (d == NULL)
		return NULL;
	d->srv = srv;
	set_unknown(&d->cur);
	d->timer = event_new(srv->base, -1, EV_PERSIST, on_timer, d);
	if (d->timer == NULL || event_add(d->timer, &tv) != 0) {
		durability_free(d);
		return NULL;
	}
	return d;
}

void durability_free(struct durability *d)
{
	if (d == NULL)
		return;
	if (d->timer)
		event_free(d->timer);
	free(d);
}

void durability_link_up(struct durability *d)
{
	/* It may be another server now: nothing is known until it answers. */
	set_unknown(&d->cur);
	d->logged = false;
	start_check(d);
}

void durability_recheck(struct durability *d)
{
	start_check(d);
}
