/* csv.h - an RFC 4180 CSV reader, pure: bytes in, records out.
 *
 * Nothing here reads a file, so the reader can be unit-tested on byte
 * strings and fuzzed; the caller feeds it chunks of any size and the result
 * does not depend on where the chunks were split.
 *
 * Accepted: fields separated by ',', records ended by LF, CRLF or a lone CR;
 * a field in double quotes may hold commas, CR, LF and doubled quotes ("").
 * A UTF-8 byte-order mark at the very start is dropped.  Lines that are
 * completely empty are skipped (they are not records of one empty field).
 *
 * Refused, as CSV_ERROR for the record (reading resumes at the next line):
 * a quote inside an unquoted field, anything but ',' or a line end after a
 * closing quote, a record longer than max_record bytes or with more than
 * CSV_MAX_FIELDS fields, and a quoted field still open at the end of input.
 */
#ifndef HOTLINE_CSV_H
#define HOTLINE_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 1024

enum csv_status {
	CSV_NEED_MORE, /* the bytes fed are used up: feed more, or call csv_finish */
	CSV_RECORD,    /* rec holds one record */
	CSV_ERROR,     /* the record starting at rec->line is malformed; *why says how */
	CSV_END,       /* csv_finish was called and every record has been returned */
};

struct csv_record {
	unsigned long line; /* 1-based line on which the record starts */
	size_t n_fields;
	char **fields;      /* NUL-terminated; valid until the next csv_next() */
	const size_t *lens; /* field lengths: a field may contain a NUL byte */
};

struct csv_reader;

/* All memory is allocated here, up front; NULL when that fails. */
struct csv_reader *csv_new(size_t max_record);
void csv_free(struct csv_reader *r);

/* Hand the reader the next bytes.  They are used in place, not copied, so
 * they must stay valid until csv_next() returns CSV_NEED_MORE. */
void csv_feed(struct csv_reader *r, const char *buf, size_t len);

/* No more input will come: a last record without a line end is complete. */
void csv_finish(struct csv_reader *r);

enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec, const char **why);

#endif
