/* customer.c - the customer record: one field table, two ways in (CSV-style
 * text pairs and JSON objects), one way out (the POP card).
 *
 * Both importers reduce their input to the same calls (set a scalar, add a
 * list element) so a row means the same thing whichever format carried it,
 * and every value is stored in one canonical string form, which is what
 * makes Redis lookups and later comparisons exact.
 *
 * Error messages name the field and what is wrong with it but never quote a
 * value that may be personal data (names, numbers, notes); enum words are
 * vocabulary, not data, and are quoted.
 */
#include "customer.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Revenue above a trillion is a unit mistake (cents for yuan, a pasted
 * account number), not a customer. */
#define REVENUE_MAX_CENTS 100000000000000ULL
#define REVENUE_MAX_TEXT  "1000000000000"

enum field_kind {
	FK_KEY,     /* goes into Redis keys: [A-Za-z0-9_.-] */
	FK_TEXT,    /* free UTF-8 text without control characters */
	FK_PHONES,  /* list of numbers normalised by phone.c */
	FK_KEYS,    /* list of FK_KEY values */
	FK_ENUM,    /* one of choices, exactly */
	FK_DECIMAL, /* >= 0, at most 2 decimals, canonical with exactly 2 */
	FK_DATE,    /* YYYY-MM-DD */
};

struct field_spec {
	const char *name;
	enum field_kind kind;
	size_t max_len;             /* FK_KEY, FK_TEXT: bytes; lists: per element */
	const char *const *choices; /* FK_ENUM: NULL-terminated */
	const char *def;            /* value when absent; NULL = "" */
	bool required;
};

static const char *const tier_choices[] = {"platinum", "gold", "iron", "lead", NULL};
static const char *const status_choices[] = {"active", "developing", "dormant", "churned", NULL};
static const char *const lifecycle_choices[] = {"exploration", "formation", "stability", "decline", NULL};
static const char *const credit_choices[] = {"good", "fair", "poor", NULL};
static const char *const type_choices[] = {"consumer", "intermediary", "public", "internal", NULL};
static const char *const attention_choices[] = {"special", "recent", "normal", "none", NULL};

/* clang-format off */
static const struct field_spec fields[CF_COUNT] = {
	[CF_ID]        = {"id",        FK_KEY,     CUSTOMER_ID_MAX, NULL,              NULL,          true},
	[CF_NAME]      = {"name",      FK_TEXT,    200,             NULL,              NULL,          true},
	[CF_PHONES]    = {"phones",    FK_PHONES,  PHONE_MAX - 1,   NULL,              NULL,          false},
	[CF_ACCOUNTS]  = {"accounts",  FK_KEYS,    CUSTOMER_ID_MAX, NULL,              NULL,          false},
	[CF_TIER]      = {"tier",      FK_ENUM,    0,               tier_choices,      "lead",        false},
	[CF_STATUS]    = {"status",    FK_ENUM,    0,               status_choices,    "active",      false},
	[CF_LIFECYCLE] = {"lifecycle", FK_ENUM,    0,               lifecycle_choices, "exploration", false},
	[CF_CREDIT]    = {"credit",    FK_ENUM,    0,               credit_choices,    NULL,          false},
	[CF_TEAM]      = {"team",      FK_TEXT,    64,              NULL,              NULL,          false},
	[CF_TYPE]      = {"type",      FK_ENUM,    0,               type_choices,      NULL,          false},
	[CF_REGION]    = {"region",    FK_TEXT,    64,              NULL,              NULL,          false},
	[CF_REVENUE]   = {"revenue",   FK_DECIMAL, 0,               NULL,              NULL,          false},
	[CF_SINCE]     = {"since",     FK_DATE,    0,               NULL,              NULL,          false},
	[CF_ATTENTION] = {"attention", FK_ENUM,    0,               attention_choices, NULL,          false},
	[CF_NOTES]     = {"notes",     FK_TEXT,    2000,            NULL,              NULL,          false},
};
/* clang-format on */

/* One record being built, whatever format it came in. */
struct build {
	struct customer *c;
	const struct phone_rules *rules;
	char *err;
	size_t errlen;
	bool seen[CF_COUNT];
};

/* ---- names and small helpers ------------------------------------------------------------------------- */

const char *customer_field_name(enum customer_field f)
{
	return (unsigned)f < CF_COUNT ? fields[f].name : NULL;
}

