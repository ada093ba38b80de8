/* hotline import customers: load customer records from a CSV or JSON Lines
 * file into Redis, and recompute the tier pyramid from revenue.
 *
 * Every row is validated by customer.c, the same rules the daemon lives by;
 * a bad row is reported as FILE:LINE and skipped, never half-written.  Good
 * rows go to Redis in batches, each in two pipelined round trips: one reads
 * what Redis holds for the batch, one MULTI/EXEC writes only the difference.
 * Writing the difference is what makes a re-import of the same file write
 * nothing, and lets a nightly full export be re-imported cheaply.  A third,
 * small round trip is made only for a batch that moves an account away from
 * a customer outside the batch, or drops one: who owns those accounts (and
 * the previous owner's list) is only known once the first read is back.
 *
 * Redis' own work dominates a large import, so two things keep it busy and
 * small: a batch's EXEC reply is only read with the next batch's reads
 * (Redis applies one batch while the next is parsed; commands on one
 * connection run in order, so the next reads still see it applied), and
 * account, index and delete writes go out as one MSET, ZADD and DEL per
 * batch rather than one command per row.
 *
 * The import assumes it is the only writer of customer data while it runs
 * (the daemon only reads these keys).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "csv.h"
#include "customer.h"
#include "keys.h"
#include "proto.h"

#define DEFAULT_CONFIG "/etc/hotline/hotline.yaml"
#define DEFAULT_BATCH  1000
#define MAX_BATCH      100000
#define MAX_RECORD     (1024 * 1024) /* bytes in one CSV record or JSON line */
#define READ_SIZE      (256 * 1024)
#define TIER_CHUNK     10000
#define ARENA_BLOCK    (1024 * 1024)
#define LIST_MAX       (CUSTOMER_MAX_ACCOUNTS * (CUSTOMER_ID_MAX + 1))
#define CMD_MAX        (2 + 2 * CF_COUNT) /* HSET key + every field and value */

enum format { FMT_NONE, FMT_CSV, FMT_JSONL };

struct options {
	const char *file, *config, *redis, *prefix;
	enum format format;
	bool tiers, dry_run, quiet;
	size_t batch;
};

/* What the run talks to, from the config file and the command line. */
struct settings {
	char host[256];
	unsigned port;
	char unix_path[108];
	char prefix[64];
	char address[400]; /* as shown in messages */
	struct phone_rules phone;
	unsigned connect_ms, command_ms;
};

/* ---- the set of ids and accounts seen in the file ----------------------------------------------------- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

struct seen_slot {
	const char *key; /* NULL: free */
	uint32_t hash;
	uint32_t line; /* the row that claimed the key */
};

/* Open addressing, at most half full; keys live in an arena freed at once.
 * About 16 bytes + the key per entry, so a million ids cost ~40 MB. */
struct seen {
	struct seen_slot *slots;
	size_t cap, n;
	struct arena_block *arena;
};

/* ---- the batch ---------------------------------------------------------------------------------------- */

/* What Redis holds for one customer: pointers into the HGETALL reply. */
struct stored {
	const char *v[CF_COUNT];
	size_t len[CF_COUNT];
	bool exists;
};

struct row {
	struct customer c;
	unsigned long line;
	bool tier_given; /* the row names a tier; without one an existing tier (from --tiers) is kept */
	bool wrote;
	redisReply *hash;   /* HGETALL */
	size_t first_owner; /* index in batch.owners of accounts[0]'s owner */
	struct stored old;
};

/* An account the customer had and no longer lists: deleted if it still points to it. */
struct drop {
	size_t row;
	char account[CUSTOMER_ID_MAX + 1];
	redisReply *owner;
};

/* An account that moves to rows[row] from `owner`, a customer outside the batch. */
struct move {
	size_t row;
	const char *owner;
	const char *account;
	redisReply *owner_accounts; /* HGET owner accounts, on the first move of each owner */
};

/* One command with a growing number of arguments. */
struct argv_list {
	const char **v;
	size_t *len;
	size_t n, cap_v, cap_len;
};

struct batch {
	struct row *rows;
	size_t n, cap;
	unsigned long first_line;
	redisReply *owners_reply; /* MGET of every account in the batch */
	redisReply **owners;      /* its elements */
	size_t n_owners;
	struct arena_block *keys; /* keys named by the batch-wide commands below */
	/* One command for the whole batch instead of one per row: per-command overhead is a large
	 * part of Redis' work on an import. */
	struct argv_list mget, mset, del, zadd;
	struct drop *drops;
	size_t n_drops, cap_drops;
	struct move *moves;
	size_t n_moves, cap_moves;
};

struct counts {
	unsigned long added, updated, unchanged, rejected, valid;
};

struct progress {
	bool on, shown;
	struct timespec start;
	double last;
	off_t total, done;
};

struct importer {
	const char *name; /* the input as named in messages */
	const struct settings *set;
	size_t batch_size;
	bool dry_run;
	redisContext *rc;
	struct seen ids, accounts;
	struct batch b;
	struct counts n;
	struct progress prog;
	bool in_multi;
	size_t queued;
	/* A batch whose EXEC is on its way: its replies are read when the next batch's reads are, so
	 * Redis executes one batch while this process parses the next. */
	struct pending {
		bool active;
		size_t queued;
		unsigned long first_line;
		struct counts n; /* added, updated, unchanged: counted once EXEC succeeded */
	} pend;
};

struct cmd {
	int argc;
	const char *argv[CMD_MAX];
	size_t len[CMD_MAX];
};

/* ---- small helpers ------------------------------------------------------------------------------------ */

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* The field a header cell or JSON key names, the way customer.c reads it
 * (blanks around it ignored, any case); -1 if none. */
static int field_of_name(const char *s, size_t len)
{
	char name[32];

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= sizeof(name) || memchr(s, '\0', len))
		return -1;
	memcpy(name, s, len);
	name[len] = '\0';
	return customer_field_lookup(name);
}

/* Walk a stored ','-joined list: the next element into *e / *elen. */
static bool list_next(const char **p, const char *end, const char **e, size_t *elen)
{
	const char *comma;

	while (*p < end && **p == ',')
		(*p)++;
	if (*p >= end)
		return false;
	comma = memchr(*p, ',', (size_t)(end - *p));
	*e = *p;
	*elen = (size_t)((comma ? comma : end) - *p);
	*p = comma ? comma + 1 : end;
	return true;
}

static bool list_has(const char *list, size_t len, const char *item)
{
	const char *p = list, *e;
	size_t elen;

	while (list_next(&p, list + len, &e, &elen))
		if (same(e, elen, item, strlen(item)))
			return true;
	return false;
}

/* ---- seen: ids and accounts of the file --------------------------------------------------------------- */

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *arena_dup(struct arena_block **head, const char *s)
{
	size_t len = strlen(s) + 1;
	struct arena_block *b = *head;

	if (!b || b->cap - b->used < len) {
		size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	memcpy(b->data + b->used, s, len);
	b->used += len;
	return b->data + b->used - len;
}

static void arena_free(struct arena_block **head)
{
	while (*head) {
		struct arena_block *next = (*head)->next;

		free(*head);
		*head = next;
	}
}

static struct seen_slot *seen_slot(const struct seen *s, const char *key, uint32_t h)
{
	size_t mask = s->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct seen_slot *sl = &s->slots[i];

		if (!sl->key || (sl->hash == h && strcmp(sl->key, key) == 0))
			return sl;
	}
}

