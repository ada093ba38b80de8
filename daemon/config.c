/* config.c - YAML file in, one validated struct config out.
 *
 * The schema is data, in the style of pgbouncer and Redis: every scalar key
 * is one row of a per-section table (struct opt) saying where the value
 * lives, how it is parsed, its bounds, its default and what it means.  The
 * sections themselves are rows of sections[].  Defaults are written as YAML
 * text and go through the same setter as values from the file, so a default
 * can never escape the bounds its row declares.  Nested mappings (sla.high,
 * calendar.hours) and lists of scalars (calls.dispositions,
 * calendar.holidays) are rows too, of types OPT_TABLE and OPT_LIST, so their
 * members get the same setters, bounds and defaults.
 *
 * Loading never touches a live config: it fills a fresh calloc'ed struct,
 * checks the rules that span keys once everything is read, and either hands
 * the whole thing back or frees it and reports the first problem as
 * "FILE:LINE:COLUMN: message".
 *
 * libyaml's document API resolves aliases to node ids, so a node can be
 * reached more than once but is never copied.  The walk below only descends
 * the fixed shape of the schema (root, section, entry or nested table,
 * scalar) and never recurses into whatever a node happens to contain, so
 * alias bombs and self-referencing anchors cost nothing and cannot loop.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <yaml.h>

#include "sla.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Far above any sane config (4096 users is ~600 KiB) yet small enough that a
 * wrong path such as a disk image cannot make the daemon swallow it whole. */
#define CONFIG_FILE_MAX (16u << 20)

/* How much of an offending value an error message may quote. */
#define QUOTE_MAX 40

struct opt;

/* Parse the scalar s (len bytes, NUL-terminated, no embedded NUL) into the
 * field.  On failure write why (no location, no key name) and return false. */
typedef bool (*opt_set_fn)(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                           size_t whylen);

enum opt_type {
	OPT_UINT,   /* unsigned integer of any width, decimal, min..max */
	OPT_STRING, /* char[size], length min..max, letters, digits and aux.chars */
	OPT_ENUM,   /* int-sized enum; aux.names[min..max] are the accepted words */
	OPT_BOOL,   /* bool; exactly "true" or "false" */
	OPT_CUSTOM, /* aux.set does everything */
	OPT_TABLE,  /* a nested mapping of aux.table's keys; default "{}" */
	OPT_LIST,   /* a sequence of min..max distinct aux.list items; default "[a, b]" */
};

struct opt_table;
struct opt_list;

struct opt {
	const char *key;
	enum opt_type type;
	size_t offset; /* of the field in the table's struct */
	size_t size;   /* of the field, so setters never write past it */
	unsigned long long min, max;
	const char *def; /* default as YAML text; NULL makes the key required */
	const char *help;
	union {
		const char *chars;        /* OPT_STRING: punctuation allowed besides [A-Za-z0-9] */
		const char *const *names; /* OPT_ENUM: indexed by value */
		opt_set_fn set;           /* OPT_CUSTOM */
		const struct opt_table *table;
		const struct opt_list *list;
	} aux;
};

/* The keys of a nested mapping, relative to the same base as their parent
 * row's field (an OPT_TABLE row usually spans its whole struct). */
struct opt_table {
	const struct opt *opts;
	size_t n;
};

/* An OPT_LIST row's field is an array of item.size-byte elements; the
 * number in use is a size_t at count_offset in the table's struct. */
struct opt_list {
	size_t count_offset;
	struct opt item;                        /* key, offset and default unused */
	int (*cmp)(const void *, const void *); /* sort once loaded; NULL keeps file order */
};

/* The row's field: offset and size are computed, never typed by hand. */
#define FIELD(st, f) .offset = offsetof(st, f), .size = sizeof(((st *)0)->f)
/* For custom setters that fill several fields of the struct at once. */
#define WHOLE(st) .offset = 0, .size = sizeof(st)

