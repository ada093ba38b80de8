/* test_customer.c - unit tests for daemon/phone.c and daemon/customer.c: number normalisation, record
 * validation from text pairs and JSON, canonical forms, and the POP card built from a Redis hash.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wmissing-prototypes -g \
 *          -fsanitize=address,undefined -Idaemon daemon/phone.c daemon/customer.c daemon/proto.c \
 *          tests/unit/test_customer.c -ljansson -o /tmp/test_customer
 */
#include "customer.h"
#include "phone.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- phone numbers ----------------------------------------------------------------------------------- */

/* The canonical number, or "!" + the reason it was refused. */
static const char *norm(const struct phone_rules *r, const char *raw, size_t len)
{
	static char buf[PHONE_MAX + 80];
	char out[PHONE_MAX];
	const char *why = NULL;

	if (phone_normalize(r, raw, len, out, &why))
		snprintf(buf, sizeof(buf), "%s", out);
	else
		snprintf(buf, sizeof(buf), "!%s", why ? why : "(no reason)");
	return buf;
}

#define PHONE(r, raw, want) CHECK_STR(norm(r, raw, strlen(raw)), want)

static void test_phone_rules_default(void)
{
	struct phone_rules r;

	memset(&r, 'x', sizeof(r));
	phone_rules_default(&r);
	CHECK_STR(r.default_country, "");
	CHECK_STR(r.international_prefix, "00");
	CHECK_STR(r.trunk_prefix, "0");
}

static void test_phone_china(void)
{
	struct phone_rules r;

	phone_rules_default(&r);
	strcpy(r.default_country, "86");
	PHONE(&r, "+86 138-0013-8000", "+8613800138000");
	PHONE(&r, "13800138000", "+8613800138000");
	PHONE(&r, "0138 0013 8000", "+8613800138000");
	PHONE(&r, "(0)138 0013 8000", "+8613800138000");
	PHONE(&r, "0086 13800138000", "+8613800138000");
	PHONE(&r, "(010) 6552-9988", "+861065529988");
	PHONE(&r, "010/6552.9988", "+861065529988");
	PHONE(&r, "+1 (555) 010-9999", "+15550109999");
	PHONE(&r, "\t +86 138 0013 8000 \t", "+8613800138000");
	PHONE(&r, "(+86) 138 0013 8000", "+8613800138000");
	/* international form with the trunk prefix in parentheses, as written in the UK and elsewhere */
	PHONE(&r, "+44 (0)20 7946 0000", "+442079460000");
	PHONE(&r, "0044 (0) 20 7946 0000", "+442079460000");
	/* short service numbers get the country code too (documented in phone.h) */
	PHONE(&r, "112", "+86112");
	PHONE(&r, "10086", "+8610086");
	PHONE(&r, "+123", "+123");
	PHONE(&r, "+123456789012345", "+123456789012345");
	PHONE(&r, "+1234567890123456", "!too long");
	PHONE(&r, "1234567890123456", "!too long");
	PHONE(&r, "1234567890123", "+861234567890123"); /* 13 national + 2 country = 15 */
	PHONE(&r, "12345678901234", "!too long");
	PHONE(&r, "123456789012345678901234567890123456789", "!too long");
	PHONE(&r, "12a4", "!not a phone number: letters or symbols");
	PHONE(&r, "138 0013 8000 ext 12", "!not a phone number: letters or symbols");
	PHONE(&r, "138#0013", "!not a phone number: letters or symbols");
	PHONE(&r, "+", "!too short");
	PHONE(&r, "+12", "!too short");
	PHONE(&r, "12", "!too short"); /* the default country code does not count towards the minimum */
	PHONE(&r, "0 12", "!too short");
	PHONE(&r, "0", "!too short");
	PHONE(&r, "00", "!too short");
	PHONE(&r, "1+2", "!'+' only allowed first");
	PHONE(&r, "++86 138", "!'+' only allowed first");
	PHONE(&r, "", "!empty");
	PHONE(&r, " - ( ) ", "!empty");
	PHONE(&r, "+0086 138 0013 8000", "!no country code after the international prefix");
	PHONE(&r, "000 138", "!no country code after the international prefix");
	/* a zero-width space, and a NUL inside the given length */
	PHONE(&r, "\xe2\x80\x8b\x31\x33\x38", "!not a phone number: letters or symbols");
	CHECK_STR(norm(&r, "138\0\x30\x30\x31", 7), "!not a phone number: letters or symbols");
	/* only len bytes are read */
	CHECK_STR(norm(&r, "13800138000999", 11), "+8613800138000");
}

