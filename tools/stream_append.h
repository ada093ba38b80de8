/* stream_append.h - the CLI appending entries to a live log stream
 * (<p>log:calls, ...) while daemons append to it too.
 *
 * The hash chain is computed here (chain_hash, as the daemon's journal
 * does) from the head this process believes the stream has; one small Lua
 * script, atomic in Redis, appends an entry only when the stream's last
 * entry really is that head (CHAIN_LUA_READ_HEAD, the journal's own check)
 * and the entry's source id is not yet in the seen hash.  A refused append
 * changes nothing: the real head comes back with the refusal and the
 * entries from there on are chained again and resent, in order.  So the
 * chain never forks, and an entry is appended at most once per source id
 * however often (or however many processes at once) the same input is
 * imported.  The seen hash maps each source id to the stream id it got.
 *
 * Entries are sent in pipelined batches; a batch first asks which of its
 * source ids are already seen (one HMGET), so a re-import writes nothing.
 */
#ifndef HOTLINE_STREAM_APPEND_H
#define HOTLINE_STREAM_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "chain.h"
#include "keys.h"

#define STREAM_APPEND_BATCH  256
#define STREAM_APPEND_ID_MAX 64 /* bytes of a source id */

struct stream_append_item {
	char source_id[STREAM_APPEND_ID_MAX + 1];
	char *entry;
	size_t len;
	char seq[24];
	char prev[CHAIN_HEX_LEN + 1];
	char hash[CHAIN_HEX_LEN + 1];
};

struct stream_append {
	redisContext *rc;
	char stream_key[KEY_MAX], seen_key[KEY_MAX];
	char sha[41];
	bool head_known;
	uint64_t seq;
	char hash[CHAIN_HEX_LEN + 1];
	struct stream_append_item items[STREAM_APPEND_BATCH];
	size_t n;
	size_t window; /* appends in flight at once: halved when the head moved, doubled when not */
	unsigned long written, duplicates;
	unsigned long resent; /* appends sent again because another writer had moved the head */
};

/* 0, or -1 (reported on stderr as "hotline import: ..."). */
int stream_append_init(struct stream_append *sa, redisContext *rc, const char *stream_key,
                       const char *seen_key);
/* Queue an entry; sends the batch when it is full.  0, or -1 (reported). */
int stream_append_add(struct stream_append *sa, const char *source_id, const char *entry, size_t len);
/* Send what is queued and wait until every entry is appended or found seen.  0, or -1 (reported). */
int stream_append_flush(struct stream_append *sa);
void stream_append_free(struct stream_append *sa);

#endif