struct loader {
	const char *name;
	const char *text; /* the input, to place reader errors that carry only a byte offset */
	size_t text_len;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

struct section;

/* Load a section whose shape is not a flat mapping of scalars (sequences). */
typedef bool (*section_load_fn)(struct loader *ld, const struct section *sec, yaml_node_t *node,
                                struct config *cfg);

/* Rules that span keys; map is the section's node, or NULL when the section
 * was absent and only defaults are being checked. */
typedef bool (*section_check_fn)(struct loader *ld, yaml_node_t *map, const struct config *cfg);

struct section {
	const char *name;
	bool required;
	size_t offset;          /* of the section's struct in struct config */
	const struct opt *opts; /* table-driven sections: a mapping of these keys */
	size_t n_opts;
	section_load_fn load;   /* custom sections; NULL means use opts */
	section_check_fn check; /* optional */
};

#define TABLE(t) (t), ARRAY_SIZE(t)

static const char *const role_names[] = {"none", "agent", "supervisor", "admin", "replay"};
static const char *const log_level_names[] = {"error", "warn", "info", "debug"};
static const char *const redis_durability_names[] = {"relaxed", "strict"};
/* The log streams, in journal_stream order (journal.h). */
static const char *const stream_names[] = {"calls", "complaints"};

static bool set_redis_address(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                              size_t whylen);
static bool set_sentinel(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen);
static bool set_secret(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                       size_t whylen);
static bool set_password_file(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                              size_t whylen);
static bool set_sentinel_password_file(const struct opt *o, void *field, const char *s, size_t len,
                                       char *whybuf, size_t whylen);
static bool refuse_plaintext_password(const struct opt *o, void *field, const char *s, size_t len,
                                      char *whybuf, size_t whylen);
static bool set_bool(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                     size_t whylen);
static bool set_hours(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                      size_t whylen);
static bool set_date(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                     size_t whylen);
static bool set_timezone(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen);
static bool set_path(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                     size_t whylen);
static int cmp_int32(const void *a, const void *b);
static bool set_endpoint(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen);
static bool check_tls(struct loader *ld, yaml_node_t *map, const struct config *cfg);
static const yaml_node_t *blame(struct loader *ld, yaml_node_t *map, const char *k1, const char *k2);
static bool load_listen(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg);
static bool load_users(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg);
static bool check_redis(struct loader *ld, yaml_node_t *map, const struct config *cfg);
static bool check_limits(struct loader *ld, yaml_node_t *map, const struct config *cfg);
static bool check_phone(struct loader *ld, yaml_node_t *map, const struct config *cfg);
static bool load_lines(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg);
static bool check_lines(struct loader *ld, yaml_node_t *node, const struct config *cfg);
static bool check_sla(struct loader *ld, yaml_node_t *map, const struct config *cfg);

/* clang-format off */
static const struct opt_list sentinel_list = {
	offsetof(struct config_redis, n_sentinels),
	{"sentinels", OPT_CUSTOM, .offset = 0, .size = sizeof(struct config_sentinel), 0, 0, NULL,
	 "a Sentinel", .aux.set = set_sentinel},
	NULL,
};

static const struct opt_list wait_stream_list = {
	offsetof(struct config_redis_wait, n_streams),
	{"streams", OPT_ENUM, .offset = 0, .size = sizeof(int), 0, 1, NULL, "a log stream",
	 .aux.names = stream_names},
	NULL,
};

#define WAIT(f) FIELD(struct config_redis_wait, f)
static const struct opt wait_opts[] = {
	/* key           type      field              min max     default */
	{"replicas",     OPT_UINT, WAIT(replicas),    0,  100,    "0",
		"replicas that must acknowledge an append; 0 = do not WAIT"},
	{"timeout_ms",   OPT_UINT, WAIT(timeout_ms),  1,  60000,  "100",
		"milliseconds WAIT may take before the write is answered anyway"},
	{"streams",      OPT_LIST, WAIT(streams),     1,  2,      "[complaints]",
		"the log streams whose appends WAIT",                   .aux.list = &wait_stream_list},
};
static const struct opt_table wait_table = {TABLE(wait_opts)};

#define REDIS(f) FIELD(struct config_redis, f)
static const struct opt redis_opts[] = {
	/* key                  type        field                       min  max     default
	 *	help                                                    aux */
	{"address",             OPT_CUSTOM, WHOLE(struct config_redis), 0,   0,      "",
		"\"host:port\", \"[v6addr]:port\" or \"unix:/path\"",   .aux.set = set_redis_address},
	{"sentinels",           OPT_LIST,   REDIS(sentinels),           0,   CONFIG_MAX_SENTINELS, "[]",
		"\"host:port\" of each Redis Sentinel, instead of 'address'", .aux.list = &sentinel_list},
	{"master_name",         OPT_STRING, REDIS(master_name),         0,   CONFIG_NAME_MAX, "",
		"the name the Sentinels monitor the master under",       .aux.chars = "_.-"},
	{"wait",                OPT_TABLE,  REDIS(wait),                0,   0,      "{}",
		"WAIT for replicas after appends to some streams",      .aux.table = &wait_table},
	{"key_prefix",          OPT_STRING, REDIS(key_prefix),          1,   63,     "hotline:",
		"prefix of every Redis key the daemon touches",         .aux.chars = "_:.-"},
	{"connect_timeout_ms",  OPT_UINT,   REDIS(connect_timeout_ms),  10,  600000, "2000",
		"milliseconds to establish the Redis connection"},
	{"command_timeout_ms",  OPT_UINT,   REDIS(command_timeout_ms),  10,  600000, "5000",
		"milliseconds a Redis reply may take"},
	{"reconnect_min_ms",    OPT_UINT,   REDIS(reconnect_min_ms),    10,  600000, "100",
		"first reconnect backoff, milliseconds"},
	{"reconnect_max_ms",    OPT_UINT,   REDIS(reconnect_max_ms),    10,  600000, "5000",
		"longest reconnect backoff, milliseconds"},
	{"durability",          OPT_ENUM,   REDIS(durability), REDIS_DURABILITY_RELAXED, REDIS_DURABILITY_STRICT, "relaxed",
		"strict: refuse writes unless Redis keeps what it acknowledges", .aux.names = redis_durability_names},
	{"user",                OPT_STRING, REDIS(user),                0,   CONFIG_NAME_MAX, "",
		"Redis ACL user to log in as; empty = the default user", .aux.chars = "_.@-"},
	{"password_file",       OPT_CUSTOM, WHOLE(struct config_redis), 0,   4095,   "",
		"file whose first line is the Redis password; empty = none", .aux.set = set_password_file},
	{"password",            OPT_CUSTOM, WHOLE(struct config_redis), 0,   0,      "",
		"refused: name a file in 'password_file' instead",      .aux.set = refuse_plaintext_password},
	{"sentinel_user",       OPT_STRING, REDIS(sentinel_user),       0,   CONFIG_NAME_MAX, "",
		"ACL user to log in to the Sentinels as; empty = their default user", .aux.chars = "_.@-"},
	{"sentinel_password_file", OPT_CUSTOM, WHOLE(struct config_redis), 0, 4095,  "",
		"file whose first line is the Sentinels' password; empty = none",
		.aux.set = set_sentinel_password_file},
};

#define USER(f) FIELD(struct config_user, f)
static const struct opt user_opts[] = {
	/* key      type        field              min         max              default */
	{"name",    OPT_STRING, USER(name),        1,          CONFIG_NAME_MAX, NULL,
		"login name, unique",                                   .aux.chars = "_.@-"},
	{"role",    OPT_ENUM,   USER(role),        ROLE_AGENT, ROLE_REPLAY,     NULL,
		"what the user may do",                                 .aux.names = role_names},
	{"secret",  OPT_CUSTOM, USER(secret_hash), 0,          0,               NULL,
		"argon2id hash made by `hotline passwd`",               .aux.set = set_secret},
};

#define LIMIT(f) FIELD(struct config_limits, f)
static const struct opt limits_opts[] = {
	/* key                  type        field                       min   max         default */
	{"max_connections",     OPT_UINT,   LIMIT(max_connections),     1,    1000000,    "10000",
		"client connections open at once"},
	{"max_unauthenticated", OPT_UINT,   LIMIT(max_unauthenticated), 1,    1000000,    "1000",
		"connections open at once that have not authenticated"},
	{"max_line",            OPT_UINT,   LIMIT(max_line),            64,   16777216,   "65536",
		"bytes per request line"},
	{"max_line_unauth",     OPT_UINT,   LIMIT(max_line_unauth),     64,   65536,      "1024",
		"bytes per request line before AUTH"},
	{"max_output",          OPT_UINT,   LIMIT(max_output),          4096, 1073741824, "1048576",
		"bytes queued for one client"},
	{"max_pending",         OPT_UINT,   LIMIT(max_pending),         1,    65536,      "256",
		"requests in flight per connection"},
	{"idle_timeout",        OPT_UINT,   LIMIT(idle_timeout_s),      0,    86400,      "0",
		"seconds, 0 = never"},
	{"unauth_timeout",      OPT_UINT,   LIMIT(unauth_timeout_s),    1,    3600,       "30",
		"seconds to authenticate"},
	{"max_auth_failures",   OPT_UINT,   LIMIT(max_auth_failures),   1,    100,        "5",
		"failed AUTHs before the connection is closed"},
	{"max_auth_inflight",   OPT_UINT,   LIMIT(max_auth_inflight),   1,    10000,      "64",
		"password checks queued daemon-wide"},
	{"max_auth_failures_per_addr", OPT_UINT, LIMIT(max_auth_failures_per_addr), 0, 1000000, "20",
		"failed AUTHs from one address within the window before its AUTHs are refused; 0 = off"},
	{"auth_failure_window", OPT_UINT,   LIMIT(auth_failure_window_s), 1,  86400,      "60",
		"seconds over which failed AUTHs per address are counted, and how long it is refused"},
};

/* The log level sits directly in struct config. */
#define CFG(f) FIELD(struct config, f)
static const struct opt log_opts[] = {
	/* key      type        field           min              max              default */
	{"level",   OPT_ENUM,   CFG(log_level), LOG_LEVEL_ERROR, LOG_LEVEL_DEBUG, "info",
		"least severe level logged",                            .aux.names = log_level_names},
};

#define PHONE(f) FIELD(struct phone_rules, f)
static const struct opt phone_opts[] = {
	/* key                    type        field                        min max default */
	{"default_country",       OPT_STRING, PHONE(default_country),      0,  4,  "",
		"country code added to national numbers, digits only; empty = none"},
	{"international_prefix",  OPT_STRING, PHONE(international_prefix), 0,  4,  "00",
		"dialled before a country code instead of '+', digits only"},
	{"trunk_prefix",          OPT_STRING, PHONE(trunk_prefix),         0,  4,  "0",
		"national trunk prefix dropped before adding the country code, digits only"},
};

#define POP(f) FIELD(struct config_pop, f)
static const struct opt pop_opts[] = {
	/* key               type      field                min max  default */
	{"recent",           OPT_UINT, POP(recent),         0,  50,  "5",
		"recent contacts shown in a screen pop, newest first"},
	{"max_candidates",   OPT_UINT, POP(max_candidates), 1,  100, "10",
		"customer cards in an ambiguous (shared number) match"},
};

#define LINE(f) FIELD(struct config_line, f)
static const struct opt line_opts[] = {
	/* key      type        field        min max              default */
	{"dnis",    OPT_STRING, LINE(dnis),  1,  PHONE_MAX - 1,   NULL,
		"the dialled number, normalised with the phone rules",  .aux.chars = "+ -.()/"},
	{"brand",   OPT_STRING, LINE(brand), 1,  127,             NULL,
		"the brand or line the agent greets with",              .aux.chars = " _.,&'-"},
	{"queue",   OPT_STRING, LINE(queue), 1,  CONFIG_NAME_MAX, NULL,
		"default queue for calls on this line",                 .aux.chars = "_.-"},
};

/* Call dispositions and complaint categories: short codes, each of them
 * usable inside a Redis key and a log line. */
#define CODE_ITEM(k) {k, OPT_STRING, .offset = 0, .size = CONFIG_NAME_MAX + 1, 1, CONFIG_NAME_MAX, NULL, \
		"a code", .aux.chars = "_.-"}
static const struct opt_list disposition_list = {offsetof(struct config_log_rules, n_dispositions),
                                                 CODE_ITEM("dispositions"), NULL};
static const struct opt_list category_list = {offsetof(struct config, log_rules.n_categories),
                                              CODE_ITEM("categories"), NULL};

#define RULES(f) FIELD(struct config_log_rules, f)
static const struct opt calls_opts[] = {
	/* key            type      field                min max              default */
	{"dispositions",  OPT_LIST, RULES(dispositions), 1,  CONFIG_MAX_CODES,
		"[resolved, callback, escalated, sale, no_action, wrong_number]",
		"how a call may end",                                   .aux.list = &disposition_list},
};

/* Complaint rules feed both the log rules and the SLA policy. */
static const struct opt complaints_opts[] = {
	/* key               type      field                           min max              default */
	{"categories",       OPT_LIST, CFG(log_rules.categories),      1,  CONFIG_MAX_CODES,
		"[billing, quality, service_attitude, delivery, technical, other]",
		"what a complaint may be about",                        .aux.list = &category_list},
	{"reopen_window_h",  OPT_UINT, CFG(log_rules.reopen_window_h), 0,  8760,    "168",
		"hours after closing during which a complaint may be reopened"},
	{"escalation_pct",   OPT_UINT, CFG(sla.escalation_pct),        1,  100,     "50",
		"percent of the remaining SLA time kept on escalation"},
	{"business_hours",   OPT_BOOL, CFG(sla.calendar.business_hours), 0, 1,     "false",
		"count SLA time in the calendar's opening hours only"},
};

/* One table per severity; the tiers are listed best first, which is the
 * order check_sla holds them to. */
#define SLA(f) FIELD(struct sla_policy, f)
#define SLA_CELL(tier, sev, t, def) {tier, OPT_UINT, SLA(minutes[sev][t]), 1, 525600, def, \
		"minutes of SLA time, at most a year"}
#define SLA_ROW(sev, platinum, gold, iron, lead)                                                            \
	{SLA_CELL("platinum", sev, TIER_PLATINUM, platinum), SLA_CELL("gold", sev, TIER_GOLD, gold),         \
	 SLA_CELL("iron", sev, TIER_IRON, iron), SLA_CELL("lead", sev, TIER_LEAD, lead)}