static void test_phone_no_country(void)
{
	struct phone_rules r;

	phone_rules_default(&r);
	PHONE(&r, "138 0013 8000", "13800138000");
	PHONE(&r, "0138 0013 8000", "13800138000");
	PHONE(&r, "+86 138 0013 8000", "+8613800138000");
	PHONE(&r, "0086 138 0013 8000", "+8613800138000");
	PHONE(&r, "112", "112");
	PHONE(&r, "12", "!too short");
	PHONE(&r, "123456789012345", "123456789012345");
	PHONE(&r, "1234567890123456", "!too long");

	/* no trunk prefix configured: the leading 0 is part of the number */
	r.trunk_prefix[0] = '\0';
	PHONE(&r, "0138 0013 8000", "013800138000");
	/* an unusual access prefix */
	strcpy(r.international_prefix, "011");
	PHONE(&r, "011 44 20 7946 0000", "+442079460000");
	PHONE(&r, "00 44 20 7946 0000", "00442079460000");

	strcpy(r.default_country, "8x");
	PHONE(&r, "13800138000", "!phone rules are misconfigured");
}

static void test_phone_why_has_no_number(void)
{
	struct phone_rules r;
	char out[PHONE_MAX];
	const char *why = NULL;

	phone_rules_default(&r);
	CHECK(!phone_normalize(&r, "555 12ab 9876", 13, out, &why));
	CHECK(why && strstr(why, "555") == NULL && strstr(why, "9876") == NULL);
	CHECK(out[0] == '\0');
	/* why may be NULL when the caller does not care */
	CHECK(!phone_normalize(&r, "x", 1, out, NULL));
}

/* ---- records from text pairs ------------------------------------------------------------------------- */

