#include "chain.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

/* SHA-256 through OpenSSL when it can, which uses the CPU's SHA
 * instructions (about 4x libsodium's portable code here: the audit hashes
 * every entry of the log); libsodium otherwise.  Same bytes, same hash.
 * The algorithm is fetched once per process (fetching is the slow part);
 * the context is per call, so no thread leaves anything behind. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void free_sha256(void)
{
	EVP_MD_free(sha256_md);
}

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha256_md)
		atexit(free_sha256);
}

static bool hash_openssl(const char *prev_hex, const char *seq_text, size_t seq_len, const char *entry,
                         size_t entry_len, unsigned char digest[32])
{
	EVP_MD_CTX *ctx;
	unsigned int len;
	bool ok;

	pthread_once(&sha256_once, fetch_sha256);
	if (sha256_md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, prev_hex, strlen(prev_hex)) &&
	     EVP_DigestUpdate(ctx, seq_text, seq_len) && EVP_DigestUpdate(ctx, entry, entry_len) &&
	     EVP_DigestFinal_ex(ctx, digest, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	return ok;
}

void chain_hash(const char *prev_hex, uint64_t seq, const char *entry, size_t entry_len,
                char out[CHAIN_HEX_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char seq_text[24];
	int n = snprintf(seq_text, sizeof(seq_text), "\n%" PRIu64 "\n", seq);

	if (!hash_openssl(prev_hex, seq_text, (size_t)n, entry, entry_len, digest)) {
		crypto_hash_sha256_state st;

		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, (const unsigned char *)prev_hex, strlen(prev_hex));
		crypto_hash_sha256_update(&st, (const unsigned char *)seq_text, (unsigned long long)n);
		crypto_hash_sha256_update(&st, (const unsigned char *)entry, entry_len);
		crypto_hash_sha256_final(&st, digest);
	}
	sodium_bin2hex(out, CHAIN_HEX_LEN + 1, digest, sizeof(digest));
}

void chain_verifier_init(struct chain_verifier *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->last_hash, CHAIN_GENESIS, CHAIN_HEX_LEN + 1);
}

static bool parse_seq(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || (s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Without a branch per character: hex digits are random, so a branch on
 * each would be mispredicted half the time (it was the audit's hottest
 * spot). */
static bool is_hex64(const char *s, size_t len)
{
	unsigned bad = 0;

	if (len != CHAIN_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned c = (unsigned char)s[i];

		bad |= !((c - '0' < 10u) | (c - 'a' < 6u));
	}
	return !bad;
}

static void anchor(struct chain_verifier *v, uint64_t seq, const char *hash)
{
	v->started = true;
	v->last_seq = seq;
	memcpy(v->last_hash, hash, CHAIN_HEX_LEN);
	v->last_hash[CHAIN_HEX_LEN] = '\0';
}

enum chain_problem chain_verify_next(struct chain_verifier *v, bool allow_trimmed_start, const char *seq_text,
                                     size_t seq_len, const char *prev, size_t prev_len, const char *hash,
                                     size_t hash_len, const char *entry, size_t entry_len, char *detail,
                                     size_t detail_len)
{
	char prev_z[CHAIN_HEX_LEN + 1], expect[CHAIN_HEX_LEN + 1];
	enum chain_problem problem = CHAIN_OK;
	uint64_t seq;

	v->entries++;
	if (!parse_seq(seq_text, seq_len, &seq) || !is_hex64(prev, prev_len) || !is_hex64(hash, hash_len)) {
		snprintf(detail, detail_len, "seq, prev or hash missing or malformed");
		return CHAIN_MALFORMED;
	}
	memcpy(prev_z, prev, CHAIN_HEX_LEN);
	prev_z[CHAIN_HEX_LEN] = '\0';
	chain_hash(prev_z, seq, entry, entry_len, expect);
	if (memcmp(expect, hash, CHAIN_HEX_LEN) != 0) {
		snprintf(detail, detail_len, "seq %" PRIu64 ": content does not match its hash (entry altered)", seq);
		problem = CHAIN_MODIFIED;
	} else if (!v->started && !allow_trimmed_start && (seq != 1 || strcmp(prev_z, CHAIN_GENESIS) != 0)) {
		snprintf(detail, detail_len, "first entry has seq %" PRIu64 ", expected 1 (entries before it deleted)",
		         seq);
		problem = seq > 1 ? CHAIN_GAP : CHAIN_BROKEN_LINK;
	} else if (v->started && seq > v->last_seq + 1) {
		snprintf(detail, detail_len, "seq jumps from %" PRIu64 " to %" PRIu64 " (%" PRIu64 " entries missing)",
		         v->last_seq, seq, seq - v->last_seq - 1);
		problem = CHAIN_GAP;
	} else if (v->started && seq <= v->last_seq) {
		snprintf(detail, detail_len, "seq %" PRIu64 " after %" PRIu64 " (entry inserted or reordered)", seq,
		         v->last_seq);
		problem = CHAIN_OUT_OF_ORDER;
	} else if (v->started && strcmp(prev_z, v->last_hash) != 0) {
		snprintf(detail, detail_len, "seq %" PRIu64 ": prev does not match the previous entry's hash", seq);
		problem = CHAIN_BROKEN_LINK;
	}
	anchor(v, seq, hash);
	return problem;
}

const char *chain_problem_name(enum chain_problem p)
{
	static const char *const names[] = {"ok",          "modified",  "gap",          "out_of_order",
	                                    "broken_link", "malformed"};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unknown";
}
