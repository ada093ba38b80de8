#include "reply_arena.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (1u << 20)
#define ALIGN      16

void reply_arena_reset(struct reply_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		a->blocks[i].used = 0;
	a->cur = 0;
}

void reply_arena_free(struct reply_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i].mem);
	free(a->blocks);
	*a = (struct reply_arena){0};
}

static void *arena_alloc(struct reply_arena *a, size_t size)
{
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	while (a->cur < a->n && a->blocks[a->cur].size - a->blocks[a->cur].used < size)
		a->cur++;
	if (a->cur == a->n) {
		struct reply_arena_block b = {.size = size > BLOCK_SIZE ? size : BLOCK_SIZE};

		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 8;
			struct reply_arena_block *nb = realloc(a->blocks, cap * sizeof(*nb));

			if (nb == NULL)
				return NULL;
			a->blocks = nb;
			a->cap = cap;
		}
		b.mem = malloc(b.size);
		if (b.mem == NULL)
			return NULL;
		a->blocks[a->n++] = b;
	}
	void *p = a->blocks[a->cur].mem + a->blocks[a->cur].used;

	a->blocks[a->cur].used += size;
	return p;
}

/* A new reply object of the task's type, linked into its parent array. */
static redisReply *node(const redisReadTask *t, int type)
{
	redisReply *r = arena_alloc(t->privdata, sizeof(*r));

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->type = type;
	if (t->parent) {
		redisReply *parent = t->parent->obj;

		parent->element[t->idx] = r;
	}
	return r;
}

static void *create_string(const redisReadTask *t, char *str, size_t len)
{
	redisReply *r = node(t, t->type);

	if (r == NULL || (r->str = arena_alloc(t->privdata, len + 1)) == NULL)
		return NULL;
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return r;
}

static void *create_array(const redisReadTask *t, int elements)
{
	redisReply *r = node(t, REDIS_REPLY_ARRAY);

	if (r == NULL)
		return NULL;
	r->elements = elements > 0 ? (size_t)elements : 0;
	if (r->elements && (r->element = arena_alloc(t->privdata, r->elements * sizeof(*r->element))) == NULL)
		return NULL;
	return r;
}

static void *create_integer(const redisReadTask *t, long long value)
{
	redisReply *r = node(t, REDIS_REPLY_INTEGER);

	if (r)
		r->integer = value;
	return r;
}

static void *create_nil(const redisReadTask *t)
{
	return node(t, REDIS_REPLY_NIL);
}

static void free_object(void *obj)
{
	(void)obj; /* the arena owns it */
}

redisReplyObjectFunctions reply_arena_functions = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
    .createNil = create_nil,
    .freeObject = free_object,
};

redisReply *reply_arena_command(redisContext *c, struct reply_arena *a, const char *format, ...)
{
	redisReplyObjectFunctions *fn = c->reader->fn;
	void *privdata = c->reader->privdata, *reply;
	va_list ap;

	reply_arena_reset(a);
	c->reader->fn = &reply_arena_functions;
	c->reader->privdata = a;
	va_start(ap, format);
	reply = redisvCommand(c, format, ap);
	va_end(ap);
	c->reader->fn = fn;
	c->reader->privdata = privdata;
	return reply;
}