static const struct opt sla_critical_opts[] = SLA_ROW(SEV_CRITICAL, "60",   "120",  "240",  "480");
static const struct opt sla_high_opts[]     = SLA_ROW(SEV_HIGH,     "240",  "480",  "960",  "1440");
static const struct opt sla_medium_opts[]   = SLA_ROW(SEV_MEDIUM,   "480",  "960",  "1440", "2880");
static const struct opt sla_low_opts[]      = SLA_ROW(SEV_LOW,      "1440", "2880", "4320", "10080");
static const struct opt_table sla_critical = {TABLE(sla_critical_opts)};
static const struct opt_table sla_high = {TABLE(sla_high_opts)};
static const struct opt_table sla_medium = {TABLE(sla_medium_opts)};
static const struct opt_table sla_low = {TABLE(sla_low_opts)};

static const struct opt sla_opts[] = {
	/* key        type       field                     min max default */
	{"critical",  OPT_TABLE, WHOLE(struct sla_policy), 0,  0,  "{}",
		"minutes by tier for critical complaints",              .aux.table = &sla_critical},
	{"high",      OPT_TABLE, WHOLE(struct sla_policy), 0,  0,  "{}",
		"minutes by tier for high complaints",                  .aux.table = &sla_high},
	{"medium",    OPT_TABLE, WHOLE(struct sla_policy), 0,  0,  "{}",
		"minutes by tier for medium complaints",                .aux.table = &sla_medium},
	{"low",       OPT_TABLE, WHOLE(struct sla_policy), 0,  0,  "{}",
		"minutes by tier for low complaints",                   .aux.table = &sla_low},
};

/* sla_calendar.day[] counts from Sunday, like struct tm. */
#define CAL(f) FIELD(struct sla_calendar, f)
static const struct opt hours_opts[] = {
	/* key    type        field        min max default */
	{"mon",   OPT_CUSTOM, CAL(day[1]), 0,  0,  "09:00-18:00", "opening hours",  .aux.set = set_hours},
	{"tue",   OPT_CUSTOM, CAL(day[2]), 0,  0,  "09:00-18:00", "opening hours",  .aux.set = set_hours},
	{"wed",   OPT_CUSTOM, CAL(day[3]), 0,  0,  "09:00-18:00", "opening hours",  .aux.set = set_hours},
	{"thu",   OPT_CUSTOM, CAL(day[4]), 0,  0,  "09:00-18:00", "opening hours",  .aux.set = set_hours},
	{"fri",   OPT_CUSTOM, CAL(day[5]), 0,  0,  "09:00-18:00", "opening hours",  .aux.set = set_hours},
	{"sat",   OPT_CUSTOM, CAL(day[6]), 0,  0,  "closed",      "opening hours",  .aux.set = set_hours},
	{"sun",   OPT_CUSTOM, CAL(day[0]), 0,  0,  "closed",      "opening hours",  .aux.set = set_hours},
};
static const struct opt_table calendar_hours = {TABLE(hours_opts)};

static const struct opt_list holiday_list = {
	offsetof(struct sla_calendar, n_holidays),
	{"holidays", OPT_CUSTOM, .offset = 0, .size = sizeof(int32_t), 0, 0, NULL, "a date",
	 .aux.set = set_date},
	cmp_int32,
};

static const struct opt calendar_opts[] = {
	/* key         type        field                     min max               default */
	{"timezone",   OPT_CUSTOM, CAL(timezone),            1,  63,               "UTC",
		"tz database name such as \"Asia/Shanghai\"",          .aux.set = set_timezone},
	{"hours",      OPT_TABLE,  WHOLE(struct sla_calendar), 0, 0,               "{}",
		"opening hours by weekday",                             .aux.table = &calendar_hours},
	{"holidays",   OPT_LIST,   CAL(holidays),            0,  SLA_MAX_HOLIDAYS, "[]",
		"dates closed all day",                                 .aux.list = &holiday_list},
};

#define SPOOL(f) FIELD(struct config_spool, f)
static const struct opt spool_opts[] = {
	/* key          type        field              min   max             default */
	{"path",        OPT_CUSTOM, SPOOL(path),       1,    4095,           "/var/lib/hotline/spool.log",
		"acknowledged writes wait here while Redis is unreachable", .aux.set = set_path},
	{"max_bytes",   OPT_UINT,   SPOOL(max_bytes),  4096, 1099511627776,  "67108864",
		"largest spool file, bytes"},
};

#define TLS(f) FIELD(struct config_tls, f)
static const struct opt tls_opts[] = {
	/* key            type        field              min max   default */
	{"listen",        OPT_CUSTOM, TLS(listen),       0,  0,    "",
		"\"host:port\" of the TLS listener; empty = none",          .aux.set = set_endpoint},
	{"certificate",   OPT_CUSTOM, TLS(certificate),  0,  4095, "",
		"PEM certificate chain, server certificate first",     .aux.set = set_path},
	{"key",           OPT_CUSTOM, TLS(key),          0,  4095, "",
		"PEM private key of the certificate",                  .aux.set = set_path},
};

#define METRICS(f) FIELD(struct config_metrics, f)
static const struct opt metrics_opts[] = {
	{"listen",        OPT_CUSTOM, METRICS(listen),   0,  0,    "",
		"\"host:port\" of the Prometheus endpoint; empty = off",     .aux.set = set_endpoint},
};

static const struct opt idempotency_opts[] = {
	/* key      type      field                     min max  default */
	{"ttl_h",   OPT_UINT, RULES(idempotency_ttl_h), 1,  720, "24",
		"hours a request_id's original reply is remembered"},
};

/* Where each section's table points inside struct config. */
#define AT(f) offsetof(struct config, f)
static const struct section sections[] = {
	/* name         req    offset            table                    loader       check */
	{"listen",      true,  0,                NULL, 0,                 load_listen, NULL},
	{"redis",       true,  AT(redis),        TABLE(redis_opts),       NULL,        check_redis},
	{"users",       true,  0,                NULL, 0,                 load_users,  NULL},
	{"limits",      false, AT(limits),       TABLE(limits_opts),      NULL,        check_limits},
	{"log",         false, 0,                TABLE(log_opts),         NULL,        NULL},
	{"phone",       false, AT(phone),        TABLE(phone_opts),       NULL,        check_phone},
	{"pop",         false, AT(pop),          TABLE(pop_opts),         NULL,        NULL},
	{"lines",       false, 0,                NULL, 0,                 load_lines,  check_lines},
	{"calls",       false, AT(log_rules),    TABLE(calls_opts),       NULL,        NULL},
	{"complaints",  false, 0,                TABLE(complaints_opts),  NULL,        NULL},
	{"sla",         false, AT(sla),          TABLE(sla_opts),         NULL,        check_sla},
	{"calendar",    false, AT(sla.calendar), TABLE(calendar_opts),    NULL,        NULL},
	{"spool",       false, AT(spool),        TABLE(spool_opts),       NULL,        NULL},
	{"idempotency", false, AT(log_rules),    TABLE(idempotency_opts), NULL,        NULL},
	{"tls",         false, AT(tls),          TABLE(tls_opts),         NULL,        check_tls},
	{"metrics",     false, AT(metrics),      TABLE(metrics_opts),     NULL,        NULL},
};
/* clang-format on */

/* ---- error reporting ---- */

__attribute__((format(printf, 4, 0))) static bool vfail_at(struct loader *ld, size_t line0, size_t col0,
                                                          const char *fmt, va_list ap)
{
	if (!ld->err || ld->errlen == 0)
		return false;
	int n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", ld->name, line0 + 1, col0 + 1);
	if (n >= 0 && (size_t)n < ld->errlen)
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	return false;
}

__attribute__((format(printf, 4, 5))) static bool fail_at(struct loader *ld, size_t line0, size_t col0,
                                                          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail_at(ld, line0, col0, fmt, ap);
	va_end(ap);
	return false;
}

/* Always returns false so callers can `return fail(...)`.  A NULL node means
 * the top of the file. */
__attribute__((format(printf, 3, 4))) static bool fail(struct loader *ld, const yaml_node_t *node,
                                                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail_at(ld, node ? node->start_mark.line : 0, node ? node->start_mark.column : 0, fmt, ap);
	va_end(ap);
	return false;
}

__attribute__((format(printf, 3, 4))) static bool why(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return false;
}

/* Quote untrusted text: short, printable, one line, so one bad byte cannot
 * forge log lines or flood them. */
static const char *show(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = len < QUOTE_MAX ? len : QUOTE_MAX;
	if (n > size - 4)
		n = size - 4;
	for (i = 0; i < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n < len)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* ---- scalar parsing ---- */

enum dec_result { DEC_OK, DEC_NOT_DECIMAL, DEC_OVERFLOW };

/* Plain decimal only: no sign, no blanks, no 0x, no leading zeros (YAML 1.1
 * would read 010 as octal, and we refuse to guess which the user meant). */
static enum dec_result parse_decimal(const char *s, size_t len, unsigned long long *out)
{
	if (len == 0 || s[0] == '-' || s[0] == '+' || (s[0] == '0' && len > 1))
		return DEC_NOT_DECIMAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return DEC_NOT_DECIMAL;
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (end != s + len)
		return DEC_NOT_DECIMAL;
	return errno == ERANGE ? DEC_OVERFLOW : DEC_OK;
}

static bool store_uint(void *field, size_t size, unsigned long long v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(field, &x, sizeof x);
		return true;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(field, &x, sizeof x);
		return true;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof x);
		return true;
	}
	case 8: {
		uint64_t x = (uint64_t)v;
		memcpy(field, &x, sizeof x);
		return true;
	}
	default:
		return false;
	}
}

