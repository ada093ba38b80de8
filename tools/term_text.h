/* term_text.h - text from the log made safe for a terminal. */
#ifndef HOTLINE_TERM_TEXT_H
#define HOTLINE_TERM_TEXT_H

#include <stddef.h>

/* Copy src for a terminal: control characters (C0, DEL, C1), which could
 * be escape sequences smuggled in through a summary, become '?'; more than
 * max_chars characters are cut to max_chars - 3 plus "...".  src is valid
 * UTF-8 (jansson checked it).  dst holds at least 4 * max_chars + 4. */
void term_clean(char *dst, size_t size, const char *src, size_t max_chars);

#endif