/* Name/value pairs as varargs, NULL-terminated. */
static int text_rec(struct customer *c, char *err, size_t errlen, const struct phone_rules *r, ...)
{
	const char *names[40], *values[40];
	size_t n = 0;
	va_list ap;

	va_start(ap, r);
	while (n < 40 && (names[n] = va_arg(ap, const char *)) != NULL) {
		values[n] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	return customer_from_text(c, names, values, n, r, err, errlen);
}

static bool all_zero(const struct customer *c)
{
	static const struct customer zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

static void china(struct phone_rules *r)
{
	phone_rules_default(r);
	strcpy(r->default_country, "86");
}

static void test_field_names(void)
{
	CHECK_STR(customer_field_name(CF_ID), "id");
	CHECK_STR(customer_field_name(CF_PHONES), "phones");
	CHECK_STR(customer_field_name(CF_NOTES), "notes");
	CHECK(customer_field_name(CF_COUNT) == NULL);
	CHECK(customer_field_lookup("lifecycle") == CF_LIFECYCLE);
	CHECK(customer_field_lookup("Revenue") == CF_REVENUE);
	CHECK(customer_field_lookup("ATTENTION") == CF_ATTENTION);
	CHECK(customer_field_lookup("phone") == -1);
	CHECK(customer_field_lookup("") == -1);
	for (int f = 0; f < CF_COUNT; f++)
		CHECK(customer_field_lookup(customer_field_name((enum customer_field)f)) == f);

	CHECK(customer_tier_from_name("platinum", 8) == TIER_PLATINUM);
	CHECK(customer_tier_from_name("gold", 4) == TIER_GOLD);
	CHECK(customer_tier_from_name("iron", 4) == TIER_IRON);
	CHECK(customer_tier_from_name("leadx", 4) == TIER_LEAD);
	CHECK(customer_tier_from_name("Gold", 4) == TIER_COUNT);
	CHECK(customer_tier_from_name("golden", 6) == TIER_COUNT);
	CHECK_STR(customer_tier_name(TIER_IRON), "iron");
	CHECK_STR(customer_tier_name(TIER_COUNT), "");

	CHECK(customer_valid_key_part("C000001", 7, 64));
	CHECK(customer_valid_key_part("a_b.c-D9", 8, 64));
	CHECK(!customer_valid_key_part("", 0, 64));
	CHECK(!customer_valid_key_part("a:b", 3, 64));
	CHECK(!customer_valid_key_part("a b", 3, 64));
	CHECK(!customer_valid_key_part("a*", 2, 64));
	CHECK(!customer_valid_key_part("abcd", 4, 3));
}

static void test_text_full_record(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];

	china(&r);
	CHECK(text_rec(&c, err, sizeof(err), &r, " ID ", " C000042 ", "Name", "  Wang Fang\t", "phones",
	               "+86 138-0013-8000; (010) 6552-9988 |0138 0013 8000;;", "accounts",
	               "AC00000001|AC00000002", "tier", "gold", "status", "dormant", "lifecycle", "decline",
	               "credit", "fair", "team", "key-accounts", "type", "consumer", "region",
	               "Zhejiang / Hangzhou", "revenue", "1234.5", "since", "2012-02-29", "attention",
	               "special", "notes", "VIP: call back within 1h", NULL) == 0);
	CHECK_STR(err, "");
	CHECK_STR(c.value[CF_ID], "C000042");
	CHECK_STR(c.value[CF_NAME], "Wang Fang");
	CHECK_STR(c.value[CF_PHONES], "+8613800138000,+861065529988");
	CHECK(c.n_phones == 2);
	CHECK_STR(c.phones[1], "+861065529988");
	CHECK_STR(c.value[CF_ACCOUNTS], "AC00000001,AC00000002");
	CHECK(c.n_accounts == 2);
	CHECK_STR(c.accounts[0], "AC00000001");
	CHECK_STR(c.value[CF_TIER], "gold");
	CHECK_STR(c.value[CF_STATUS], "dormant");
	CHECK_STR(c.value[CF_LIFECYCLE], "decline");
	CHECK_STR(c.value[CF_CREDIT], "fair");
	CHECK_STR(c.value[CF_TEAM], "key-accounts");
	CHECK_STR(c.value[CF_REGION], "Zhejiang / Hangzhou");
	CHECK_STR(c.value[CF_REVENUE], "1234.50");
	CHECK(c.revenue == 1234.5);
	CHECK_STR(c.value[CF_SINCE], "2012-02-29");
	CHECK_STR(c.value[CF_ATTENTION], "special");
	CHECK_STR(c.value[CF_NOTES], "VIP: call back within 1h");
	customer_free(&c);
	CHECK(all_zero(&c));
}

static void test_text_defaults(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];

	china(&r);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "李伟", "tier", "", "notes", "   ",
	               "phones", " ; | ", NULL) == 0);
	CHECK_STR(c.value[CF_NAME], "李伟");
	CHECK_STR(c.value[CF_TIER], "lead");
	CHECK_STR(c.value[CF_STATUS], "active");
	CHECK_STR(c.value[CF_LIFECYCLE], "exploration");
	CHECK_STR(c.value[CF_CREDIT], "");
	CHECK_STR(c.value[CF_PHONES], "");
	CHECK_STR(c.value[CF_ACCOUNTS], "");
	CHECK_STR(c.value[CF_REVENUE], "");
	CHECK_STR(c.value[CF_NOTES], "");
	CHECK(c.n_phones == 0 && c.n_accounts == 0 && c.revenue == 0);
	customer_free(&c);

	/* a missing value (short CSV row) is absent too */
	{
		const char *names[] = {"id", "name", "region"};
		const char *values[] = {"C2", "Li Wei", NULL};

		CHECK(customer_from_text(&c, names, values, 3, &r, err, sizeof(err)) == 0);
		CHECK_STR(c.value[CF_REGION], "");
		customer_free(&c);
	}
	/* a byte-order mark from a spreadsheet export on the first header cell */
	CHECK(text_rec(&c, err, sizeof(err), &r, "\xEF\xBB\xBFid", "C3", "name", "Li Wei", NULL) == 0);
	customer_free(&c);
}

