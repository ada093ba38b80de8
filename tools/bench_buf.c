#include "bench_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_BUF_MIN 4096

void bench_buf_init(struct bench_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void bench_buf_free(struct bench_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

char *bench_buf_space(struct bench_buf *b, size_t more)
{
	size_t len = b->end - b->start, cap;
	char *grown;

	if (b->cap - b->end >= more)
		return b->p + b->end;
	if (len + more > b->max)
		return NULL;
	/* Slide the unconsumed bytes down when that makes room. */
	if (b->start > 0 && b->cap - len >= more) {
		memmove(b->p, b->p + b->start, len);
		b->start = 0;
		b->end = len;
		return b->p + b->end;
	}
	cap = b->cap ? b->cap : BENCH_BUF_MIN;
	while (cap < len + more)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	if (b->start > 0) {
		memmove(b->p, b->p + b->start, len);
		b->start = 0;
		b->end = len;
	}
	grown = realloc(b->p, cap);
	if (grown == NULL)
		return NULL;
	b->p = grown;
	b->cap = cap;
	return b->p + b->end;
}

void bench_buf_commit(struct bench_buf *b, size_t n)
{
	b->end += n;
}

void bench_buf_consume(struct bench_buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		b->start = b->end = 0;
}

bool bench_buf_add(struct bench_buf *b, const void *data, size_t n)
{
	char *w = bench_buf_space(b, n);

	if (w == NULL)
		return false;
	memcpy(w, data, n);
	b->end += n;
	return true;
}

bool bench_buf_printf(struct bench_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap - b->end;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->end : NULL, b->p ? room : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	if ((size_t)n < room) {
		b->end += (size_t)n;
		return true;
	}
	if (bench_buf_space(b, (size_t)n + 1) == NULL)
		return false;
	va_start(ap, fmt);
	vsnprintf(b->p + b->end, b->cap - b->end, fmt, ap);
	va_end(ap);
	b->end += (size_t)n;
	return true;
}
