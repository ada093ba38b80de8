/* export_format.h - one log record as a line of an export file (JSON Lines,
 * proto/LOG.md "Export files") or as a CSV row (a spreadsheet view, RFC
 * 4180).  Pure: records in, bytes appended to a text_buf.
 */
#ifndef HOTLINE_EXPORT_FORMAT_H
#define HOTLINE_EXPORT_FORMAT_H

#include <stdbool.h>

#include "json_text.h"
#include "log_source.h"

/* {"stream":..,"id":.., then every stored field in stored order}\n.
 * false when the line cannot hold the stored bytes exactly: a value or
 * name that is not UTF-8 (written with U+FFFD), or fields beyond
 * LOG_MAX_FIELDS (left out). */
bool export_jsonl(struct text_buf *b, const struct log_record *r);

/* The CSV header row, then one row per record: stream, id, seq, then the
 * entry's own fields that a spreadsheet wants as columns (see the .c), the
 * entry JSON as stored last.  scratch needs room for r->entry_len bytes. */
void export_csv_header(struct text_buf *b);
void export_csv_row(struct text_buf *b, const struct log_record *r, char *scratch);

/* One CSV field, quoted when it holds a comma, a quote, CR, LF or
 * leading/trailing white space (quotes doubled). */
void export_csv_field(struct text_buf *b, const char *s, size_t len);

#endif
