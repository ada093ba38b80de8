/* chain.h - the tamper-evident hash chain over each log stream.
 *
 * Every stream entry carries four fields: seq (1, 2, 3, ... per stream),
 * prev (the previous entry's hash; 64 '0's for seq 1), hash and entry (the
 * JSON text of the event).  The hash is
 *
 *     hash = lowercase hex SHA-256( prev "\n" seq "\n" entry )
 *
 * over the exact bytes stored (seq in decimal, no leading zeros).  So an
 * independent tool verifies a stream with nothing but SHA-256:
 *     printf '%s\n%s\n%s' "$prev" "$seq" "$entry" | sha256sum
 * Altering an entry breaks its hash; deleting, inserting or reordering
 * entries breaks the seq run and the prev links.  Redis stream ids are not
 * hashed (Redis assigns them), but must increase, which XADD guarantees.
 */
#ifndef HOTLINE_CHAIN_H
#define HOTLINE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAIN_HEX_LEN 64
#define CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

void chain_hash(const char *prev_hex, uint64_t seq, const char *entry, size_t entry_len,
                char out[CHAIN_HEX_LEN + 1]);

enum chain_problem {
	CHAIN_OK,
	CHAIN_MODIFIED,   /* the stored hash does not match the content: entry altered */
	CHAIN_GAP,        /* seq jumped forward: entries deleted (or lost in a failover) */
	CHAIN_OUT_OF_ORDER, /* seq repeated or went back: entry inserted or reordered */
	CHAIN_BROKEN_LINK,  /* prev is not the previous entry's hash */
	CHAIN_MALFORMED,    /* a field missing or not of the right form */
};

struct chain_verifier {
	bool started;
	uint64_t last_seq;
	char last_hash[CHAIN_HEX_LEN + 1];
	uint64_t entries;
};

/* Start verifying.  When the stream was deliberately trimmed, the first
 * entry seen may have any seq; otherwise it must be seq 1 with the genesis
 * prev. */
void chain_verifier_init(struct chain_verifier *v);

/* Check the next entry in stream order.  Fields are as stored (seq and
 * hash as text).  Returns CHAIN_OK or the first problem found, with a short
 * explanation in detail.  After a problem the verifier re-anchors on this
 * entry, so one alteration is reported once, not for every later entry. */
enum chain_problem chain_verify_next(struct chain_verifier *v, bool allow_trimmed_start, const char *seq_text,
                                     size_t seq_len, const char *prev, size_t prev_len, const char *hash,
                                     size_t hash_len, const char *entry, size_t entry_len, char *detail,
                                     size_t detail_len);

const char *chain_problem_name(enum chain_problem p);

#endif
