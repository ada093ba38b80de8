#include "line_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_MIN (256 * 1024) /* read in large pieces however short the lines are */

int line_reader_init(struct line_reader *r, int fd, size_t max_line)
{
	*r = (struct line_reader){.fd = fd, .max_line = max_line};
	/* a whole line plus its newline and a NUL always fit after compaction */
	r->cap = (max_line + 2 > READ_MIN ? max_line + 2 : READ_MIN) + 1;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -1;
}

void line_reader_free(struct line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* More bytes after end; false at the end of the file or on an error (r->err). */
static bool fill(struct line_reader *r)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	do
		n = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->err = errno;
		return false;
	}
	if (n == 0) {
		r->eof = true;
		return false;
	}
	r->end += (size_t)n;
	return true;
}

enum line_status line_reader_next(struct line_reader *r, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		size_t have = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;

		if (r->skipping) { /* the rest of a line already reported as too long */
			r->start = nl ? r->start + have + 1 : r->end;
			r->skipping = nl == NULL;
			if (nl)
				continue;
			if (r->eof)
				return LINE_END;
		} else if (nl || (r->eof && have > 0)) {
			*line = r->buf + r->start;
			*len = have;
			r->line++;
			r->start += have + (nl != NULL);
			if (have > r->max_line)
				return LINE_TOO_LONG;
			(*line)[have] = '\0'; /* the newline's place, or the spare byte after the data */
			return LINE_OK;
		} else if (have > r->max_line) {
			r->line++;
			r->start = r->end;
			r->skipping = true;
			return LINE_TOO_LONG;
		} else if (r->eof) {
			return LINE_END;
		}
		if (!r->eof && !fill(r) && r->err)
			return LINE_ERROR;
	}
}