static bool set_uint(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	unsigned long long v = 0;
	char q[QUOTE_MAX + 4];
	switch (parse_decimal(s, len, &v)) {
	case DEC_NOT_DECIMAL:
		return why(whybuf, whylen, "must be a decimal integer in %llu..%llu, got '%s'", o->min,
		           o->max, show(s, len, q, sizeof q));
	case DEC_OVERFLOW:
		return why(whybuf, whylen, "is out of range: must be %llu..%llu (%s), got %s", o->min, o->max,
		           o->help, show(s, len, q, sizeof q));
	case DEC_OK:
		break;
	}
	if (v < o->min || v > o->max)
		return why(whybuf, whylen, "is out of range: must be %llu..%llu (%s), got %llu", o->min,
		           o->max, o->help, v);
	if (!store_uint(field, o->size, v))
		return why(whybuf, whylen, "has an unsupported field size %zu (bug)", o->size);
	return true;
}

static bool char_ok(char c, const char *punct)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && punct && strchr(punct, c);
}

static bool set_string(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                       size_t whylen)
{
	char q[QUOTE_MAX + 4];
	if (len < o->min || len > o->max || len >= o->size)
		return why(whybuf, whylen, "must be %llu..%llu characters long, got %zu", o->min, o->max,
		           len);
	for (size_t i = 0; i < len; i++)
		if (!char_ok(s[i], o->aux.chars))
			return why(whybuf, whylen, "may only contain letters, digits and '%s', got '%s'",
			           o->aux.chars, show(s, len, q, sizeof q));
	memcpy(field, s, len);
	((char *)field)[len] = '\0';
	return true;
}

static bool set_enum(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	char list[256] = "", q[QUOTE_MAX + 4];
	size_t used = 0;
	for (unsigned long long v = o->min; v <= o->max; v++) {
		const char *name = o->aux.names[v];
		if (strlen(name) == len && memcmp(name, s, len) == 0) {
			if (o->size != sizeof(int) || !store_uint(field, o->size, v))
				return why(whybuf, whylen, "has an unsupported field size %zu (bug)",
				           o->size);
			return true;
		}
		int n = snprintf(list + used, sizeof list - used, "%s%s", v == o->min ? "" : ", ", name);
		if (n > 0 && used + (size_t)n < sizeof list)
			used += (size_t)n;
	}
	return why(whybuf, whylen, "must be one of %s, got '%s'", list, show(s, len, q, sizeof q));
}

static opt_set_fn setter(const struct opt *o)
{
	switch (o->type) {
	case OPT_UINT:
		return set_uint;
	case OPT_STRING:
		return set_string;
	case OPT_ENUM:
		return set_enum;
	case OPT_BOOL:
		return set_bool;
	case OPT_CUSTOM:
		return o->aux.set;
	case OPT_TABLE: /* not scalars: see load_pair and apply_defaults */
	case OPT_LIST:
		return NULL;
	}
	return NULL;
}

static const char *last_colon(const char *s, size_t len)
{
	while (len > 0)
		if (s[--len] == ':')
			return s + len;
	return NULL;
}

/* "host:port" or "[v6addr]:port"; the brackets are dropped from host. */
static bool parse_hostport(const char *s, size_t len, char *host, size_t hostsize, uint16_t *port,
                           unsigned min_port, char *whybuf, size_t whylen)
{
	const char *h = s, *colon, *hend;
	bool v6 = len > 0 && s[0] == '[';
	char q[QUOTE_MAX + 4];

	if (v6) {
		h = s + 1;
		hend = memchr(h, ']', len - 1);
		if (!hend || hend + 1 == s + len || hend[1] != ':')
			return why(whybuf, whylen, "must be \"[v6addr]:port\", got '%s'",
			           show(s, len, q, sizeof q));
		colon = hend + 1;
	} else {
		colon = last_colon(s, len);
		if (!colon)
			return why(whybuf, whylen, "must be \"host:port\", got '%s'",
			           show(s, len, q, sizeof q));
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)))
			return why(whybuf, whylen,
			           "must put an IPv6 address in brackets, e.g. \"[::1]:7300\", got '%s'",
			           show(s, len, q, sizeof q));
	}

	size_t hlen = (size_t)(hend - h);
	if (hlen == 0 || hlen >= hostsize)
		return why(whybuf, whylen, "must have a host of 1..%zu characters, got '%s'", hostsize - 1,
		           show(s, len, q, sizeof q));
	for (size_t i = 0; i < hlen; i++)
		if (!char_ok(h[i], v6 ? ":.%_-" : "._-"))
			return why(whybuf, whylen, "has an invalid character in its host, got '%s'",
			           show(s, len, q, sizeof q));
	if (v6 && !memchr(h, ':', hlen))
		return why(whybuf, whylen,
		           "has brackets around something that is not an IPv6 address, got '%s'",
		           show(s, len, q, sizeof q));

	const char *p = colon + 1;
	size_t plen = (size_t)(s + len - p);
	unsigned long long v;
	if (parse_decimal(p, plen, &v) != DEC_OK || v < min_port || v > 65535)
		return why(whybuf, whylen, "must have a decimal port in %u..65535, got '%s'", min_port,
		           show(s, len, q, sizeof q));
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)v;
	return true;
}

static bool set_redis_address(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                              size_t whylen)
{
	static const char unix_prefix[] = "unix:";
	struct config_redis *r = field;
	(void)o;

	if (len == 0) {
		/* Not set: the default, so that 'sentinels' can stand instead. */
		r->host[0] = r->unix_path[0] = '\0';
		r->port = 0;
		return true;
	}
	if (len >= sizeof unix_prefix - 1 && memcmp(s, unix_prefix, sizeof unix_prefix - 1) == 0) {
		const char *path = s + sizeof unix_prefix - 1;
		size_t plen = len - (sizeof unix_prefix - 1);
		if (plen == 0 || plen >= sizeof r->unix_path)
			return why(whybuf, whylen, "must have a unix socket path of 1..%zu bytes, got %zu",
			           sizeof r->unix_path - 1, plen);
		for (size_t i = 0; i < plen; i++)
			if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
				return why(whybuf, whylen, "has a control character in its unix socket path");
		memcpy(r->unix_path, path, plen + 1);
		r->host[0] = '\0';
		r->port = 0;
		return true;
	}
	if (!parse_hostport(s, len, r->host, sizeof r->host, &r->port, 1, whybuf, whylen)) {
		/* Name the unix form too: someone passing a bare socket path needs it. */
		size_t n = strlen(whybuf);
		snprintf(whybuf + n, whylen - n, " (or \"unix:/path/to/redis.sock\")");
		return false;
	}
	r->unix_path[0] = '\0';
	return true;
}

static bool set_sentinel(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen)
{
	struct config_sentinel *sn = field;

	(void)o;
	return parse_hostport(s, len, sn->host, sizeof sn->host, &sn->port, 1, whybuf, whylen);
}

/* Never quote the value: if it is refused it is most likely a password. */
static bool set_secret(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                       size_t whylen)
{
	static const char prefix[] = "$argon2id$";
	if (len < sizeof prefix - 1 || memcmp(s, prefix, sizeof prefix - 1) != 0)
		return why(whybuf, whylen,
		           "is not an argon2id hash: plaintext secrets are refused; "
		           "generate a \"$argon2id$...\" hash with `hotline passwd`");
	if (len >= o->size)
		return why(whybuf, whylen, "is too long: must be shorter than %zu bytes", o->size);
	for (size_t i = 0; i < len; i++)
		if (!char_ok(s[i], "$=,+/"))
			return why(whybuf, whylen,
			           "has a character no argon2id hash contains; "
			           "regenerate it with `hotline passwd`");
	memcpy(field, s, len + 1);
	return true;
}

/* A password is read here, once, so a missing or unsafe file is reported
 * with the key's place in the config, at --check-config time too. */
