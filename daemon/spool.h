/* spool.h - the local append-only spool that holds agents' writes (call events, complaints) while Redis
 * is unreachable.  A write is acknowledged only after spool_append() returns 0, i.e. after it is on disk;
 * when Redis returns the daemon replays the spool in order (spool_peek, send, spool_consume) and the
 * spool shrinks back to nothing.
 *
 * Files (all mode 0600, in a directory that must already exist):
 *
 *   PATH          the records, back to back; all integers little-endian:
 *                   0  u32 magic 0x52534c48 ("HLSR" on disk)
 *                   4  u32 payload length, >= 1
 *                   8  u32 CRC-32C of the payload
 *                  12  u32 CRC-32C of bytes 0..11 (so a damaged length is never trusted)
 *                  16  payload (any bytes)
 *                 CRC-32C (Castagnoli, reflected polynomial 0x82f63b78, init and final xor ~0) is
 *                 computed in spool.c with a table; no zlib.
 *   PATH.cursor   the replay cursor: two 32-byte slots at offsets 0 and 512 (separate disk sectors):
 *                   0  u32 magic 0x43534c48 ("HLSC")   4 u32 zero
 *                   8  u64 sequence number             16 u64 byte offset of the oldest unconsumed record
 *                  24  u32 CRC-32C of bytes 0..23      28 u32 zero
 *                 The valid slot with the higher sequence number is the cursor; no valid slot means
 *                 offset 0.  Each update overwrites the OTHER (older) slot and fdatasyncs.
 *
 * Crash safety (a crash may happen between any two system calls, and a write may land partially):
 *  - Appends are serialised, go to the end of the file and are fdatasynced before the ack, so after a
 *    crash at most the single in-flight record can be incomplete, and only at the end of the file.  The
 *    walk at open finds it (short header, length past EOF, or payload CRC failing on the very last record)
 *    and truncates it; it was never acknowledged.  An append that fails while the daemon runs is rolled
 *    back with ftruncate; if even that fails the spool refuses further appends until reopened, so the
 *    garbage stays a tail.
 *  - A damaged record that is NOT the tail is corruption and spool_open() fails instead of guessing: a bad
 *    payload CRC with more data after it, or a bad header followed anywhere later by a valid header.
 *    (Consequence: a payload that itself contains a byte-exact valid record header, torn with its own
 *    header lost, makes open fail -- safe, since nothing is dropped, just loud.)
 *  - The cursor moves only after the record it skips was durable (it was acked before it could be
 *    peeked).  A torn slot write fails its CRC and the other slot, one record behind, wins: that record
 *    is replayed twice, which the consumer's per-record id deduplication absorbs.  One fdatasync per
 *    consume replaces temp file + rename + directory fsync, with no window in which the name is missing.
 *  - When the last record is consumed the data file is truncated to 0 and fdatasynced FIRST, then the
 *    cursor is reset to 0.  A crash in between leaves "cursor > file size == 0", which open recognises
 *    and finishes.  A crash before the truncate is durable leaves the cursor on the last record: one
 *    duplicate.  Appends are refused until the cursor reset is durable, because new records under a
 *    stale cursor could be skipped after a crash.
 *  - Open fsyncs the directory so a newly created file's name survives a crash before the first ack,
 *    and takes flock(LOCK_EX) on PATH so two daemons never share one spool.
 *
 * max_bytes caps PATH's size (headers included).  A spool left larger by an earlier, larger setting is
 * still opened and replayed; appends fail with -2 until it drains.  Memory use is one record buffer.
 * Not thread-safe: one owner calls everything.
 */
#ifndef HOTLINE_SPOOL_H
#define HOTLINE_SPOOL_H

#include <stddef.h>

struct spool;

/* Open or create the spool at path (mode 0600; the directory must exist).
 * Scans existing content: counts complete records, drops a torn tail
 * (truncates it), positions the replay cursor from the cursor file.
 * NULL on failure with a message in err ("spool PATH: reason"). */
__attribute__((warn_unused_result)) struct spool *spool_open(const char *path, size_t max_bytes, char *err,
                                                             size_t errlen);
void spool_close(struct spool *s);

/* Append one record (any bytes, len >= 1, may contain any byte incl. LF and NUL)
 * and make it durable (write + fdatasync) before returning.
 * 0 on success; -1 on I/O error (errno set; the spool stays consistent: a failed
 * append leaves no partial record visible after reopen); -2 when appending would
 * exceed max_bytes (nothing written). */
__attribute__((warn_unused_result)) int spool_append(struct spool *s, const void *rec, size_t len);

/* Records appended and not yet consumed. */
size_t spool_pending(const struct spool *s);
size_t spool_bytes(const struct spool *s); /* file size in use */

/* The oldest unconsumed record: *rec points into memory owned by the spool,
 * valid until the next spool_* call.  0 ok, 1 when empty, -1 on I/O error or
 * corruption (a record whose checksum fails in the middle of the file: report
 * it in the log-free way: return -1 and set a message retrievable with
 * spool_error(s)). */
__attribute__((warn_unused_result)) int spool_peek(struct spool *s, const void **rec, size_t *len);

/* Mark the oldest record consumed (durably: the cursor is persisted with
 * write+fdatasync to "<path>.cursor" written via a temp file + rename, or any
 * equivalent crash-safe scheme you justify). When every record is consumed the
 * data file is truncated to 0 and the cursor reset, so the spool does not grow
 * across outages. 0 or -1.
 * (Scheme used: the two-slot cursor file described above.  consume checks the record header, not the
 * payload: call spool_peek first, and do not consume a record whose peek failed unless dropping it is
 * a deliberate decision.  On -1 after the header was read the position has still advanced in memory;
 * only its persistence failed, so the record may be replayed once more after a restart.) */
__attribute__((warn_unused_result)) int spool_consume(struct spool *s);

/* The last error message ("spool PATH: reason"), "" when none. */
const char *spool_error(const struct spool *s);

#endif
