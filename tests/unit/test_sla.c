/* test_sla.c - unit tests for daemon/sla.c.
 *
 * Expected moments are written as local wall-clock times converted with a
 * fixed, hand-written UTC offset (timegm minus the offset), not with
 * mktime, so the test does not share the code under test's conversion.
 */
#include "sla.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define CHECK_TIME(got, want) check_time((got), (want), __FILE__, __LINE__, #got)

static void check_time(int64_t got, int64_t want, const char *file, int line, const char *what)
{
	char g[32] = "", w[32] = "";

	if (got != want) {
		sla_format_time(got, g);
		sla_format_time(want, w);
	}
	check_report(got == want, file, line, "%s = %lld (%s), expected %lld (%s)", what, (long long)got, g,
	             (long long)want, w);
}

#define H      3600
#define MINUTE 60

/* Local wall-clock time in a zone that is utc_off_h hours ahead of UTC. */
static int64_t at(int y, int mon, int d, int h, int min, int utc_off_h)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	return (int64_t)timegm(&tm) - (int64_t)utc_off_h * H;
}

/* Shanghai: UTC+8 all year, no DST. */
static int64_t sh(int y, int mon, int d, int h, int min)
{
	return at(y, mon, d, h, min, 8);
}

/* Monday to Friday 09:00-18:00, weekends closed. */
static void office_hours(struct sla_calendar *cal)
{
	memset(cal, 0, sizeof *cal);
	cal->business_hours = true;
	for (int wd = 1; wd <= 5; wd++) {
		cal->day[wd].open_min = 9 * 60;
		cal->day[wd].close_min = 18 * 60;
	}
}

static void test_timezones(void)
{
	CHECK(sla_timezone_exists("UTC"));
	CHECK(sla_timezone_exists("Asia/Shanghai"));
	CHECK(sla_timezone_exists("Europe/Berlin"));
	CHECK(!sla_timezone_exists(NULL));
	CHECK(!sla_timezone_exists(""));
	CHECK(!sla_timezone_exists("Mars/Olympus_Mons"));
	CHECK(!sla_timezone_exists("Asia"));
	CHECK(!sla_timezone_exists("/usr/share/zoneinfo/UTC"));
	CHECK(!sla_timezone_exists("../zoneinfo/UTC"));
	CHECK(!sla_timezone_exists("Europe/../UTC"));
	CHECK(!sla_timezone_exists("zone.tab")); /* a file there, but not a zone */
	CHECK(!sla_timezone_exists("Asia/Shanghai "));
	char longname[200];
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK(!sla_timezone_exists(longname));

	/* A refused zone leaves the current one in place. */
	CHECK(sla_use_timezone("Asia/Shanghai"));
	CHECK(!sla_use_timezone("Mars/Olympus_Mons"));
	struct sla_calendar cal;
	office_hours(&cal);
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 9, 0), 60 * MINUTE), sh(2026, 11, 23, 10, 0));
	/* "" is UTC, with or without a zoneinfo file for it. */
	CHECK(sla_use_timezone(""));
	CHECK_TIME(sla_add(&cal, at(2026, 11, 23, 9, 0, 0), 60 * MINUTE), at(2026, 11, 23, 10, 0, 0));
	CHECK(sla_use_timezone(NULL));
}