static bool read_password_file(const struct opt *o, const char *s, size_t len, char *file, size_t file_size,
                               char *password, size_t password_size, char *whybuf, size_t whylen)
{
	sodium_memzero(password, password_size);
	file[0] = '\0';
	if (len == 0)
		return true;
	if (len > o->max || len >= file_size)
		return why(whybuf, whylen, "must be at most %llu bytes long, got %zu", o->max, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return why(whybuf, whylen, "has a control character");
	memcpy(file, s, len);
	file[len] = '\0';
	/* Group access is allowed (root:hotline 0640); others' is not. */
	return secret_file_read(file, S_IRWXO, password, password_size, whybuf, whylen) == 0;
}

static bool set_password_file(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                              size_t whylen)
{
	struct config_redis *r = field;

	return read_password_file(o, s, len, r->password_file, sizeof r->password_file, r->password,
	                          sizeof r->password, whybuf, whylen);
}

static bool set_sentinel_password_file(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                                       size_t whylen)
{
	struct config_redis *r = field;

	return read_password_file(o, s, len, r->sentinel_password_file, sizeof r->sentinel_password_file,
	                          r->sentinel_password, sizeof r->sentinel_password, whybuf, whylen);
}

/* Like user secrets: a password in the YAML would be readable by everyone
 * who can read the config, and end up in backups and diffs. */
static bool refuse_plaintext_password(const struct opt *o, void *field, const char *s, size_t len,
                                      char *whybuf, size_t whylen)
{
	if (len == 0)
		return true;
	return why(whybuf, whylen,
	           "is refused: plaintext passwords are not allowed in the config; put the password in a file "
	           "only hotlined can read and name it in 'password_file'");
}

/* Only the two spellings everyone reads the same way: YAML 1.1 would also
 * take yes/no/on/off, and "no" meaning false surprises people. */
static bool set_bool(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	char q[QUOTE_MAX + 4];
	bool v;
	if (len == 4 && memcmp(s, "true", 4) == 0)
		v = true;
	else if (len == 5 && memcmp(s, "false", 5) == 0)
		v = false;
	else
		return why(whybuf, whylen, "must be true or false, got '%s'", show(s, len, q, sizeof q));
	if (o->size != sizeof v)
		return why(whybuf, whylen, "has an unsupported field size %zu (bug)", o->size);
	memcpy(field, &v, sizeof v);
	return true;
}

/* Exactly n decimal digits. */
static bool fixed_digits(const char *s, size_t n, unsigned *out)
{
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* "HH:MM" in 00:00..24:00, as minutes after midnight. */
static bool parse_clock(const char *s, unsigned *minutes)
{
	unsigned h, m;
	if (!fixed_digits(s, 2, &h) || s[2] != ':' || !fixed_digits(s + 3, 2, &m))
		return false;
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return false;
	*minutes = h * 60 + m;
	return true;
}

/* "HH:MM-HH:MM" or "closed".  Hours past midnight are not supported: the
 * calendar walks one local day at a time. */
static bool set_hours(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                      size_t whylen)
{
	struct sla_calendar cal;
	unsigned open = 0, close = 0;
	char q[QUOTE_MAX + 4];

	if (o->size != sizeof cal.day[0])
		return why(whybuf, whylen, "has an unsupported field size %zu (bug)", o->size);
	if (!(len == 6 && memcmp(s, "closed", 6) == 0)) {
		if (len != 11 || s[5] != '-' || !parse_clock(s, &open) || !parse_clock(s + 6, &close))
			return why(whybuf, whylen,
			           "must be \"HH:MM-HH:MM\" (00:00..24:00) or \"closed\", got '%s'",
			           show(s, len, q, sizeof q));
		if (close <= open)
			return why(whybuf, whylen,
			           "must close after it opens, got '%s' (hours past midnight are not "
			           "supported; write \"closed\" for a day off)",
			           show(s, len, q, sizeof q));
	}
	cal.day[0].open_min = (uint16_t)open;
	cal.day[0].close_min = (uint16_t)close;
	memcpy(field, &cal.day[0], sizeof cal.day[0]);
	return true;
}

static bool leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD", a date that exists, stored as yyyymmdd. */
static bool set_date(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, m, d;
	char q[QUOTE_MAX + 4];

	if (len != 10 || s[4] != '-' || s[7] != '-' || !fixed_digits(s, 4, &y) ||
	    !fixed_digits(s + 5, 2, &m) || !fixed_digits(s + 8, 2, &d))
		return why(whybuf, whylen, "must be a date YYYY-MM-DD, got '%s'", show(s, len, q, sizeof q));
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap_year(y) ? 1u : 0u))
		return why(whybuf, whylen, "is not a calendar date in 1970..9999, got '%s'",
		           show(s, len, q, sizeof q));
	if (o->size != sizeof(int32_t))
		return why(whybuf, whylen, "has an unsupported field size %zu (bug)", o->size);
	int32_t v = (int32_t)(y * 10000 + m * 100 + d);
	memcpy(field, &v, sizeof v);
	return true;
}

static int cmp_int32(const void *a, const void *b)
{
	int32_t x, y;
	memcpy(&x, a, sizeof x);
	memcpy(&y, b, sizeof y);
	return (x > y) - (x < y);
}

/* Checked against the zoneinfo files but not applied: loading a config has
 * no side effects; the server applies the zone when it takes the config. */
static bool set_timezone(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen)
{
	char q[QUOTE_MAX + 4];
	if (len < o->min || len > o->max || len >= o->size)
		return why(whybuf, whylen, "must be %llu..%llu characters long, got %zu", o->min, o->max,
		           len);
	for (size_t i = 0; i < len; i++)
		if (!char_ok(s[i], "_+-/"))
			return why(whybuf, whylen, "may only contain letters, digits and '_+-/', got '%s'",
			           show(s, len, q, sizeof q));
	memcpy(field, s, len);
	((char *)field)[len] = '\0';
	if (!sla_timezone_exists(field))
		return why(whybuf, whylen, "is not a zone of the tz database (/usr/share/zoneinfo), got '%s'",
		           show(s, len, q, sizeof q));
	return true;
}

/* Any file name the kernel accepts, except control characters, which only
 * ever get there by mistake and garble log lines that quote the path. */
/* "" (off) or "host:port" / "[v6addr]:port" with a port of 1..65535. */
static bool set_endpoint(const struct opt *o, void *field, const char *s, size_t len, char *whybuf,
                         size_t whylen)
{
	struct config_endpoint *e = field;

	memset(e, 0, sizeof(*e));
	if (len == 0)
		return true;
	if (!parse_hostport(s, len, e->addr.host, sizeof(e->addr.host), &e->addr.port, 0, whybuf, whylen))
		return false;
	e->enabled = true;
	return true;
}

static bool check_tls(struct loader *ld, yaml_node_t *map, const struct config *cfg)
{
	const struct config_tls *t = &cfg->tls;

	if (t->listen.enabled && (!t->certificate[0] || !t->key[0]))
		return fail(ld, map ? blame(ld, map, "certificate", "key") : NULL,
		            "section 'tls' needs 'certificate' and 'key' when 'listen' is set");
	return true;
}