/* Expect a text record with one bad pair (after a valid id and name) to fail with exactly `want`. */
static int bad_text(const char *name, const char *value, const char *want, int line)
{
	struct phone_rules r;
	struct customer c;
	char err[256] = "untouched";
	bool ok;

	china(&r);
	memset(&c, 0x5a, sizeof(c));
	ok = text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "Li Wei", name, value, NULL) == -1 &&
	     strcmp(err, want) == 0 && all_zero(&c);
	if (!check_report(ok, __FILE__, line, "bad_text(%s): got \"%s\", want \"%s\"%s", name, err, want,
	                  all_zero(&c) ? "" : " (record not zeroed)")) {
		if (err[0] == '\0')
			customer_free(&c);
		return -1;
	}
	return 0;
}

#define BAD_TEXT(name, value, want) bad_text(name, value, want, __LINE__)

#define E_LETTERS "not a phone number: letters or symbols"
#define E_DECIMAL "field 'revenue': expected a decimal like 1234.50 (no sign, at most 2 decimals)"
#define E_DATE    "field 'since': expected a real date YYYY-MM-DD between 1900 and 2100"
#define E_CONTROL "control characters (tab, newline, ...) are not allowed"

static void test_text_errors(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];
	char big[2100];

	china(&r);
	BAD_TEXT("phone", "13800138000", "unknown field 'phone'");
	BAD_TEXT("na\nme", "x", "unknown field 'na?me'");
	BAD_TEXT("NAME", "Li Lei", "field 'name' given twice");
	BAD_TEXT("phones", "13800138000;12a4", "field 'phones': number 2: " E_LETTERS);
	BAD_TEXT("phones", ";;13800138000;;12", "field 'phones': number 2: too short");
	BAD_TEXT("phones", "13800138000;138-0013-800x", "field 'phones': number 2: " E_LETTERS);
	BAD_TEXT("phones", "1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|18|19|20",
	         "field 'phones': number 1: too short");
	BAD_TEXT("phones",
	         "1001;1002;1003;1004;1005;1006;1007;1008;1009;1010;1011;1012;1013;1014;1015;1016;1017",
	         "field 'phones': more than 16 numbers");
	BAD_TEXT("accounts", "AC1;AC 2",
	         "field 'accounts': account 2: only letters, digits, '_', '.' and '-' "
	         "allowed, at most 64");
	BAD_TEXT("accounts", "a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q", "field 'accounts': more than 16 accounts");
	BAD_TEXT("tier", "diamond", "field 'tier': 'diamond' is not one of platinum gold iron lead");
	BAD_TEXT("tier", "Gold", "field 'tier': 'Gold' is not one of platinum gold iron lead");
	BAD_TEXT("status", "gone", "field 'status': 'gone' is not one of active developing dormant churned");
	BAD_TEXT("lifecycle", "growth",
	         "field 'lifecycle': 'growth' is not one of exploration formation stability decline");
	BAD_TEXT("credit", "AAA", "field 'credit': 'AAA' is not one of good fair poor");
	BAD_TEXT("type", "vip customer", "field 'type': not one of consumer intermediary public internal");
	BAD_TEXT("attention", "high", "field 'attention': 'high' is not one of special recent normal none");
	BAD_TEXT("revenue", "-5", E_DECIMAL);
	BAD_TEXT("revenue", "+5", E_DECIMAL);
	BAD_TEXT("revenue", "1e3", E_DECIMAL);
	BAD_TEXT("revenue", "1.234", E_DECIMAL);
	BAD_TEXT("revenue", ".5", E_DECIMAL);
	BAD_TEXT("revenue", "5.", E_DECIMAL);
	BAD_TEXT("revenue", "1,234", E_DECIMAL);
	BAD_TEXT("revenue", "1000000000000.01", "field 'revenue': larger than 1000000000000");
	BAD_TEXT("revenue", "99999999999999999999999", "field 'revenue': larger than 1000000000000");
	BAD_TEXT("since", "2023-02-29", E_DATE);
	BAD_TEXT("since", "1900-02-29", E_DATE);
	BAD_TEXT("since", "2024-04-31", E_DATE);
	BAD_TEXT("since", "2024-13-01", E_DATE);
	BAD_TEXT("since", "2024-00-10", E_DATE);
	BAD_TEXT("since", "1899-12-31", E_DATE);
	BAD_TEXT("since", "2024-1-5", E_DATE);
	BAD_TEXT("since", "2024/01/05", E_DATE);
	BAD_TEXT("notes", "line one\nline two", "field 'notes': " E_CONTROL);
	BAD_TEXT("notes", "a\tb", "field 'notes': " E_CONTROL);
	BAD_TEXT("region", "Bei\xc2\x85jing", "field 'region': " E_CONTROL);
	BAD_TEXT("region", "Bei\xffjing", "field 'region': not valid UTF-8");
	BAD_TEXT("team", "12345678901234567890123456789012345678901234567890123456789012345",
	         "field 'team': too long (at most 64 bytes)");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	BAD_TEXT("notes", big, "field 'notes': too long (at most 2000 bytes)");
	big[2000] = '\0';
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "notes", big, NULL) == 0);
	customer_free(&c);

	/* required fields, and bad ids */
	CHECK(text_rec(&c, err, sizeof(err), &r, "name", "Li Wei", NULL) == -1);
	CHECK_STR(err, "missing required field 'id'");
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "  ", "name", "Li Wei", NULL) == -1);
	CHECK_STR(err, "missing required field 'id'");
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", NULL) == -1);
	CHECK_STR(err, "missing required field 'name'");
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C:1", "name", "x", NULL) == -1);
	CHECK_STR(err, "field 'id': only letters, digits, '_', '.' and '-' allowed, at most 64");
	CHECK(all_zero(&c));
	/* a tiny error buffer truncates, never overflows */
	CHECK(text_rec(&c, err, 8, &r, "id", "C:1", "name", "x", NULL) == -1);
	CHECK_STR(err, "field '");
}

