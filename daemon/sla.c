/* sla.c - complaint deadlines on a wall or business-hours clock (see sla.h).
 *
 * Business time is counted by walking the calendar one local day at a time.
 * Dates are stepped with plain civil-date arithmetic (days since the epoch),
 * but each day's opening and closing moments come from mktime() on the
 * local wall-clock time, so days that are 23 or 25 hours long (DST changes)
 * are measured as they really are rather than as 86400 seconds.
 */
#include "sla.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rfc3339.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"

/* sla_add gives up after this many consecutive days without an opening
 * hour (a calendar that never opens, or a wall of holidays). */
#define MAX_CLOSED_DAYS 400
/* And no walk ever goes further than this (about 110 years), so that a
 * calendar open one minute a week cannot make a huge SLA spin for long. */
#define MAX_WALK_DAYS 40000

/* The range sla_format_time can print as four-digit years. */
#define FORMAT_MIN 0              /* 1970-01-01T00:00:00Z */
#define FORMAT_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

struct span {
	int64_t open, close; /* [open, close) in Unix seconds */
};

/* ---- time zone ---- */

bool sla_timezone_exists(const char *tz)
{
	char path[sizeof ZONEINFO_DIR + sizeof(((struct sla_calendar *)0)->timezone)];
	size_t len = tz ? strlen(tz) : 0;
	struct stat st;
	char magic[4];

	/* The name becomes a path: keep it inside the zoneinfo directory. */
	if (len == 0 || len >= sizeof(((struct sla_calendar *)0)->timezone) || tz[0] == '/' ||
	    strstr(tz, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)tz[i] <= 0x20 || tz[i] == 0x7f)
			return false;
	snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, tz);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	/* zoneinfo also holds tables such as zone.tab, which are not zones. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, magic, sizeof magic);
	close(fd);
	return n == (ssize_t)sizeof magic && memcmp(magic, "TZif", sizeof magic) == 0;
}

bool sla_use_timezone(const char *tz)
{
	/* A POSIX rule rather than a file name, so "" works without zoneinfo. */
	if (!tz || !*tz)
		tz = "UTC0";
	else if (!sla_timezone_exists(tz))
		return false;
	if (setenv("TZ", tz, 1) != 0)
		return false;
	/* localtime_r is not required to notice a changed TZ by itself. */
	tzset();
	return true;
}

/* ---- civil dates (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday, like tm_wday and sla_calendar.day[]; 1970-01-01 was a Thursday. */
static unsigned weekday(int64_t days)
{
	int64_t w = (days + 4) % 7;
	return (unsigned)(w < 0 ? w + 7 : w);
}

/* ---- local wall clock ---- */

/* The local date of t, as days since 1970-01-01. */
static bool local_day(int64_t t, int64_t *day)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if ((int64_t)tt != t || !localtime_r(&tt, &tm))
		return false;
	*day = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
	return true;
}

/* The moment `minutes` of wall-clock time after local midnight on the given
 * date; mktime normalises 24:00 into the next midnight. */
