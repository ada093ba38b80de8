/* import.h - one run of `hotline import customers`: the state its files
 * share, and how they report.
 *
 *   cmd_import.c    options, the run, messages, progress and the summary
 *   import_read.c   CSV and JSON Lines into validated rows, checked across the file
 *   import_batch.c  a batch of rows: read what Redis holds, write the difference
 *   import_tiers.c  --tiers: the tier pyramid from the revenue index
 *   import_redis.c  commands, pipelining and replies
 *   import_mem.c    growing arrays, string arena, the set of ids and accounts seen
 */
#ifndef HOTLINE_IMPORT_H
#define HOTLINE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cli_target.h"
#include "import_batch.h"
#include "import_mem.h"

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
	const struct cli_target *target;
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

/* "hotline import: ..." on stderr; returns -1. */
__attribute__((format(printf, 1, 2))) int import_fail(const char *fmt, ...);

/* Report a row (or the file's header) as NAME:LINE: ... and count it; returns 0: reading goes on. */
__attribute__((format(printf, 3, 4))) int import_reject(struct importer *im, unsigned long line,
                                                        const char *fmt, ...);

/* The status line on a terminal: rewritten at most twice a second, cleared before a message. */
void progress_tick(struct importer *im);
void progress_row(struct importer *im); /* a row was read: tick now and then */
void progress_clear(struct progress *p);

#endif
