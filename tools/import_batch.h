/* import_batch.h - a batch of `hotline import` rows on its way to Redis:
 * what Redis holds for them is read, and only the difference is written. */
#ifndef HOTLINE_IMPORT_BATCH_H
#define HOTLINE_IMPORT_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "customer.h"
#include "import_mem.h"
#include "import_redis.h"

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

struct importer;

/* Where the next row is parsed: straight into the batch, so accepting it copies nothing
 * (im->b.n++ accepts it).  NULL: out of memory. */
struct row *batch_next_slot(struct importer *im);

/* Read what Redis holds for the batch, queue the difference and send its EXEC (whose replies
 * batch_finish_pending reads); the batch is then empty.  0, or -1 (reported, with where the
 * import stopped). */
int batch_flush(struct importer *im);

/* Read the replies of the batch whose EXEC was sent, and count its rows.  0, or -1 (reported). */
int batch_finish_pending(struct importer *im);

/* Say which rows are in Redis, the import having stopped; returns -1. */
int batch_stopped(const struct importer *im);

void batch_free(struct batch *b);

#endif