/* Multi-byte text is kept as is; a sequence cut short at the end of the value (as a byte-counting
 * truncation upstream would leave it) is refused. */
static void test_text_utf8(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];

	china(&r);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "region", "\xe5\x8c", NULL) == -1);
	CHECK_STR(err, "field 'region': not valid UTF-8");
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "region", "北京 Běijīng", NULL) ==
	      0);
	CHECK_STR(c.value[CF_REGION], "北京 Běijīng");
	customer_free(&c);
	/* overlong encoding of '/' */
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "\xc0\xaf", NULL) == -1);
	CHECK_STR(err, "field 'name': not valid UTF-8");
}

static void test_text_canonical(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];

	china(&r);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "revenue", "7", NULL) == 0);
	CHECK_STR(c.value[CF_REVENUE], "7.00");
	customer_free(&c);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "revenue", "007.05", NULL) == 0);
	CHECK_STR(c.value[CF_REVENUE], "7.05");
	CHECK(c.revenue == 7.05);
	customer_free(&c);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "revenue", "0", NULL) == 0);
	CHECK_STR(c.value[CF_REVENUE], "0.00");
	customer_free(&c);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "revenue", "1000000000000.00",
	               NULL) == 0);
	CHECK_STR(c.value[CF_REVENUE], "1000000000000.00");
	customer_free(&c);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "since", "2000-02-29", NULL) == 0);
	customer_free(&c);
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "since", "2100-12-31", NULL) == 0);
	customer_free(&c);

	/* dedupe after normalisation keeps the first spelling's position */
	CHECK(text_rec(&c, err, sizeof(err), &r, "id", "C1", "name", "x", "phones",
	               "010 6552 9988;13800138000;+86 10 6552 9988;0086-138-0013-8000;112", "accounts",
	               "B|A|B|a", NULL) == 0);
	CHECK_STR(c.value[CF_PHONES], "+861065529988,+8613800138000,+86112");
	CHECK(c.n_phones == 3);
	CHECK_STR(c.value[CF_ACCOUNTS], "B,A,a");
	CHECK(c.n_accounts == 3);
	customer_free(&c);

	/* sixteen distinct numbers fit, duplicates beyond them do not count */
	CHECK(text_rec(
	          &c, err, sizeof(err), &r, "id", "C1", "name", "x", "phones",
	          "1001;1002;1003;1004;1005;1006;1007;1008;1009;1010;1011;1012;1013;1014;1015;1016;1001;1016",
	          NULL) == 0);
	CHECK(c.n_phones == 16);
	customer_free(&c);
}

