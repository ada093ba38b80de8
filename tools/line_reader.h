/* line_reader.h - a file read line by line in bounded memory.
 *
 * Lines longer than the limit are reported (LINE_TOO_LONG, once, with their
 * number) and skipped to their newline instead of growing the buffer; the
 * last line needs no newline.  Each line handed out has room for a NUL
 * after it (line[len] may be written), as queue_log.h's parser wants. */
#ifndef HOTLINE_LINE_READER_H
#define HOTLINE_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>

enum line_status { LINE_OK, LINE_TOO_LONG, LINE_END, LINE_ERROR };

struct line_reader {
	int fd;
	char *buf;
	size_t cap, max_line, start, end;
	bool eof, skipping;
	unsigned long line; /* the number of the line last handed out (1-based) */
	int err;            /* errno of a failed read (LINE_ERROR) */
};

/* 0, or -1 when out of memory.  max_line: bytes of a line without its newline. */
int line_reader_init(struct line_reader *r, int fd, size_t max_line);
/* The next line (without its newline) in *line, *len. */
enum line_status line_reader_next(struct line_reader *r, char **line, size_t *len);
void line_reader_free(struct line_reader *r);

#endif