static void test_wall_clock(void)
{
	struct sla_policy p;
	memset(&p, 0, sizeof p);
	p.escalation_pct = 50;
	p.minutes[SEV_CRITICAL][TIER_PLATINUM] = 60;
	p.minutes[SEV_LOW][TIER_LEAD] = 10080;
	const struct sla_calendar *cal = &p.calendar;
	int64_t sat = sh(2026, 11, 21, 23, 30);

	CHECK(sla_use_timezone("Asia/Shanghai"));
	/* Weekends and nights count like any other time. */
	CHECK_TIME(sla_add(cal, sat, 2 * H), sat + 2 * H);
	CHECK_TIME(sla_add(cal, sat, 0), sat);
	CHECK_TIME(sla_add(cal, sat, -5), sat);
	CHECK_TIME(sla_add(cal, INT64_MAX - 10, 100), INT64_MAX);
	CHECK(sla_elapsed(cal, sat, sat + 3 * H) == 3 * H);
	CHECK(sla_elapsed(cal, sat, sat) == 0);
	CHECK(sla_elapsed(cal, sat, sat - 1) == 0);
	CHECK(sla_elapsed(cal, INT64_MIN, INT64_MAX) == INT64_MAX);
	CHECK_TIME(sla_due(&p, SEV_CRITICAL, TIER_PLATINUM, sat), sat + H);
	CHECK_TIME(sla_due(&p, SEV_LOW, TIER_LEAD, sat), sat + 7 * 24 * H);
	/* Bad inputs are due at once rather than indexing out of the table. */
	CHECK_TIME(sla_due(&p, SEV_COUNT, TIER_GOLD, sat), sat);
	CHECK_TIME(sla_due(&p, SEV_LOW, TIER_COUNT, sat), sat);

	int64_t due = sat + 4 * H;
	CHECK_TIME(sla_after_pause(cal, due, sat + H, sat + 10 * H), sat + 13 * H);
	CHECK_TIME(sla_after_pause(cal, due, sat + 5 * H, sat + 10 * H), due);
	CHECK_TIME(sla_after_escalation(&p, due, sat), sat + 2 * H);
	CHECK_TIME(sla_after_escalation(&p, due, due + 1), due);
	CHECK_TIME(sla_after_escalation(&p, INT64_MAX, sat), INT64_MAX);
	p.escalation_pct = 100;
	CHECK_TIME(sla_after_escalation(&p, due, sat), due);
	p.escalation_pct = 1;
	CHECK_TIME(sla_after_escalation(&p, due, sat), sat + 4 * H / 100);
	p.escalation_pct = 37;
	/* Exact, without overflowing: floor(9223372036854775806 * 37 / 100). */
	CHECK_TIME(sla_after_escalation(&p, INT64_MAX - 1, 0), 3412647653636267048);
}

static void test_business_add(void)
{
	struct sla_calendar cal;
	office_hours(&cal);
	CHECK(sla_use_timezone("Asia/Shanghai"));

	/* 2026-11-20 is a Friday. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 120 * MINUTE), sh(2026, 11, 23, 10, 0));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 10, 0), 120 * MINUTE), sh(2026, 11, 20, 12, 0));
	/* Opened on a Saturday: the clock starts on Monday morning. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 21, 12, 0), 120 * MINUTE), sh(2026, 11, 23, 11, 0));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 22, 23, 59), 1), sh(2026, 11, 23, 9, 0) + 1);
	/* Before opening time. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 7, 30), 60 * MINUTE), sh(2026, 11, 23, 10, 0));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 0, 0), 60 * MINUTE), sh(2026, 11, 23, 10, 0));
	/* Exactly at closing time: nothing is left that day. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 18, 0), 60 * MINUTE), sh(2026, 11, 23, 10, 0));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 18, 0), 60 * MINUTE), sh(2026, 11, 24, 10, 0));
	/* Using up the day exactly is due at closing, not at the next opening. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 60 * MINUTE), sh(2026, 11, 20, 18, 0));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 60 * MINUTE + 1), sh(2026, 11, 23, 9, 0) + 1);
	/* Several days: 20 hours from Monday 09:00 is Tuesday 18:00 + 2 h. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 9, 0), 20 * H), sh(2026, 11, 25, 11, 0));
	/* A week of business time (45 h) is a calendar week. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 9, 30), 45 * H), sh(2026, 11, 30, 9, 30));
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 0), sh(2026, 11, 20, 17, 0));
}

static void test_holidays(void)
{
	struct sla_calendar cal;
	office_hours(&cal);
	CHECK(sla_use_timezone("Asia/Shanghai"));

	cal.holidays[0] = 20261001;
	cal.holidays[1] = 20261123; /* a Monday */
	cal.holidays[2] = 20261225;
	cal.n_holidays = 3;
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 120 * MINUTE), sh(2026, 11, 24, 10, 0));
	CHECK(sla_elapsed(&cal, sh(2026, 11, 20, 17, 0), sh(2026, 11, 24, 10, 0)) == 120 * MINUTE);
	/* Opened on the holiday itself. */
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 11, 0), 30 * MINUTE), sh(2026, 11, 24, 9, 30));
	/* Two holidays in a row (Thursday and Friday). */
	cal.holidays[0] = 20261001;
	cal.holidays[1] = 20261002;
	cal.n_holidays = 2;
	CHECK_TIME(sla_add(&cal, sh(2026, 9, 30, 17, 0), 2 * H), sh(2026, 10, 5, 10, 0));
}

