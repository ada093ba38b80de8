/* customer.h - the customer record: its fields, their validation, and its
 * two representations (the Redis hash and the JSON card in POP replies).
 *
 * One table (customer.c) names every field once with its kind, limits and
 * allowed values; import (CSV header names, JSON Lines keys), the Redis hash
 * field names and the POP reply keys all use these names.  Vocabulary from
 * shared/domain.md:
 *   tier       platinum gold iron lead        (customer pyramid by revenue)
 *   status     active developing dormant churned
 *   lifecycle  exploration formation stability decline
 *   credit     good fair poor
 *   type       consumer intermediary public internal
 *   attention  special recent normal none
 */
#ifndef HOTLINE_CUSTOMER_H
#define HOTLINE_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "phone.h"

#define CUSTOMER_ID_MAX 64
#define CUSTOMER_MAX_PHONES 16
#define CUSTOMER_MAX_ACCOUNTS 16

enum customer_field {
	CF_ID,        /* required; 1..64 of [A-Za-z0-9_.-] */
	CF_NAME,      /* required; 1..200 bytes UTF-8, no control characters */
	CF_PHONES,    /* 0..16 numbers, normalised (phone.h); list */
	CF_ACCOUNTS,  /* 0..16 account numbers, each 1..64 of [A-Za-z0-9_.-]; list */
	CF_TIER,      /* default "lead" */
	CF_STATUS,    /* default "active" */
	CF_LIFECYCLE, /* default "exploration" */
	CF_CREDIT,    /* optional */
	CF_TEAM,      /* optional text 0..64 (owning team, e.g. "sales-a") */
	CF_TYPE,      /* optional enum */
	CF_REGION,    /* optional text 0..64 */
	CF_REVENUE,   /* optional decimal >= 0, at most 2 decimals; canonical "1234.50" */
	CF_SINCE,     /* optional date YYYY-MM-DD (customer since), a real calendar date */
	CF_ATTENTION, /* optional enum */
	CF_NOTES,     /* optional text 0..2000 */
	CF_COUNT
};

enum customer_tier { TIER_PLATINUM, TIER_GOLD, TIER_IRON, TIER_LEAD, TIER_COUNT };

/* A validated record in canonical string form: exactly what is stored in
 * the Redis hash.  Absent optional fields are "" (and not stored). */
struct customer {
	char *value[CF_COUNT]; /* heap strings; lists are joined with ',' */
	char phones[CUSTOMER_MAX_PHONES][PHONE_MAX];
	size_t n_phones;
	char accounts[CUSTOMER_MAX_ACCOUNTS][CUSTOMER_ID_MAX + 1];
	size_t n_accounts;
	double revenue; /* 0 when absent */
};

const char *customer_field_name(enum customer_field f);
/* -1 for an unknown name. */
int customer_field_lookup(const char *name);

/* Validate one record given as name/value text pairs (a CSV row: names from
 * the header; lists separated by ';' or '|').  On failure returns -1 and
 * writes "field 'x': what is wrong" into err (no personal data beyond the
 * offending field's name).  Unknown field names are an error. */
int customer_from_text(struct customer *out, const char *const *names, const char *const *values, size_t n,
                       const struct phone_rules *rules, char *err, size_t errlen);

/* The same from a JSON object (a JSON Lines row): lists are arrays of
 * strings, revenue a number or a decimal string. */
int customer_from_json(struct customer *out, const json_t *obj, const struct phone_rules *rules, char *err,
                       size_t errlen);

void customer_free(struct customer *c);

/* Build the POP reply card from a Redis HGETALL reply given as alternating
 * field/value strings: lists become arrays, revenue a number, unknown
 * fields are ignored.  Returns a new object. */
json_t *customer_card_from_hash(const char *const *fv, const size_t *fvlen, size_t n_pairs);

/* "platinum" -> TIER_PLATINUM ...; TIER_COUNT for anything else. */
enum customer_tier customer_tier_from_name(const char *name, size_t len);
/* "" for TIER_COUNT or anything out of range. */
const char *customer_tier_name(enum customer_tier t);

/* True when s is 1..max bytes of [A-Za-z0-9_.-]: safe inside a Redis key. */
bool customer_valid_key_part(const char *s, size_t len, size_t max);

#endif
