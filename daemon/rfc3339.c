#include "rfc3339.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Exactly `width` digits at s, within [lo, hi]. */
static bool digits(const char *s, int width, int lo, int hi, int *out)
{
	int v = 0;

	for (int i = 0; i < width; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): no timegm(), which is slow and consults the time zone. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : days[m - 1];
}

bool rfc3339_parse_ms_n(const char *s, size_t len, bool end, uint64_t *out_ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, span_ms, off_s = 0;
	const char *p = s + 10, *stop = s + len;
	int64_t t;

	if (len < 10 || !digits(s, 4, 1970, 9999, &y) || s[4] != '-' || !digits(s + 5, 2, 1, 12, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, 1, 31, &d) || d > days_in_month(y, mo))
		return false;
	if (p == stop) {
		span_ms = 86400000; /* a date: the whole day, UTC */
	} else {
		if (stop - p < 9 || (*p != 'T' && *p != 't' && *p != ' ') || !digits(p + 1, 2, 0, 23, &h) ||
		    p[3] != ':' || !digits(p + 4, 2, 0, 59, &mi) || p[6] != ':' || !digits(p + 7, 2, 0, 60, &sec))
			return false;
		p += 9;
		span_ms = 1000;
		if (p < stop && *p == '.') {
			int n = 0;

			for (p++; p < stop && *p >= '0' && *p <= '9'; p++, n++)
				if (n < 3)
					frac_ms = frac_ms * 10 + (*p - '0');
			if (n == 0)
				return false;
			for (int k = n; k < 3; k++)
				frac_ms *= 10;
			span_ms = 1;
		}
		if (p < stop && (*p == 'Z' || *p == 'z')) {
			p++;
		} else if (p < stop && (*p == '+' || *p == '-')) {
			int oh, om;

			if (stop - p < 6 || !digits(p + 1, 2, 0, 23, &oh) || p[3] != ':' || !digits(p + 4, 2, 0, 59, &om))
				return false;
			off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
			p += 6;
		} else {
			return false; /* a time without a zone is ambiguous: refuse it */
		}
		if (p != stop)
			return false;
	}
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
	if (t < 0)
		return false;
	*out_ms = (uint64_t)t * 1000 + (uint64_t)frac_ms + (end ? (uint64_t)span_ms - 1 : 0);
	return true;
}

bool rfc3339_parse_ms(const char *s, bool end, uint64_t *out_ms)
{
	return rfc3339_parse_ms_n(s, strlen(s), end, out_ms);
}

void rfc3339_format_ms(int64_t ms, char out[RFC3339_MS_MAX])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (gmtime_r(&t, &tm) == NULL || (n = strftime(out, RFC3339_MS_MAX, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(out, RFC3339_MS_MAX, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + n, RFC3339_MS_MAX - n, ".%03dZ", (int)(ms % 1000));
}
