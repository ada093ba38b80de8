#include "rfc3339.h"

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

bool rfc3339_parse_ms(const char *s, bool end, uint64_t *out_ms)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, span_ms, off_s = 0;
	const char *p = s + 10;
	time_t t;

	if (strlen(s) < 10 || !digits(s, 4, 1970, 9999, &y) || s[4] != '-' || !digits(s + 5, 2, 1, 12, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, 1, 31, &d))
		return false;
	if (*p == '\0') {
		span_ms = 86400000; /* a date: the whole day, UTC */
	} else {
		if ((*p != 'T' && *p != 't' && *p != ' ') || !digits(p + 1, 2, 0, 23, &h) || p[3] != ':' ||
		    !digits(p + 4, 2, 0, 59, &mi) || p[6] != ':' || !digits(p + 7, 2, 0, 60, &sec))
			return false;
		p += 9;
		span_ms = 1000;
		if (*p == '.') {
			int n = 0;

			for (p++; *p >= '0' && *p <= '9'; p++, n++)
				if (n < 3)
					frac_ms = frac_ms * 10 + (*p - '0');
			if (n == 0)
				return false;
			for (int k = n; k < 3; k++)
				frac_ms *= 10;
			span_ms = 1;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;

			if (!digits(p + 1, 2, 0, 23, &oh) || p[3] != ':' || !digits(p + 4, 2, 0, 59, &om))
				return false;
			off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
			p += 6;
		} else {
			return false; /* a time without a zone is ambiguous: refuse it */
		}
		if (*p != '\0')
			return false;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d || (int64_t)t - off_s < 0)
		return false; /* timegm normalised an impossible date such as 02-31 */
	*out_ms =
	    (uint64_t)((int64_t)t - off_s) * 1000 + (uint64_t)frac_ms + (end ? (uint64_t)span_ms - 1 : 0);
	return true;
}
