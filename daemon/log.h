/* log.h - levelled, one-event-per-line logging to stderr.
 *
 * Under systemd (JOURNAL_STREAM names our stderr) each line carries a
 * syslog priority prefix ("<6>") so journald files it at the right level;
 * on a terminal or a file each line starts with an RFC 3339 UTC timestamp
 * and the level word.  Callers never log secrets or personal data: log ids.
 */
#ifndef HOTLINE_LOG_H
#define HOTLINE_LOG_H

#include <stdbool.h>

#include "config.h"

void log_init(enum log_level level);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                                       \
	do {                                                                                                 \
		if (log_enabled(LOG_LEVEL_DEBUG))                                                            \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
	} while (0)

#endif
