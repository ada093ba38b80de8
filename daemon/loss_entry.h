/* loss_entry.h - the entry of a lost record (proto/LOG.md "The lost record"):
 * what a daemon appends to a stream when entries it acknowledged are gone
 * after a failover, so the loss is in the log itself, where the audit
 * sees it, even when another daemon has since re-used the lost seqs.
 * Pure: text in, text out.
 */
#ifndef HOTLINE_LOSS_ENTRY_H
#define HOTLINE_LOSS_ENTRY_H

#include <stddef.h>
#include <stdint.h>

struct loss_item {
	uint64_t seq;           /* the seq the lost entry had */
	const char *id;         /* its stream id */
	const char *hash;       /* a prefix of its hash (hex) */
	const char *request_id; /* NULL or "" when the write had none */
	const char *what;       /* what it was, by ids only; NULL or "" when unknown */
};

/* {"event":"lost","ts":...,"reported_by":...,"master":...,"lost":[items]}
 * as compact JSON (malloc'd), or NULL when out of memory. */
char *loss_entry_build(const char *ts, const char *reported_by, const char *master, const struct loss_item *items,
                       size_t n);

#endif