/* ---- records from JSON ------------------------------------------------------------------------------- */

static int json_rec(struct customer *c, char *err, size_t errlen, const char *text)
{
	struct phone_rules r;
	json_error_t jerr;
	json_t *obj = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	int rc;

	if (!obj) {
		fprintf(stderr, "test JSON does not parse: %s: %s\n", text, jerr.text);
		return -2;
	}
	china(&r);
	rc = customer_from_json(c, obj, &r, err, errlen);
	json_decref(obj);
	return rc;
}

static int bad_json(const char *text, const char *want, int line)
{
	struct customer c;
	char err[256] = "untouched";
	bool ok;

	ok = json_rec(&c, err, sizeof(err), text) == -1 && strcmp(err, want) == 0 && all_zero(&c);
	if (!check_report(ok, __FILE__, line, "bad_json(%s): got \"%s\", want \"%s\"", text, err, want)) {
		if (err[0] == '\0')
			customer_free(&c);
		return -1;
	}
	return 0;
}

#define BAD_JSON(text, want) bad_json(text, want, __LINE__)

static void test_json_record(void)
{
	struct customer c;
	char err[256];

	CHECK(json_rec(
	          &c, err, sizeof(err),
	          "{\"id\":\"C000007\",\"name\":\"Li Wei\",\"phones\":[\"+86 "
	          "138-0013-8000\",\"\",\"13800138000\","
	          "\"(010) 6552 9988\"],\"accounts\":\"AC12345678\",\"tier\":\"platinum\",\"revenue\":1234.5,"
	          "\"since\":\"2005-01-01\",\"credit\":null,\"Team\":\" sales-a \"}") == 0);
	CHECK_STR(c.value[CF_PHONES], "+8613800138000,+861065529988");
	CHECK_STR(c.value[CF_ACCOUNTS], "AC12345678");
	CHECK_STR(c.value[CF_TIER], "platinum");
	CHECK_STR(c.value[CF_REVENUE], "1234.50");
	CHECK_STR(c.value[CF_CREDIT], "");
	CHECK_STR(c.value[CF_TEAM], "sales-a");
	CHECK_STR(c.value[CF_STATUS], "active");
	customer_free(&c);

	CHECK(json_rec(&c, err, sizeof(err), "{\"id\":\"C1\",\"name\":\"x\",\"revenue\":42}") == 0);
	CHECK_STR(c.value[CF_REVENUE], "42.00");
	customer_free(&c);
	CHECK(json_rec(&c, err, sizeof(err), "{\"id\":\"C1\",\"name\":\"x\",\"revenue\":\"42.1\"}") == 0);
	CHECK_STR(c.value[CF_REVENUE], "42.10");
	customer_free(&c);
	CHECK(json_rec(&c, err, sizeof(err), "{\"id\":\"C1\",\"name\":\"x\",\"revenue\":19.99}") == 0);
	CHECK_STR(c.value[CF_REVENUE], "19.99");
	customer_free(&c);
	CHECK(json_rec(&c, err, sizeof(err), "{\"id\":\"C1\",\"name\":\"x\",\"revenue\":0.005}") == 0);
	CHECK_STR(c.value[CF_REVENUE], "0.01"); /* rounded to cents */
	customer_free(&c);
	CHECK(json_rec(&c, err, sizeof(err), "{\"id\":\"C1\",\"name\":\"x\",\"revenue\":1e12}") == 0);
	CHECK_STR(c.value[CF_REVENUE], "1000000000000.00");
	customer_free(&c);
	CHECK(json_rec(&c, err, sizeof(err),
	               "{\"id\":\"C1\",\"name\":\"x\",\"phones\":[],\"revenue\":null}") == 0);
	CHECK_STR(c.value[CF_PHONES], "");
	CHECK_STR(c.value[CF_REVENUE], "");
	customer_free(&c);
}

