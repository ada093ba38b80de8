/* pwhash_pool.h - password verification off the event loop.
 *
 * An Argon2id check costs tens of milliseconds and ~19 MiB by design.  Done
 * on the loop, a shift's worth of agents logging in at 09:00 would stall
 * every other client; so checks run on a small fixed set of worker threads
 * (bounding the memory a login flood can take to threads x memlimit) and a
 * bounded queue (beyond it, submit fails and the caller answers
 * rate_limited).  Results come back on the loop thread through a pipe.
 */
#ifndef HOTLINE_PWHASH_POOL_H
#define HOTLINE_PWHASH_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

typedef void pwhash_done_fn(bool ok, void *arg);

struct pwhash_pool;

struct pwhash_pool *pwhash_pool_new(struct event_base *base, unsigned threads, unsigned max_queued);
void pwhash_pool_set_max_queued(struct pwhash_pool *pool, unsigned max_queued);

/* Queue a check of secret against an encoded "$argon2id$..." hash.  The
 * secret is copied and wiped after use.  Returns 0 when queued (done will be
 * called exactly once on the loop thread), -1 when the queue is full or the
 * arguments are too long. */
__attribute__((warn_unused_result)) int pwhash_pool_submit(struct pwhash_pool *pool, const char *hash,
                                                           const char *secret, size_t secret_len,
                                                           pwhash_done_fn *done, void *arg);

unsigned pwhash_pool_in_flight(const struct pwhash_pool *pool);

/* Joins the workers; jobs not yet started are completed with ok = false. */
void pwhash_pool_free(struct pwhash_pool *pool);

#endif