static int lookup_n(const char *name, size_t len)
{
	for (int f = 0; f < CF_COUNT; f++)
		if (strlen(fields[f].name) == len && strncasecmp(fields[f].name, name, len) == 0)
			return f;
	return -1;
}

int customer_field_lookup(const char *name)
{
	return lookup_n(name, strlen(name));
}

enum customer_tier customer_tier_from_name(const char *name, size_t len)
{
	for (int t = 0; t < TIER_COUNT; t++)
		if (strlen(tier_choices[t]) == len && memcmp(tier_choices[t], name, len) == 0)
			return (enum customer_tier)t;
	return TIER_COUNT;
}

const char *customer_tier_name(enum customer_tier t)
{
	return (unsigned)t < TIER_COUNT ? tier_choices[t] : "";
}

bool customer_valid_key_part(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

__attribute__((format(printf, 2, 3))) static int fail(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(b->err, b->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int fail_field(struct build *b, enum customer_field f, const char *what)
{
	return fail(b, "field '%s': %s", fields[f].name, what);
}

static char *dup_n(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static int store(struct build *b, enum customer_field f, const char *s, size_t len)
{
	b->c->value[f] = dup_n(s, len);
	return b->c->value[f] ? 0 : fail(b, "out of memory");
}

/* ---- scalar kinds ------------------------------------------------------------------------------------ */

/* NULL when s is clean UTF-8 text, else why not.  C1 controls (U+0080..U+009F)
 * count as controls too: they are what mis-decoded Latin-1 turns into. */
static const char *text_problem(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (!proto_valid_utf8(s, len, NULL))
		return "not valid UTF-8";
	for (size_t i = 0; i < len; i++)
		if (u[i] < 0x20 || u[i] == 0x7f || (u[i] == 0xc2 && i + 1 < len && u[i + 1] <= 0x9f))
			return "control characters (tab, newline, ...) are not allowed";
	return NULL;
}

static int set_text(struct build *b, enum customer_field f, const char *s, size_t len)
{
	const char *why = text_problem(s, len);

	if (len > fields[f].max_len)
		return fail(b, "field '%s': too long (at most %zu bytes)", fields[f].name, fields[f].max_len);
	if (why)
		return fail_field(b, f, why);
	return store(b, f, s, len);
}

static int set_key(struct build *b, enum customer_field f, const char *s, size_t len)
{
	if (!customer_valid_key_part(s, len, fields[f].max_len))
		return fail(b, "field '%s': only letters, digits, '_', '.' and '-' allowed, at most %zu",
		            fields[f].name, fields[f].max_len);
	return store(b, f, s, len);
}

/* A wrong enum word is quoted back only when it looks like a word (short,
 * printable ASCII, no blanks), so a value in the wrong column cannot drag a
 * name or a number into the log. */
static bool quotable(const char *s, size_t len)
{
	if (len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '!' || s[i] > '~' || s[i] == '\'')
			return false;
	return true;
}

static int set_enum(struct build *b, enum customer_field f, const char *s, size_t len)
{
	const char *const *ch = fields[f].choices;
	char list[128] = "";

	for (size_t i = 0; ch[i]; i++)
		if (strlen(ch[i]) == len && memcmp(ch[i], s, len) == 0)
			return store(b, f, s, len);
	for (size_t i = 0; ch[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " " : "", ch[i]);
	if (!quotable(s, len))
		return fail(b, "field '%s': not one of %s", fields[f].name, list);
	return fail(b, "field '%s': '%.*s' is not one of %s", fields[f].name, (int)len, s, list);
}

/* 0 ok, -1 not a plain decimal, -2 above REVENUE_MAX. */
static int parse_cents(const char *s, size_t len, uint64_t *cents)
{
	uint64_t units = 0, frac = 0;
	size_t i = 0, nfrac = 0;
	bool big = false;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		units = units * 10 + (uint64_t)(s[i] - '0');
		if (units > REVENUE_MAX_CENTS / 100) {
			big = true;
			units = REVENUE_MAX_CENTS; /* stays > max without overflowing */
		}
	}
	if (i == 0)
		return -1;
	if (i < len && s[i] == '.') {
		for (i++; i < len && nfrac < 3 && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		if (nfrac == 0 || nfrac > 2)
			return -1;
		if (nfrac == 1)
			frac *= 10;
	}
	if (i != len)
		return -1;
	if (big || units * 100 + frac > REVENUE_MAX_CENTS)
		return -2;
	*cents = units * 100 + frac;
	return 0;
}

static int set_cents(struct build *b, uint64_t cents)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu.%02llu", (unsigned long long)(cents / 100),
	                 (unsigned long long)(cents % 100));

	b->c->revenue = (double)cents / 100.0;
	return store(b, CF_REVENUE, buf, (size_t)n);
}

static int set_decimal(struct build *b, enum customer_field f, const char *s, size_t len)
{
	uint64_t cents;

	switch (parse_cents(s, len, &cents)) {
	case 0:
		return set_cents(b, cents);
	case -2:
		return fail_field(b, f, "larger than " REVENUE_MAX_TEXT);
	default:
		return fail_field(b, f, "expected a decimal like 1234.50 (no sign, at most 2 decimals)");
	}
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(const char *s, size_t len)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = 0, m = 0, d = 0;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i == 4 || i == 7)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned v = (unsigned)(s[i] - '0');
		if (i < 4)
			y = y * 10 + v;
		else if (i < 7)
			m = m * 10 + v;
		else
			d = d * 10 + v;
	}
	if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

static int set_date(struct build *b, enum customer_field f, const char *s, size_t len)
{
	if (!valid_date(s, len))
		return fail_field(b, f, "expected a real date YYYY-MM-DD between 1900 and 2100");
	return store(b, f, s, len);
}

/* A scalar value for a non-list field; blank means absent. */
static int set_scalar(struct build *b, enum customer_field f, const char *s, size_t len)
{
	trim(&s, &len);
	if (len == 0)
		return 0;
	switch (fields[f].kind) {
	case FK_KEY:
		return set_key(b, f, s, len);
	case FK_TEXT:
		return set_text(b, f, s, len);
	case FK_ENUM:
		return set_enum(b, f, s, len);
	case FK_DECIMAL:
		return set_decimal(b, f, s, len);
	case FK_DATE:
		return set_date(b, f, s, len);
	default:
		return fail_field(b, f, "internal error: not a scalar");
	}
}

/* ---- lists ------------------------------------------------------------------------------------------- */

static int add_phone(struct build *b, size_t index, const char *s, size_t len)
{
	struct customer *c = b->c;
	char num[PHONE_MAX];
	const char *why = "invalid";

	if (!phone_normalize(b->rules, s, len, num, &why))
		return fail(b, "field 'phones': number %zu: %s", index, why);
	for (size_t i = 0; i < c->n_phones; i++)
		if (strcmp(c->phones[i], num) == 0)
			return 0;
	if (c->n_phones == CUSTOMER_MAX_PHONES)
		return fail(b, "field 'phones': more than %d numbers", CUSTOMER_MAX_PHONES);
	memcpy(c->phones[c->n_phones++], num, sizeof(num));
	return 0;
}

static int add_account(struct build *b, size_t index, const char *s, size_t len)
{
	struct customer *c = b->c;

	if (!customer_valid_key_part(s, len, CUSTOMER_ID_MAX))
		return fail(b,
		            "field 'accounts': account %zu: only letters, digits, '_', '.' and '-' allowed, "
		            "at most %d",
		            index, CUSTOMER_ID_MAX);
	for (size_t i = 0; i < c->n_accounts; i++)
		if (strlen(c->accounts[i]) == len && memcmp(c->accounts[i], s, len) == 0)
			return 0;
	if (c->n_accounts == CUSTOMER_MAX_ACCOUNTS)
		return fail(b, "field 'accounts': more than %d accounts", CUSTOMER_MAX_ACCOUNTS);
	memcpy(c->accounts[c->n_accounts], s, len);
	c->accounts[c->n_accounts++][len] = '\0';
	return 0;
}

/* One list element; index counts the non-blank elements from 1, which is
 * how a person reading the row would number them. */
static int add_element(struct build *b, enum customer_field f, size_t *index, const char *s, size_t len)
{
	trim(&s, &len);
	if (len == 0)
		return 0;
	++*index;
	return f == CF_PHONES ? add_phone(b, *index, s, len) : add_account(b, *index, s, len);
}

static int add_text_list(struct build *b, enum customer_field f, const char *s, size_t len)
{
	size_t index = 0;

	while (len > 0) {
		size_t n = 0;

		while (n < len && s[n] != ';' && s[n] != '|')
			n++;
		if (add_element(b, f, &index, s, n) != 0)
			return -1;
		if (n == len)
			break;
		s += n + 1;
		len -= n + 1;
	}
	return 0;
}

static int join_list(struct build *b, enum customer_field f)
{
	size_t n = f == CF_PHONES ? b->c->n_phones : b->c->n_accounts, total = 0;
	char *p;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(f == CF_PHONES ? b->c->phones[i] : b->c->accounts[i]) + 1;
	p = b->c->value[f] = malloc(total);
	if (!p)
		return fail(b, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *e = f == CF_PHONES ? b->c->phones[i] : b->c->accounts[i];
		size_t el = strlen(e);

		memcpy(p, e, el);
		p[el] = i + 1 < n ? ',' : '\0';
		p += el + 1;
	}
	return 0;
}

static bool is_list(enum customer_field f)
{
	return fields[f].kind == FK_PHONES || fields[f].kind == FK_KEYS;
}

/* ---- whole records ----------------------------------------------------------------------------------- */

static void build_init(struct build *b, struct customer *out, const struct phone_rules *rules, char *err,
                       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	memset(b, 0, sizeof(*b));
	b->c = out;
	b->rules = rules;
	b->err = err;
	b->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
}

/* Printable ASCII only: a header cell is quoted back in the error, and
 * should not be able to carry control characters or half a UTF-8 sequence. */
static int fail_unknown(struct build *b, const char *name, size_t len)
{
	char clean[41];
	size_t n = len < sizeof(clean) - 1 ? len : sizeof(clean) - 1;

	for (size_t i = 0; i < n; i++)
		clean[i] = name[i] >= ' ' && name[i] <= '~' ? name[i] : '?';
	clean[n] = '\0';
	return fail(b, "unknown field '%s%s'", clean, len > n ? "..." : "");
}

/* The field a name (CSV header cell or JSON key) designates, once only. */
static int claim_field(struct build *b, const char *name, size_t len)
{
	int f;

	trim(&name, &len);
	/* Spreadsheets save CSV with a byte-order mark glued to the first cell. */
	if (len >= 3 && memcmp(name, "\xEF\xBB\xBF", 3) == 0) {
		name += 3;
		len -= 3;
	}
	f = lookup_n(name, len);
	if (f < 0)
		return fail_unknown(b, name, len);
	if (b->seen[f])
		return fail(b, "field '%s' given twice", fields[f].name);
	b->seen[f] = true;
	return f;
}

/* Lists are joined, defaults applied, required fields checked; every value
 * ends up a heap string ("" when absent). */
static int finish(struct build *b)
{
	for (int f = 0; f < CF_COUNT; f++) {
		const char *def = fields[f].def ? fields[f].def : "";

		if (is_list((enum customer_field)f) && join_list(b, (enum customer_field)f) != 0)
			return -1;
		if (b->c->value[f])
			continue;
		if (fields[f].required)
			return fail(b, "missing required field '%s'", fields[f].name);
		if (store(b, (enum customer_field)f, def, strlen(def)) != 0)
			return -1;
	}
	return 0;
}

static int done(struct build *b, int rc)
{
	if (rc == 0)
		rc = finish(b);
	if (rc != 0)
		customer_free(b->c);
	return rc;
}

int customer_from_text(struct customer *out, const char *const *names, const char *const *values, size_t n,
                       const struct phone_rules *rules, char *err, size_t errlen)
{
	struct build b;
	int rc = 0;

	build_init(&b, out, rules, err, errlen);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int f = claim_field(&b, names[i], strlen(names[i]));
		const char *v = values[i] ? values[i] : "";

		if (f < 0)
			rc = -1;
		else if (is_list((enum customer_field)f))
			rc = add_text_list(&b, (enum customer_field)f, v, strlen(v));
		else
			rc = set_scalar(&b, (enum customer_field)f, v, strlen(v));
	}
	return done(&b, rc);
}

static int json_list(struct build *b, enum customer_field f, const json_t *v)
{
	size_t i, index = 0;
	const json_t *e;

	if (json_is_string(v))
		return add_element(b, f, &index, json_string_value(v), json_string_length(v));
	if (!json_is_array(v))
		return fail_field(b, f, "expected an array of strings");
	for (i = 0; i < json_array_size(v); i++) {
		e = json_array_get(v, i);
		if (!json_is_string(e))
			return fail(b, "field '%s': element %zu: expected a string", fields[f].name, i + 1);
		/* In an array the position is explicit: errors name it, blanks included. */
		index = i;
		if (add_element(b, f, &index, json_string_value(e), json_string_length(e)) != 0)
			return -1;
	}
	return 0;
}

static int json_revenue(struct build *b, const json_t *v)
{
	double d;

	if (json_is_string(v))
		return set_scalar(b, CF_REVENUE, json_string_value(v), json_string_length(v));
	if (!json_is_number(v))
		return fail_field(b, CF_REVENUE, "expected a number or a decimal string");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    (uint64_t)json_integer_value(v) <= REVENUE_MAX_CENTS / 100)
		return set_cents(b, (uint64_t)json_integer_value(v) * 100);
	d = json_number_value(v);
	if (d < 0)
		return fail_field(b, CF_REVENUE, "must not be negative");
	if (!(d * 100.0 <= (double)REVENUE_MAX_CENTS))
		return fail_field(b, CF_REVENUE, "larger than " REVENUE_MAX_TEXT);
	return set_cents(b, (uint64_t)(d * 100.0 + 0.5)); /* d >= 0: rounds half up without libm */
}