static void test_json_errors(void)
{
	BAD_JSON("[1,2]", "expected a JSON object");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"phone\":\"1\"}", "unknown field 'phone'");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"ID\":\"C2\"}", "field 'id' given twice");
	BAD_JSON("{\"name\":\"x\"}", "missing required field 'id'");
	BAD_JSON("{\"id\":\"\",\"name\":\"x\"}", "missing required field 'id'");
	BAD_JSON("{\"id\":null,\"name\":\"x\"}", "missing required field 'id'");
	BAD_JSON("{\"id\":12345,\"name\":\"x\"}", "field 'id': expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":[\"x\"]}", "field 'name': expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"tier\":true}", "field 'tier': expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"since\":20240101}", "field 'since': expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"phones\":13800138000}",
	         "field 'phones': expected an array of strings");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"phones\":{\"a\":\"1\"}}",
	         "field 'phones': expected an array of strings");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"phones\":[\"13800138000\",13800138001]}",
	         "field 'phones': element 2: expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"accounts\":[null]}",
	         "field 'accounts': element 1: expected a string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"phones\":[\"\",\"13800138000\",\"1\"]}",
	         "field 'phones': number 3: too short");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":-1}", "field 'revenue': must not be negative");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":-0.5}", "field 'revenue': must not be negative");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":1000000000001}",
	         "field 'revenue': larger than 1000000000000");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":1e300}",
	         "field 'revenue': larger than 1000000000000");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":\"12.345\"}", E_DECIMAL);
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"revenue\":true}",
	         "field 'revenue': expected a number or a decimal string");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"tier\":\"diamond\"}",
	         "field 'tier': 'diamond' is not one of platinum gold iron lead");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"a\\u0000b\"}", "field 'name': not valid UTF-8");
	BAD_JSON("{\"id\":\"C1\",\"name\":\"a\\u0007b\"}", "field 'name': " E_CONTROL);
	BAD_JSON("{\"id\":\"C1\",\"name\":\"x\",\"since\":\"2023-02-29\"}", E_DATE);
}

/* ---- the card ---------------------------------------------------------------------------------------- */

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Packs strings back to back into one buffer, without NULs between them, as hiredis hands over a reply's
 * elements only by pointer and length. */
struct packed {
	char blob[512];
	const char *fv[32];
	size_t fvlen[32];
	size_t n;
};

static void pack(struct packed *p, size_t n, const char *const *strs)
{
	size_t used = 0;

	memset(p, '#', sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(strs[i]);

		memcpy(p->blob + used, strs[i], len);
		p->fv[i] = p->blob + used;
		p->fvlen[i] = len;
		used += len;
	}
	p->n = n;
}