static bool set_path(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	if (len < o->min || len > o->max || len >= o->size)
		return why(whybuf, whylen, "must be %llu..%llu bytes long, got %zu", o->min, o->max, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return why(whybuf, whylen, "has a control character");
	memcpy(field, s, len);
	((char *)field)[len] = '\0';
	return true;
}

/* ---- YAML node helpers ---- */

static yaml_node_t *node_at(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

static const char *scalar(const yaml_node_t *n, size_t *len)
{
	*len = n->data.scalar.length;
	return (const char *)n->data.scalar.value;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static bool scalar_eq(const yaml_node_t *a, const yaml_node_t *b)
{
	return a && b && a->type == YAML_SCALAR_NODE && b->type == YAML_SCALAR_NODE &&
	       a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

/* The value under key in map, or NULL; tolerates map being NULL. */
static yaml_node_t *map_get(struct loader *ld, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
		if (scalar_is(node_at(ld, p->key), key))
			return node_at(ld, p->value);
	return NULL;
}

static bool key_seen_before(struct loader *ld, const yaml_node_t *map, const yaml_node_pair_t *pair)
{
	const yaml_node_t *key = node_at(ld, pair->key);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++)
		if (scalar_eq(node_at(ld, p->key), key))
			return true;
	return false;
}

/* A mapping key must be a scalar without NUL bytes (which would otherwise
 * compare equal to a shorter known key). */
static bool check_key(struct loader *ld, const yaml_node_t *key, const char *where)
{
	if (!key || key->type != YAML_SCALAR_NODE)
		return fail(ld, key, "keys in %s must be scalars, got %s", where,
		            key ? node_kind(key) : "nothing");
	if (strlen((const char *)key->data.scalar.value) != key->data.scalar.length)
		return fail(ld, key, "a key in %s contains a NUL byte", where);
	return true;
}

/* The scalar value of key `what`, refusing other node kinds and NUL bytes. */
static const char *value_scalar(struct loader *ld, const yaml_node_t *v, const char *what, size_t *len)
{
	if (!v) {
		fail(ld, NULL, "%s has no value", what);
		return NULL;
	}
	if (v->type != YAML_SCALAR_NODE) {
		fail(ld, v, "%s must be a scalar, got %s", what, node_kind(v));
		return NULL;
	}
	const char *s = scalar(v, len);
	if (strlen(s) != *len) {
		fail(ld, v, "%s contains a NUL byte", what);
		return NULL;
	}
	return s;
}

/* ---- table-driven mappings ---- */

static bool load_table(struct loader *ld, const struct opt *opts, size_t n, yaml_node_t *map, void *base,
                       const char *where);

static const struct opt *find_opt(const struct opt *opts, size_t n, const yaml_node_t *key)
{
	for (size_t i = 0; i < n; i++)
		if (scalar_is(key, opts[i].key))
			return &opts[i];
	return NULL;
}

static bool expect_mapping(struct loader *ld, const yaml_node_t *node, const char *where)
{
	if (node->type != YAML_MAPPING_NODE)
		return fail(ld, node, "%s must be a mapping, got %s", where, node_kind(node));
	return true;
}

/* ---- lists (OPT_LIST) ---- */

/* field is base + o->offset, and the count lives elsewhere in that base. */
static size_t *list_count(const struct opt *o, void *field)
{
	return (size_t *)((char *)field - o->offset + o->aux.list->count_offset);
}

static void list_clear(const struct opt *o, void *field)
{
	memset(field, 0, o->size);
	*list_count(o, field) = 0;
}

/* Append one item.  Repeats are found by comparing bytes, which is why each
 * slot is zeroed before its setter fills it. */
static bool list_add(const struct opt *o, void *field, const char *s, size_t len, char *whybuf, size_t whylen)
{
	const struct opt *item = &o->aux.list->item;
	size_t *count = list_count(o, field);
	char *slot = (char *)field + *count * item->size;

	if (*count >= o->max || (*count + 1) * item->size > o->size)
		return why(whybuf, whylen, "would make more than %llu entries", o->max);
	memset(slot, 0, item->size);
	if (!setter(item)(item, slot, s, len, whybuf, whylen))
		return false;
	for (size_t j = 0; j < *count; j++)
		if (memcmp((char *)field + j * item->size, slot, item->size) == 0) {
			memset(slot, 0, item->size);
			return why(whybuf, whylen, "repeats entry #%zu", j + 1);
		}
	(*count)++;
	return true;
}

static void list_sort(const struct opt *o, void *field)
{
	if (o->aux.list->cmp)
		qsort(field, *list_count(o, field), o->aux.list->item.size, o->aux.list->cmp);
}

/* A list default is a YAML flow sequence of plain scalars, "[a, b]", split
 * here rather than parsed so that defaults need no YAML document. */
static bool default_list(const struct opt *o, void *field, char *whybuf, size_t whylen)
{
	const char *s = o->def, *end = s + strlen(s);
	char item[128];

	list_clear(o, field);
	if (end - s < 2 || s[0] != '[' || end[-1] != ']')
		return why(whybuf, whylen, "is not a flow sequence");
	for (s++, end--; s < end;) {
		const char *comma = memchr(s, ',', (size_t)(end - s)), *stop = comma ? comma : end;
		while (s < stop && *s == ' ')
			s++;
		size_t len = (size_t)(stop - s);
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len >= sizeof item)
			return why(whybuf, whylen, "has an item too long to check");
		memcpy(item, s, len);
		item[len] = '\0';
		if (!list_add(o, field, item, len, whybuf, whylen))
			return false;
		s = comma ? comma + 1 : end;
	}
	if (*list_count(o, field) < o->min)
		return why(whybuf, whylen, "has fewer than %llu entries", o->min);
	list_sort(o, field);
	return true;
}

/* A list from the file replaces the default whole. */
static bool load_list(struct loader *ld, const struct opt *o, yaml_node_t *node, void *base, const char *what)
{
	void *field = (char *)base + o->offset;
	char itemwhat[192], whybuf[256];

	if (node->type != YAML_SEQUENCE_NODE)
		return fail(ld, node, "%s must be a sequence, got %s", what, node_kind(node));
	size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (n < o->min)
		return fail(ld, node, "%s must have %llu..%llu entries, got %zu", what, o->min, o->max, n);
	if (n > o->max)
		return fail(ld, node_at(ld, node->data.sequence.items.start[o->max]),
		            "%s must have %llu..%llu entries, this is entry #%llu", what, o->min, o->max,
		            o->max + 1);
	list_clear(o, field);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = node_at(ld, node->data.sequence.items.start[i]);
		size_t len;
		snprintf(itemwhat, sizeof itemwhat, "entry #%zu of %s", i + 1, what);
		const char *s = value_scalar(ld, item, itemwhat, &len);
		if (!s)
			return false;
		if (!list_add(o, field, s, len, whybuf, sizeof whybuf))
			return fail(ld, item, "%s %s", itemwhat, whybuf);
	}
	list_sort(o, field);
	return true;
}

/* ---- rows ---- */

static bool apply_default(struct loader *ld, const struct opt *o, void *base, const char *where);

static bool apply_defaults(struct loader *ld, const struct opt *opts, size_t n, void *base, const char *where)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].def && !apply_default(ld, &opts[i], base, where))
			return false;
	return true;
}

static bool apply_default(struct loader *ld, const struct opt *o, void *base, const char *where)
{
	char whybuf[256], sub[128];
	void *field = (char *)base + o->offset;
	bool ok;

	switch (o->type) {
	case OPT_TABLE:
		/* "{}": an empty mapping, i.e. every nested key at its own default. */
		if (strcmp(o->def, "{}") != 0)
			return fail(ld, NULL, "internal error: default of '%s' in %s is not {}", o->key,
			            where);
		snprintf(sub, sizeof sub, "'%s' in %s", o->key, where);
		return apply_defaults(ld, o->aux.table->opts, o->aux.table->n, field, sub);
	case OPT_LIST:
		ok = default_list(o, field, whybuf, sizeof whybuf);
		break;
	default:
		ok = setter(o)(o, field, o->def, strlen(o->def), whybuf, sizeof whybuf);
		break;
	}
	if (!ok)
		return fail(ld, NULL, "internal error: default of '%s' in %s %s", o->key, where, whybuf);
	return true;
}

static bool load_pair(struct loader *ld, const struct opt *o, yaml_node_t *value, void *base,
                      const char *where)
{
	char what[128], whybuf[256];
	size_t len;
	snprintf(what, sizeof what, "'%s' in %s", o->key, where);
	if (value && o->type == OPT_TABLE)
		return expect_mapping(ld, value, what) && load_table(ld, o->aux.table->opts, o->aux.table->n,
		                                                     value, (char *)base + o->offset, what);
	if (value && o->type == OPT_LIST)
		return load_list(ld, o, value, base, what);
	const char *s = value_scalar(ld, value, what, &len);
	if (!s)
		return false;
	if (!setter(o)(o, (char *)base + o->offset, s, len, whybuf, sizeof whybuf))
		return fail(ld, value, "%s %s", what, whybuf);
	return true;
}

/* Fill base from map using opts.  where names the mapping in messages, e.g.
 * "section 'limits'" or "users entry #3". */
static bool load_table(struct loader *ld, const struct opt *opts, size_t n, yaml_node_t *map, void *base,
                       const char *where)
{
	char q[QUOTE_MAX + 4];
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node_at(ld, p->key);
		if (!check_key(ld, key, where))
			return false;
		size_t klen;
		const char *k = scalar(key, &klen);
		const struct opt *o = find_opt(opts, n, key);
		if (!o)
			return fail(ld, key, "unknown key '%s' in %s", show(k, klen, q, sizeof q), where);
		if (key_seen_before(ld, map, p))
			return fail(ld, key, "duplicate key '%s' in %s", o->key, where);
		if (!load_pair(ld, o, node_at(ld, p->value), base, where))
			return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!opts[i].def && !map_get(ld, map, opts[i].key))
			return fail(ld, map, "missing required key '%s' in %s", opts[i].key, where);
	return true;
}

static bool load_table_section(struct loader *ld, const struct section *sec, yaml_node_t *node,
                               struct config *cfg)
{
	char where[64];
	snprintf(where, sizeof where, "section '%s'", sec->name);
	if (!expect_mapping(ld, node, where))
		return false;
	return load_table(ld, sec->opts, sec->n_opts, node, (char *)cfg + sec->offset, where);
}

/* ---- sequences ---- */

/* Check node is a sequence of min..max items and return the count. */
static bool expect_sequence(struct loader *ld, const struct section *sec, yaml_node_t *node, size_t min,
                            size_t max, const char *of, size_t *count)
{
	if (node->type != YAML_SEQUENCE_NODE)
		return fail(ld, node, "section '%s' must be a sequence of %s, got %s", sec->name, of,
		            node_kind(node));
	size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (n < min)
		return fail(ld, node, "section '%s' must have %zu..%zu entries, got %zu", sec->name, min, max,
		            n);
	if (n > max)
		return fail(ld, node_at(ld, node->data.sequence.items.start[max]),
		            "section '%s' must have %zu..%zu entries, this is entry #%zu", sec->name, min,
		            max, max + 1);
	*count = n;
	return true;
}

