/* phone.c - phone number normalisation (see phone.h for the rules). */
#include "phone.h"

#include <stdio.h>
#include <string.h>

/* More digits than any valid number may hold, so "too long" is still
 * reported precisely while scanning stays bounded. */
#define SCAN_MAX 32

struct scan {
	char digits[SCAN_MAX];
	size_t n;        /* digits seen (may exceed SCAN_MAX; only the first SCAN_MAX are kept) */
	bool plus;       /* a leading '+' was seen */
	const char *why; /* first problem found, or NULL */
};

void phone_rules_default(struct phone_rules *rules)
{
	memset(rules, 0, sizeof(*rules));
	snprintf(rules->international_prefix, sizeof(rules->international_prefix), "00");
	snprintf(rules->trunk_prefix, sizeof(rules->trunk_prefix), "0");
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (!is_digit(*s))
			return false;
	return true;
}

static bool starts_with(const char *digits, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);

	return plen > 0 && n >= plen && memcmp(digits, prefix, plen) == 0;
}

/* Whether the digits so far are an international number's country code, so
 * that a following "(0)" is the trunk prefix people write in international
 * form ("+44 (0)20 ...") and must go, not part of the number. */
static bool in_international_form(const struct phone_rules *rules, const struct scan *sc)
{
	size_t ilen = strlen(rules->international_prefix);

	if (sc->n == 0 || sc->n > SCAN_MAX)
		return false;
	if (sc->plus)
		return true;
	return starts_with(sc->digits, sc->n, rules->international_prefix) && sc->n > ilen;
}

/* Length of a "(0)" group (with the configured trunk prefix and optional
 * blanks inside) at raw[i], or 0. */
static size_t trunk_group_len(const struct phone_rules *rules, const char *raw, size_t len, size_t i)
{
	size_t tlen = strlen(rules->trunk_prefix), j = i + 1;

	if (tlen == 0 || raw[i] != '(')
		return 0;
	while (j < len && (raw[j] == ' ' || raw[j] == '\t'))
		j++;
	if (len - j < tlen || memcmp(raw + j, rules->trunk_prefix, tlen) != 0)
		return 0;
	j += tlen;
	while (j < len && (raw[j] == ' ' || raw[j] == '\t'))
		j++;
	return j < len && raw[j] == ')' ? j + 1 - i : 0;
}

static void scan_raw(const struct phone_rules *rules, const char *raw, size_t len, struct scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	for (size_t i = 0; i < len; i++) {
		char c = raw[i];
		size_t group;

		if (is_digit(c)) {
			if (sc->n < SCAN_MAX)
				sc->digits[sc->n] = c;
			sc->n++;
		} else if (c == '+') {
			if (sc->plus || sc->n > 0) {
				sc->why = "'+' only allowed first";
				return;
			}
			sc->plus = true;
		} else if ((group = trunk_group_len(rules, raw, len, i)) > 0 &&
		           in_international_form(rules, sc)) {
			i += group - 1;
		} else if (!is_separator(c)) {
			sc->why = "not a phone number: letters or symbols";
			return;
		}
	}
}

/* Rules 2-4 of phone.h: the digits that follow the '+' (or the national
 * digits), and whether the result carries a '+'. */
static void apply_prefixes(const struct phone_rules *rules, const struct scan *sc, const char **digits,
                           size_t *n, bool *plus, bool *add_country)
{
	*digits = sc->digits;
	*n = sc->n;
	*plus = true;
	*add_country = false;
	if (sc->plus)
		return;
	if (starts_with(*digits, *n, rules->international_prefix)) {
		size_t ilen = strlen(rules->international_prefix);

		*digits += ilen;
		*n -= ilen;
		return;
	}
	if (starts_with(*digits, *n, rules->trunk_prefix)) {
		size_t tlen = strlen(rules->trunk_prefix);

		*digits += tlen;
		*n -= tlen;
	}
	*add_country = rules->default_country[0] != '\0';
	*plus = *add_country;
}

static bool fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return false;
}

bool phone_normalize(const struct phone_rules *rules, const char *raw, size_t len, char out[PHONE_MAX],
                     const char **why)
{
	struct scan sc;
	const char *digits;
	size_t n, clen = 0, total;
	bool plus, add_country;

	out[0] = '\0';
	if (!all_digits(rules->default_country) || !all_digits(rules->international_prefix) ||
	    !all_digits(rules->trunk_prefix))
		return fail(why, "phone rules are misconfigured");
	scan_raw(rules, raw, len, &sc);
	if (sc.why)
		return fail(why, sc.why);
	if (sc.n == 0)
		return fail(why, sc.plus ? "too short" : "empty");
	if (sc.n > SCAN_MAX)
		return fail(why, "too long");
	apply_prefixes(rules, &sc, &digits, &n, &plus, &add_country);
	if (add_country)
		clen = strlen(rules->default_country);
	total = clen + n;
	/* Counted without the country code we add, else any digit would pass. */
	if (n < 3)
		return fail(why, "too short");
	if (total > 15)
		return fail(why, "too long");
	/* No country code starts with 0: "+0..." is a mistyped prefix, not a number. */
	if (plus && (add_country ? rules->default_country[0] : digits[0]) == '0')
		return fail(why, "no country code after the international prefix");
	snprintf(out, PHONE_MAX, "%s%s%.*s", plus ? "+" : "", add_country ? rules->default_country : "",
	         (int)n, digits);
	return true;
}