static void test_business_elapsed(void)
{
	struct sla_calendar cal;
	office_hours(&cal);
	CHECK(sla_use_timezone("Asia/Shanghai"));

	/* Friday 17:00 to Monday 10:00: one hour each side of the weekend. */
	CHECK(sla_elapsed(&cal, sh(2026, 11, 20, 17, 0), sh(2026, 11, 23, 10, 0)) == 2 * H);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 21, 0, 0), sh(2026, 11, 23, 0, 0)) == 0);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 20, 18, 0), sh(2026, 11, 23, 9, 0)) == 0);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 23, 0, 0), sh(2026, 11, 30, 0, 0)) == 45 * H);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 23, 10, 0), sh(2026, 11, 23, 10, 30)) == 30 * MINUTE);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 23, 10, 0), sh(2026, 11, 23, 9, 0)) == 0);
	/* elapsed undoes add. */
	for (int64_t s = 1; s < 100 * H; s += 7919) {
		int64_t from = sh(2026, 11, 20, 16, 0) + s / 3;
		CHECK(sla_elapsed(&cal, from, sla_add(&cal, from, s)) == s);
	}
}

static void test_pause_and_escalation(void)
{
	struct sla_policy p;
	memset(&p, 0, sizeof p);
	office_hours(&p.calendar);
	p.escalation_pct = 50;
	p.minutes[SEV_HIGH][TIER_GOLD] = 120;
	CHECK(sla_use_timezone("Asia/Shanghai"));

	int64_t opened = sh(2026, 11, 20, 17, 0);
	int64_t due = sla_due(&p, SEV_HIGH, TIER_GOLD, opened);
	CHECK_TIME(due, sh(2026, 11, 23, 10, 0));

	/* Paused Friday 17:30 with 90 minutes left; resumed Monday 09:30. */
	CHECK_TIME(sla_after_pause(&p.calendar, due, sh(2026, 11, 20, 17, 30), sh(2026, 11, 23, 9, 30)),
	           sh(2026, 11, 23, 11, 0));
	/* Resumed over the weekend: the clock restarts at Monday's opening. */
	CHECK_TIME(sla_after_pause(&p.calendar, due, sh(2026, 11, 20, 17, 30), sh(2026, 11, 22, 12, 0)),
	           sh(2026, 11, 23, 10, 30));
	/* A pause entirely outside opening hours changes nothing. */
	CHECK_TIME(sla_after_pause(&p.calendar, due, sh(2026, 11, 20, 19, 0), sh(2026, 11, 22, 12, 0)), due);
	/* Overdue when paused: the deadline stays where it was. */
	CHECK_TIME(sla_after_pause(&p.calendar, due, sh(2026, 11, 23, 11, 0), sh(2026, 11, 24, 9, 0)), due);
	CHECK_TIME(sla_after_pause(&p.calendar, due, due, sh(2026, 11, 24, 9, 0)), due);

	/* Escalated Friday 17:00 with 2 h left: 1 h left, due Friday 18:00. */
	CHECK_TIME(sla_after_escalation(&p, due, opened), sh(2026, 11, 20, 18, 0));
	/* Escalated Monday 09:00: still 1 h of 2 h left... */
	CHECK_TIME(sla_after_escalation(&p, sh(2026, 11, 23, 11, 0), sh(2026, 11, 23, 9, 0)),
	           sh(2026, 11, 23, 10, 0));
	/* ...and over the weekend the remaining business time is what is halved. */
	CHECK_TIME(sla_after_escalation(&p, due, sh(2026, 11, 21, 12, 0)), sh(2026, 11, 23, 9, 30));
	/* Overdue: escalation never pushes the deadline back. */
	CHECK_TIME(sla_after_escalation(&p, due, sh(2026, 11, 23, 12, 0)), due);
	CHECK_TIME(sla_after_escalation(&p, due, due), due);
}

