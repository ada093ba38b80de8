#include "import_tiers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "customer.h"
#include "import.h"
#include "import_mem.h"
#include "import_redis.h"
#include "keys.h"

#define TIER_CHUNK 10000

struct ranked {
	double revenue;
	const char *id; /* an offset into the id buffer until loading is done */
};

struct pyramid {
	struct ranked *e;
	size_t n, cap;
	char *ids;
	size_t ids_used, ids_cap;
	size_t bound[TIER_COUNT + 1]; /* tier t holds ranks [bound[t], bound[t+1]) */
};

static int pyramid_add(struct pyramid *p, const redisReply *member, const redisReply *score)
{
	if (member->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
		return import_fail("unexpected reply from ZRANGE");
	if (!mem_grow((void **)&p->e, &p->cap, p->n + 1, sizeof(*p->e)) ||
	    !mem_grow((void **)&p->ids, &p->ids_cap, p->ids_used + member->len + 1, 1))
		return import_fail("out of memory");
	memcpy(p->ids + p->ids_used, member->str, member->len + 1);
	p->e[p->n].revenue = strtod(score->str, NULL);
	p->e[p->n++].id = (const char *)(uintptr_t)p->ids_used;
	p->ids_used += member->len + 1;
	return 0;
}

/* Every (id, revenue) of the index, in chunks so that no reply is huge. */
static int pyramid_load(redisContext *redis, const char *prefix, struct pyramid *p)
{
	char key[KEY_MAX], start[24], stop[24];
	size_t got = 0;
	redisReply *r;
	struct cmd c;
	int rc = 0;

	do {
		snprintf(start, sizeof(start), "%zu", p->n);
		snprintf(stop, sizeof(stop), "%zu", p->n + TIER_CHUNK - 1);
		cmd_start(&c, "ZRANGE", key, key_revenue_index(key, prefix));
		cmd_str(&c, start);
		cmd_str(&c, stop);
		cmd_str(&c, "WITHSCORES");
		if (import_append(redis, &c) != 0 ||
		    !(r = import_reply(redis, REDIS_REPLY_ARRAY, false, "reading the revenue index")))
			return -1;
		got = r->elements / 2;
		for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2)
			rc = pyramid_add(p, r->element[i], r->element[i + 1]);
		freeReplyObject(r);
	} while (rc == 0 && got == TIER_CHUNK);
	for (size_t i = 0; i < p->n; i++)
		p->e[i].id = p->ids + (uintptr_t)p->e[i].id;
	return rc;
}

/* Revenue descending, then id ascending byte by byte: the same order on every run. */
static int by_rank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->revenue != y->revenue)
		return x->revenue > y->revenue ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void pyramid_bounds(struct pyramid *p)
{
	static const unsigned percent[TIER_COUNT] = {1, 5, 20, 100};

	p->bound[0] = 0;
	for (int t = 0; t < TIER_COUNT; t++)
		p->bound[t + 1] = (p->n * percent[t] + 99) / 100;
}

static enum customer_tier tier_of(const struct pyramid *p, size_t rank)
{
	int t = 0;

	while (t < TIER_LEAD && rank >= p->bound[t + 1])
		t++;
	return (enum customer_tier)t;
}

/* Index members are ids written by the import; anything else names no record. */
static bool usable_id(const char *id)
{
	return customer_valid_key_part(id, strlen(id), CUSTOMER_ID_MAX);
}

/* From HMGET tier id: -1 no record (no id), 1 the tier is not want, 0 it is. */
static int tier_state(const redisReply *r, const char *want)
{
	if (r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING)
		return -1;
	return r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, want) != 0;
}

/* HMGET tier and id (id tells a record without a tier from no record at all), then HSET where needed. */
static int tiers_chunk(redisContext *redis, const char *prefix, const struct pyramid *p, size_t from,
                       size_t to, unsigned long changed[TIER_COUNT], unsigned long *missing)
{
	char key[KEY_MAX];
	size_t n_set = 0;
	struct cmd c;

	for (size_t i = from; i < to; i++) {
		if (!usable_id(p->e[i].id))
			continue;
		cmd_start(&c, "HMGET", key, key_customer(key, prefix, p->e[i].id));
		cmd_str(&c, "tier");
		cmd_str(&c, "id");
		if (import_append(redis, &c) != 0)
			return -1;
	}
	for (size_t i = from; i < to; i++) {
		const char *want = customer_tier_name(tier_of(p, i));
		redisReply *r;
		int st = -1;

		if (usable_id(p->e[i].id)) {
			if (!(r = import_reply(redis, REDIS_REPLY_ARRAY, false, "reading tiers")))
				return -1;
			st = tier_state(r, want);
			freeReplyObject(r);
		}
		if (st < 0) {
			++*missing; /* an index entry without a record: nothing to write to */
		} else if (st > 0) {
			cmd_start(&c, "HSET", key, key_customer(key, prefix, p->e[i].id));
			cmd_str(&c, "tier");
			cmd_str(&c, want);
			if (import_append(redis, &c) != 0)
				return -1;
			n_set++;
			changed[tier_of(p, i)]++;
		}
	}
	for (size_t i = 0; i < n_set; i++) {
		redisReply *r = import_reply(redis, REDIS_REPLY_INTEGER, false, "writing tiers");

		if (!r)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

static void tiers_report(const struct pyramid *p, const unsigned long changed[TIER_COUNT],
                         unsigned long missing)
{
	unsigned long total = 0;

	for (int t = 0; t < TIER_COUNT; t++)
		total += changed[t];
	printf("tiers: %zu customers, %lu changed\n", p->n, total);
	for (int t = 0; t < TIER_COUNT; t++) {
		size_t lo = p->bound[t], hi = p->bound[t + 1];

		printf("  %-9s %8zu", customer_tier_name((enum customer_tier)t), hi - lo);
		if (hi > lo)
			printf("  revenue %.2f..%.2f", p->e[hi - 1].revenue, p->e[lo].revenue);
		printf("  changed %lu\n", changed[t]);
	}
	if (missing > 0)
		printf("  %lu revenue index entries have no customer record (left alone)\n", missing);
}

int import_tiers(redisContext *redis, const char *prefix)
{
	struct pyramid p = {.n = 0};
	unsigned long changed[TIER_COUNT] = {0}, missing = 0;
	int rc = pyramid_load(redis, prefix, &p);

	if (rc == 0 && p.n > 1)
		qsort(p.e, p.n, sizeof(*p.e), by_rank);
	pyramid_bounds(&p);
	for (size_t from = 0; rc == 0 && from < p.n; from += TIER_CHUNK)
		rc = tiers_chunk(redis, prefix, &p, from, from + TIER_CHUNK < p.n ? from + TIER_CHUNK : p.n,
		                 changed, &missing);
	if (rc == 0)
		tiers_report(&p, changed, missing);
	free(p.e);
	free(p.ids);
	return rc;
}