static int json_value(struct build *b, enum customer_field f, const json_t *v)
{
	if (json_is_null(v))
		return 0;
	if (is_list(f))
		return json_list(b, f, v);
	if (f == CF_REVENUE)
		return json_revenue(b, v);
	if (!json_is_string(v))
		return fail_field(b, f, "expected a string");
	return set_scalar(b, f, json_string_value(v), json_string_length(v));
}

int customer_from_json(struct customer *out, const json_t *obj, const struct phone_rules *rules, char *err,
                       size_t errlen)
{
	json_t *o = (json_t *)obj; /* jansson's iterators are not const, but only read here */
	struct build b;
	int rc = 0;

	build_init(&b, out, rules, err, errlen);
	if (!json_is_object(obj))
		return done(&b, fail(&b, "expected a JSON object"));
	for (void *it = json_object_iter(o); it && rc == 0; it = json_object_iter_next(o, it)) {
		const char *key = json_object_iter_key(it);
		int f = claim_field(&b, key, strlen(key));

		rc = f < 0 ? -1 : json_value(&b, (enum customer_field)f, json_object_iter_value(it));
	}
	return done(&b, rc);
}

void customer_free(struct customer *c)
{
	for (int f = 0; f < CF_COUNT; f++)
		free(c->value[f]);
	memset(c, 0, sizeof(*c));
}

