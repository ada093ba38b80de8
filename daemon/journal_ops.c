#include "journal_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `more` pointers; false (and failed set) when out of memory. */
static bool reserve(struct journal_ops *ops, size_t more)
{
	size_t need = ops->n + more, cap;
	char **grown;

	if (need <= ops->cap)
		return true;
	cap = ops->cap ? ops->cap * 2 : 16;
	while (cap < need)
		cap *= 2;
	grown = realloc(ops->argv, cap * sizeof(*grown));
	if (grown == NULL) {
		ops->failed = true; /* the append (or rebuild) is refused as a whole */
		return false;
	}
	ops->argv = grown;
	ops->cap = cap;
	return true;
}

void journal_ops_add(struct journal_ops *ops, int argc, const char **argv)
{
	size_t first = ops->n;
	char count[16];

	if (ops->failed || argc <= 0 || !reserve(ops, (size_t)argc + 1))
		return;
	snprintf(count, sizeof(count), "%d", argc);
	ops->argv[ops->n++] = strdup(count);
	for (int i = 0; i < argc; i++)
		ops->argv[ops->n++] = strdup(argv[i]);
	for (size_t i = first; i < ops->n; i++)
		ops->failed |= ops->argv[i] == NULL;
}

void journal_ops_addf(struct journal_ops *ops, int argc, ...)
{
	const char *argv[16];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 16; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	journal_ops_add(ops, argc < 16 ? argc : 16, argv);
}

void journal_ops_take(struct journal_ops *dst, struct journal_ops *src)
{
	if (src->failed)
		dst->failed = true;
	if (!dst->failed && reserve(dst, src->n)) {
		memcpy(dst->argv + dst->n, src->argv, src->n * sizeof(*src->argv));
		dst->n += src->n;
		src->n = 0; /* the strings now belong to dst */
	}
	journal_ops_free(src);
}

void journal_ops_free(struct journal_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		free(ops->argv[i]);
	free(ops->argv);
	memset(ops, 0, sizeof(*ops));
}

bool journal_ops_next(const struct journal_ops *ops, size_t *pos, int *argc, const char *const **argv)
{
	int n;

	if (*pos >= ops->n)
		return false;
	n = atoi(ops->argv[*pos]);
	if (n <= 0 || *pos + 1 + (size_t)n > ops->n)
		return false;
	*argc = n;
	*argv = (const char *const *)(ops->argv + *pos + 1);
	*pos += 1 + (size_t)n;
	return true;
}