static void test_card(void)
{
	/* HGETALL order is arbitrary; "type" is stored empty: absent */
	static const char *const hash[] = {
	    "notes", "prefers email", "revenue", "1234.50", "id",
	    "C9",    "xyzzy",         "ignored", "phones",  "+8613800138000,+861065529988",
	    "name",  "Wang Fang",     "tier",    "iron",    "type",
	    ""};
	static const char *const odd[] = {"id",      "C1",   "name",     "\xff",
	                                  "revenue", "12,5", "accounts", "A1,,A2,"};
	struct packed p;
	json_t *card;
	char *s;

	pack(&p, 16, hash);
	card = customer_card_from_hash(p.fv, p.fvlen, 8);
	s = dump(card);
	CHECK_STR(s,
	          "{\"id\":\"C9\",\"name\":\"Wang Fang\",\"phones\":[\"+8613800138000\",\"+861065529988\"],"
	          "\"tier\":\"iron\",\"revenue\":1234.5,\"notes\":\"prefers email\"}");
	free(s);
	CHECK(json_is_real(json_object_get(card, "revenue")));
	json_decref(card);

	card = customer_card_from_hash(NULL, NULL, 0);
	s = dump(card);
	CHECK_STR(s, "{}");
	free(s);
	json_decref(card);

	/* a hand-edited hash: bad UTF-8 and a mangled revenue drop those fields, not the card */
	pack(&p, 8, odd);
	card = customer_card_from_hash(p.fv, p.fvlen, 4);
	s = dump(card);
	CHECK_STR(s, "{\"id\":\"C1\",\"accounts\":[\"A1\",\"A2\"]}");
	free(s);
	json_decref(card);
}

/* Import then store then pop: what an agent sees is what was imported, canonically. */
static void test_round_trip(void)
{
	struct phone_rules r;
	struct customer c;
	char err[256];
	const char *fv[2 * CF_COUNT + 2];
	size_t fvlen[2 * CF_COUNT + 2], n = 0;
	json_t *card;
	char *s;

	china(&r);
	CHECK(text_rec(&c, err, sizeof(err), &r, "notes", "VIP: call back within 1h", "revenue", "88000",
	               "phones", "0138 0013 8000;(021) 5555 0101", "name", "Huaxin Trading Co.", "id",
	               "C000003", "type", "intermediary", "accounts", "AC00000003", "since", "2019-07-01",
	               "region", "Shanghai", NULL) == 0);
	/* fields as a Redis hash: non-empty values only, plus a field from a future version */
	fv[n] = "loyalty_points";
	fvlen[n++] = 14;
	fv[n] = "120";
	fvlen[n++] = 3;
	for (int f = CF_COUNT - 1; f >= 0; f--) {
		if (c.value[f][0] == '\0')
			continue;
		fv[n] = customer_field_name((enum customer_field)f);
		fvlen[n] = strlen(fv[n]);
		n++;
		fv[n] = c.value[f];
		fvlen[n] = strlen(fv[n]);
		n++;
	}
	card = customer_card_from_hash(fv, fvlen, n / 2);
	s = dump(card);
	CHECK_STR(
	    s,
	    "{\"id\":\"C000003\",\"name\":\"Huaxin Trading Co.\","
	    "\"phones\":[\"+8613800138000\",\"+862155550101\"],\"accounts\":[\"AC00000003\"],"
	    "\"tier\":\"lead\",\"status\":\"active\",\"lifecycle\":\"exploration\",\"type\":\"intermediary\","
	    "\"region\":\"Shanghai\",\"revenue\":88000.0,\"since\":\"2019-07-01\","
	    "\"notes\":\"VIP: call back within 1h\"}");
	free(s);
	json_decref(card);
	customer_free(&c);
}

int main(void)
{
	test_phone_rules_default();
	test_phone_china();
	test_phone_no_country();
	test_phone_why_has_no_number();
	test_field_names();
	test_text_full_record();
	test_text_defaults();
	test_text_errors();
	test_text_utf8();
	test_text_canonical();
	test_json_record();
	test_json_errors();
	test_card();
	test_round_trip();
	return check_summary("test_customer");
}
