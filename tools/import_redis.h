/* import_redis.h - how `hotline import` talks to Redis: commands assembled
 * from pieces without copying them, queued (pipelined) on the connection,
 * and their replies read and checked.  Failures are reported on stderr. */
#ifndef HOTLINE_IMPORT_REDIS_H
#define HOTLINE_IMPORT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "customer.h"

#define CMD_MAX (2 + 2 * CF_COUNT) /* HSET key + every field and value */

/* One command with a bounded number of arguments. */
struct cmd {
	int argc;
	const char *argv[CMD_MAX];
	size_t len[CMD_MAX];
};

static inline void cmd_arg(struct cmd *c, const char *s, size_t len)
{
	c->argv[c->argc] = s;
	c->len[c->argc++] = len;
}

static inline void cmd_str(struct cmd *c, const char *s)
{
	cmd_arg(c, s, strlen(s));
}

/* A command "VERB key [arg]"; the key buffer must outlive the append only. */
static inline void cmd_start(struct cmd *c, const char *verb, const char *key, int keylen)
{
	c->argc = 0;
	cmd_str(c, verb);
	cmd_arg(c, key, (size_t)keylen);
}

/* One command with a growing number of arguments. */
struct argv_list {
	const char **v;
	size_t *len;
	size_t n, cap_v, cap_len;
};

bool argv_push(struct argv_list *l, const char *s, size_t len);
void argv_free(struct argv_list *l);

/* Queue a command; 0, or -1 (reported). */
int import_append_argv(redisContext *rc, size_t argc, const char **argv, const size_t *len);
int import_append(redisContext *rc, const struct cmd *c);

/* What went wrong on the connection, in words. */
const char *import_redis_problem(const redisContext *rc);

/* The next reply, which must be of type want (or nil when nil_ok); NULL (reported) otherwise.
 * `what` says what was being done, for the message. */
redisReply *import_reply(redisContext *rc, int want, bool nil_ok, const char *what);

#endif