static bool load_listen(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg)
{
	size_t n;
	if (!expect_sequence(ld, sec, node, 1, CONFIG_MAX_LISTEN, "\"host:port\" strings", &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = node_at(ld, node->data.sequence.items.start[i]);
		struct config_listen *l = &cfg->listen[i];
		char what[64], whybuf[256];
		size_t len;
		snprintf(what, sizeof what, "listen entry #%zu", i + 1);
		const char *s = value_scalar(ld, item, what, &len);
		if (!s)
			return false;
		if (!parse_hostport(s, len, l->host, sizeof l->host, &l->port, 0, whybuf, sizeof whybuf))
			return fail(ld, item, "%s %s", what, whybuf);
		/* Port 0 may repeat: each bind gets its own ephemeral port. */
		for (size_t j = 0; j < i; j++)
			if (l->port != 0 && l->port == cfg->listen[j].port &&
			    strcmp(l->host, cfg->listen[j].host) == 0)
				return fail(ld, item, "%s repeats listen entry #%zu", what, j + 1);
		cfg->n_listen = i + 1;
	}
	return true;
}

/* Open-addressing set of user indexes keyed by name: duplicate names are
 * found in one pass even with CONFIG_MAX_USERS entries. */
struct name_set {
	size_t *slot; /* index + 1, 0 = empty */
	size_t mask;
};

static bool name_set_init(struct name_set *set, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	set->slot = calloc(cap, sizeof *set->slot);
	set->mask = cap - 1;
	return set->slot != NULL;
}

/* Insert users[i]; return the index + 1 of an earlier user with that name, or 0. */
static size_t name_set_add(struct name_set *set, const struct config_user *users, size_t i)
{
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *c = (const unsigned char *)users[i].name; *c; c++)
		h = (h ^ *c) * 1099511628211ull;
	for (size_t s = (size_t)h & set->mask;; s = (s + 1) & set->mask) {
		if (set->slot[s] == 0) {
			set->slot[s] = i + 1;
			return 0;
		}
		if (strcmp(users[set->slot[s] - 1].name, users[i].name) == 0)
			return set->slot[s];
	}
}

static bool load_user(struct loader *ld, yaml_node_t *entry, struct config *cfg, size_t i,
                      struct name_set *names)
{
	char where[64];
	snprintf(where, sizeof where, "users entry #%zu", i + 1);
	if (entry->type != YAML_MAPPING_NODE)
		return fail(ld, entry, "%s must be a mapping with name, role and secret, got %s", where,
		            node_kind(entry));
	if (!apply_defaults(ld, user_opts, ARRAY_SIZE(user_opts), &cfg->users[i], where))
		return false;
	if (!load_table(ld, user_opts, ARRAY_SIZE(user_opts), entry, &cfg->users[i], where))
		return false;
	cfg->n_users = i + 1;
	size_t prev = name_set_add(names, cfg->users, i);
	if (prev)
		return fail(ld, map_get(ld, entry, "name"),
		            "duplicate user name '%s' in %s, first used in users entry #%zu",
		            cfg->users[i].name, where, prev);
	return true;
}

static bool load_users(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg)
{
	size_t n;
	struct name_set names;
	if (!expect_sequence(ld, sec, node, 1, CONFIG_MAX_USERS, "user mappings", &n))
		return false;
	cfg->users = calloc(n, sizeof *cfg->users);
	if (!cfg->users || !name_set_init(&names, n))
		return fail(ld, node, "out of memory loading %zu users", n);
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++)
		ok = load_user(ld, node_at(ld, node->data.sequence.items.start[i]), cfg, i, &names);
	free(names.slot);
	return ok;
}

/* ---- cross-key rules ---- */

/* Blame the first of two keys that is present, else the mapping itself. */
static const yaml_node_t *blame(struct loader *ld, yaml_node_t *map, const char *k1, const char *k2)
{
	const yaml_node_t *n = map_get(ld, map, k1);
	if (!n)
		n = map_get(ld, map, k2);
	return n ? n : map;
}

static bool check_redis(struct loader *ld, yaml_node_t *map, const struct config *cfg)
{
	const struct config_redis *r = &cfg->redis;
	bool direct = r->host[0] || r->unix_path[0];

	if (direct && r->n_sentinels > 0)
		return fail(
		    ld, blame(ld, map, "sentinels", "address"),
		    "section 'redis' takes 'address' (one Redis) or 'sentinels' (Redis Sentinel), not both");
	if (!direct && r->n_sentinels == 0)
		return fail(
		    ld, map,
		    "section 'redis' needs 'address' (one Redis) or 'sentinels' and 'master_name' (Redis "
		    "Sentinel)");
	if (r->n_sentinels > 0 && !r->master_name[0])
		return fail(ld, blame(ld, map, "master_name", "sentinels"),
		            "section 'redis' needs 'master_name' with 'sentinels': the name the Sentinels "
		            "monitor the master under");
	if (r->n_sentinels == 0 && r->master_name[0])
		return fail(ld, blame(ld, map, "master_name", "master_name"),
		            "'master_name' in section 'redis' is only used with 'sentinels'");
	if (r->wait.replicas > 0 && r->wait.timeout_ms * 2 > r->command_timeout_ms) {
		yaml_node_t *w = map_get(ld, map, "wait");

		/* A WAIT holds the link; longer than this, the liveness check drops it. */
		return fail(ld,
		            w ? blame(ld, w, "timeout_ms", "timeout_ms")
		              : blame(ld, map, "command_timeout_ms", "wait"),
		            "'timeout_ms' (%u) in 'wait' in section 'redis' must be at most half of "
		            "'command_timeout_ms' (%u)",
		            r->wait.timeout_ms, r->command_timeout_ms);
	}
	if (r->user[0] && !r->password[0])
		return fail(ld, blame(ld, map, "user", "user"),
		            "'user' in section 'redis' needs 'password_file' (the file holding its password)");
	if (r->sentinel_user[0] && !r->sentinel_password[0])
		return fail(ld, blame(ld, map, "sentinel_user", "sentinel_user"),
		            "'sentinel_user' in section 'redis' needs 'sentinel_password_file' (the file holding its "
		            "password)");
	if (r->sentinel_password[0] && r->n_sentinels == 0)
		return fail(ld, blame(ld, map, "sentinel_password_file", "sentinel_password_file"),
		            "'sentinel_password_file' in section 'redis' needs 'sentinels'");
	if (r->reconnect_max_ms < r->reconnect_min_ms)
		return fail(ld, blame(ld, map, "reconnect_max_ms", "reconnect_min_ms"),
		            "'reconnect_max_ms' (%u) in section 'redis' must be >= 'reconnect_min_ms' (%u)",
		            r->reconnect_max_ms, r->reconnect_min_ms);
	return true;
}

static bool check_limits(struct loader *ld, yaml_node_t *map, const struct config *cfg)
{
	const struct config_limits *l = &cfg->limits;
	if (l->max_line_unauth > l->max_line)
		return fail(ld, blame(ld, map, "max_line_unauth", "max_line"),
		            "'max_line_unauth' (%zu) in section 'limits' must be <= 'max_line' (%zu)",
		            l->max_line_unauth, l->max_line);
	return true;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool check_phone(struct loader *ld, yaml_node_t *map, const struct config *cfg)
{
	static const char *const keys[] = {"default_country", "international_prefix", "trunk_prefix"};
	const char *values[] = {cfg->phone.default_country, cfg->phone.international_prefix,
	                        cfg->phone.trunk_prefix};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!all_digits(values[i]))
			return fail(ld, map ? blame(ld, map, keys[i], keys[i]) : NULL,
			            "'%s' in section 'phone' must be digits only", keys[i]);
	return true;
}

static bool load_line(struct loader *ld, yaml_node_t *entry, struct config *cfg, size_t i)
{
	char where[64];

	snprintf(where, sizeof where, "lines entry #%zu", i + 1);
	if (entry->type != YAML_MAPPING_NODE)
		return fail(ld, entry, "%s must be a mapping with dnis, brand and queue, got %s", where,
		            node_kind(entry));
	if (!apply_defaults(ld, line_opts, ARRAY_SIZE(line_opts), &cfg->lines[i], where) ||
	    !load_table(ld, line_opts, ARRAY_SIZE(line_opts), entry, &cfg->lines[i], where))
		return false;
	cfg->n_lines = i + 1;
	return true;
}

static bool load_lines(struct loader *ld, const struct section *sec, yaml_node_t *node, struct config *cfg)
{
	size_t n;

	if (!expect_sequence(ld, sec, node, 0, CONFIG_MAX_LINES, "line mappings", &n))
		return false;
	cfg->lines = calloc(n ? n : 1, sizeof *cfg->lines);
	if (!cfg->lines)
		return fail(ld, node, "out of memory loading %zu lines", n);
	for (size_t i = 0; i < n; i++)
		if (!load_line(ld, node_at(ld, node->data.sequence.items.start[i]), cfg, i))
			return false;
	return true;
}

/* Dialled numbers are normalised once the phone rules are known (the
 * 'phone' section may come after 'lines' in the file). */
static bool check_lines(struct loader *ld, yaml_node_t *node, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_lines; i++) {
		struct config_line *l = &cfg->lines[i];
		yaml_node_t *entry = node ? node_at(ld, node->data.sequence.items.start[i]) : NULL;
		char norm[PHONE_MAX];
		const char *why = NULL;

		if (!phone_normalize(&cfg->phone, l->dnis, strlen(l->dnis), norm, &why))
			return fail(ld, entry ? map_get(ld, entry, "dnis") : node, "'dnis' in lines entry #%zu: %s",
			            i + 1, why);
		memcpy(l->dnis, norm, sizeof(norm));
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->lines[j].dnis, l->dnis) == 0)
				return fail(ld, entry ? map_get(ld, entry, "dnis") : node,
				            "'dnis' in lines entry #%zu repeats lines entry #%zu", i + 1, j + 1);
	}
	return true;
}

/* Within each severity a better tier is never due later.  The tier rows of
 * every severity table are listed best first, so neighbours are compared. */
