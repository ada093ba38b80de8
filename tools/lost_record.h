/* lost_record.h - the lost record (proto/LOG.md "The lost record"): the
 * entry a daemon appends when entries it had acknowledged turn out to be
 * gone from Redis after a failover.  It names them (seq, stream id, hash
 * prefix, request_id, what they were), which matters most when another
 * daemon has re-used their seqs and the stream alone no longer shows the
 * loss.
 *
 * Read from the entry's JSON text without allocating (json_text.h), into
 * fixed-size fields; pure.  Every reader decides "is this a lost record?"
 * here, so `verify`, `audit`, `replay` and `tail` agree.
 */
#ifndef HOTLINE_LOST_RECORD_H
#define HOTLINE_LOST_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_source.h"

#define LOST_MAX_ITEMS      32  /* a daemon writes more records when more are lost */
#define LOST_HASH_LEN       16  /* hex digits of the lost entry's hash */
#define LOST_REQUEST_ID_MAX 128 /* bytes; the daemon's request_ids are at most 64 */
#define LOST_WHAT_MAX       256 /* bytes of "what": ids only, the daemon writes < 160 */
#define LOST_NAME_MAX       128 /* bytes of "reported_by" and "master" */

struct lost_item {
	uint64_t seq;
	char id[LOG_ID_MAX];
	char hash[LOST_HASH_LEN + 1];
	char request_id[LOST_REQUEST_ID_MAX + 1]; /* "" when the write had none */
	char what[LOST_WHAT_MAX + 1];
};

struct lost_record {
	char ts[40];
	uint64_t ts_ms;
	char reported_by[LOST_NAME_MAX + 1], master[LOST_NAME_MAX + 1];
	size_t n;
	struct lost_item item[LOST_MAX_ITEMS];
};

enum lost_parse {
	LOST_NOT,       /* not a lost record (any other entry, or not JSON at all) */
	LOST_OK,        /* *lr filled */
	LOST_MALFORMED, /* "event" is "lost" but the record is not well formed: why says what */
};

/* Whether entry text[0..len) is a lost record (its "event" is "lost"). An
 * entry without the bytes "lost" in quotes is answered without parsing it,
 * so this is cheap on every other entry. */
bool lost_record_is(const char *text, size_t len);

/* Read a lost record.  Strings are decoded (escapes, \u0000 refused); all
 * are valid UTF-8, as the JSON was. */
enum lost_parse lost_record_parse(const char *text, size_t len, struct lost_record *lr, char *why,
                                  size_t why_len);

#endif
