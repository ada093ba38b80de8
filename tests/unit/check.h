/* The unit tests' one CHECK implementation.
 *
 * Every tests/unit/test_*.c used to carry its own copy of CHECK, CHECK_STR and the failure counters; this
 * header replaces those copies so that all of them count, report (file:line on stderr) and exit the same
 * way.  Header-only: each test is its own executable, so the static counters are per test program.
 * Checkers special to one file (test_sla's CHECK_TIME, test_config's EXPECT_ERR, ...) stay in that file
 * and go through check_report(), so they count towards the same totals. */
#ifndef HOTLINE_TESTS_UNIT_CHECK_H
#define HOTLINE_TESTS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int check_count;    /* checks evaluated */
static int check_failures; /* checks that failed */

/* Counts one check; if !ok, also a failure, reported as "file:line: <message>".  Returns ok. */
__attribute__((format(printf, 4, 5))) static inline bool check_report(bool ok, const char *file, int line,
                                                                      const char *fmt, ...)
{
	va_list ap;

	check_count++;
	if (ok)
		return true;
	check_failures++;
	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

/* Equal strings, or both NULL; prints both on a mismatch. */
static inline void check_str_at(const char *got, const char *want, const char *file, int line,
                                const char *what)
{
	bool same = got && want ? strcmp(got, want) == 0 : got == want;

	if (!check_report(same, file, line, "CHECK_STR failed: %s", what))
		fprintf(stderr, "  got:  \"%s\"\n  want: \"%s\"\n", got ? got : "(null)",
		        want ? want : "(null)");
}

/* Prints "<name>: N checks, M failed"; returns the exit code for main (0 only when nothing failed). */
static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#define CHECK(cond)          ((void)check_report(!!(cond), __FILE__, __LINE__, "CHECK failed: %s", #cond))
#define CHECK_STR(got, want) check_str_at((got), (want), __FILE__, __LINE__, #got)

#endif
