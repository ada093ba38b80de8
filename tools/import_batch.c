/* import_batch.c - a batch of `hotline import` rows, written to Redis in two
 * pipelined round trips: one reads what Redis holds for the batch, one
 * MULTI/EXEC writes only the difference.  Writing the difference is what
 * makes a re-import of the same file write nothing, and lets a nightly full
 * export be re-imported cheaply.  A third, small round trip is made only for
 * a batch that moves an account away from a customer outside the batch, or
 * drops one: who owns those accounts (and the previous owner's list) is only
 * known once the first read is back.
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
#include "import_batch.h"

#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "keys.h"
#include "phone.h"

#define LIST_MAX (CUSTOMER_MAX_ACCOUNTS * (CUSTOMER_ID_MAX + 1))

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

/* ---- stored lists ------------------------------------------------------------------------------------- */

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
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

/* ---- sending the writes, reading their replies -------------------------------------------------------- */

/* A write inside the batch's MULTI, which is opened by the first write. */
static int write_argv(struct importer *im, size_t argc, const char **argv, const size_t *len)
{
	if (!im->in_multi) {
		struct cmd multi = {.argc = 0};

		cmd_str(&multi, "MULTI");
		if (import_append(im->rc, &multi) != 0)
			return -1;
		im->in_multi = true;
		im->queued = 0;
	}
	im->queued++;
	return import_append_argv(im->rc, argc, argv, len);
}

static int write_cmd(struct importer *im, const struct cmd *c)
{
	return write_argv(im, (size_t)c->argc, (const char **)c->argv, c->len);
}

/* Send the batch's EXEC now, and read its replies later (batch_finish_pending). */
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
	if (import_append(im->rc, &exec) != 0)
		return -1;
	do
		if (redisBufferWrite(im->rc, &done) != REDIS_OK)
			return import_fail("Redis failed while sending writes: %s",
			                   import_redis_problem(im->rc));
	while (!done);
	im->pend = (struct pending){true, im->queued, im->b.first_line, *n};
	return 0;
}

int batch_finish_pending(struct importer *im)
{
	redisReply *r;
	int rc = 0;

	if (!im->pend.active)
		return 0;
	if (!(r = import_reply(im->rc, REDIS_REPLY_STATUS, false, "opening a transaction")))
		return -1;
	freeReplyObject(r);
	for (size_t i = 0; i < im->pend.queued; i++) {
		if (!(r = import_reply(im->rc, REDIS_REPLY_STATUS, false, "queueing a write")))
			return -1;
		freeReplyObject(r);
	}
	if (!(r = import_reply(im->rc, REDIS_REPLY_ARRAY, false, "committing a transaction")))
		return -1;
	/* Redis does not roll back a transaction whose command fails at run time (a key of the
	 * wrong type): say so, as the batch may then be partly applied. */
	for (size_t i = 0; i < r->elements && rc == 0; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR)
			rc = import_fail("Redis refused a write (the batch may be partly applied): %s",
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

	if (!begin_batch_commands(b, im->target->prefix))
		return import_fail("out of memory");
	b->n_owners = 0;
	for (size_t i = 0; i < b->n; i++) {
		cmd_start(&c, "HGETALL", key,
		          key_customer(key, im->target->prefix, b->rows[i].c.value[CF_ID]));
		if (import_append(im->rc, &c) != 0)
			return -1;
		b->rows[i].first_owner = b->n_owners;
		for (size_t j = 0; j < b->rows[i].c.n_accounts; j++, b->n_owners++)
			if (!push_key(b, &b->mget, key,
			              key_account(key, im->target->prefix, b->rows[i].c.accounts[j])))
				return import_fail("out of memory");
	}
	return b->n_owners > 0 ? import_append_argv(im->rc, b->mget.n, b->mget.v, b->mget.len) : 0;
}

static int read_state(struct importer *im)
{
	struct batch *b = &im->b;

	if (append_reads(im) != 0 || batch_finish_pending(im) != 0)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		if (!(b->rows[i].hash = import_reply(im->rc, REDIS_REPLY_ARRAY, false, "reading a customer")))
			return -1;
		parse_stored(&b->rows[i]);
	}
	if (b->n_owners == 0)
		return 0;
	if (!(b->owners_reply = import_reply(im->rc, REDIS_REPLY_ARRAY, false, "reading accounts")))
		return -1;
	if (b->owners_reply->elements != b->n_owners)
		return import_fail("MGET answered %zu values for %zu keys", b->owners_reply->elements,
		                   b->n_owners);
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
	if (!mem_grow((void **)&b->drops, &b->cap_drops, b->n_drops + 1, sizeof(*b->drops)))
		return import_fail("out of memory");
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
		if (!mem_grow((void **)&b->moves, &b->cap_moves, b->n_moves + 1, sizeof(*b->moves)))
			return import_fail("out of memory");
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
		cmd_start(&c, "GET", key, key_account(key, im->target->prefix, b->drops[d].account));
		if (import_append(im->rc, &c) != 0)
			return -1;
	}
	for (size_t k = 0; k < b->n_moves; k++) {
		if (!first_of_owner(b, k))
			continue;
		cmd_start(&c, "HGET", key, key_customer(key, im->target->prefix, b->moves[k].owner));
		cmd_str(&c, "accounts");
		if (import_append(im->rc, &c) != 0)
			return -1;
	}
	for (size_t d = 0; d < b->n_drops; d++)
		if (!(b->drops[d].owner =
		          import_reply(im->rc, REDIS_REPLY_STRING, true, "reading an account")))
			return -1;
	for (size_t k = 0; k < b->n_moves; k++)
		if (first_of_owner(b, k) && !(b->moves[k].owner_accounts = import_reply(
		                                  im->rc, REDIS_REPLY_STRING, true, "reading a customer")))
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
		return import_fail("key too long");
	cmd_start(&c, verb, key, keylen);
	cmd_str(&c, id);
	return write_cmd(im, &c);
}

