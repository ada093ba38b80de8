/* bench_buf.h - a growable byte buffer with a hard cap, for the requests
 * `hotline bench` writes and the replies it reads (one of each per
 * connection).  Bytes are appended at the end and consumed from the front;
 * the consumed part is reclaimed by sliding the rest down when that is
 * cheap, so a buffer in steady use never grows past its working size. */
#ifndef HOTLINE_BENCH_BUF_H
#define HOTLINE_BENCH_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct bench_buf {
	char *p;
	size_t start; /* first unconsumed byte */
	size_t end;   /* one past the last byte */
	size_t cap;   /* allocated */
	size_t max;   /* never grow beyond this */
};

void bench_buf_init(struct bench_buf *b, size_t max);
void bench_buf_free(struct bench_buf *b);

static inline size_t bench_buf_len(const struct bench_buf *b)
{
	return b->end - b->start;
}

static inline const char *bench_buf_data(const struct bench_buf *b)
{
	return b->p + b->start;
}

/* Room for at least `more` bytes after end; returns the write pointer, or
 * NULL when that would pass the cap (or memory ran out). */
char *bench_buf_space(struct bench_buf *b, size_t more);
/* After writing n bytes at the pointer bench_buf_space returned. */
void bench_buf_commit(struct bench_buf *b, size_t n);
/* Drop n bytes from the front. */
void bench_buf_consume(struct bench_buf *b, size_t n);

bool bench_buf_add(struct bench_buf *b, const void *data, size_t n);
bool bench_buf_printf(struct bench_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
