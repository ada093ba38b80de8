/* fuzz_args.c - the pure code that consumes client JSON and text before any Redis call: the customer
 * record (customer_from_json for JSON Lines / request objects, customer_from_text for CSV rows),
 * phone normalisation, the POP card builder, and the name lookups of lifecycle.h and customer.h.
 *
 * Input: byte 0 picks the mode (low 2 bits) and the phone rules (the next bits); the rest is the
 * payload.  Properties: no crash; a normalised phone is "+" and 3..15 digits (no leading 0) or 3..15
 * digits, and a "+" result normalises to itself; a valid customer has a valid id and at most 16
 * phones/accounts, each phone already normal; name lookups round-trip; errors are one short line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "customer.h"
#include "fuzz_util.h"
#include "lifecycle.h"
#include "phone.h"
#include "proto.h"

static void rules_pick(unsigned k, struct phone_rules *r)
{
	phone_rules_default(r);
	switch (k % 6) {
	case 0: break;
	case 1: strcpy(r->default_country, "86"); break;
	case 2: strcpy(r->default_country, "44"); break;
	case 3: strcpy(r->default_country, "1"); strcpy(r->international_prefix, "011"); strcpy(r->trunk_prefix, "1"); break;
	case 4: strcpy(r->default_country, "39"); r->trunk_prefix[0] = '\0'; break;
	default: strcpy(r->default_country, "1234567"); strcpy(r->international_prefix, "0000000"); strcpy(r->trunk_prefix, "0000000"); break;
	}
}

static bool phone_well_formed(const char *p)
{
	size_t len = strnlen(p, PHONE_MAX);
	const char *d = p;

	if (len >= PHONE_MAX)
		return false;
	if (*d == '+') {
		d++;
		if (*d == '0')
			return false;
	}
	size_t n = strlen(d);
	return n >= 3 && n <= 15 && strspn(d, "0123456789") == n;
}

static void check_err_text(const char *err, size_t errlen)
{
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
}

static void check_phone(const struct phone_rules *rules, const char *raw, size_t len)
{
	char out[PHONE_MAX], again[PHONE_MAX];
	const char *why = NULL;

	memset(out, 0x5A, sizeof(out));
	if (phone_normalize(rules, raw, len, out, &why)) {
		FUZZ_CHECK(phone_well_formed(out));
		if (out[0] == '+') {
			why = NULL;
			FUZZ_CHECK(phone_normalize(rules, out, strlen(out), again, &why));
			FUZZ_CHECK(strcmp(again, out) == 0);
		}
	} else {
		FUZZ_CHECK(why != NULL && strchr(why, '\n') == NULL);
	}
}

/* A record that passed validation, and its POP card built back from the Redis hash form. */
static void check_customer(const struct customer *c)
{
	FUZZ_CHECK(c->value[CF_ID] != NULL);
	FUZZ_CHECK(customer_valid_key_part(c->value[CF_ID], strlen(c->value[CF_ID]), CUSTOMER_ID_MAX));
	FUZZ_CHECK(c->value[CF_NAME] != NULL && c->value[CF_NAME][0] != '\0');
	FUZZ_CHECK(c->n_phones <= CUSTOMER_MAX_PHONES && c->n_accounts <= CUSTOMER_MAX_ACCOUNTS);
	for (size_t i = 0; i < c->n_phones; i++)
		FUZZ_CHECK(phone_well_formed(c->phones[i]));
	for (size_t i = 0; i < c->n_accounts; i++)
		FUZZ_CHECK(customer_valid_key_part(c->accounts[i], strlen(c->accounts[i]), CUSTOMER_ID_MAX));
	FUZZ_CHECK(c->revenue >= 0);

	const char *fv[2 * CF_COUNT];
	size_t fvlen[2 * CF_COUNT], n = 0;
	for (int f = 0; f < CF_COUNT; f++) {
		if (!c->value[f] || !c->value[f][0])
			continue;
		fv[2 * n] = customer_field_name((enum customer_field)f);
		fvlen[2 * n] = strlen(fv[2 * n]);
		fv[2 * n + 1] = c->value[f];
		fvlen[2 * n + 1] = strlen(c->value[f]);
		n++;
	}
	json_t *card = customer_card_from_hash(fv, fvlen, n);
	FUZZ_CHECK(card != NULL && json_is_object(card));
	FUZZ_CHECK(json_is_string(json_object_get(card, "id")));
	char *dump = json_dumps(card, JSON_COMPACT);
	FUZZ_CHECK(dump != NULL);
	free(dump);
	json_decref(card);
}