/* The line of the row that claimed key, or 0. */
static unsigned long seen_get(const struct seen *s, const char *key)
{
	if (s->n == 0)
		return 0;
	return seen_slot(s, key, hash_key(key))->line;
}

static bool seen_rehash(struct seen *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	struct seen_slot *old = s->slots;
	size_t old_cap = s->cap;

	s->slots = calloc(cap, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return false;
	}
	s->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*seen_slot(s, old[i].key, old[i].hash) = old[i];
	free(old);
	return true;
}

/* Records key for the row at line (a key already there keeps its line). */
static bool seen_add(struct seen *s, const char *key, unsigned long line)
{
	uint32_t h = hash_key(key);
	struct seen_slot *sl;

	if ((s->n + 1) * 2 > s->cap && !seen_rehash(s))
		return false;
	sl = seen_slot(s, key, h);
	if (sl->key)
		return true;
	sl->key = arena_dup(&s->arena, key);
	if (!sl->key)
		return false;
	sl->hash = h;
	sl->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	s->n++;
	return true;
}

static void seen_free(struct seen *s)
{
	arena_free(&s->arena);
	free(s->slots);
}

/* ---- messages and progress ---------------------------------------------------------------------------- */

static void progress_clear(struct progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		p->shown = false;
	}
}

static unsigned long rows_seen(const struct importer *im)
{
	return im->n.valid + im->n.rejected;
}

/* One status line, rewritten in place at most twice a second. */
static void progress_tick(struct importer *im)
{
	struct progress *p = &im->prog;
	double t;

	if (!p->on)
		return;
	t = elapsed(&p->start);
	if (t - p->last < 0.5)
		return;
	p->last = t;
	fprintf(stderr, "\r%lu rows, %.0f rows/s", rows_seen(im), (double)rows_seen(im) / t);
	if (p->total > 0)
		fprintf(stderr, ", %d%%", (int)(100.0 * (double)p->done / (double)p->total));
	fputs("\033[K", stderr);
	p->shown = true;
}