/* The phone sets: SREM from numbers the customer no longer has, SADD to new ones. */
static int write_phones(struct importer *im, struct row *r)
{
	const char *id = r->c.value[CF_ID], *old = r->old.v[CF_PHONES], *p = old, *e;
	const char *prefix = im->target->prefix;
	size_t elen, oldlen = r->old.len[CF_PHONES];
	char key[KEY_MAX], num[PHONE_MAX];

	while (p && list_next(&p, old + oldlen, &e, &elen)) {
		if (elen >= PHONE_MAX)
			continue;
		memcpy(num, e, elen);
		num[elen] = '\0';
		if (list_has(r->c.value[CF_PHONES], strlen(r->c.value[CF_PHONES]), num))
			continue;
		if (write_member(im, "SREM", key, key_phone(key, prefix, num), id) != 0)
			return -1;
		r->wrote = true;
	}
	for (size_t j = 0; j < r->c.n_phones; j++) {
		if (old && list_has(old, oldlen, r->c.phones[j]))
			continue;
		if (write_member(im, "SADD", key, key_phone(key, prefix, r->c.phones[j]), id) != 0)
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
		if (!push_key(b, &b->mset, key, key_account(key, im->target->prefix, r->c.accounts[j])) ||
		    !argv_push(&b->mset, id, strlen(id)))
			return import_fail("out of memory");
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
		return import_fail("out of memory");
	r->wrote = true;
	return 0;
}

static int write_row(struct importer *im, struct row *r)
{
	char key[KEY_MAX];
	int keylen = key_customer(key, im->target->prefix, r->c.value[CF_ID]);

	r->wrote = false;
	if (keylen < 0)
		return import_fail("key too long");
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
		if (!push_key(b, &b->del, key, key_account(key, im->target->prefix, b->drops[d].account)))
			return import_fail("out of memory");
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
	int keylen = key_customer(key, im->target->prefix, b->moves[k].owner);

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
int batch_stopped(const struct importer *im)
{
	return import_fail("stopped: the rows before line %lu were written, none from there on",
	                   im->pend.active ? im->pend.first_line : im->b.first_line);
}

int batch_flush(struct importer *im)
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
		batch_stopped(im);
	batch_release(b);
	progress_tick(im);
	return rc;
}

/* ---- the batch's rows --------------------------------------------------------------------------------- */

struct row *batch_next_slot(struct importer *im)
{
	struct batch *b = &im->b;

	if (!mem_grow((void **)&b->rows, &b->cap, b->n + 1, sizeof(*b->rows)))
		return NULL;
	memset(&b->rows[b->n], 0, sizeof(b->rows[b->n]));
	return &b->rows[b->n];
}

void batch_free(struct batch *b)
{
	batch_release(b);
	free(b->rows);
	argv_free(&b->mget);
	argv_free(&b->mset);
	argv_free(&b->del);
	argv_free(&b->zadd);
	free(b->drops);
	free(b->moves);
}