static bool local_time(int64_t y, unsigned m, unsigned d, unsigned minutes, int64_t *out)
{
	struct tm tm = {0};
	if (y < 1900 || y > 1900 + 1000000)
		return false;
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)(minutes / 60);
	tm.tm_min = (int)(minutes % 60);
	tm.tm_isdst = -1; /* let the zone say whether DST applies */
	time_t t = mktime(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

static int cmp_int32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static bool is_holiday(const struct sla_calendar *cal, int64_t y, unsigned m, unsigned d)
{
	if (cal->n_holidays == 0 || y < 0 || y > 9999)
		return false;
	int32_t key = (int32_t)(y * 10000 + m * 100 + d);
	size_t n = cal->n_holidays < SLA_MAX_HOLIDAYS ? cal->n_holidays : SLA_MAX_HOLIDAYS;
	return bsearch(&key, cal->holidays, n, sizeof key, cmp_int32) != NULL;
}

/* The opening hours of local day `day`; false when closed all day. */
static bool open_span(const struct sla_calendar *cal, int64_t day, struct span *sp)
{
	unsigned wd = weekday(day), open_min = cal->day[wd].open_min, close_min = cal->day[wd].close_min;
	int64_t y;
	unsigned m, d;

	if (close_min <= open_min)
		return false;
	civil_from_days(day, &y, &m, &d);
	if (is_holiday(cal, y, m, d))
		return false;
	if (!local_time(y, m, d, open_min, &sp->open) || !local_time(y, m, d, close_min, &sp->close))
		return false;
	/* Hours that fall inside a DST gap can vanish altogether. */
	return sp->open < sp->close;
}

/* ---- SLA clock ---- */

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t saturating_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int64_t business_add(const struct sla_calendar *cal, int64_t start, int64_t seconds)
{
	int64_t day;
	int closed_run = 0;
	struct span sp;

	if (!local_day(start, &day))
		return INT64_MAX;
	for (int walked = 0; walked < MAX_WALK_DAYS; walked++, day++) {
		if (!open_span(cal, day, &sp)) {
			if (++closed_run >= MAX_CLOSED_DAYS)
				return INT64_MAX;
			continue;
		}
		closed_run = 0;
		int64_t begin = max64(sp.open, start);
		if (begin >= sp.close)
			continue;
		/* Due exactly at closing time stays on that day, not the next opening. */
		if (seconds <= sp.close - begin)
			return begin + seconds;
		seconds -= sp.close - begin;
	}
	return INT64_MAX;
}

int64_t sla_add(const struct sla_calendar *cal, int64_t start, int64_t seconds)
{
	if (seconds <= 0)
		return start;
	if (!cal->business_hours)
		return saturating_add(start, seconds);
	return business_add(cal, start, seconds);
}

static int64_t business_elapsed(const struct sla_calendar *cal, int64_t from, int64_t to)
{
	int64_t day, last, total = 0;
	struct span sp;

	if (!local_day(from, &day))
		return 0;
	if (!local_day(to, &last) || last - day >= MAX_WALK_DAYS)
		last = day + MAX_WALK_DAYS - 1;
	for (; day <= last; day++) {
		if (!open_span(cal, day, &sp))
			continue;
		int64_t begin = max64(sp.open, from), end = min64(sp.close, to);
		if (end > begin)
			total += end - begin;
	}
	return total;
}

int64_t sla_elapsed(const struct sla_calendar *cal, int64_t from, int64_t to)
{
	if (to <= from)
		return 0;
	if (!cal->business_hours)
		return (from < 0 && to > INT64_MAX + from) ? INT64_MAX : to - from;
	return business_elapsed(cal, from, to);
}

int64_t sla_due(const struct sla_policy *p, enum severity sev, enum customer_tier tier, int64_t opened)
{
	/* A bad severity or tier is a bug upstream: due at once, so it shows. */
	if ((unsigned)sev >= SEV_COUNT || (unsigned)tier >= TIER_COUNT)
		return opened;
	return sla_add(&p->calendar, opened, (int64_t)p->minutes[sev][tier] * 60);
}

int64_t sla_after_pause(const struct sla_calendar *cal, int64_t due, int64_t paused_at, int64_t resumed_at)
{
	/* Already overdue when paused, or never due: waiting cannot buy time. */
	if (due <= paused_at || due == INT64_MAX)
		return due;
	int64_t remaining = sla_elapsed(cal, paused_at, due);
	return sla_add(cal, max64(resumed_at, paused_at), remaining);
}

int64_t sla_after_escalation(const struct sla_policy *p, int64_t due, int64_t now)
{
	if (due == INT64_MAX)
		return due;
	int64_t remaining = sla_elapsed(&p->calendar, now, due);
	if (remaining <= 0)
		return due;
	/* Split so that even a wall-clock remainder near INT64_MAX cannot overflow. */
	int64_t pct = p->escalation_pct;
	int64_t kept = remaining / 100 * pct + remaining % 100 * pct / 100;
	return sla_add(&p->calendar, now, kept);
}

void sla_format_time(int64_t t, char out[32])
{
	time_t tt = (time_t)(t < FORMAT_MIN ? FORMAT_MIN : t > FORMAT_MAX ? FORMAT_MAX : t);
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

bool sla_parse_time(const char *text, int64_t *t)
{
	uint64_t ms;

	if (!rfc3339_parse_ms(text, false, &ms))
		return false;
	*t = (int64_t)(ms / 1000) >= FORMAT_MAX ? INT64_MAX : (int64_t)(ms / 1000);
	return true;
}