/* Report a row (or the file's header) and count it; returns 0: reading goes on. */
__attribute__((format(printf, 3, 4))) static int reject(struct importer *im, unsigned long line,
                                                        const char *fmt, ...)
{
	va_list ap;

	progress_clear(&im->prog);
	fprintf(stderr, "%s:%lu: ", im->name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	im->n.rejected++;
	return 0;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("hotline import: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* ---- Redis -------------------------------------------------------------------------------------------- */

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

static redisContext *redis_open(const struct settings *set)
{
	struct timeval ct = ms_tv(set->connect_ms);
	redisContext *c = set->unix_path[0] ? redisConnectUnixWithTimeout(set->unix_path, ct)
	                                    : redisConnectWithTimeout(set->host, (int)set->port, ct);
	redisReply *r;

	if (!c || c->err) {
		fail("cannot connect to Redis at %s: %s", set->address, c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, ms_tv(set->command_ms));
	r = redisCommand(c, "PING");
	if (!r || r->type == REDIS_REPLY_ERROR) {
		fail("Redis at %s does not answer PING: %s", set->address, r ? r->str : c->errstr);
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

static void cmd_arg(struct cmd *c, const char *s, size_t len)
{
	c->argv[c->argc] = s;
	c->len[c->argc++] = len;
}

static void cmd_str(struct cmd *c, const char *s)
{
	cmd_arg(c, s, strlen(s));
}

/* A command "VERB key [arg]"; the key buffer must outlive the append only. */
static void cmd_start(struct cmd *c, const char *verb, const char *key, int keylen)
{
	c->argc = 0;
	cmd_str(c, verb);
	cmd_arg(c, key, (size_t)keylen);
}

static bool argv_push(struct argv_list *l, const char *s, size_t len)
{
	if (!grow((void **)&l->v, &l->cap_v, l->n + 1, sizeof(*l->v)) ||
	    !grow((void **)&l->len, &l->cap_len, l->n + 1, sizeof(*l->len)))
		return false;
	l->v[l->n] = s;
	l->len[l->n++] = len;
	return true;
}

static void argv_free(struct argv_list *l)
{
	free(l->v);
	free(l->len);
}

static int append_argv(redisContext *rc, size_t argc, const char **argv, const size_t *len)
{
	if (argc > INT_MAX || redisAppendCommandArgv(rc, (int)argc, argv, len) != REDIS_OK)
		return fail("cannot queue a Redis command: %s", rc->errstr[0] ? rc->errstr : "out of memory");
	return 0;
}

static int append(redisContext *rc, const struct cmd *c)
{
	return append_argv(rc, (size_t)c->argc, (const char **)c->argv, c->len);
}

/* A blocking hiredis read or write that times out fails with EAGAIN: say what that means. */
static const char *redis_problem(const redisContext *rc)
{
	if (rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		return "no answer within redis.command_timeout_ms";
	return rc->errstr;
}

/* The next reply, which must be of type want (or nil when nil_ok). */
static redisReply *reply(redisContext *rc, int want, bool nil_ok, const char *what)
{
	void *v = NULL;
	redisReply *r;

	if (redisGetReply(rc, &v) != REDIS_OK) {
		fail("Redis failed while %s: %s", what, redis_problem(rc));
		return NULL;
	}
	r = v;
	if (r->type == want || (nil_ok && r->type == REDIS_REPLY_NIL))
		return r;
	if (r->type == REDIS_REPLY_ERROR)
		fail("Redis answered an error while %s: %s", what, r->str);
	else
		fail("unexpected Redis reply type %d during %s", r->type, what);
	freeReplyObject(r);
	return NULL;
}

/* A write inside the batch's MULTI, which is opened by the first write. */
static int write_argv(struct importer *im, size_t argc, const char **argv, const size_t *len)
{
	if (!im->in_multi) {
		struct cmd multi = {.argc = 0};

		cmd_str(&multi, "MULTI");
		if (append(im->rc, &multi) != 0)
			return -1;
		im->in_multi = true;
		im->queued = 0;
	}
	im->queued++;
	return append_argv(im->rc, argc, argv, len);
}

static int write_cmd(struct importer *im, const struct cmd *c)
{
	return write_argv(im, (size_t)c->argc, (const char **)c->argv, c->len);
}

/* Send the batch's EXEC now, and read its replies later (finish_pending). */
static int send_writes(struct importer *im, const struct counts *n)
{
	struct cmd exec = {.argc = 0};
	int done = 0;

	if (!im->in_multi) {
		im->n.unchanged += n->unchanged;
		return 0;
	}
	im->in_multi = false;
	cmd_str(&exec, "EXEC");
	if (append(im->rc, &exec) != 0)
		return -1;
	do
		if (redisBufferWrite(im->rc, &done) != REDIS_OK)
			return fail("Redis failed while sending writes: %s", redis_problem(im->rc));
	while (!done);
	im->pend = (struct pending){true, im->queued, im->b.first_line, *n};
	return 0;
}

static int finish_pending(struct importer *im)
{
	redisReply *r;
	int rc = 0;

	if (!im->pend.active)
		return 0;
	if (!(r = reply(im->rc, REDIS_REPLY_STATUS, false, "opening a transaction")))
		return -1;
	freeReplyObject(r);
	for (size_t i = 0; i < im->pend.queued; i++) {
		if (!(r = reply(im->rc, REDIS_REPLY_STATUS, false, "queueing a write")))
			return -1;
		freeReplyObject(r);
	}
	if (!(r = reply(im->rc, REDIS_REPLY_ARRAY, false, "committing a transaction")))
		return -1;
	/* Redis does not roll back a transaction whose command fails at run time (a key of the
	 * wrong type): say so, as the batch may then be partly applied. */
	for (size_t i = 0; i < r->elements && rc == 0; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR)
			rc = fail("Redis refused a write (the batch may be partly applied): %s",
			          r->element[i]->str);
	freeReplyObject(r);
	if (rc != 0)
		return rc;
	im->pend.active = false;
	im->n.added += im->pend.n.added;
	im->n.updated += im->pend.n.updated;
	im->n.unchanged += im->pend.n.unchanged;
	return 0;
}

/* ---- phase 1: what Redis holds for the batch ---------------------------------------------------------- */

static void parse_stored(struct row *r)
{
	const redisReply *h = r->hash;

	memset(&r->old, 0, sizeof(r->old));
	r->old.exists = h->elements > 0;
	for (size_t j = 0; j + 1 < h->elements; j += 2) {
		const redisReply *k = h->element[j], *v = h->element[j + 1];
		int f;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		f = customer_field_lookup(k->str);
		/* Only the exact lowercase names are ours: the daemon reads nothing else. */
		if (f >= 0 && strcmp(customer_field_name((enum customer_field)f), k->str) == 0) {
			r->old.v[f] = v->str;
			r->old.len[f] = v->len;
		}
	}
}

/* A key for a batch-wide command: it must live until the batch is sent. */
static bool push_key(struct batch *b, struct argv_list *l, const char *key, int keylen)
{
	const char *k = keylen < 0 ? NULL : arena_dup(&b->keys, key);

	return k && argv_push(l, k, (size_t)keylen);
}

/* The verbs (and the index key) the batch-wide commands start with. */
static bool begin_batch_commands(struct batch *b, const char *prefix)
{
	char key[KEY_MAX];

	b->mget.n = b->mset.n = b->del.n = b->zadd.n = 0;
	return argv_push(&b->mget, "MGET", 4) && argv_push(&b->mset, "MSET", 4) &&
	       argv_push(&b->del, "DEL", 3) && argv_push(&b->zadd, "ZADD", 4) &&
	       push_key(b, &b->zadd, key, key_revenue_index(key, prefix));
}

static int append_reads(struct importer *im)
{
	struct batch *b = &im->b;
	char key[KEY_MAX];
	struct cmd c;

	if (!begin_batch_commands(b, im->set->prefix))
		return fail("out of memory");
	b->n_owners = 0;
	for (size_t i = 0; i < b->n; i++) {
		cmd_start(&c, "HGETALL", key, key_customer(key, im->set->prefix, b->rows[i].c.value[CF_ID]));
		if (append(im->rc, &c) != 0)
			return -1;
		b->rows[i].first_owner = b->n_owners;
		for (size_t j = 0; j < b->rows[i].c.n_accounts; j++, b->n_owners++)
			if (!push_key(b, &b->mget, key,
			              key_account(key, im->set->prefix, b->rows[i].c.accounts[j])))
				return fail("out of memory");
	}
	return b->n_owners > 0 ? append_argv(im->rc, b->mget.n, b->mget.v, b->mget.len) : 0;
}

static int read_state(struct importer *im)
{
	struct batch *b = &im->b;

	if (append_reads(im) != 0 || finish_pending(im) != 0)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		if (!(b->rows[i].hash = reply(im->rc, REDIS_REPLY_ARRAY, false, "reading a customer")))
			return -1;
		parse_stored(&b->rows[i]);
	}
	if (b->n_owners == 0)
		return 0;
	if (!(b->owners_reply = reply(im->rc, REDIS_REPLY_ARRAY, false, "reading accounts")))
		return -1;
	if (b->owners_reply->elements != b->n_owners)
		return fail("MGET answered %zu values for %zu keys", b->owners_reply->elements, b->n_owners);
	b->owners = b->owners_reply->element; /* strings, or nil for a missing (or non-string) key */
	return 0;
}

/* ---- phase 1b: owners of dropped accounts, lists of previous owners ----------------------------------- */

static bool owner_is(const redisReply *owner, const char *id)
{
	return owner && owner->type == REDIS_REPLY_STRING && strcmp(owner->str, id) == 0;
}

/* An owner in this batch has its own row, whose new record governs its accounts. */
static bool in_batch(const struct importer *im, const char *id)
{
	return seen_get(&im->ids, id) >= im->b.first_line;
}

static int add_drop(struct batch *b, size_t row, const char *acc, size_t len)
{
	if (len > CUSTOMER_ID_MAX)
		return 0; /* not written by us, so not an account key of ours either */
	if (!grow((void **)&b->drops, &b->cap_drops, b->n_drops + 1, sizeof(*b->drops)))
		return fail("out of memory");
	b->drops[b->n_drops].row = row;
	memcpy(b->drops[b->n_drops].account, acc, len);
	b->drops[b->n_drops].account[len] = '\0';
	b->drops[b->n_drops++].owner = NULL;
	return 0;
}

static int find_drops(struct importer *im, size_t i)
{
	const struct row *r = &im->b.rows[i];
	const char *p = r->old.v[CF_ACCOUNTS], *e;
	size_t elen;

	if (!p)
		return 0;
	while (list_next(&p, r->old.v[CF_ACCOUNTS] + r->old.len[CF_ACCOUNTS], &e, &elen)) {
		char acc[CUSTOMER_ID_MAX + 1];

		if (elen > CUSTOMER_ID_MAX)
			continue;
		memcpy(acc, e, elen);
		acc[elen] = '\0';
		/* Still claimed in the file (by this row or another): the claimant sets it, and deleting
		 * it here could undo that. */
		if (seen_get(&im->accounts, acc) != 0)
			continue;
		if (add_drop(&im->b, i, e, elen) != 0)
			return -1;
	}
	return 0;
}

static int find_moves(struct importer *im, size_t i)
{
	struct batch *b = &im->b;
	const struct row *r = &b->rows[i];

	for (size_t j = 0; j < r->c.n_accounts; j++) {
		const redisReply *o = b->owners[r->first_owner + j];

		/* An owner that is not a valid id was not written by us: the account is just taken over. */
		if (o->type != REDIS_REPLY_STRING || owner_is(o, r->c.value[CF_ID]) ||
		    !customer_valid_key_part(o->str, o->len, CUSTOMER_ID_MAX) || in_batch(im, o->str))
			continue;
		if (!grow((void **)&b->moves, &b->cap_moves, b->n_moves + 1, sizeof(*b->moves)))
			return fail("out of memory");
		b->moves[b->n_moves++] = (struct move){i, o->str, r->c.accounts[j], NULL};
	}
	return 0;
}

static int by_owner(const void *a, const void *b)
{
	return strcmp(((const struct move *)a)->owner, ((const struct move *)b)->owner);
}

static bool first_of_owner(const struct batch *b, size_t k)
{
	return k == 0 || strcmp(b->moves[k - 1].owner, b->moves[k].owner) != 0;
}

static int read_followups(struct importer *im)
{
	struct batch *b = &im->b;
	char key[KEY_MAX];
	struct cmd c;

	for (size_t d = 0; d < b->n_drops; d++) {
		cmd_start(&c, "GET", key, key_account(key, im->set->prefix, b->drops[d].account));
		if (append(im->rc, &c) != 0)
			return -1;
	}
	for (size_t k = 0; k < b->n_moves; k++) {
		if (!first_of_owner(b, k))
			continue;
		cmd_start(&c, "HGET", key, key_customer(key, im->set->prefix, b->moves[k].owner));
		cmd_str(&c, "accounts");
		if (append(im->rc, &c) != 0)
			return -1;
	}
	for (size_t d = 0; d < b->n_drops; d++)
		if (!(b->drops[d].owner = reply(im->rc, REDIS_REPLY_STRING, true, "reading an account")))
			return -1;
	for (size_t k = 0; k < b->n_moves; k++)
		if (first_of_owner(b, k) && !(b->moves[k].owner_accounts = reply(im->rc, REDIS_REPLY_STRING,
		                                                                 true, "reading a customer")))
			return -1;
	return 0;
}

static int followups(struct importer *im)
{
	struct batch *b = &im->b;

	b->n_drops = b->n_moves = 0;
	for (size_t i = 0; i < b->n; i++)
		if ((b->rows[i].old.exists && find_drops(im, i) != 0) || find_moves(im, i) != 0)
			return -1;
	if (b->n_drops == 0 && b->n_moves == 0)
		return 0;
	if (b->n_moves > 1)
		qsort(b->moves, b->n_moves, sizeof(*b->moves), by_owner);
	return read_followups(im);
}

/* ---- phase 2: write the difference -------------------------------------------------------------------- */

/* HSET what changed, HDEL what became empty. */
static int write_fields(struct importer *im, struct row *r, const char *key, int keylen)
{
	struct cmd set, del;

	cmd_start(&set, "HSET", key, keylen);
	cmd_start(&del, "HDEL", key, keylen);
	for (int f = 0; f < CF_COUNT; f++) {
		const char *v = r->c.value[f];
		size_t vlen = strlen(v);

		if (f == CF_TIER && !r->tier_given && r->old.len[f] > 0)
			continue;
		if (same(v, vlen, r->old.v[f], r->old.len[f]))
			continue;
		if (vlen > 0) {
			cmd_str(&set, customer_field_name((enum customer_field)f));
			cmd_arg(&set, v, vlen);
		} else {
			cmd_str(&del, customer_field_name((enum customer_field)f));
		}
	}
	if ((set.argc > 2 && write_cmd(im, &set) != 0) || (del.argc > 2 && write_cmd(im, &del) != 0))
		return -1;
	r->wrote |= set.argc > 2 || del.argc > 2;
	return 0;
}

static int write_member(struct importer *im, const char *verb, const char *key, int keylen, const char *id)
{
	struct cmd c;

	if (keylen < 0)
		return fail("key too long");
	cmd_start(&c, verb, key, keylen);
	cmd_str(&c, id);
	return write_cmd(im, &c);
}

/* The phone sets: SREM from numbers the customer no longer has, SADD to new ones. */
static int write_phones(struct importer *im, struct row *r)
{
	const char *id = r->c.value[CF_ID], *old = r->old.v[CF_PHONES], *p = old, *e;
	size_t elen, oldlen = r->old.len[CF_PHONES];
	char key[KEY_MAX], num[PHONE_MAX];

	while (p && list_next(&p, old + oldlen, &e, &elen)) {
		if (elen >= PHONE_MAX)
			continue;
		memcpy(num, e, elen);
		num[elen] = '\0';
		if (list_has(r->c.value[CF_PHONES], strlen(r->c.value[CF_PHONES]), num))
			continue;
		if (write_member(im, "SREM", key, key_phone(key, im->set->prefix, num), id) != 0)
			return -1;
		r->wrote = true;
	}
	for (size_t j = 0; j < r->c.n_phones; j++) {
		if (old && list_has(old, oldlen, r->c.phones[j]))
			continue;
		if (write_member(im, "SADD", key, key_phone(key, im->set->prefix, r->c.phones[j]), id) != 0)
			return -1;
		r->wrote = true;
	}
	return 0;
}

/* Point every account that does not point to the customer yet to it (in the batch's MSET). */
static int write_accounts(struct importer *im, struct row *r)
{
	struct batch *b = &im->b;
	const char *id = r->c.value[CF_ID];
	char key[KEY_MAX];

	for (size_t j = 0; j < r->c.n_accounts; j++) {
		if (owner_is(b->owners[r->first_owner + j], id))
			continue;
		if (!push_key(b, &b->mset, key, key_account(key, im->set->prefix, r->c.accounts[j])) ||
		    !argv_push(&b->mset, id, strlen(id)))
			return fail("out of memory");
		r->wrote = true;
	}
	return 0;
}

/* The revenue index entry (in the batch's ZADD); a customer without revenue ranks at 0. */
static int write_revenue(struct importer *im, struct row *r)
{
	const char *rev = r->c.value[CF_REVENUE][0] ? r->c.value[CF_REVENUE] : "0";

	if (r->old.exists && same(r->c.value[CF_REVENUE], strlen(r->c.value[CF_REVENUE]),
	                          r->old.v[CF_REVENUE], r->old.len[CF_REVENUE]))
		return 0;
	if (!argv_push(&im->b.zadd, rev, strlen(rev)) ||
	    !argv_push(&im->b.zadd, r->c.value[CF_ID], strlen(r->c.value[CF_ID])))
		return fail("out of memory");
	r->wrote = true;
	return 0;
}

static int write_row(struct importer *im, struct row *r)
{
	char key[KEY_MAX];
	int keylen = key_customer(key, im->set->prefix, r->c.value[CF_ID]);

	r->wrote = false;
	if (keylen < 0)
		return fail("key too long");
	if (write_fields(im, r, key, keylen) != 0 || write_phones(im, r) != 0 || write_accounts(im, r) != 0 ||
	    write_revenue(im, r) != 0)
		return -1;
	return 0;
}

static int write_drops(struct importer *im)
{
	struct batch *b = &im->b;
	char key[KEY_MAX];

	for (size_t d = 0; d < b->n_drops; d++) {
		struct row *r = &b->rows[b->drops[d].row];

		if (!owner_is(b->drops[d].owner, r->c.value[CF_ID]))
			continue; /* already someone else's: not ours to delete */
		if (!push_key(b, &b->del, key, key_account(key, im->set->prefix, b->drops[d].account)))
			return fail("out of memory");
		r->wrote = true;
	}
	return 0;
}

/* The batch-wide commands that got arguments beyond their verb (and key). */
static int write_batch_commands(struct importer *im)
{
	struct batch *b = &im->b;

	if ((b->mset.n > 1 && write_argv(im, b->mset.n, b->mset.v, b->mset.len) != 0) ||
	    (b->del.n > 1 && write_argv(im, b->del.n, b->del.v, b->del.len) != 0) ||
	    (b->zadd.n > 2 && write_argv(im, b->zadd.n, b->zadd.v, b->zadd.len) != 0))
		return -1;
	return 0;
}

/* The previous owner's `accounts` without the ones moved away (moves[k..] share the owner). */
static int strip_owner(struct importer *im, size_t k)
{
	const struct batch *b = &im->b;
	const redisReply *old = b->moves[k].owner_accounts;
	const char *p, *e;
	char list[LIST_MAX + 1], key[KEY_MAX];
	size_t elen, n = 0;
	struct cmd c;
	int keylen = key_customer(key, im->set->prefix, b->moves[k].owner);

	if (old->type != REDIS_REPLY_STRING || keylen < 0)
		return 0;
	for (p = old->str; list_next(&p, old->str + old->len, &e, &elen);) {
		bool moved = false;

		for (size_t m = k; m < b->n_moves && !moved && (m == k || !first_of_owner(b, m)); m++)
			moved = same(e, elen, b->moves[m].account, strlen(b->moves[m].account));
		if (moved || n + elen + 1 > sizeof(list))
			continue;
		if (n > 0)
			list[n++] = ',';
		memcpy(list + n, e, elen);
		n += elen;
	}
	if (same(list, n, old->str, old->len))
		return 0;
	cmd_start(&c, n > 0 ? "HSET" : "HDEL", key, keylen);
	cmd_str(&c, "accounts");
	if (n > 0)
		cmd_arg(&c, list, n);
	return write_cmd(im, &c);
}

static int write_moves(struct importer *im)
{
	for (size_t k = 0; k < im->b.n_moves; k++)
		if (first_of_owner(&im->b, k) && strip_owner(im, k) != 0)
			return -1;
	return 0;
}

static struct counts count_rows(const struct batch *b)
{
	struct counts n = {0};

	for (size_t i = 0; i < b->n; i++) {
		const struct row *r = &b->rows[i];

		if (!r->old.exists)
			n.added++;
		else if (r->wrote)
			n.updated++;
		else
			n.unchanged++;
	}
	return n;
}

static void batch_release(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		freeReplyObject(b->rows[i].hash);
		b->rows[i].hash = NULL;
		customer_free(&b->rows[i].c);
	}
	freeReplyObject(b->owners_reply);
	b->owners_reply = NULL;
	b->owners = NULL;
	arena_free(&b->keys);
	for (size_t d = 0; d < b->n_drops; d++)
		freeReplyObject(b->drops[d].owner);
	for (size_t k = 0; k < b->n_moves; k++)
		freeReplyObject(b->moves[k].owner_accounts);
	b->n = b->n_owners = b->n_drops = b->n_moves = 0;
}

/* Batches are written whole and in order, so where the import stopped says what is in Redis. */
static int stopped(const struct importer *im)
{
	return fail("stopped: the rows before line %lu were written, none from there on",
	            im->pend.active ? im->pend.first_line : im->b.first_line);
}

static int flush(struct importer *im)
{
	struct batch *b = &im->b;
	struct counts n;
	int rc = 0;

	if (b->n == 0)
		return 0;
	if (read_state(im) != 0 || followups(im) != 0)
		rc = -1;
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = write_row(im, &b->rows[i]);
	if (rc == 0 && (write_drops(im) != 0 || write_moves(im) != 0 || write_batch_commands(im) != 0))
		rc = -1;
	n = count_rows(b);
	if (rc == 0)
		rc = send_writes(im, &n);
	if (rc != 0)
		stopped(im);
	batch_release(b);
	progress_tick(im);
	return rc;
}

/* ---- rows --------------------------------------------------------------------------------------------- */

/* Where the next row is parsed: straight into the batch, so accepting it copies nothing. */
static struct row *next_slot(struct importer *im)
{
	struct batch *b = &im->b;

	if (!grow((void **)&b->rows, &b->cap, b->n + 1, sizeof(*b->rows)))
		return NULL;
	memset(&b->rows[b->n], 0, sizeof(b->rows[b->n]));
	return &b->rows[b->n];
}

/* The checks that span rows: an id once per file, an account for one customer only. */
static bool check_file_wide(struct importer *im, const struct row *r)
{
	unsigned long prev = seen_get(&im->ids, r->c.value[CF_ID]);

	if (prev != 0) {
		reject(im, r->line, "duplicate id, first seen at line %lu", prev);
		return false;
	}
	for (size_t j = 0; j < r->c.n_accounts; j++) {
		prev = seen_get(&im->accounts, r->c.accounts[j]);
		if (prev != 0) {
			reject(im, r->line,
			       "field 'accounts': account %zu is already claimed by the customer at line %lu",
			       j + 1, prev);
			return false;
		}
	}
	return true;
}

/* A valid row (in the slot from next_slot): checked against the file, then batched. */
static int accept(struct importer *im, struct row *r)
{
	bool ok = check_file_wide(im, r), stored = ok;

	for (size_t j = 0; stored && j < r->c.n_accounts; j++)
		stored = seen_add(&im->accounts, r->c.accounts[j], r->line);
	if (stored)
		stored = seen_add(&im->ids, r->c.value[CF_ID], r->line);
	if (!stored || im->dry_run) {
		customer_free(&r->c);
		im->n.valid += stored;
		return ok && !stored ? fail("out of memory") : 0;
	}
	im->n.valid++;
	if (im->b.n++ == 0)
		im->b.first_line = r->line;
	return im->b.n >= im->batch_size ? flush(im) : 0;
}

static void tick_rows(struct importer *im)
{
	if ((rows_seen(im) & 255) == 0)
		progress_tick(im);
}

/* ---- CSV ---------------------------------------------------------------------------------------------- */

struct csv_header {
	char **names;
	size_t n;
	int tier_col;
};

static void header_free(struct csv_header *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
}

static void printable(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t n = len < dstlen - 1 ? len : dstlen - 1;

	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	dst[n] = '\0';
}

/* The header names the columns once for the whole file: a bad one is a finding about the file. */
static int take_header(struct importer *im, const struct csv_record *rec, struct csv_header *h)
{
	bool have[CF_COUNT] = {false};
	char shown[41];

	h->tier_col = -1;
	h->names = calloc(rec->n_fields, sizeof(*h->names));
	if (!h->names)
		return fail("out of memory");
	for (size_t i = 0; i < rec->n_fields; i++, h->n++) {
		int f = field_of_name(rec->fields[i], rec->lens[i]);

		printable(shown, sizeof(shown), rec->fields[i], rec->lens[i]);
		if (f < 0 || have[f]) {
			reject(im, rec->line,
			       f < 0 ? "header: unknown field '%s'" : "header: field '%s' given twice",
			       shown);
			return -2;
		}
		have[f] = true;
		if (f == CF_TIER)
			h->tier_col = (int)i;
		if (!(h->names[i] = strdup(rec->fields[i])))
			return fail("out of memory");
	}
	for (int f = CF_ID; f <= CF_NAME; f++) {
		if (!have[f]) {
			reject(im, rec->line, "header: no '%s' column",
			       customer_field_name((enum customer_field)f));
			return -2;
		}
	}
	return 0;
}

static int csv_row(struct importer *im, const struct csv_record *rec, const struct csv_header *h)
{
	char err[256];
	struct row *r;

	if (rec->n_fields != h->n)
		return reject(im, rec->line, "%zu fields, the header has %zu", rec->n_fields, h->n);
	for (size_t i = 0; i < h->n; i++)
		if (memchr(rec->fields[i], '\0', rec->lens[i]))
			return reject(im, rec->line, "field '%s': contains a NUL byte", h->names[i]);
	if (!(r = next_slot(im)))
		return fail("out of memory");
	r->line = rec->line;
	if (customer_from_text(&r->c, (const char *const *)h->names, (const char *const *)rec->fields, h->n,
	                       &im->set->phone, err, sizeof(err)) != 0)
		return reject(im, rec->line, "%s", err);
	r->tier_given = h->tier_col >= 0 && !is_blank(rec->fields[h->tier_col], rec->lens[h->tier_col]);
	return accept(im, r);
}

/* 0 to go on, -1 failed (reported), -2 the file's header is unusable (reported). */
static int csv_records(struct importer *im, struct csv_reader *cr, struct csv_header *h)
{
	struct csv_record rec;
	const char *why;
	enum csv_status st;
	int rc = 0;

	while (rc == 0 && (st = csv_next(cr, &rec, &why)) != CSV_NEED_MORE && st != CSV_END) {
		if (st == CSV_ERROR)
			reject(im, rec.line, "%s", why);
		else if (h->names)
			rc = csv_row(im, &rec, h);
		else
			rc = take_header(im, &rec, h);
		if (st == CSV_ERROR && !h->names)
			rc = -2; /* no header, no columns */
		tick_rows(im);
	}
	return rc;
}

static ssize_t read_some(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static int import_csv(struct importer *im, int fd)
{
	struct csv_reader *cr = csv_new(MAX_RECORD);
	struct csv_header h = {.names = NULL};
	char *buf = malloc(READ_SIZE);
	ssize_t n = 1;
	int rc = 0;

	if (!cr || !buf)
		rc = fail("out of memory");
	while (rc == 0 && n > 0) {
		if ((n = read_some(fd, buf, READ_SIZE)) < 0) {
			rc = fail("cannot read %s: %s", im->name, strerror(errno));
			break;
		}
		im->prog.done += n;
		if (n == 0)
			csv_finish(cr);
		else
			csv_feed(cr, buf, (size_t)n);
		rc = csv_records(im, cr, &h);
	}
	if (rc == 0 && !h.names) {
		reject(im, 1, "no header row (the file is empty)");
		rc = -2;
	}
	header_free(&h);
	csv_free(cr);
	free(buf);
	return rc;
}

/* ---- JSON Lines --------------------------------------------------------------------------------------- */

static bool json_tier_given(json_t *obj)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *k = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);

		if (field_of_name(k, strlen(k)) == CF_TIER && json_is_string(v) &&
		    !is_blank(json_string_value(v), json_string_length(v)))
			return true;
	}
	return false;
}

static int json_row(struct importer *im, const char *line, size_t len, unsigned long lineno)
{
	json_error_t je;
	json_t *obj;
	struct row *r;
	char err[256], *near;
	int rc;

	if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (is_blank(line, len))
		return 0;
	obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!obj) {
		/* jansson quotes the offending token ("near '...'"): it may be personal data. */
		if ((near = strstr(je.text, " near ")))
			*near = '\0';
		return reject(im, lineno, "invalid JSON at column %d: %s", je.column, je.text);
	}
	if (!(r = next_slot(im))) {
		json_decref(obj);
		return fail("out of memory");
	}
	r->line = lineno;
	rc = customer_from_json(&r->c, obj, &im->set->phone, err, sizeof(err));
	r->tier_given = rc == 0 && json_tier_given(obj);
	json_decref(obj);
	if (rc != 0)
		return reject(im, lineno, "%s", err);
	return accept(im, r);
}

static unsigned long count_lf(const char *p, size_t len)
{
	unsigned long n = 0;
	const char *end = p + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* Every complete line in buf; *lines counts the lines finished so far, *used the bytes done. */
static int json_lines(struct importer *im, struct proto_framer *fr, const char *buf, size_t len,
                      unsigned long *lines, size_t *used)
{
	enum proto_frame_status st;
	const char *line;
	size_t ll, consumed;
	int rc = 0;

	*used = 0;
	do {
		st = proto_frame(fr, buf + *used, len - *used, &line, &ll, &consumed);
		if (st == PROTO_LINE) {
			*lines += count_lf(buf + *used, (size_t)(line - (buf + *used))) + 1;
			rc = json_row(im, line, ll, *lines);
			tick_rows(im);
		} else {
			*lines += count_lf(buf + *used, consumed);
			if (st == PROTO_TOO_LONG)
				reject(im, *lines + 1, "line longer than %d bytes", MAX_RECORD);
		}
		*used += consumed;
	} while (rc == 0 && st != PROTO_NEED_MORE);
	return rc;
}

static int import_jsonl(struct importer *im, int fd)
{
	size_t cap = MAX_RECORD + 2 + READ_SIZE, len = 0, used;
	char *buf = malloc(cap);
	struct proto_framer fr;
	unsigned long lines = 0;
	bool eof = false;
	int rc = 0;

	if (!buf)
		return fail("out of memory");
	proto_framer_init(&fr, MAX_RECORD);
	while (rc == 0 && !eof) {
		ssize_t n = read_some(fd, buf + len, cap - len);

		if (n < 0) {
			rc = fail("cannot read %s: %s", im->name, strerror(errno));
			break;
		}
		im->prog.done += n;
		len += (size_t)n;
		/* The framer only hands out lines ending in LF: give the last one its LF. */
		if ((eof = n == 0) && len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';
		rc = json_lines(im, &fr, buf, len, &lines, &used);
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	free(buf);
	return rc;
}

/* ---- tiers -------------------------------------------------------------------------------------------- */

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
		return fail("unexpected reply from ZRANGE");
	if (!grow((void **)&p->e, &p->cap, p->n + 1, sizeof(*p->e)) ||
	    !grow((void **)&p->ids, &p->ids_cap, p->ids_used + member->len + 1, 1))
		return fail("out of memory");
	memcpy(p->ids + p->ids_used, member->str, member->len + 1);
	p->e[p->n].revenue = strtod(score->str, NULL);
	p->e[p->n++].id = (const char *)(uintptr_t)p->ids_used;
	p->ids_used += member->len + 1;
	return 0;
}

/* Every (id, revenue) of the index, in chunks so that no reply is huge. */
static int pyramid_load(struct importer *im, struct pyramid *p)
{
	char key[KEY_MAX], start[24], stop[24];
	size_t got = 0;
	redisReply *r;
	struct cmd c;
	int rc = 0;

	do {
		snprintf(start, sizeof(start), "%zu", p->n);
		snprintf(stop, sizeof(stop), "%zu", p->n + TIER_CHUNK - 1);
		cmd_start(&c, "ZRANGE", key, key_revenue_index(key, im->set->prefix));
		cmd_str(&c, start);
		cmd_str(&c, stop);
		cmd_str(&c, "WITHSCORES");
		if (append(im->rc, &c) != 0 ||
		    !(r = reply(im->rc, REDIS_REPLY_ARRAY, false, "reading the revenue index")))
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
static int tiers_chunk(struct importer *im, const struct pyramid *p, size_t from, size_t to,
                       unsigned long changed[TIER_COUNT], unsigned long *missing)
{
	char key[KEY_MAX];
	size_t n_set = 0;
	struct cmd c;

	for (size_t i = from; i < to; i++) {
		if (!usable_id(p->e[i].id))
			continue;
		cmd_start(&c, "HMGET", key, key_customer(key, im->set->prefix, p->e[i].id));
		cmd_str(&c, "tier");
		cmd_str(&c, "id");
		if (append(im->rc, &c) != 0)
			return -1;
	}
	for (size_t i = from; i < to; i++) {
		const char *want = customer_tier_name(tier_of(p, i));
		redisReply *r;
		int st = -1;

		if (usable_id(p->e[i].id)) {
			if (!(r = reply(im->rc, REDIS_REPLY_ARRAY, false, "reading tiers")))
				return -1;
			st = tier_state(r, want);
			freeReplyObject(r);
		}
		if (st < 0) {
			++*missing; /* an index entry without a record: nothing to write to */
		} else if (st > 0) {
			cmd_start(&c, "HSET", key, key_customer(key, im->set->prefix, p->e[i].id));
			cmd_str(&c, "tier");
			cmd_str(&c, want);
			if (append(im->rc, &c) != 0)
				return -1;
			n_set++;
			changed[tier_of(p, i)]++;
		}
	}
	for (size_t i = 0; i < n_set; i++) {
		redisReply *r = reply(im->rc, REDIS_REPLY_INTEGER, false, "writing tiers");

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

static int run_tiers(struct importer *im)
{
	struct pyramid p = {.n = 0};
	unsigned long changed[TIER_COUNT] = {0}, missing = 0;
	int rc = pyramid_load(im, &p);

	if (rc == 0 && p.n > 1)
		qsort(p.e, p.n, sizeof(*p.e), by_rank);
	pyramid_bounds(&p);
	for (size_t from = 0; rc == 0 && from < p.n; from += TIER_CHUNK)
		rc = tiers_chunk(im, &p, from, from + TIER_CHUNK < p.n ? from + TIER_CHUNK : p.n, changed,
		                 &missing);
	if (rc == 0)
		tiers_report(&p, changed, missing);
	free(p.e);
	free(p.ids);
	return rc;
}

/* ---- options and settings ----------------------------------------------------------------------------- */

static int usage(FILE *out, int rc)
{
	fprintf(
	    out,
	    "usage: hotline import customers [FILE] [-c CONFIG] [--redis ADDR] [--prefix P]\n"
	    "                                [--format csv|jsonl] [--tiers] [--batch N] [--dry-run] "
	    "[--quiet]\n"
	    "\n"
	    "Validates customer records from FILE (CSV with a header row, or JSON Lines; '-' is standard\n"
	    "input) and writes the good ones to Redis, changing only what differs.  Bad rows are reported\n"
	    "as FILE:LINE: reason and skipped.\n"
	    "\n"
	    "  -c, --config FILE   daemon config for Redis and phone rules (default " DEFAULT_CONFIG ")\n"
	    "      --redis ADDR    host:port, [v6addr]:port or unix:/path, instead of the config's\n"
	    "      --prefix P      Redis key prefix, instead of the config's\n"
	    "      --format F      csv or jsonl (default: from the extension .csv, .jsonl, .ndjson)\n"
	    "      --tiers         then recompute every customer's tier from revenue (alone: no FILE)\n"
	    "      --batch N       rows per Redis transaction, 1..%d (default %d)\n"
	    "      --dry-run       validate only; Redis is not contacted\n"
	    "      --quiet         no progress line\n"
	    "\n"
	    "Exit status: 0 all rows imported, 1 some rows rejected, 2 could not run, 64 usage.\n",
	    MAX_BATCH, DEFAULT_BATCH);
	return rc;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum format format_named(const char *s)
{
	return strcmp(s, "csv") == 0                                 ? FMT_CSV
	       : strcmp(s, "jsonl") == 0 || strcmp(s, "ndjson") == 0 ? FMT_JSONL
	                                                             : FMT_NONE;
}

static int option(int opt, struct options *o)
{
	unsigned long v;

	switch (opt) {
	case 'c':
		o->config = optarg;
		return 0;
	case 'r':
		o->redis = optarg;
		return 0;
	case 'p':
		o->prefix = optarg;
		return 0;
	case 'f':
		o->format = format_named(optarg);
		return o->format == FMT_NONE ? fail("--format must be csv or jsonl, got '%s'", optarg) : 0;
	case 'b':
		if (!parse_uint(optarg, MAX_BATCH, &v) || v == 0)
			return fail("--batch must be 1..%d, got '%s'", MAX_BATCH, optarg);
		o->batch = v;
		return 0;
	case 't':
		o->tiers = true;
		return 0;
	case 'n':
		o->dry_run = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 when help was asked for, -1 on a usage error (reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, 'r'},
	    {"prefix", required_argument, NULL, 'p'}, {"format", required_argument, NULL, 'f'},
	    {"batch", required_argument, NULL, 'b'},  {"tiers", no_argument, NULL, 't'},
	    {"dry-run", no_argument, NULL, 'n'},      {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct options){.batch = DEFAULT_BATCH};
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return 1;
	if (argc < 2 || strcmp(argv[1], "customers") != 0)
		return fail("what to import? 'customers' is the only kind");
	optind = 1;
	opterr = 0; /* getopt would name the program "customers" */
	while ((opt = getopt_long(argc - 1, argv + 1, "c:h", longopts, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == '?' || opt == ':')
			return fail("unknown option or missing argument: '%s'", argv[optind]);
		if (option(opt, o) != 0)
			return -1;
	}
	if (optind < argc - 1)
		o->file = argv[1 + optind++];
	if (optind < argc - 1)
		return fail("one FILE at most, got '%s' too", argv[1 + optind]);
	if (!o->file && !o->tiers)
		return fail("no FILE to import (or --tiers to recompute tiers only)");
	if (o->dry_run && (o->tiers || !o->file))
		return fail("--dry-run validates a FILE and cannot be combined with --tiers");
	if (o->file && o->format == FMT_NONE) {
		o->format = ends_with(o->file, ".csv")                                      ? FMT_CSV
		            : ends_with(o->file, ".jsonl") || ends_with(o->file, ".ndjson") ? FMT_JSONL
		                                                                            : FMT_NONE;
		if (o->format == FMT_NONE)
			return fail(
			    "cannot tell the format of '%s' from its name: give --format csv or jsonl",
			    o->file);
	}
	return 0;
}

static bool set_address(struct settings *s, const char *a)
{
	const char *colon, *host = a;
	size_t hostlen;
	unsigned long port;

	s->unix_path[0] = s->host[0] = '\0';
	if (strncmp(a, "unix:", 5) == 0) {
		if (strlen(a + 5) == 0 || strlen(a + 5) >= sizeof(s->unix_path))
			return false;
		strcpy(s->unix_path, a + 5);
		return true;
	}
	colon = strrchr(a, ':');
	if (!colon || !parse_uint(colon + 1, 65535, &port) || port == 0)
		return false;
	hostlen = (size_t)(colon - a);
	if (a[0] == '[') { /* [v6addr]:port */
		if (hostlen < 3 || a[hostlen - 1] != ']')
			return false;
		host++;
		hostlen -= 2;
	}
	if (hostlen == 0 || hostlen >= sizeof(s->host))
		return false;
	memcpy(s->host, host, hostlen);
	s->host[hostlen] = '\0';
	s->port = (unsigned)port;
	return true;
}

static void describe_address(struct settings *s)
{
	if (s->unix_path[0])
		snprintf(s->address, sizeof(s->address), "unix:%s", s->unix_path);
	else
		snprintf(s->address, sizeof(s->address), strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host,
		         s->port);
}

static bool valid_prefix(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 63)
		return false;
	for (; *p; p++)
		if (!customer_valid_key_part(p, 1, 1) && *p != ':')
			return false;
	return true;
}

/* Without -c and without the default file, the daemon's defaults, and say so. */
static int load_settings(const struct options *o, struct settings *s)
{
	const char *file = o->config ? o->config : DEFAULT_CONFIG;
	char err[512];
	struct config *cfg;
	bool defaults = false;

	*s = (struct settings){.port = 6379, .connect_ms = 2000, .command_ms = 5000};
	strcpy(s->host, "127.0.0.1");
	strcpy(s->prefix, "hotline:");
	phone_rules_default(&s->phone);
	if (!o->config && access(DEFAULT_CONFIG, F_OK) != 0 && errno == ENOENT) {
		defaults = true;
	} else if (!(cfg = config_load(file, err, sizeof(err)))) {
		return fail("cannot load the config: %s", err);
	} else {
		snprintf(s->host, sizeof(s->host), "%s", cfg->redis.host);
		s->port = cfg->redis.port;
		snprintf(s->unix_path, sizeof(s->unix_path), "%s", cfg->redis.unix_path);
		snprintf(s->prefix, sizeof(s->prefix), "%s", cfg->redis.key_prefix);
		s->phone = cfg->phone;
		s->connect_ms = cfg->redis.connect_timeout_ms;
		s->command_ms = cfg->redis.command_timeout_ms;
		config_free(cfg);
	}
	if (o->redis && !set_address(s, o->redis)) {
		fail("--redis must be host:port, [v6addr]:port or unix:/path, got '%s'", o->redis);
		return -2;
	}
	if (o->prefix && !valid_prefix(o->prefix)) {
		fail("--prefix must be 1..63 characters of [A-Za-z0-9_:.-], got '%s'", o->prefix);
		return -2;
	}
	if (o->prefix)
		snprintf(s->prefix, sizeof(s->prefix), "%s", o->prefix);
	describe_address(s);
	if (defaults)
		fprintf(stderr,
		        "hotline import: no %s: using Redis at %s, prefix \"%s\", default phone rules\n",
		        DEFAULT_CONFIG, s->address, s->prefix);
	return 0;
}

/* ---- the command -------------------------------------------------------------------------------------- */

static int open_input(const struct options *o, struct importer *im)
{
	struct stat st;
	int fd = strcmp(o->file, "-") == 0 ? STDIN_FILENO : open(o->file, O_RDONLY | O_CLOEXEC);

	im->name = fd == STDIN_FILENO ? "<stdin>" : o->file;
	if (fd < 0)
		return fail("cannot open %s: %s", o->file, strerror(errno));
	if (fstat(fd, &st) != 0)
		return fd; /* reading will tell */
	if (S_ISDIR(st.st_mode)) {
		if (fd != STDIN_FILENO)
			close(fd);
		return fail("cannot read %s: it is a directory", o->file);
	}
	if (S_ISREG(st.st_mode))
		im->prog.total = st.st_size;
	return fd;
}

static void summary(const struct importer *im)
{
	double t = elapsed(&im->prog.start);
	double rate = t > 0 ? (double)rows_seen(im) / t : 0;

	if (im->dry_run)
		printf("dry run: valid %lu, rejected %lu (%.1f s, %.0f rows/s)\n", im->n.valid,
		       im->n.rejected, t, rate);
	else
		printf("added %lu, updated %lu, unchanged %lu, rejected %lu (%.1f s, %.0f rows/s)\n",
		       im->n.added, im->n.updated, im->n.unchanged, im->n.rejected, t, rate);
	fflush(stdout);
}

static int import_file(struct importer *im, const struct options *o, int fd)
{
	int rc = o->format == FMT_CSV ? import_csv(im, fd) : import_jsonl(im, fd);

	if (rc == 0 && !im->dry_run && (rc = flush(im)) == 0 && finish_pending(im) != 0)
		rc = stopped(im);
	progress_clear(&im->prog);
	if (rc != -2)
		summary(im);
	return rc;
}

static void importer_free(struct importer *im)
{
	batch_release(&im->b);
	free(im->b.rows);
	argv_free(&im->b.mget);
	argv_free(&im->b.mset);
	argv_free(&im->b.del);
	argv_free(&im->b.zadd);
	free(im->b.drops);
	free(im->b.moves);
	seen_free(&im->ids);
	seen_free(&im->accounts);
	if (im->rc)
		redisFree(im->rc);
}

int cmd_import(int argc, char **argv)
{
	struct options o;
	struct settings set;
	struct importer im = {.batch_size = DEFAULT_BATCH};
	int fd = -1, rc = parse_options(argc, argv, &o);

	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr,
			        "usage: hotline import customers [FILE] [options]   (--help lists them)\n");
		return rc > 0 ? usage(stdout, CLI_OK) : CLI_USAGE;
	}
	if ((rc = load_settings(&o, &set)) != 0)
		return rc == -2 ? CLI_USAGE : CLI_FAILED;
	/* A Redis that goes away mid-write must give an error, not kill the import silently. */
	signal(SIGPIPE, SIG_IGN);
	im.set = &set;
	im.batch_size = o.batch;
	im.dry_run = o.dry_run;
	im.prog.on = !o.quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &im.prog.start);
	/* The file first: an unreadable one is reported without touching Redis. */
	if (o.file && (fd = open_input(&o, &im)) < 0)
		rc = -1;
	else if (!o.dry_run && !(im.rc = redis_open(&set)))
		rc = -1;
	if (rc == 0 && o.file)
		rc = import_file(&im, &o, fd);
	if (rc == 0 && o.tiers)
		rc = run_tiers(&im);
	if (fd > STDIN_FILENO)
		close(fd);
	importer_free(&im);
	if (rc == -2)
		return CLI_FINDINGS;
	if (rc != 0)
		return CLI_FAILED;
	return im.n.rejected > 0 ? CLI_FINDINGS : CLI_OK;
}
