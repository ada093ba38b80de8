/* loss.h - did Redis keep the log entries this daemon acknowledged?
 *
 * Redis replicates asynchronously: when Sentinel promotes a replica that
 * had not received the master's newest writes, or Redis restarts without
 * AOF, entries that were already answered OK are gone.  The journal notes
 * each entry it acknowledges here (the newest LOSS_RING per stream: seq,
 * stream id, a prefix of its hash, and what it was, by ids only).  Each
 * time the main link comes up, every noted entry is looked up by its
 * stream id (XRANGE id id, pipelined); one that is missing, or whose seq
 * or hash differ, is logged as lost, once, and counted for STATS.
 *
 * Each lost entry is then recorded in the log itself: a lost record
 * (loss_entry.h, proto/LOG.md) appended to the same stream, one per lost
 * entry, idempotent by the lost entry's stream id.  The journal's seq gaps
 * already show losses nobody numbered past; the record also shows those
 * whose seq another daemon, which never saw them, has since re-used.  An
 * append that fails is tried again after the next reconnect.
 */
#ifndef HOTLINE_LOSS_H
#define HOTLINE_LOSS_H

#include <stdint.h>

#include "journal.h"

#define LOSS_RING 512

struct server;
struct loss;

struct loss *loss_new(struct server *srv);
/* After redis_link_free: pending checks have completed by then. */
void loss_free(struct loss *l);

/* An append was acknowledged (label and request_id may be NULL). */
void loss_note(struct loss *l, enum journal_stream s, const char *seq, const char *id, const char *hash,
               const char *label, const char *request_id);

/* The main link is up (perhaps to another master): look for the noted entries. */
void loss_check(struct loss *l);

/* Acknowledged entries found missing since start. */
unsigned long long loss_count(const struct loss *l, enum journal_stream s);
/* Lost records appended since start. */
unsigned long long loss_recorded(const struct loss *l, enum journal_stream s);

#endif
