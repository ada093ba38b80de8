/* rfc3339.h - reading the times the log writes (entry "ts" with
 * milliseconds, complaint "due" in seconds) and the times people type on a
 * command line.  Pure. */
#ifndef HOTLINE_RFC3339_H
#define HOTLINE_RFC3339_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DD[THH:MM:SS[.fff](Z|+HH:MM|-HH:MM)]" -> ms since the epoch.  A
 * time needs a zone; a date alone means its midnight UTC.  With end set:
 * the last millisecond the text covers (a date: the whole day).  False when
 * the text is none of these or names an impossible date. */
bool rfc3339_parse_ms(const char *s, bool end, uint64_t *out_ms);
/* The same for len bytes at s (not NUL-terminated): the log readers' hot
 * path, with no timegm() (slow, and it consults the time zone). */
bool rfc3339_parse_ms_n(const char *s, size_t len, bool end, uint64_t *out_ms);

/* ms since the epoch -> "YYYY-MM-DDTHH:MM:SS.fffZ", the form of an entry's
 * "ts" (what the parsers above read back). */
#define RFC3339_MS_MAX 40
void rfc3339_format_ms(int64_t ms, char out[RFC3339_MS_MAX]);

#endif
