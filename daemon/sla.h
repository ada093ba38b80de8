/* sla.h - complaint deadlines: the SLA table (severity x customer tier)
 * and the clock it runs on, wall-clock or business hours from a calendar.
 *
 * Times are Unix seconds (UTC).  The calendar's opening hours and holidays
 * are in its own time zone; the conversion uses the C library's tz database
 * with TZ set by sla_use_timezone() (the daemon has one calendar, so one
 * process-wide zone; log timestamps are always UTC and unaffected).
 */
#ifndef HOTLINE_SLA_H
#define HOTLINE_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "customer.h"
#include "lifecycle.h"

#define SLA_MAX_HOLIDAYS 512

struct sla_calendar {
	bool business_hours; /* false: the SLA clock is the wall clock */
	char timezone[64];   /* e.g. "Asia/Shanghai"; "" = UTC */
	/* Opening hours per weekday, 0 = Sunday .. 6 = Saturday, in minutes
	 * after local midnight; open == close means closed all day. */
	struct {
		uint16_t open_min, close_min;
	} day[7];
	/* Closed days, as local dates yyyymmdd (e.g. 20261001), sorted. */
	int32_t holidays[SLA_MAX_HOLIDAYS];
	size_t n_holidays;
};

struct sla_policy {
	/* Minutes of SLA time allowed, by severity and customer tier. */
	uint32_t minutes[SEV_COUNT][TIER_COUNT];
	/* On escalation the remaining time is multiplied by this percentage. */
	uint32_t escalation_pct;
	struct sla_calendar calendar;
};

/* Set the process time zone for calendar computations; false when the
 * zone is not in the tz database. */
bool sla_use_timezone(const char *tz);

/* Whether tz names a zone file under /usr/share/zoneinfo; names that could
 * leave that directory (a leading '/', "..") are refused.  No side effects,
 * so the config loader can validate with it. */
bool sla_timezone_exists(const char *tz);

/* The moment `seconds` of SLA time after start: with business hours, only
 * opening hours on non-holidays count.  Bounded: gives up (returns
 * INT64_MAX) when no opening hour exists within 400 days. */
int64_t sla_add(const struct sla_calendar *cal, int64_t start, int64_t seconds);

/* SLA time elapsed between from and to (0 when to <= from). */
int64_t sla_elapsed(const struct sla_calendar *cal, int64_t from, int64_t to);

/* Deadline of a complaint opened at `opened`. */
int64_t sla_due(const struct sla_policy *p, enum severity sev, enum customer_tier tier, int64_t opened);

/* New deadline after a pause from paused_at to resumed_at: the SLA time
 * that remained at paused_at is counted again from resumed_at. */
int64_t sla_after_pause(const struct sla_calendar *cal, int64_t due, int64_t paused_at, int64_t resumed_at);

/* New deadline after an escalation at `now`: remaining SLA time x pct/100. */
int64_t sla_after_escalation(const struct sla_policy *p, int64_t due, int64_t now);

/* RFC 3339 UTC with seconds: "2026-11-22T20:59:01Z" (21 bytes + NUL).
 * Times past 9999-12-31T23:59:59Z (a deadline that never comes, INT64_MAX)
 * print as that last second. */
void sla_format_time(int64_t t, char out[32]);

/* The inverse, for deadlines read back from the log: the last printable
 * second means "never" again (INT64_MAX), so a complaint whose calendar
 * never opens keeps a deadline that never comes.  False when text is not
 * an RFC 3339 time. */
bool sla_parse_time(const char *text, int64_t *t);

#endif
