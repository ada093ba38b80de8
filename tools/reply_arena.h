/* reply_arena.h - hiredis replies built in an arena instead of one malloc
 * per element.
 *
 * An XRANGE reply of 1000 entries is some 10,000 reply objects; hiredis
 * allocates and frees each one, and with a million entries to read that
 * churn (glibc's malloc_consolidate above all) cost more CPU than the
 * audit's own work.  Here the objects, their strings and element vectors
 * are carved out of a few large blocks that are reused for every reply, so
 * reading from Redis allocates nothing in the steady state.  Memory is the
 * largest reply's size, kept until reply_arena_free.
 *
 * The replies are ordinary redisReply structs (so code reading them does
 * not change) but must not be given to freeReplyObject.
 */
#ifndef HOTLINE_REPLY_ARENA_H
#define HOTLINE_REPLY_ARENA_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct reply_arena_block {
	char *mem;
	size_t used, size;
};

struct reply_arena {
	struct reply_arena_block *blocks;
	size_t n, cap, cur;
};

/* Run a command on c (as redisCommand) with its reply built in a: the
 * arena is emptied first, so the previous reply from a is gone.  NULL on
 * error, as redisCommand (c->err says why; out of memory included). */
redisReply *reply_arena_command(redisContext *c, struct reply_arena *a, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

void reply_arena_reset(struct reply_arena *a);
void reply_arena_free(struct reply_arena *a);

/* The object functions, for a redisReader whose privdata is the arena
 * (reply_arena_command sets both up around one command). */
extern redisReplyObjectFunctions reply_arena_functions;

#endif