static bool check_sla(struct loader *ld, yaml_node_t *map, const struct config *cfg)
{
	for (size_t s = 0; s < ARRAY_SIZE(sla_opts); s++) {
		const struct opt_table *t = sla_opts[s].aux.table;
		const char *base = (const char *)&cfg->sla + sla_opts[s].offset;
		for (size_t i = 0; i + 1 < t->n; i++) {
			const struct opt *a = &t->opts[i], *b = &t->opts[i + 1];
			uint32_t va, vb;
			memcpy(&va, base + a->offset, sizeof va);
			memcpy(&vb, base + b->offset, sizeof vb);
			if (va <= vb)
				continue;
			const yaml_node_t *cell =
			    blame(ld, map_get(ld, map, sla_opts[s].key), a->key, b->key);
			return fail(ld, cell ? cell : map,
			            "'%s' (%u) in '%s' in section 'sla' must be <= '%s' (%u): "
			            "a better tier is never due later",
			            a->key, va, sla_opts[s].key, b->key, vb);
		}
	}
	return true;
}

/* ---- document ---- */

static const struct section *find_section(const yaml_node_t *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (scalar_is(key, sections[i].name))
			return &sections[i];
	return NULL;
}

static bool fail_unknown_section(struct loader *ld, const yaml_node_t *key)
{
	char q[QUOTE_MAX + 4], known[256] = "";
	size_t used = 0, klen;
	const char *k = scalar(key, &klen);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", sections[i].name);
		if (n > 0 && used + (size_t)n < sizeof known)
			used += (size_t)n;
	}
	return fail(ld, key, "unknown section '%s' (known: %s)", show(k, klen, q, sizeof q), known);
}

static bool load_sections(struct loader *ld, yaml_node_t *root, struct config *cfg)
{
	yaml_node_t *seen[ARRAY_SIZE(sections)] = {0};

	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node_at(ld, p->key), *value = node_at(ld, p->value);
		if (!check_key(ld, key, "the top level"))
			return false;
		const struct section *sec = find_section(key);
		if (!sec)
			return fail_unknown_section(ld, key);
		size_t i = (size_t)(sec - sections);
		if (seen[i])
			return fail(ld, key, "duplicate section '%s'", sec->name);
		if (!value)
			return fail(ld, key, "section '%s' has no value", sec->name);
		seen[i] = value;
		if (!(sec->load ? sec->load : load_table_section)(ld, sec, value, cfg))
			return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (sections[i].required && !seen[i])
			return fail(ld, root, "missing required section '%s'", sections[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (sections[i].check && !sections[i].check(ld, seen[i], cfg))
			return false;
	return true;
}

static bool apply_section_defaults(struct loader *ld, struct config *cfg)
{
	char where[64];
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		snprintf(where, sizeof where, "section '%s'", sections[i].name);
		if (!apply_defaults(ld, sections[i].opts, sections[i].n_opts,
		                    (char *)cfg + sections[i].offset, where))
			return false;
	}
	return true;
}

/* Reader errors carry a byte offset only; turn it into line and column. */
static void offset_to_mark(const struct loader *ld, size_t off, size_t *line, size_t *col)
{
	size_t start = 0;
	*line = 0;
	if (off > ld->text_len)
		off = ld->text_len;
	for (size_t i = 0; i < off; i++)
		if (ld->text[i] == '\n')
			(*line)++, start = i + 1;
	*col = off - start;
}

static bool fail_yaml(struct loader *ld, const yaml_parser_t *parser)
{
	size_t line, col;
	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		return fail_at(ld, 0, 0, "out of memory while parsing YAML");
	case YAML_READER_ERROR:
		offset_to_mark(ld, parser->problem_offset, &line, &col);
		if (parser->problem_value != -1)
			return fail_at(ld, line, col, "invalid input: %s (byte 0x%02x)", parser->problem,
			               (unsigned)parser->problem_value & 0xffu);
		return fail_at(ld, line, col, "invalid input: %s", parser->problem);
	default:
		if (parser->context)
			return fail_at(ld, parser->problem_mark.line, parser->problem_mark.column,
			               "YAML syntax error: %s (%s at %zu:%zu)",
			               parser->problem ? parser->problem : "unknown problem", parser->context,
			               parser->context_mark.line + 1, parser->context_mark.column + 1);
		return fail_at(ld, parser->problem_mark.line, parser->problem_mark.column,
		               "YAML syntax error: %s",
		               parser->problem ? parser->problem : "unknown problem");
	}
}

/* A second document in the stream is refused rather than silently ignored. */
static bool expect_stream_end(struct loader *ld, yaml_parser_t *parser)
{
	yaml_document_t extra;
	if (!yaml_parser_load(parser, &extra))
		return fail_yaml(ld, parser);
	bool more = yaml_document_get_root_node(&extra) != NULL;
	size_t line = extra.start_mark.line, col = extra.start_mark.column;
	yaml_document_delete(&extra);
	if (more)
		return fail_at(ld, line, col, "only one YAML document is allowed");
	return true;
}

static bool load_document(struct loader *ld, yaml_parser_t *parser, struct config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(ld->doc);
	if (!root)
		return fail_at(
		    ld, 0, 0,
		    "empty document: expected a mapping with sections 'listen', 'redis' and 'users'");
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(ld, 0, 0, "the document must be a mapping of sections, got %s",
		               node_kind(root));
	if (!expect_stream_end(ld, parser))
		return false;
	return load_sections(ld, root, cfg);
}

struct config *config_parse(const char *name, const char *yaml, size_t len, char *err, size_t errlen)
{
	struct loader ld = {
	    .name = name ? name : "<config>",
	    .text = yaml ? yaml : "",
	    .text_len = yaml ? len : 0,
	    .err = err,
	    .errlen = errlen,
	};
	if (err && errlen)
		err[0] = '\0';

	struct config *cfg = calloc(1, sizeof *cfg);
	if (!cfg) {
		fail_at(&ld, 0, 0, "out of memory");
		return NULL;
	}
	snprintf(cfg->path, sizeof cfg->path, "%s", ld.name);
	if (!apply_section_defaults(&ld, cfg)) {
		config_free(cfg);
		return NULL;
	}

	yaml_parser_t parser;
	yaml_document_t doc;
	bool ok = false;
	if (!yaml_parser_initialize(&parser)) {
		fail_at(&ld, 0, 0, "out of memory");
		config_free(cfg);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld.text, ld.text_len);
	if (!yaml_parser_load(&parser, &doc)) {
		fail_yaml(&ld, &parser);
	} else {
		ld.doc = &doc;
		ok = load_document(&ld, &parser, cfg);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (!ok) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- files ---- */

static char *read_file(const char *file, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(file, "rb");
	if (!f) {
		snprintf(err, errlen, "%s:1:1: cannot open: %s", file, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t used = 0, cap = 0;
	for (;;) {
		if (cap - used < 4096) {
			cap = cap ? cap * 2 : 65536;
			char *nbuf = realloc(buf, cap);
			if (!nbuf) {
				snprintf(err, errlen, "%s:1:1: out of memory reading the file", file);
				break;
			}
			buf = nbuf;
		}
		used += fread(buf + used, 1, cap - used, f);
		if (used > CONFIG_FILE_MAX) {
			snprintf(err, errlen, "%s:1:1: file is larger than %u bytes", file, CONFIG_FILE_MAX);
			break;
		}
		if (ferror(f)) {
			snprintf(err, errlen, "%s:1:1: cannot read: %s", file, strerror(errno));
			break;
		}
		if (feof(f)) {
			fclose(f);
			*len = used;
			return buf;
		}
	}
	fclose(f);
	free(buf);
	return NULL;
}

struct config *config_load(const char *file, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || errlen == 0)
		err = dummy, errlen = sizeof dummy;
	if (!file) {
		snprintf(err, errlen, "<config>:1:1: no configuration file given");
		return NULL;
	}
	if (strlen(file) >= sizeof(((struct config *)0)->path)) {
		snprintf(err, errlen, "%.64s...:1:1: path is too long", file);
		return NULL;
	}
	size_t len = 0;
	char *text = read_file(file, &len, err, errlen);
	if (!text)
		return NULL;
	struct config *cfg = config_parse(file, text, len, err, errlen);
	free(text);
	return cfg;
}

/* ---- accessors ---- */

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	sodium_memzero(cfg->redis.password, sizeof cfg->redis.password);
	sodium_memzero(cfg->redis.sentinel_password, sizeof cfg->redis.sentinel_password);
	free(cfg->users);
	free(cfg->lines);
	free(cfg);
}

const struct config_user *config_find_user(const struct config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

const struct config_line *config_find_line(const struct config *cfg, const char *dnis)
{
	for (size_t i = 0; i < cfg->n_lines; i++)
		if (strcmp(cfg->lines[i].dnis, dnis) == 0)
			return &cfg->lines[i];
	return NULL;
}

bool config_redis_waits_for(const struct config_redis *r, int stream)
{
	if (r->wait.replicas == 0)
		return false;
	for (size_t i = 0; i < r->wait.n_streams; i++)
		if (r->wait.streams[i] == stream)
			return true;
	return false;
}

const char *role_name(enum role role)
{
	if ((unsigned)role < ARRAY_SIZE(role_names))
		return role_names[role];
	return "unknown";
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level < ARRAY_SIZE(log_level_names))
		return log_level_names[level];
	return "unknown";
}
