/* The log's hash chain: the hashing matches plain SHA-256 of the documented
 * bytes, and each way of tampering (modify, delete, insert, reorder) is
 * reported at the first bad entry. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "chain.h"

#include "check.h"

struct entry {
	char seq[24];
	char prev[CHAIN_HEX_LEN + 1];
	char hash[CHAIN_HEX_LEN + 1];
	char body[64];
};

static void build(struct entry *e, int n)
{
	const char *prev = CHAIN_GENESIS;

	for (int i = 0; i < n; i++) {
		snprintf(e[i].seq, sizeof(e[i].seq), "%d", i + 1);
		snprintf(e[i].prev, sizeof(e[i].prev), "%s", prev);
		snprintf(e[i].body, sizeof(e[i].body), "{\"event\":\"offer\",\"n\":%d}", i + 1);
		chain_hash(e[i].prev, (uint64_t)(i + 1), e[i].body, strlen(e[i].body), e[i].hash);
		prev = e[i].hash;
	}
}

/* Verify entries in the given order; return the index of the first problem
 * (or -1) and its kind. */
static int first_problem(const struct entry *e, const int *order, int n, enum chain_problem *kind)
{
	struct chain_verifier v;
	char detail[256];

	chain_verifier_init(&v);
	for (int i = 0; i < n; i++) {
		const struct entry *x = &e[order[i]];
		enum chain_problem p = chain_verify_next(&v, false, x->seq, strlen(x->seq), x->prev, strlen(x->prev),
		                                         x->hash, strlen(x->hash), x->body, strlen(x->body), detail,
		                                         sizeof(detail));

		if (p != CHAIN_OK) {
			*kind = p;
			return i;
		}
	}
	return -1;
}

int main(void)
{
	struct entry e[6];
	int order[6] = {0, 1, 2, 3, 4, 5};
	enum chain_problem kind = CHAIN_OK;
	char hash[CHAIN_HEX_LEN + 1];

	if (sodium_init() < 0)
		return 1;
	/* The documented formula, checked against Python's hashlib:
	 * sha256("0"*64 + "\n1\n" + '{"event":"offer"}') */
	chain_hash(CHAIN_GENESIS, 1, "{\"event\":\"offer\"}", 17, hash);
	CHECK(strcmp(hash, "1ff1b21438a5200f2acde68115c9a5e3c24b0af764bf06a17b42ca7fd2f3a1b4") == 0);

	build(e, 6);
	CHECK(first_problem(e, order, 6, &kind) == -1);

	/* modified content */
	build(e, 6);
	e[2].body[2] = 'E';
	CHECK(first_problem(e, order, 6, &kind) == 2 && kind == CHAIN_MODIFIED);

	/* a modified entry whose hash was recomputed: the next entry's link breaks */
	build(e, 6);
	e[2].body[2] = 'E';
	chain_hash(e[2].prev, 3, e[2].body, strlen(e[2].body), e[2].hash);
	CHECK(first_problem(e, order, 6, &kind) == 3 && kind == CHAIN_BROKEN_LINK);

	/* deleted entry */
	build(e, 6);
	{
		int del[5] = {0, 1, 3, 4, 5};

		CHECK(first_problem(e, del, 5, &kind) == 2 && kind == CHAIN_GAP);
	}
	/* deleted first entry */
	{
		int del[5] = {1, 2, 3, 4, 5};

		CHECK(first_problem(e, del, 5, &kind) == 0 && kind == CHAIN_GAP);
	}
	/* inserted (a copy of an earlier entry) */
	{
		int ins[7] = {0, 1, 2, 1, 3, 4, 5};

		CHECK(first_problem(e, ins, 7, &kind) == 3 && kind == CHAIN_OUT_OF_ORDER);
	}
	/* reordered */
	{
		int swap[6] = {0, 1, 3, 2, 4, 5};

		CHECK(first_problem(e, swap, 6, &kind) == 2 && kind == CHAIN_GAP);
	}
	/* malformed fields */
	{
		struct chain_verifier v;
		char detail[128];

		chain_verifier_init(&v);
		CHECK(chain_verify_next(&v, false, "01", 2, e[0].prev, 64, e[0].hash, 64, e[0].body,
		                        strlen(e[0].body), detail, sizeof(detail)) == CHAIN_MALFORMED);
		CHECK(chain_verify_next(&v, false, "1", 1, e[0].prev, 63, e[0].hash, 64, e[0].body, strlen(e[0].body),
		                        detail, sizeof(detail)) == CHAIN_MALFORMED);
	}
	/* a trimmed stream is accepted when asked to */
	{
		struct chain_verifier v;
		char detail[128];

		chain_verifier_init(&v);
		CHECK(chain_verify_next(&v, true, e[3].seq, strlen(e[3].seq), e[3].prev, 64, e[3].hash, 64, e[3].body,
		                        strlen(e[3].body), detail, sizeof(detail)) == CHAIN_OK);
		CHECK(chain_verify_next(&v, true, e[4].seq, strlen(e[4].seq), e[4].prev, 64, e[4].hash, 64, e[4].body,
		                        strlen(e[4].body), detail, sizeof(detail)) == CHAIN_OK);
	}
	return check_summary("test_chain");
}
