/* log_source.h - the call and complaint log as a sequence of records, read
 * either from the live streams in Redis or from an export file, so every
 * tool that reads the log (export, audit, replay) accepts both.
 *
 * Records carry the stream fields exactly as stored (proto/LOG.md), so the
 * hash chain can be checked from either source.  Memory does not grow with
 * the log's length: Redis is read in chunks with XRANGE, a file line by
 * line.  The export file format is described in proto/LOG.md ("Export
 * files").
 */
#ifndef HOTLINE_LOG_SOURCE_H
#define HOTLINE_LOG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

enum log_stream { LOG_CALLS, LOG_COMPLAINTS, LOG_STREAM_COUNT };

#define LOG_STREAM_MASK(s) (1u << (s))
#define LOG_ALL_STREAMS (LOG_STREAM_MASK(LOG_CALLS) | LOG_STREAM_MASK(LOG_COMPLAINTS))
#define LOG_MAX_FIELDS 16
#define LOG_ID_MAX 48

/* "calls" / "complaints"; log_stream_from_name returns -1 when unknown. */
const char *log_stream_name(enum log_stream s);
int log_stream_from_name(const char *name);

struct log_field {
	const char *name, *value;
	size_t name_len, value_len;
};

/* One stream entry.  Pointers stay valid until the next log_source_next or
 * log_source_close.  A chain field the entry lacks is NULL (length 0). */
struct log_record {
	enum log_stream stream;
	char id[LOG_ID_MAX]; /* the Redis stream entry id, "<ms>-<n>" */
	uint64_t id_ms, id_n;
	const char *seq, *prev, *hash, *entry;
	size_t seq_len, prev_len, hash_len, entry_len;
	size_t nfields; /* every field as stored, in stored order, the four above included */
	struct log_field fields[LOG_MAX_FIELDS];
	size_t fields_dropped; /* fields beyond LOG_MAX_FIELDS (a tampered entry) */
	unsigned long line;    /* export files: the line number; 0 for Redis */
};

/* Which entries: the streams (a mask of LOG_STREAM_MASK bits) and an
 * inclusive range of stream ids (from/to NULL = unbounded). */
struct log_selection {
	unsigned streams;
	const char *from_id, *to_id;
};

struct log_source;

/* Read <prefix>log:calls and <prefix>log:complaints from rc (which stays
 * the caller's), merged into one sequence in stream-id order (ids are
 * Redis's clock, so this is the order Redis received them). */
struct log_source *log_source_open_redis(redisContext *rc, const char *prefix, const struct log_selection *sel,
                                         char *err, size_t err_len);

/* Read an export file ("-" = standard input), in the file's order. */
struct log_source *log_source_open_file(const char *path, const struct log_selection *sel, char *err,
                                        size_t err_len);

/* 1 = *r filled, 0 = end, -1 = error (log_source_error says what). */
int log_source_next(struct log_source *s, struct log_record *r);
/* How far reading has got, for a progress display: bytes of an export
 * file read and its size (0 when not a regular file), or records read from
 * Redis and 0. */
void log_source_progress(const struct log_source *s, uint64_t *done, uint64_t *total);
const char *log_source_error(const struct log_source *s);
void log_source_close(struct log_source *s);

/* XINFO STREAM's "entries-added" of <prefix>log:<stream> (Redis 7).
 * 1 = *added set; 0 = not known (no such stream, or an older Redis);
 * -1 = Redis failed (message in err). */
int log_stream_entries_added(redisContext *rc, const char *prefix, enum log_stream s, uint64_t *added, char *err,
                             size_t err_len);

/* Parse a stream id "<ms>" or "<ms>-<n>".  false when malformed. */
bool log_id_parse(const char *text, uint64_t *ms, uint64_t *n);
/* <0, 0, >0 like strcmp, comparing ids numerically. */
int log_id_cmp(uint64_t a_ms, uint64_t a_n, uint64_t b_ms, uint64_t b_n);

/* A point in time given on a command line as a stream id bound:
 * RFC 3339 ("2026-11-22T09:00:00Z", "...09:00:00.250+01:00"), a date
 * ("2026-11-22" = its midnight UTC), Unix seconds ("@1732262400") or a
 * stream id ("1732262400000-0").  end selects the last id of that instant
 * (for the inclusive end of a range: a date means the whole day).  Writes
 * a stream id into out; false when text is none of these. */
bool log_time_to_id(const char *text, bool end, char out[LOG_ID_MAX]);

/* The RFC 3339 time or date of len bytes at text (an entry's "ts" or
 * "due", or a command-line time) as Unix milliseconds; end as above.  Pure
 * arithmetic, no time zone lookups: cheap enough for every entry. */
bool log_time_parse(const char *text, size_t len, bool end, uint64_t *ms);

#endif