static void test_dst(void)
{
	struct sla_calendar cal;
	office_hours(&cal);
	CHECK(sla_use_timezone("Europe/Berlin"));

	/* CET (UTC+1) until Sunday 2026-03-29 02:00, CEST (UTC+2) after. */
	CHECK_TIME(sla_add(&cal, at(2026, 3, 27, 17, 0, 1), 120 * MINUTE), at(2026, 3, 30, 10, 0, 2));
	CHECK(sla_elapsed(&cal, at(2026, 3, 27, 17, 0, 1), at(2026, 3, 30, 10, 0, 2)) == 2 * H);
	CHECK(sla_elapsed(&cal, at(2026, 3, 23, 0, 0, 1), at(2026, 3, 30, 0, 0, 2)) == 45 * H);

	/* Open round the clock: the short Sunday has only 23 hours to count. */
	for (int wd = 0; wd < 7; wd++) {
		cal.day[wd].open_min = 0;
		cal.day[wd].close_min = 24 * 60;
	}
	CHECK(sla_elapsed(&cal, at(2026, 3, 29, 0, 0, 1), at(2026, 3, 30, 0, 0, 2)) == 23 * H);
	CHECK_TIME(sla_add(&cal, at(2026, 3, 28, 12, 0, 1), 48 * H), at(2026, 3, 30, 13, 0, 2));
	CHECK_TIME(sla_add(&cal, at(2026, 3, 29, 1, 30, 1), H), at(2026, 3, 29, 3, 30, 2));
	/* ...and the long Sunday in October (CEST back to CET) has 25. */
	CHECK(sla_elapsed(&cal, at(2026, 10, 25, 0, 0, 2), at(2026, 10, 26, 0, 0, 1)) == 25 * H);
	CHECK_TIME(sla_add(&cal, at(2026, 10, 24, 12, 0, 2), 48 * H), at(2026, 10, 26, 11, 0, 1));

	/* Opening hours around the gap: 01:00-04:00 is only 2 h on 29 March. */
	for (int wd = 0; wd < 7; wd++) {
		cal.day[wd].open_min = 60;
		cal.day[wd].close_min = 4 * 60;
	}
	CHECK(sla_elapsed(&cal, at(2026, 3, 29, 0, 0, 1), at(2026, 3, 30, 0, 0, 2)) == 2 * H);
	CHECK(sla_elapsed(&cal, at(2026, 3, 28, 0, 0, 1), at(2026, 3, 29, 0, 0, 1)) == 3 * H);
}

static void test_never_open(void)
{
	struct sla_calendar cal;
	memset(&cal, 0, sizeof cal);
	cal.business_hours = true;
	CHECK(sla_use_timezone("Asia/Shanghai"));

	clock_t t0 = clock();
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 20, 17, 0), 60), INT64_MAX);
	CHECK(sla_elapsed(&cal, sh(2026, 11, 20, 17, 0), sh(2027, 11, 20, 17, 0)) == 0);
	CHECK(sla_elapsed(&cal, 0, INT64_MAX) == 0);

	/* Open on weekdays, but every weekday for two years is a holiday. */
	office_hours(&cal);
	int64_t day = (sh(2026, 11, 23, 12, 0) - sh(1970, 1, 1, 12, 0)) / (24 * H);
	for (cal.n_holidays = 0; cal.n_holidays < SLA_MAX_HOLIDAYS; day++) {
		time_t t = (time_t)(day * 24 * H + 12 * H);
		struct tm tm;
		gmtime_r(&t, &tm);
		if (tm.tm_wday != 0 && tm.tm_wday != 6)
			cal.holidays[cal.n_holidays++] =
			    (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	}
	CHECK_TIME(sla_add(&cal, sh(2026, 11, 23, 10, 0), 60), INT64_MAX);
	/* A deadline that never comes is not moved by a pause or an escalation. */
	struct sla_policy p;
	memset(&p, 0, sizeof p);
	p.calendar = cal;
	p.escalation_pct = 50;
	CHECK_TIME(sla_after_pause(&cal, INT64_MAX, sh(2026, 11, 23, 10, 0), sh(2026, 11, 24, 10, 0)),
	           INT64_MAX);
	CHECK_TIME(sla_after_escalation(&p, INT64_MAX, sh(2026, 11, 23, 10, 0)), INT64_MAX);
	/* Moments the C library cannot represent give up instead of guessing. */
	CHECK_TIME(sla_add(&cal, INT64_MAX - 1, 60), INT64_MAX);
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

static void test_format(void)
{
	char buf[32];
	sla_format_time(0, buf);
	CHECK(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
	sla_format_time(at(2026, 11, 22, 20, 59, 0) + 1, buf);
	CHECK(strcmp(buf, "2026-11-22T20:59:01Z") == 0);
	CHECK(strlen(buf) == 20);
	/* Independent of the process zone. */
	CHECK(sla_use_timezone("Asia/Shanghai"));
	sla_format_time(sh(2026, 11, 23, 7, 5), buf);
	CHECK(strcmp(buf, "2026-11-22T23:05:00Z") == 0);
	sla_format_time(at(2028, 2, 29, 23, 59, 0) + 59, buf);
	CHECK(strcmp(buf, "2028-02-29T23:59:59Z") == 0);
	/* "Never" and nonsense stay well-formed. */
	sla_format_time(INT64_MAX, buf);
	CHECK(strcmp(buf, "9999-12-31T23:59:59Z") == 0);
	sla_format_time(-1, buf);
	CHECK(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
	sla_format_time(INT64_MIN, buf);
	CHECK(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
}

int main(void)
{
	test_timezones();
	test_wall_clock();
	test_business_add();
	test_holidays();
	test_business_elapsed();
	test_pause_and_escalation();
	test_dst();
	test_never_open();
	test_format();
	return check_summary("test_sla");
}
