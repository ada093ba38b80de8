/* keys.h - the Redis key layout, named in one place (documented in
 * proto/KEYS.md).  Every key starts with the configured prefix.  Ids that
 * go into keys are restricted to [A-Za-z0-9_.-] by their validators, so no
 * key can escape the layout (no ':', '*', '/' or spaces from clients).
 *
 *   <p>customer:<id>                  HASH   the customer record (source: import)
 *   <p>phone:<e164>                   SET    customer ids using that number
 *   <p>account:<account>              STRING the customer id owning an account
 *   <p>customers:revenue              ZSET   id -> revenue, for the tier pyramid
 *   <p>customer:<id>:contacts         LIST   projection: recent contacts, newest first (JSON)
 *   <p>customer:<id>:open_complaints  HASH   projection: complaint id -> JSON summary
 *   <p>import:<source>                HASH   lines imported from another system: source id -> stream id
 *   <p>call:<id>, <p>calls:open, <p>complaint:<id>[:history],
 *   <p>complaints:open, <p>complaints:unassigned   projections of the log
 *                                                  (proto/LOG.md, projection.h)
 */
#ifndef HOTLINE_KEYS_H
#define HOTLINE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define KEY_MAX 256

/* Each hotlined names its writing Redis connection "hotlined:<host>:<pid>"
 * (CLIENT SETNAME), so `hotline replay --rebuild` can see writers. */
#define KEY_WRITER_CLIENT_NAME "hotlined"

/* Each returns the key length, or -1 when it would not fit KEY_MAX. */
int key_customer(char out[KEY_MAX], const char *prefix, const char *id);
int key_phone(char out[KEY_MAX], const char *prefix, const char *e164);
int key_account(char out[KEY_MAX], const char *prefix, const char *account);
int key_revenue_index(char out[KEY_MAX], const char *prefix);
int key_contacts(char out[KEY_MAX], const char *prefix, const char *id);
int key_open_complaints(char out[KEY_MAX], const char *prefix, const char *id);
/* The source ids already imported from a source ("queue_log"). */
int key_import_seen(char out[KEY_MAX], const char *prefix, const char *source);
int key_call(char out[KEY_MAX], const char *prefix, const char *call_id);
int key_calls_open(char out[KEY_MAX], const char *prefix);
int key_complaint(char out[KEY_MAX], const char *prefix, const char *complaint_id);
int key_complaint_history(char out[KEY_MAX], const char *prefix, const char *complaint_id);
int key_complaints_open(char out[KEY_MAX], const char *prefix);
int key_complaints_unassigned(char out[KEY_MAX], const char *prefix);
/* Whether key (the prefix included) is a projection of the log, the keys
 * a rebuild owns: KEY_DERIVED_CALL for <p>call:<id>, KEY_DERIVED for the
 * others (proto/LOG.md "Projections"), KEY_NOT_DERIVED otherwise. */
enum key_derived { KEY_NOT_DERIVED, KEY_DERIVED_CALL, KEY_DERIVED };
enum key_derived key_derived_kind(const char *prefix, const char *key, size_t len);

/* `hotline replay --rebuild`: its lock, and the prefix it builds under
 * before swapping the rebuilt keys in (proto/LOG.md). */
int key_rebuild_lock(char out[KEY_MAX], const char *prefix);
int key_rebuild_stage(char out[KEY_MAX], const char *prefix);

#endif
