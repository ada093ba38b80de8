/* phone.h - phone number normalisation, identical for POP and import.
 *
 * A number is reduced to one canonical form so that "+86 138-0013-8000",
 * "(0)138 0013 8000" and "13800138000" index and find the same customer:
 *   1. spaces, tabs, '-', '.', '(', ')' and '/' are dropped; so is a
 *      parenthesised trunk prefix after the country code of an
 *      international number ("+44 (0)20 ...": the "(0)" is not dialled);
 *   2. a leading '+' is kept;
 *   3. otherwise a leading international access prefix (default "00") is
 *      replaced by '+';
 *   4. otherwise the number is national: a leading trunk prefix (default
 *      "0") is dropped and "+" + default country code is prepended, when a
 *      default country is configured (with none, national numbers stay as
 *      their digits, trunk prefix dropped, without '+');
 *   5. the result must be '+' then 3..15 digits (E.164), or 3..15 digits;
 *      the digits after '+' may not start with 0 (no country code does),
 *      and at least 3 must come from the number itself, not from the
 *      default country code ("12" is too short, not "+8612").
 * Anything else (letters, '+' in the middle, too short/long) is invalid.
 * With a default country every national number gets it, short service
 * numbers included: "112" -> "+86112", "10086" -> "+8610086".  They still
 * match each other, since POP and import apply the same rules; a national
 * number already written with its country code but no '+' or prefix
 * ("8613800138000") is not guessed at and gets the code twice.
 */
#ifndef HOTLINE_PHONE_H
#define HOTLINE_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#define PHONE_MAX 24 /* "+" + 15 digits + NUL, with room to spare */

struct phone_rules {
	char default_country[8];      /* digits, e.g. "86"; "" = none */
	char international_prefix[8]; /* default "00" */
	char trunk_prefix[8];         /* default "0"; "" = none */
};

void phone_rules_default(struct phone_rules *rules);

/* Normalise raw (len bytes, not NUL-terminated) into out.  Returns true on
 * success; on failure writes a short reason (no personal data) into why. */
bool phone_normalize(const struct phone_rules *rules, const char *raw, size_t len, char out[PHONE_MAX],
                     const char **why);

#endif