/* ---- the POP card ------------------------------------------------------------------------------------ */

static json_t *card_list(const char *s, size_t len)
{
	json_t *arr = json_array();

	while (arr && len > 0) {
		size_t n = 0;

		while (n < len && s[n] != ',')
			n++;
		if (n > 0 && json_array_append_new(arr, json_stringn(s, n)) != 0) {
			json_decref(arr);
			return NULL;
		}
		if (n == len)
			break;
		s += n + 1;
		len -= n + 1;
	}
	return arr;
}

/* A stored value as the card shows it; NULL when it is unusable (a hash
 * written by hand with bad UTF-8 or a mangled revenue loses that field, not
 * the whole card). */
static json_t *card_value(enum customer_field f, const char *s, size_t len)
{
	uint64_t cents;

	if (is_list(f))
		return card_list(s, len);
	if (f == CF_REVENUE)
		return parse_cents(s, len, &cents) == 0 ? json_real((double)cents / 100.0) : NULL;
	return json_stringn(s, len);
}

json_t *customer_card_from_hash(const char *const *fv, const size_t *fvlen, size_t n_pairs)
{
	json_t *card = json_object();

	for (int f = 0; card && f < CF_COUNT; f++) {
		size_t nlen = strlen(fields[f].name);

		for (size_t i = 0; i < n_pairs; i++) {
			json_t *v;

			if (fvlen[2 * i] != nlen || memcmp(fv[2 * i], fields[f].name, nlen) != 0)
				continue;
			if (fvlen[2 * i + 1] > 0 &&
			    (v = card_value((enum customer_field)f, fv[2 * i + 1], fvlen[2 * i + 1])) != NULL)
				json_object_set_new(card, fields[f].name, v);
			break;
		}
	}
	return card;
}
