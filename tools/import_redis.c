#include "import_redis.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "import.h"
#include "import_mem.h"

bool argv_push(struct argv_list *l, const char *s, size_t len)
{
	if (!mem_grow((void **)&l->v, &l->cap_v, l->n + 1, sizeof(*l->v)) ||
	    !mem_grow((void **)&l->len, &l->cap_len, l->n + 1, sizeof(*l->len)))
		return false;
	l->v[l->n] = s;
	l->len[l->n++] = len;
	return true;
}

void argv_free(struct argv_list *l)
{
	free(l->v);
	free(l->len);
}

int import_append_argv(redisContext *rc, size_t argc, const char **argv, const size_t *len)
{
	if (argc > INT_MAX || redisAppendCommandArgv(rc, (int)argc, argv, len) != REDIS_OK)
		return import_fail("cannot queue a Redis command: %s",
		                   rc->errstr[0] ? rc->errstr : "out of memory");
	return 0;
}

int import_append(redisContext *rc, const struct cmd *c)
{
	return import_append_argv(rc, (size_t)c->argc, (const char **)c->argv, c->len);
}

/* A blocking hiredis read or write that times out fails with EAGAIN: say what that means. */
const char *import_redis_problem(const redisContext *rc)
{
	if (rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		return "no answer within redis.command_timeout_ms";
	return rc->errstr;
}

redisReply *import_reply(redisContext *rc, int want, bool nil_ok, const char *what)
{
	void *v = NULL;
	redisReply *r;

	if (redisGetReply(rc, &v) != REDIS_OK) {
		import_fail("Redis failed while %s: %s", what, import_redis_problem(rc));
		return NULL;
	}
	r = v;
	if (r->type == want || (nil_ok && r->type == REDIS_REPLY_NIL))
		return r;
	if (r->type == REDIS_REPLY_ERROR)
		import_fail("Redis answered an error while %s: %s", what, r->str);
	else
		import_fail("unexpected Redis reply type %d during %s", r->type, what);
	freeReplyObject(r);
	return NULL;
}