static void mode_json(const struct phone_rules *rules, const char *p, size_t len)
{
	struct proto_error perr;
	char err[256];
	struct customer c;

	/* The same path a request takes: the rest of the line as one JSON object. */
	json_t *obj = proto_parse_json_object(p, len, 0, false, &perr);
	if (!obj)
		return;
	memset(&c, 0, sizeof(c));
	memset(err, 0, sizeof(err));
	if (customer_from_json(&c, obj, rules, err, sizeof(err)) == 0) {
		check_customer(&c);
		customer_free(&c);
	} else {
		check_err_text(err, sizeof(err));
		customer_free(&c); /* must be safe after a failure too */
	}
	/* Any string value is also a phone number someone may POP. */
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		if (json_is_string(v))
			check_phone(rules, json_string_value(v), json_string_length(v));
	}
	json_decref(obj);
}

/* "name=value" pairs, one per line (a CSV row after the header has been matched up). */
static void mode_text(const struct phone_rules *rules, const char *p, size_t len)
{
	enum { MAXP = 32 };
	char *copy = malloc(len + 1);
	const char *names[MAXP], *values[MAXP];
	size_t n = 0;
	char err[256];
	struct customer c;

	FUZZ_CHECK(copy != NULL);
	memcpy(copy, p, len);
	copy[len] = '\0';
	for (char *line = copy; line && n < MAXP;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			names[n] = line;
			values[n] = eq + 1;
			n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	memset(&c, 0, sizeof(c));
	memset(err, 0, sizeof(err));
	if (customer_from_text(&c, names, values, n, rules, err, sizeof(err)) == 0) {
		check_customer(&c);
		customer_free(&c);
	} else {
		check_err_text(err, sizeof(err));
		customer_free(&c);
	}
	for (size_t i = 0; i < n; i++)
		(void)customer_field_lookup(names[i]);
	free(copy);
}

#define ROUNDTRIP(from_name, to_name, count, p, len)                                   \
	do {                                                                               \
		int k_ = from_name(p, len);                                                    \
		if (k_ >= 0) {                                                                 \
			FUZZ_CHECK(k_ < (int)(count));                                             \
			const char *nm_ = to_name(k_);                                             \
			FUZZ_CHECK(nm_ != NULL && strlen(nm_) == (len) && memcmp(nm_, p, len) == 0); \
		}                                                                              \
		for (int i_ = 0; i_ < (int)(count); i_++) {                                    \
			const char *nm_ = to_name(i_);                                             \
			FUZZ_CHECK(nm_ != NULL && from_name(nm_, strlen(nm_)) == i_);              \
		}                                                                              \
	} while (0)

static void mode_names(const char *p, size_t len)
{
	ROUNDTRIP(call_state_from_name, call_state_name, CALL_STATE_COUNT, p, len);
	ROUNDTRIP(call_event_from_name, call_event_name, CALL_EVENT_COUNT, p, len);
	ROUNDTRIP(complaint_state_from_name, complaint_state_name, COMPLAINT_STATE_COUNT, p, len);
	ROUNDTRIP(complaint_action_from_name, complaint_action_name, COMPLAINT_ACTION_COUNT, p, len);
	ROUNDTRIP(severity_from_name, severity_name, SEV_COUNT, p, len);

	enum customer_tier t = customer_tier_from_name(p, len);
	FUZZ_CHECK(t <= TIER_COUNT);
	if (t != TIER_COUNT)
		FUZZ_CHECK(strlen(customer_tier_name(t)) == len && memcmp(customer_tier_name(t), p, len) == 0);
	(void)customer_valid_key_part(p, len, CUSTOMER_ID_MAX);

	/* Transitions driven by the payload bytes: a state always stays in range. */
	enum call_state cs = CALL_NONE;
	enum complaint_state ks = COMPLAINT_NONE;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)p[i];
		enum call_state cto;
		enum complaint_state kto;
		if (call_next_state(cs, (enum call_event)(b % CALL_EVENT_COUNT), &cto)) {
			FUZZ_CHECK(cto < CALL_STATE_COUNT);
			cs = cto;
		}
		if (complaint_next_state(ks, (enum complaint_action)((b >> 4) % COMPLAINT_ACTION_COUNT), b & 8, &kto)) {
			FUZZ_CHECK(kto < COMPLAINT_STATE_COUNT);
			(void)complaint_state_is_open(kto);
			ks = kto;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phone_rules rules;

	if (size < 1)
		return 0;
	rules_pick(data[0] >> 2, &rules);
	const char *p = (const char *)data + 1;
	size_t len = size - 1;

	switch (data[0] & 3) {
	case 0: mode_json(&rules, p, len); break;
	case 1: mode_text(&rules, p, len); break;
	case 2: check_phone(&rules, p, len); break;
	default: mode_names(p, len); break;
	}
	return 0;
}
