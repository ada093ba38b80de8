/* test_config.c - unit tests for daemon/config.c.
 *
 * Usage: test_config PATH/TO/config/hotline.yaml
 *
 * Error cases pin the exact "name:line:col:" prefix, because pointing at the
 * right node is most of what makes a config error useful.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define HASH "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"

/* 8 lines: anything appended starts on line 9. */
#define MIN                                                                                                  \
	"listen:\n"                                                                                          \
	"  - \"127.0.0.1:7300\"\n"                                                                           \
	"redis:\n"                                                                                           \
	"  address: \"127.0.0.1:6379\"\n"                                                                    \
	"users:\n"                                                                                           \
	"  - name: alice\n"                                                                                  \
	"    role: agent\n"                                                                                  \
	"    secret: \"" HASH "\"\n"

/* The same without users, for tests that bring their own (5 lines). */
#define NO_USERS                                                                                             \
	"listen:\n"                                                                                          \
	"  - \"127.0.0.1:7300\"\n"                                                                           \
	"redis:\n"                                                                                           \
	"  address: \"127.0.0.1:6379\"\n"                                                                    \
	"users:\n"

/* ...and without redis, for tests of the redis section (2 lines + users 4). */
#define USERS                                                                                                \
	"users:\n"                                                                                           \
	"  - name: alice\n"                                                                                  \
	"    role: agent\n"                                                                                  \
	"    secret: \"" HASH "\"\n"

static struct config *parse_len(const char *yaml, size_t len, char *err, size_t errlen)
{
	return config_parse("t.yaml", yaml, len, err, errlen);
}

static struct config *parse(const char *yaml, char *err, size_t errlen)
{
	return parse_len(yaml, strlen(yaml), err, errlen);
}

#define EXPECT_OK(doc)                   expect_ok_at((doc), strlen(doc), __LINE__)
#define EXPECT_ERR(doc, pfx, sub)        expect_err_at((doc), strlen(doc), (pfx), (sub), __LINE__)
#define EXPECT_ERR_LEN(doc, n, pfx, sub) expect_err_at((doc), (n), (pfx), (sub), __LINE__)

/* Returns the config (caller frees) so the test can look at it. */
static struct config *expect_ok_at(const char *yaml, size_t len, int line)
{
	char err[512];
	struct config *cfg = parse_len(yaml, len, err, sizeof err);
	check_report(cfg != NULL, __FILE__, line, "expected success, got: %s", err);
	return cfg;
}

static void expect_err_at(const char *yaml, size_t len, const char *prefix, const char *substr, int line)
{
	char err[512];
	memset(err, 'X', sizeof err);
	struct config *cfg = parse_len(yaml, len, err, sizeof err);
	if (cfg) {
		check_report(false, __FILE__, line, "expected error '%s%s', got success", prefix, substr);
		config_free(cfg);
		return;
	}
	check_report(
	    !(strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, substr) || strchr(err, '\n')),
	    __FILE__, line, "expected '%s...%s...', got '%s'", prefix, substr, err);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static const size_t max = 1 << 20;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static bool has_codes(const char (*codes)[CONFIG_NAME_MAX + 1], size_t n, const char *const *want,
                      size_t nwant)
{
	if (n != nwant)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(codes[i], want[i]) != 0)
			return false;
	return true;
}

static void check_sla_defaults(const struct sla_policy *sla)
{
	static const uint32_t want[SEV_COUNT][TIER_COUNT] = {
	    [SEV_CRITICAL] = {60, 120, 240, 480},
	    [SEV_HIGH] = {240, 480, 960, 1440},
	    [SEV_MEDIUM] = {480, 960, 1440, 2880},
	    [SEV_LOW] = {1440, 2880, 4320, 10080},
	};
	for (int sev = 0; sev < SEV_COUNT; sev++)
		for (int t = 0; t < TIER_COUNT; t++)
			check_report(sla->minutes[sev][t] == want[sev][t], __FILE__, __LINE__,
			             "sla %d/%d is %u, expected %u", sev, t, sla->minutes[sev][t],
			             want[sev][t]);
	CHECK(sla->escalation_pct == 50);
	const struct sla_calendar *cal = &sla->calendar;
	CHECK(!cal->business_hours);
	CHECK(strcmp(cal->timezone, "UTC") == 0);
	for (int wd = 1; wd <= 5; wd++)
		CHECK(cal->day[wd].open_min == 9 * 60 && cal->day[wd].close_min == 18 * 60);
	CHECK(cal->day[0].open_min == cal->day[0].close_min);
	CHECK(cal->day[6].open_min == cal->day[6].close_min);
	CHECK(cal->n_holidays == 0);
}

static void check_log_defaults(const struct config *cfg)
{
	static const char *const dispositions[] = {"resolved", "callback",  "escalated",
	                                           "sale",     "no_action", "wrong_number"};
	static const char *const categories[] = {"billing",  "quality",   "service_attitude",
	                                         "delivery", "technical", "other"};
	CHECK(has_codes(cfg->log_rules.dispositions, cfg->log_rules.n_dispositions, dispositions, 6));
	CHECK(has_codes(cfg->log_rules.categories, cfg->log_rules.n_categories, categories, 6));
	CHECK(cfg->log_rules.reopen_window_h == 168);
	CHECK(cfg->log_rules.idempotency_ttl_h == 24);
	CHECK(strcmp(cfg->spool.path, "/var/lib/hotline/spool.log") == 0);
	CHECK(cfg->spool.max_bytes == 67108864);
	check_sla_defaults(&cfg->sla);
}

static void check_defaults(const struct config *cfg)
{
	CHECK(strcmp(cfg->redis.key_prefix, "hotline:") == 0);
	CHECK(cfg->redis.connect_timeout_ms == 2000);
	CHECK(cfg->redis.command_timeout_ms == 5000);
	CHECK(cfg->redis.reconnect_min_ms == 100);
	CHECK(cfg->redis.reconnect_max_ms == 5000);
	CHECK(cfg->limits.max_connections == 10000);
	CHECK(cfg->limits.max_unauthenticated == 1000);
	CHECK(cfg->limits.max_line == 65536);
	CHECK(cfg->limits.max_line_unauth == 1024);
	CHECK(cfg->limits.max_output == 1048576);
	CHECK(cfg->limits.max_pending == 256);
	CHECK(cfg->limits.idle_timeout_s == 0);
	CHECK(cfg->limits.unauth_timeout_s == 30);
	CHECK(cfg->limits.max_auth_failures == 5);
	CHECK(cfg->limits.max_auth_inflight == 64);
	CHECK(cfg->limits.max_auth_failures_per_addr == 20);
	CHECK(cfg->limits.auth_failure_window_s == 60);
	CHECK(cfg->redis.user[0] == '\0' && cfg->redis.password_file[0] == '\0' && cfg->redis.password[0] == '\0');
	CHECK(cfg->log_level == LOG_LEVEL_INFO);
	check_log_defaults(cfg);
}

static void test_shipped(const char *path)
{
	char err[512];
	struct config *cfg = config_load(path, err, sizeof err);
	if (!check_report(cfg != NULL, __FILE__, __LINE__, "shipped config %s does not load: %s", path, err))
		return;
	CHECK(strcmp(cfg->path, path) == 0);
	CHECK(cfg->n_listen == 1);
	CHECK(strcmp(cfg->listen[0].host, "127.0.0.1") == 0 && cfg->listen[0].port == 7300);
	CHECK(strcmp(cfg->redis.host, "127.0.0.1") == 0 && cfg->redis.port == 6379);
	CHECK(cfg->redis.unix_path[0] == '\0');
	CHECK(cfg->n_users == 4);
	static const struct {
		const char *name;
		enum role role;
	} users[] = {{"agent1", ROLE_AGENT},
	             {"agent2", ROLE_AGENT},
	             {"super1", ROLE_SUPERVISOR},
	             {"admin1", ROLE_ADMIN}};
	for (size_t i = 0; i < 4; i++) {
		const struct config_user *u = config_find_user(cfg, users[i].name);
		CHECK(u && u->role == users[i].role);
		CHECK(u && strncmp(u->secret_hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	}
	/* The example promises every key with its default value. */
	check_defaults(cfg);
	config_free(cfg);

	char *text = slurp(path);
	CHECK(text != NULL);
	static const char *const keys[] = {
	    "listen:",
	    "redis:",
	    "address:",
	    "key_prefix:",
	    "connect_timeout_ms:",
	    "command_timeout_ms:",
	    "reconnect_min_ms:",
	    "reconnect_max_ms:",
	    "users:",
	    "limits:",
	    "max_connections:",
	    "max_unauthenticated:",
	    "max_line:",
	    "max_line_unauth:",
	    "max_output:",
	    "max_pending:",
	    "idle_timeout:",
	    "unauth_timeout:",
	    "max_auth_failures:",
	    "max_auth_inflight:",
	    "max_auth_failures_per_addr:",
	    "auth_failure_window:",
	    "password_file:",
	    "log:",
	    "level:",
	    "calls:",
	    "dispositions:",
	    "complaints:",
	    "categories:",
	    "reopen_window_h:",
	    "escalation_pct:",
	    "business_hours:",
	    "sla:",
	    "critical:",
	    "high:",
	    "medium:",
	    "low:",
	    "calendar:",
	    "timezone:",
	    "hours:",
	    "mon:",
	    "sun:",
	    "holidays:",
	    "spool:",
	    "path:",
	    "max_bytes:",
	    "idempotency:",
	    "ttl_h:",
	};
	for (size_t i = 0; text && i < sizeof keys / sizeof keys[0]; i++)
		check_report(strstr(text, keys[i]) != NULL, __FILE__, __LINE__, "shipped config lacks key %s",
		             keys[i]);
	free(text);
}

static void test_minimal(void)
{
	struct config *cfg = EXPECT_OK(MIN);
	if (!cfg)
		return;
	CHECK(strcmp(cfg->path, "t.yaml") == 0);
	CHECK(cfg->n_listen == 1 && cfg->listen[0].port == 7300);
	CHECK(strcmp(cfg->redis.host, "127.0.0.1") == 0 && cfg->redis.port == 6379);
	CHECK(cfg->n_users == 1);
	CHECK(strcmp(cfg->users[0].name, "alice") == 0);
	CHECK(cfg->users[0].role == ROLE_AGENT);
	CHECK(strcmp(cfg->users[0].secret_hash, HASH) == 0);
	check_defaults(cfg);
	CHECK(config_find_user(cfg, "alice") == &cfg->users[0]);
	CHECK(config_find_user(cfg, "bob") == NULL);
	CHECK(config_find_user(cfg, "") == NULL);
	CHECK(config_find_user(cfg, NULL) == NULL);
	CHECK(config_find_user(NULL, "alice") == NULL);
	config_free(cfg);
}

static void test_values(void)
{
	struct config *cfg;

	cfg = EXPECT_OK("listen: [\"[::1]:7300\", \"[::]:0\", \"localhost:1\", \"[fe80::1%eth0]:65535\"]\n"
	                "redis: {address: \"unix:/run/redis/redis.sock\"}\n" USERS);
	if (cfg) {
		CHECK(cfg->n_listen == 4);
		CHECK(strcmp(cfg->listen[0].host, "::1") == 0 && cfg->listen[0].port == 7300);
		CHECK(strcmp(cfg->listen[1].host, "::") == 0 && cfg->listen[1].port == 0);
		CHECK(strcmp(cfg->listen[2].host, "localhost") == 0 && cfg->listen[2].port == 1);
		CHECK(strcmp(cfg->listen[3].host, "fe80::1%eth0") == 0 && cfg->listen[3].port == 65535);
		CHECK(strcmp(cfg->redis.unix_path, "/run/redis/redis.sock") == 0);
		CHECK(cfg->redis.host[0] == '\0' && cfg->redis.port == 0);
		config_free(cfg);
	}

	cfg = EXPECT_OK("listen: [\"127.0.0.1:7300\"]\n"
	                "redis: {address: \"[::1]:6380\"}\n" USERS);
	if (cfg) {
		CHECK(strcmp(cfg->redis.host, "::1") == 0 && cfg->redis.port == 6380);
		config_free(cfg);
	}

	/* Every key set away from its default, bounds included. */
	cfg = EXPECT_OK("listen: [\"127.0.0.1:7300\"]\n"
	                "redis:\n"
	                "  address: \"redis.example.com:6379\"\n"
	                "  key_prefix: \"a.b-c_d:\"\n"
	                "  connect_timeout_ms: 10\n"
	                "  command_timeout_ms: 600000\n"
	                "  reconnect_min_ms: 600000\n"
	                "  reconnect_max_ms: 600000\n" USERS
	                "  - {name: \"b.o-b_@x\", role: supervisor, secret: \"" HASH "\"}\n"
	                "  - {name: carol, role: admin, secret: \"" HASH "\"}\n"
	                "  - {name: rp, role: replay, secret: \"" HASH "\"}\n"
	                "limits:\n"
	                "  max_connections: 1000000\n"
	                "  max_unauthenticated: 1000000\n"
	                "  max_line: 16777216\n"
	                "  max_line_unauth: 65536\n"
	                "  max_output: 1073741824\n"
	                "  max_pending: 1\n"
	                "  idle_timeout: 86400\n"
	                "  unauth_timeout: 1\n"
	                "  max_auth_failures: 100\n"
	                "  max_auth_inflight: \"10000\"\n"
	                "log:\n"
	                "  level: debug\n");
	if (cfg) {
		CHECK(strcmp(cfg->redis.host, "redis.example.com") == 0);
		CHECK(strcmp(cfg->redis.key_prefix, "a.b-c_d:") == 0);
		CHECK(cfg->redis.connect_timeout_ms == 10 && cfg->redis.command_timeout_ms == 600000);
		CHECK(cfg->redis.reconnect_min_ms == 600000 && cfg->redis.reconnect_max_ms == 600000);
		CHECK(cfg->n_users == 4);
		CHECK(config_find_user(cfg, "b.o-b_@x") &&
		      config_find_user(cfg, "b.o-b_@x")->role == ROLE_SUPERVISOR);
		CHECK(config_find_user(cfg, "carol") && config_find_user(cfg, "carol")->role == ROLE_ADMIN);
		CHECK(config_find_user(cfg, "rp") && config_find_user(cfg, "rp")->role == ROLE_REPLAY);
		CHECK(cfg->limits.max_connections == 1000000);
		CHECK(cfg->limits.max_unauthenticated == 1000000);
		CHECK(cfg->limits.max_line == 16777216);
		CHECK(cfg->limits.max_line_unauth == 65536);
		CHECK(cfg->limits.max_output == 1073741824);
		CHECK(cfg->limits.max_pending == 1);
		CHECK(cfg->limits.idle_timeout_s == 86400);
		CHECK(cfg->limits.unauth_timeout_s == 1);
		CHECK(cfg->limits.max_auth_failures == 100);
		CHECK(cfg->limits.max_auth_inflight == 10000);
		CHECK(cfg->log_level == LOG_LEVEL_DEBUG);
		config_free(cfg);
	}

	/* Aliases resolve; port-0 listeners may repeat. */
	cfg = EXPECT_OK("listen: [&l \"127.0.0.1:0\", *l]\n"
	                "redis: {address: \"127.0.0.1:6379\"}\n"
	                "users:\n"
	                "  - {name: a, role: agent, secret: &s \"" HASH "\"}\n"
	                "  - {name: b, role: &r admin, secret: *s}\n"
	                "  - {name: c, role: *r, secret: *s}\n");
	if (cfg) {
		CHECK(cfg->n_listen == 2 && cfg->listen[1].port == 0);
		CHECK(cfg->n_users == 3 && cfg->users[2].role == ROLE_ADMIN);
		CHECK(strcmp(cfg->users[2].secret_hash, HASH) == 0);
		config_free(cfg);
	}

	/* Explicit end markers and a leading document marker are fine. */
	cfg = EXPECT_OK("---\n" MIN "...\n");
	config_free(cfg);

	for (int level = 0; level < 4; level++) {
		static const char *const names[] = {"error", "warn", "info", "debug"};
		char doc[1024];
		snprintf(doc, sizeof doc, MIN "log: {level: %s}\n", names[level]);
		cfg = EXPECT_OK(doc);
		CHECK(cfg && (int)cfg->log_level == level);
		config_free(cfg);
	}
}

static void test_names(void)
{
	CHECK(strcmp(role_name(ROLE_NONE), "none") == 0);
	CHECK(strcmp(role_name(ROLE_AGENT), "agent") == 0);
	CHECK(strcmp(role_name(ROLE_SUPERVISOR), "supervisor") == 0);
	CHECK(strcmp(role_name(ROLE_ADMIN), "admin") == 0);
	CHECK(strcmp(role_name((enum role)42), "unknown") == 0);
	CHECK(strcmp(log_level_name(LOG_LEVEL_ERROR), "error") == 0);
	CHECK(strcmp(log_level_name(LOG_LEVEL_WARN), "warn") == 0);
	CHECK(strcmp(log_level_name(LOG_LEVEL_INFO), "info") == 0);
	CHECK(strcmp(log_level_name(LOG_LEVEL_DEBUG), "debug") == 0);
	CHECK(strcmp(log_level_name((enum log_level)42), "unknown") == 0);
	config_free(NULL);
}

static void test_structure_errors(void)
{
	EXPECT_ERR("", "t.yaml:1:1: ", "empty document");
	EXPECT_ERR("# only a comment\n\n", "t.yaml:1:1: ", "empty document");
	EXPECT_ERR("\n\n- a\n- b\n", "t.yaml:1:1: ", "must be a mapping of sections, got a sequence");
	EXPECT_ERR("hello\n", "t.yaml:1:1: ", "got a scalar");
	EXPECT_ERR(MIN "bogus: 1\n", "t.yaml:9:1: ", "unknown section 'bogus' (known: listen, redis, users");
	EXPECT_ERR(MIN "redis:\n  address: \"x:1\"\n", "t.yaml:9:1: ", "duplicate section 'redis'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: {address: \"127.0.0.1:6379\"}\n",
	           "t.yaml:1:1: ", "missing required section 'users'");
	EXPECT_ERR(USERS "redis: {address: \"127.0.0.1:6379\"}\n",
	           "t.yaml:1:1: ", "missing required section 'listen'");
	EXPECT_ERR("? [a, b]\n: c\n" MIN,
	           "t.yaml:1:3: ", "keys in the top level must be scalars, got a sequence");
	EXPECT_ERR(MIN "limits:\n", "t.yaml:9:8: ", "section 'limits' must be a mapping, got a scalar");
	EXPECT_ERR(MIN "log: [level]\n", "t.yaml:9:6: ", "section 'log' must be a mapping, got a sequence");
	EXPECT_ERR(MIN "---\nfoo: 1\n", "t.yaml:9:1: ", "only one YAML document is allowed");
	EXPECT_ERR(MIN "---\n[oops\n", "t.yaml:11:1: ", "YAML syntax error: did not find expected");
}

static void test_syntax_errors(void)
{
	EXPECT_ERR(
	    "listen:\n  - \"127.0.0.1:7300\n", "t.yaml:3:1: ",
	    "YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at 2:5)");
	EXPECT_ERR("listen:\n  - a\n bad: 1\n", "t.yaml:3:2: ",
	           "YAML syntax error: did not find expected key (while parsing a block mapping at 1:1)");
	EXPECT_ERR("redis: {address: x\n", "t.yaml:2:1: ", "YAML syntax error: ");
	EXPECT_ERR("listen: *nope\n", "t.yaml:1:9: ", "found undefined alias");
	EXPECT_ERR("a: b: c\n", "t.yaml:1:5: ", "mapping values are not allowed in this context");
	EXPECT_ERR("listen:\n\t- a\n", "t.yaml:2:1: ", "YAML syntax error: ");
	/* Invalid UTF-8 and raw control bytes are placed by byte offset. */
	EXPECT_ERR("listen:\n  - \"\xff\"\n",
	           "t.yaml:2:6: ", "invalid input: invalid leading UTF-8 octet (byte 0xff)");
	EXPECT_ERR_LEN("log:\n  level: in\0fo\n", 18, "t.yaml:2:12: ", "invalid input: control characters");
}

static void test_type_errors(void)
{
	EXPECT_ERR(MIN "limits:\n  max_line: {a: 1}\n",
	           "t.yaml:10:13: ", "'max_line' in section 'limits' must be a scalar, got a mapping");
	EXPECT_ERR(MIN "log:\n  level: [info]\n",
	           "t.yaml:10:10: ", "'level' in section 'log' must be a scalar, got a sequence");
	EXPECT_ERR(MIN "limits:\n  max_line: 12abc\n", "t.yaml:10:13: ",
	           "'max_line' in section 'limits' must be a decimal integer in 64..16777216, got '12abc'");
	EXPECT_ERR(MIN "limits:\n  max_line: -5\n",
	           "t.yaml:10:13: ", "must be a decimal integer in 64..16777216, got '-5'");
	EXPECT_ERR(MIN "limits:\n  max_line: +100\n", "t.yaml:10:13: ", "got '+100'");
	EXPECT_ERR(MIN "limits:\n  max_line: 0x100\n", "t.yaml:10:13: ", "got '0x100'");
	EXPECT_ERR(MIN "limits:\n  max_line: 0100\n", "t.yaml:10:13: ", "got '0100'");
	EXPECT_ERR(MIN "limits:\n  max_line: 1_000\n", "t.yaml:10:13: ", "got '1_000'");
	EXPECT_ERR(MIN "limits:\n  max_line: \" 100\"\n", "t.yaml:10:13: ", "got ' 100'");
	EXPECT_ERR(MIN "limits:\n  max_line: 1e5\n", "t.yaml:10:13: ", "got '1e5'");
	EXPECT_ERR(MIN "limits:\n  max_line:\n", "t.yaml:10:12: ", "decimal integer in 64..16777216, got ''");
	EXPECT_ERR(MIN "limits:\n  max_line: 99999999999999999999999\n",
	           "t.yaml:10:13: ", "is out of range: must be 64..16777216");
	EXPECT_ERR(MIN "limits:\n  max_line: 18446744073709551616\n", "t.yaml:10:13: ", "is out of range");
	EXPECT_ERR(
	    MIN "limits:\n  max_line: 18446744073709551615\n", "t.yaml:10:13: ",
	    "is out of range: must be 64..16777216 (bytes per request line), got 18446744073709551615");
	EXPECT_ERR(MIN "limits:\n  max_line: 63\n",
	           "t.yaml:10:13: ", "'max_line' in section 'limits' is out of range: must be 64..16777216");
	EXPECT_ERR(MIN "limits:\n  max_connections: 0\n", "t.yaml:10:20: ", "must be 1..1000000");
	EXPECT_ERR(MIN "limits:\n  max_connections: 1000001\n", "t.yaml:10:20: ", "got 1000001");
	EXPECT_ERR(MIN "limits:\n  max_unauthenticated: 0\n", "t.yaml:10:24: ", "must be 1..1000000");
	EXPECT_ERR(MIN "limits:\n  max_unauthenticated: 1000001\n", "t.yaml:10:24: ", "got 1000001");
	EXPECT_ERR(MIN "limits:\n  max_output: 4095\n", "t.yaml:10:15: ", "must be 4096..1073741824");
	EXPECT_ERR(MIN "limits:\n  max_pending: 65537\n", "t.yaml:10:16: ", "must be 1..65536");
	EXPECT_ERR(MIN "limits:\n  idle_timeout: 86401\n", "t.yaml:10:17: ", "must be 0..86400");
	EXPECT_ERR(MIN "limits:\n  unauth_timeout: 0\n", "t.yaml:10:19: ", "must be 1..3600");
	EXPECT_ERR(MIN "limits:\n  max_auth_failures: 101\n", "t.yaml:10:22: ", "must be 1..100");
	EXPECT_ERR(MIN "limits:\n  max_auth_inflight: 0\n", "t.yaml:10:22: ", "must be 1..10000");
	EXPECT_ERR(MIN "limits:\n  max_line_unauth: 65537\n", "t.yaml:10:20: ", "must be 64..65536");
	EXPECT_ERR(MIN "limits:\n  max_lines: 5\n",
	           "t.yaml:10:3: ", "unknown key 'max_lines' in section 'limits'");
	EXPECT_ERR(MIN "limits:\n  max_line: 100\n  max_line: 200\n",
	           "t.yaml:11:3: ", "duplicate key 'max_line' in section 'limits'");
	EXPECT_ERR(MIN "limits:\n  \"max_line\\0x\": 100\n", "t.yaml:10:3: ", "contains a NUL byte");
	EXPECT_ERR(MIN "limits:\n  ? {a: 1}\n  : 2\n",
	           "t.yaml:10:5: ", "keys in section 'limits' must be scalars");
	EXPECT_ERR(MIN "log:\n  level: verbose\n", "t.yaml:10:10: ",
	           "'level' in section 'log' must be one of error, warn, info, debug, got 'verbose'");
	EXPECT_ERR(MIN "log:\n  level: INFO\n", "t.yaml:10:10: ", "got 'INFO'");
	/* The echo of a bad value is short and stays on one line. */
	EXPECT_ERR(MIN "log:\n  level: \"a\\nb\\tc\"\n", "t.yaml:10:10: ", "got 'a?b?c'");
	EXPECT_ERR(MIN "log:\n  level: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	           "t.yaml:10:10: ", "got 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	/* Aliases cannot smuggle in a shape the schema does not allow. */
	EXPECT_ERR(MIN "limits: &a {max_line: *a}\n",
	           "t.yaml:9:9: ", "'max_line' in section 'limits' must be a scalar");
}

static void test_listen_errors(void)
{
	EXPECT_ERR("listen: \"127.0.0.1:7300\"\n", "t.yaml:1:9: ",
	           "section 'listen' must be a sequence of \"host:port\" strings, got a scalar");
	EXPECT_ERR("listen: []\n", "t.yaml:1:9: ", "section 'listen' must have 1..8 entries, got 0");
	EXPECT_ERR("listen:\n"
	           "  - \"127.0.0.1:1\"\n  - \"127.0.0.1:2\"\n  - \"127.0.0.1:3\"\n  - \"127.0.0.1:4\"\n"
	           "  - \"127.0.0.1:5\"\n  - \"127.0.0.1:6\"\n  - \"127.0.0.1:7\"\n  - \"127.0.0.1:8\"\n"
	           "  - \"127.0.0.1:9\"\n",
	           "t.yaml:10:5: ", "section 'listen' must have 1..8 entries, this is entry #9");
	EXPECT_ERR("listen:\n  - \"127.0.0.1\"\n",
	           "t.yaml:2:5: ", "listen entry #1 must be \"host:port\", got '127.0.0.1'");
	EXPECT_ERR("listen:\n  - \"127.0.0.1:70000\"\n",
	           "t.yaml:2:5: ", "must have a decimal port in 0..65535");
	EXPECT_ERR("listen:\n  - \"127.0.0.1:\"\n", "t.yaml:2:5: ", "must have a decimal port in 0..65535");
	EXPECT_ERR("listen:\n  - \"127.0.0.1:-1\"\n", "t.yaml:2:5: ", "must have a decimal port");
	EXPECT_ERR("listen:\n  - \":7300\"\n", "t.yaml:2:5: ", "must have a host of 1..255 characters");
	EXPECT_ERR("listen:\n  - \"::1:7300\"\n", "t.yaml:2:5: ", "must put an IPv6 address in brackets");
	EXPECT_ERR("listen:\n  - \"[::1]7300\"\n", "t.yaml:2:5: ", "must be \"[v6addr]:port\"");
	EXPECT_ERR("listen:\n  - \"[::1\"\n", "t.yaml:2:5: ", "must be \"[v6addr]:port\"");
	EXPECT_ERR("listen:\n  - \"[]:1\"\n", "t.yaml:2:5: ", "must have a host");
	EXPECT_ERR("listen:\n  - \"[1.2.3.4]:1\"\n", "t.yaml:2:5: ", "not an IPv6 address");
	EXPECT_ERR("listen:\n  - \"bad host:1\"\n", "t.yaml:2:5: ", "invalid character in its host");
	EXPECT_ERR("listen:\n  - [\"127.0.0.1:1\"]\n",
	           "t.yaml:2:5: ", "listen entry #1 must be a scalar, got a sequence");
	EXPECT_ERR("listen:\n  - \"127.0.0.1:1\"\n  - \"127.0.0.1:1\"\n",
	           "t.yaml:3:5: ", "listen entry #2 repeats listen entry #1");
	EXPECT_ERR("listen: &a [*a]\n", "t.yaml:1:9: ", "listen entry #1 must be a scalar, got a sequence");
}

static void test_redis_errors(void)
{
	char doc[1024], path[200];

	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  key_prefix: \"x:\"\n" USERS, "t.yaml:3:3: ",
	           "section 'redis' needs 'address' (one Redis) or 'sentinels' and 'master_name'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: {}\n" USERS, "t.yaml:2:8: ",
	           "section 'redis' needs 'address' (one Redis) or 'sentinels' and 'master_name'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: {address: \"\"}\n" USERS,
	           "t.yaml:2:8: ", "section 'redis' needs 'address' (one Redis) or 'sentinels'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: \"127.0.0.1:6379\"\n" USERS,
	           "t.yaml:2:8: ", "section 'redis' must be a mapping, got a scalar");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: /run/redis.sock\n" USERS, "t.yaml:3:12: ",
	           "'address' in section 'redis' must be \"host:port\", got '/run/redis.sock' (or "
	           "\"unix:/path/to/redis.sock\")");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"127.0.0.1:0\"\n" USERS,
	           "t.yaml:3:12: ", "must have a decimal port in 1..65535");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"unix:\"\n" USERS,
	           "t.yaml:3:12: ", "must have a unix socket path of 1..107 bytes, got 0");
	memset(path, 'p', sizeof path);
	path[0] = '/';
	path[108] = '\0';
	snprintf(doc, sizeof doc, "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"unix:%s\"\n" USERS, path);
	EXPECT_ERR(doc, "t.yaml:3:12: ", "must have a unix socket path of 1..107 bytes, got 108");
	path[107] = '\0';
	snprintf(doc, sizeof doc, "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"unix:%s\"\n" USERS, path);
	struct config *cfg = EXPECT_OK(doc);
	CHECK(cfg && strlen(cfg->redis.unix_path) == 107);
	config_free(cfg);
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"unix:/a\\tb\"\n" USERS,
	           "t.yaml:3:12: ", "control character");

	EXPECT_ERR(MIN "redis:\n", "t.yaml:9:1: ", "duplicate section 'redis'");
	EXPECT_ERR(
	    "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  key_prefix: \"hot line\"\n" USERS,
	    "t.yaml:4:15: ",
	    "'key_prefix' in section 'redis' may only contain letters, digits and '_:.-', got 'hot line'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  key_prefix: \"\"\n" USERS,
	           "t.yaml:4:15: ", "must be 1..63 characters long, got 0");
	EXPECT_ERR(
	    "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n"
	    "  key_prefix: \"0123456789012345678901234567890123456789012345678901234567890123\"\n" USERS,
	    "t.yaml:4:15: ", "must be 1..63 characters long, got 64");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  key_prefix: \"ab\\0c\"\n" USERS,
	           "t.yaml:4:15: ", "'key_prefix' in section 'redis' contains a NUL byte");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  connect_timeout_ms: 9\n" USERS,
	           "t.yaml:4:23: ", "must be 10..600000");
	EXPECT_ERR(
	    "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  command_timeout_ms: 600001\n" USERS,
	    "t.yaml:4:23: ", "must be 10..600000");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  passwd: x\n" USERS,
	           "t.yaml:4:3: ", "unknown key 'passwd' in section 'redis'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n"
	           "  reconnect_min_ms: 1000\n  reconnect_max_ms: 999\n" USERS,
	           "t.yaml:5:21: ",
	           "'reconnect_max_ms' (999) in section 'redis' must be >= 'reconnect_min_ms' (1000)");
	/* Only the minimum given: blame it, since the default maximum is fine on its own. */
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  reconnect_min_ms: 6000\n" USERS,
	           "t.yaml:4:21: ",
	           "'reconnect_max_ms' (5000) in section 'redis' must be >= 'reconnect_min_ms' (6000)");
}

#define SENTINEL_DOC(body) "listen: [\"127.0.0.1:1\"]\nredis:\n" body USERS

static void test_sentinels(void)
{
	struct config *cfg;

	cfg = EXPECT_OK(
	    SENTINEL_DOC("  sentinels: [\"10.0.0.1:26379\", \"[::1]:26380\", \"s3.example:26381\"]\n"
	                 "  master_name: \"hot-line_1.a\"\n"));
	if (cfg) {
		CHECK(cfg->redis.n_sentinels == 3);
		CHECK(strcmp(cfg->redis.sentinels[0].host, "10.0.0.1") == 0 &&
		      cfg->redis.sentinels[0].port == 26379);
		CHECK(strcmp(cfg->redis.sentinels[1].host, "::1") == 0 &&
		      cfg->redis.sentinels[1].port == 26380);
		CHECK(strcmp(cfg->redis.sentinels[2].host, "s3.example") == 0 &&
		      cfg->redis.sentinels[2].port == 26381);
		CHECK(strcmp(cfg->redis.master_name, "hot-line_1.a") == 0);
		CHECK(cfg->redis.host[0] == '\0' && cfg->redis.unix_path[0] == '\0' && cfg->redis.port == 0);
		/* wait defaults: off, 100 ms, complaints */
		CHECK(cfg->redis.wait.replicas == 0 && cfg->redis.wait.timeout_ms == 100);
		CHECK(cfg->redis.wait.n_streams == 1 && cfg->redis.wait.streams[0] == 1);
		CHECK(!config_redis_waits_for(&cfg->redis, 0) && !config_redis_waits_for(&cfg->redis, 1));
		config_free(cfg);
	}
	/* The order is kept: it is the order the Sentinels are asked in. */
	cfg = EXPECT_OK(SENTINEL_DOC("  sentinels:\n    - \"b:2\"\n    - \"a:1\"\n  master_name: m\n"));
	if (cfg) {
		CHECK(cfg->redis.n_sentinels == 2 && strcmp(cfg->redis.sentinels[0].host, "b") == 0);
		config_free(cfg);
	}
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  sentinels: [\"s:1\"]\n  master_name: m\n"),
	           "t.yaml:4:14: ",
	           "section 'redis' takes 'address' (one Redis) or 'sentinels' (Redis Sentinel), not both");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: [\"s:1\"]\n"),
	           "t.yaml:3:14: ", "section 'redis' needs 'master_name' with 'sentinels'");
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  master_name: m\n"),
	           "t.yaml:4:16: ", "'master_name' in section 'redis' is only used with 'sentinels'");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: []\n  master_name: m\n"),
	           "t.yaml:3:3: ", "section 'redis' needs 'address' (one Redis) or 'sentinels'");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: [\"s:1\", \"s:1\"]\n  master_name: m\n"),
	           "t.yaml:3:22: ", "entry #2 of 'sentinels' in section 'redis' repeats entry #1");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: [\"s\"]\n  master_name: m\n"), "t.yaml:3:15: ",
	           "entry #1 of 'sentinels' in section 'redis' must be \"host:port\", got 's'");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: [\"s:0\"]\n  master_name: m\n"),
	           "t.yaml:3:15: ", "must have a decimal port in 1..65535");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: \"s:1\"\n  master_name: m\n"),
	           "t.yaml:3:14: ", "'sentinels' in section 'redis' must be a sequence, got a scalar");
	EXPECT_ERR(SENTINEL_DOC("  sentinels: [\"s:1\"]\n  master_name: \"my master\"\n"), "t.yaml:4:16: ",
	           "'master_name' in section 'redis' may only contain letters, digits and '_.-'");
	{
		char doc[2048];
		size_t n = (size_t)snprintf(
		    doc, sizeof doc, "listen: [\"127.0.0.1:1\"]\nredis:\n  master_name: m\n  sentinels:\n");
		for (int i = 0; i < CONFIG_MAX_SENTINELS + 1; i++)
			n += (size_t)snprintf(doc + n, sizeof doc - n, "    - \"s%d:1\"\n", i);
		snprintf(doc + n, sizeof doc - n, USERS);
		EXPECT_ERR(doc, "t.yaml:21:7: ",
		           "'sentinels' in section 'redis' must have 0..16 entries, this is entry #17");
	}
}

static void test_wait(void)
{
	struct config *cfg;

	cfg = EXPECT_OK(SENTINEL_DOC(
	    "  address: \"h:1\"\n  wait: {replicas: 2, timeout_ms: 250, streams: [calls, complaints]}\n"));
	if (cfg) {
		CHECK(cfg->redis.wait.replicas == 2 && cfg->redis.wait.timeout_ms == 250);
		CHECK(config_redis_waits_for(&cfg->redis, 0) && config_redis_waits_for(&cfg->redis, 1));
		config_free(cfg);
	}
	cfg = EXPECT_OK(SENTINEL_DOC("  address: \"h:1\"\n  wait:\n    replicas: 1\n"));
	if (cfg) {
		CHECK(!config_redis_waits_for(&cfg->redis, 0) && config_redis_waits_for(&cfg->redis, 1));
		config_free(cfg);
	}
	/* Half the command timeout at most: a WAIT holds the link meanwhile. */
	cfg = EXPECT_OK(SENTINEL_DOC(
	    "  address: \"h:1\"\n  command_timeout_ms: 1000\n  wait: {replicas: 1, timeout_ms: 500}\n"));
	config_free(cfg);
	EXPECT_ERR(
	    SENTINEL_DOC(
	        "  address: \"h:1\"\n  command_timeout_ms: 1000\n  wait: {replicas: 1, timeout_ms: 501}\n"),
	    "t.yaml:5:35: ",
	    "'timeout_ms' (501) in 'wait' in section 'redis' must be at most half of 'command_timeout_ms' "
	    "(1000)");
	/* Without replicas the timeout does not matter. */
	cfg = EXPECT_OK(
	    SENTINEL_DOC("  address: \"h:1\"\n  command_timeout_ms: 1000\n  wait: {timeout_ms: 9000}\n"));
	config_free(cfg);
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  wait: {replicas: 1, streams: [audit]}\n"),
	           "t.yaml:4:33: ",
	           "entry #1 of 'streams' in 'wait' in section 'redis' must be one of calls, complaints, got "
	           "'audit'");
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  wait: {replicas: 1, streams: []}\n"),
	           "t.yaml:4:32: ", "'streams' in 'wait' in section 'redis' must have 1..2 entries, got 0");
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  wait: {replicas: 101}\n"), "t.yaml:4:20: ",
	           "'replicas' in 'wait' in section 'redis' is out of range: must be 0..100");
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  wait: {timeout_ms: 0}\n"),
	           "t.yaml:4:22: ", "must be 1..60000");
	EXPECT_ERR(SENTINEL_DOC("  address: \"h:1\"\n  wait: {replica: 1}\n"),
	           "t.yaml:4:10: ", "unknown key 'replica' in 'wait' in section 'redis'");
}

/* A file with this content and mode in a private directory; its path in path. */
static bool write_file(char *dir, char *path, size_t pathlen, const char *name, const char *content, mode_t mode)
{
	snprintf(path, pathlen, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	fputs(content, f);
	fclose(f);
	return chmod(path, mode) == 0;
}

static void expect_password_err(const char *path, const char *substr, int line)
{
	char doc[1024];
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  password_file: \"%s\"\n" USERS, path);
	expect_err_at(doc, strlen(doc), "t.yaml:4:18: ", substr, line);
}

static void test_redis_login(void)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[256], doc[1024], long_secret[SECRET_FILE_MAX + 2];
	struct config *cfg;

	if (!check_report(mkdtemp(dir) != NULL, __FILE__, __LINE__, "mkdtemp failed"))
		return;
	/* The password comes from the file's first line, CR LF and later lines dropped. */
	CHECK(write_file(dir, path, sizeof path, "pw", "s3cret pass\r\nsecond line\n", 0600));
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  user: hotlined\n"
	         "  password_file: \"%s\"\n" USERS, path);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && strcmp(cfg->redis.user, "hotlined") == 0);
	CHECK(cfg && strcmp(cfg->redis.password, "s3cret pass") == 0);
	CHECK(cfg && strcmp(cfg->redis.password_file, path) == 0);
	config_free(cfg);
	/* Group access is fine (root:hotline 0640); a password alone logs in as the default user. */
	CHECK(chmod(path, 0640) == 0);
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  password_file: \"%s\"\n" USERS, path);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && cfg->redis.user[0] == '\0' && strcmp(cfg->redis.password, "s3cret pass") == 0);
	config_free(cfg);

	/* Others may not read it; the message says how to fix it. */
	CHECK(chmod(path, 0644) == 0);
	expect_password_err(path, "are too open: a file holding a secret must not be accessible by others (chmod 640",
	                    __LINE__);
	CHECK(chmod(path, 0602) == 0);
	expect_password_err(path, "are too open", __LINE__);
	CHECK(write_file(dir, path, sizeof path, "empty", "", 0600));
	expect_password_err(path, "'password_file' in section 'redis' the first line of", __LINE__);
	CHECK(write_file(dir, path, sizeof path, "blank", "\nsecret\n", 0600));
	expect_password_err(path, "is empty", __LINE__);
	CHECK(write_file(dir, path, sizeof path, "ctl", "a\tb\n", 0600));
	expect_password_err(path, "contains a control character", __LINE__);
	memset(long_secret, 'x', sizeof long_secret - 1);
	long_secret[sizeof long_secret - 1] = '\0';
	CHECK(write_file(dir, path, sizeof path, "long", long_secret, 0600));
	expect_password_err(path, "is too long: at most 1024 bytes", __LINE__);
	long_secret[SECRET_FILE_MAX] = '\0';
	CHECK(write_file(dir, path, sizeof path, "max", long_secret, 0600));
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  password_file: \"%s\"\n" USERS, path);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && strlen(cfg->redis.password) == SECRET_FILE_MAX);
	config_free(cfg);
	snprintf(path, sizeof path, "%s/missing", dir);
	expect_password_err(path, "cannot open", __LINE__);
	expect_password_err(dir, "is not a regular file", __LINE__);
	expect_password_err("/dev/null", "is not a regular file", __LINE__);

	/* A user needs a password; a password is never taken from the YAML (and never quoted). */
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  user: hotlined\n" USERS,
	           "t.yaml:4:9: ", "'user' in section 'redis' needs 'password_file'");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  password: hunter2\n" USERS,
	           "t.yaml:4:13: ", "'password' in section 'redis' is refused: plaintext passwords are not allowed");
	char err[512];
	cfg = parse("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  password: hunter2\n" USERS, err,
	            sizeof err);
	CHECK(cfg == NULL && strstr(err, "hunter2") == NULL);
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  user: \"a b\"\n" USERS,
	           "t.yaml:4:9: ", "'user' in section 'redis' may only contain letters, digits and '_.@-'");

	/* The Sentinels' login, the same way, and only with sentinels. */
	CHECK(write_file(dir, path, sizeof path, "spw", "sentinel secret\n", 0600));
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  sentinels: [\"s:1\"]\n  master_name: m\n"
	         "  sentinel_user: watcher\n  sentinel_password_file: \"%s\"\n" USERS, path);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && strcmp(cfg->redis.sentinel_user, "watcher") == 0);
	CHECK(cfg && strcmp(cfg->redis.sentinel_password, "sentinel secret") == 0);
	CHECK(cfg && cfg->redis.password[0] == '\0');
	config_free(cfg);
	CHECK(chmod(path, 0604) == 0);
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  sentinels: [\"s:1\"]\n  master_name: m\n"
	         "  sentinel_password_file: \"%s\"\n" USERS, path);
	expect_err_at(doc, strlen(doc), "t.yaml:5:27: ", "are too open", __LINE__);
	CHECK(chmod(path, 0600) == 0);
	snprintf(doc, sizeof doc,
	         "listen: [\"127.0.0.1:1\"]\nredis:\n  address: \"h:1\"\n  sentinel_password_file: \"%s\"\n" USERS,
	         path);
	expect_err_at(doc, strlen(doc), "t.yaml:4:27: ",
	              "'sentinel_password_file' in section 'redis' needs 'sentinels'", __LINE__);
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis:\n  sentinels: [\"s:1\"]\n  master_name: m\n"
	           "  sentinel_user: watcher\n" USERS,
	           "t.yaml:5:18: ", "'sentinel_user' in section 'redis' needs 'sentinel_password_file'");
	unlink(path);

	snprintf(path, sizeof path, "%s/pw", dir);
	unlink(path);
	static const char *const names[] = {"empty", "blank", "ctl", "long", "max"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	CHECK(rmdir(dir) == 0);
}

static void test_auth_throttle_keys(void)
{
	struct config *cfg = EXPECT_OK(MIN "limits:\n  max_auth_failures_per_addr: 0\n  auth_failure_window: 86400\n");
	CHECK(cfg && cfg->limits.max_auth_failures_per_addr == 0 && cfg->limits.auth_failure_window_s == 86400);
	config_free(cfg);
	cfg = EXPECT_OK(MIN "limits: {max_auth_failures_per_addr: 1000000, auth_failure_window: 1}\n");
	CHECK(cfg && cfg->limits.max_auth_failures_per_addr == 1000000 && cfg->limits.auth_failure_window_s == 1);
	config_free(cfg);
	EXPECT_ERR(MIN "limits:\n  auth_failure_window: 0\n", "t.yaml:10:24: ",
	           "'auth_failure_window' in section 'limits' is out of range: must be 1..86400");
	EXPECT_ERR(MIN "limits:\n  max_auth_failures_per_addr: 1000001\n", "t.yaml:10:31: ",
	           "'max_auth_failures_per_addr' in section 'limits' is out of range: must be 0..1000000");
	EXPECT_ERR(MIN "limits:\n  max_auth_failures_per_addr: -1\n", "t.yaml:10:31: ",
	           "must be a decimal integer in 0..1000000, got '-1'");
}

static void test_limits_cross(void)
{
	EXPECT_ERR(MIN "limits:\n  max_line: 1000\n  max_line_unauth: 2000\n", "t.yaml:11:20: ",
	           "'max_line_unauth' (2000) in section 'limits' must be <= 'max_line' (1000)");
	EXPECT_ERR(MIN "limits:\n  max_line: 512\n", "t.yaml:10:13: ",
	           "'max_line_unauth' (1024) in section 'limits' must be <= 'max_line' (512)");
	struct config *cfg = EXPECT_OK(MIN "limits:\n  max_line: 512\n  max_line_unauth: 512\n");
	CHECK(cfg && cfg->limits.max_line == 512 && cfg->limits.max_line_unauth == 512);
	config_free(cfg);
}

static void test_user_errors(void)
{
	char err[512];

	EXPECT_ERR(NO_USERS "  - name: alice\n    role: agent\n    secret: hunter2\n", "t.yaml:8:13: ",
	           "'secret' in users entry #1 is not an argon2id hash: plaintext secrets are refused");
	EXPECT_ERR(NO_USERS "  - name: alice\n    role: agent\n    secret: hunter2\n",
	           "t.yaml:", "`hotline passwd`");
	CHECK(!parse(NO_USERS "  - name: alice\n    role: agent\n    secret: hunter2\n", err, sizeof err));
	CHECK(strstr(err, "hunter2") == NULL);
	CHECK(!parse(NO_USERS
	             "  - {name: a, role: agent, secret: \"$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA\"}\n",
	             err, sizeof err));
	CHECK(strstr(err, "plaintext secrets are refused") && !strstr(err, "c2FsdA"));
	CHECK(
	    !parse(NO_USERS "  - {name: a, role: agent, secret: \"$argon2id$ hunter2\"}\n", err, sizeof err));
	CHECK(strstr(err, "t.yaml:6:36: ") == err && !strstr(err, "hunter2"));

	char doc[2048], longhash[300];
	memset(longhash, 'A', sizeof longhash);
	memcpy(longhash, "$argon2id$", 10);
	longhash[256] = '\0';
	snprintf(doc, sizeof doc, NO_USERS "  - {name: a, role: agent, secret: \"%s\"}\n", longhash);
	EXPECT_ERR(doc,
	           "t.yaml:6:36: ", "'secret' in users entry #1 is too long: must be shorter than 256 bytes");
	CHECK(!parse(doc, err, sizeof err) && !strstr(err, "AAAA"));
	longhash[255] = '\0';
	snprintf(doc, sizeof doc, NO_USERS "  - {name: a, role: agent, secret: \"%s\"}\n", longhash);
	struct config *cfg = EXPECT_OK(doc);
	CHECK(cfg && strlen(cfg->users[0].secret_hash) == 255);
	config_free(cfg);

	EXPECT_ERR(NO_USERS "  - name: alice\n    role: boss\n    secret: \"" HASH "\"\n", "t.yaml:7:11: ",
	           "'role' in users entry #1 must be one of agent, supervisor, admin, replay, got 'boss'");
	EXPECT_ERR(NO_USERS "  - {name: a, role: none, secret: \"" HASH "\"}\n",
	           "t.yaml:6:21: ", "got 'none'");
	EXPECT_ERR(
	    MIN "  - name: bob\n    role: agent\n    secret: \"" HASH "\"\n"
	        "  - name: alice\n    role: admin\n    secret: \"" HASH "\"\n",
	    "t.yaml:12:11: ", "duplicate user name 'alice' in users entry #3, first used in users entry #1");
	EXPECT_ERR(NO_USERS "  - {name: \"al ice\", role: agent, secret: \"" HASH "\"}\n", "t.yaml:6:12: ",
	           "'name' in users entry #1 may only contain letters, digits and '_.@-', got 'al ice'");
	EXPECT_ERR(NO_USERS "  - {name: \"\", role: agent, secret: \"" HASH "\"}\n",
	           "t.yaml:6:12: ", "must be 1..64 characters long, got 0");
	EXPECT_ERR(
	    NO_USERS
	    "  - {name: u1234567890123456789012345678901234567890123456789012345678901234, role: agent, "
	    "secret: \"" HASH "\"}\n",
	    "t.yaml:6:12: ", "must be 1..64 characters long, got 65");
	EXPECT_ERR(MIN "  - name: bob\n    role: agent\n",
	           "t.yaml:9:5: ", "missing required key 'secret' in users entry #2");
	EXPECT_ERR(NO_USERS "  - {role: agent, secret: \"" HASH "\"}\n",
	           "t.yaml:6:5: ", "missing required key 'name' in users entry #1");
	EXPECT_ERR(NO_USERS "  - {name: a, secret: \"" HASH "\"}\n",
	           "t.yaml:6:5: ", "missing required key 'role'");
	EXPECT_ERR(NO_USERS "  - alice\n", "t.yaml:6:5: ",
	           "users entry #1 must be a mapping with name, role and secret, got a scalar");
	EXPECT_ERR(NO_USERS "  - {name: a, role: agent, secret: \"" HASH "\", password: hunter2}\n",
	           "t.yaml:", "unknown key 'password' in users entry #1");
	CHECK(!parse(NO_USERS "  - {name: a, role: agent, secret: \"" HASH "\", password: hunter2}\n", err,
	             sizeof err));
	CHECK(!strstr(err, "hunter2"));
	EXPECT_ERR(NO_USERS "  - {name: a, role: agent, role: admin, secret: \"" HASH "\"}\n",
	           "t.yaml:6:28: ", "duplicate key 'role' in users entry #1");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: {address: \"h:1\"}\nusers: []\n",
	           "t.yaml:3:8: ", "section 'users' must have 1..4096 entries, got 0");
	EXPECT_ERR("listen: [\"127.0.0.1:1\"]\nredis: {address: \"h:1\"}\nusers: {name: a}\n",
	           "t.yaml:3:8: ", "section 'users' must be a sequence of user mappings, got a mapping");
	EXPECT_ERR(NO_USERS "  - &u {name: a, role: agent, secret: \"" HASH "\"}\n  - *u\n",
	           "t.yaml:6:15: ", "duplicate user name 'a' in users entry #2");
}

static void test_log_rules(void)
{
	struct config *cfg;

	/* A list from the file replaces the default list whole. */
	cfg = EXPECT_OK(MIN "calls:\n  dispositions: [done, \"call-back.later_2\"]\n"
	                    "complaints:\n  categories:\n    - other\n  reopen_window_h: 0\n"
	                    "  escalation_pct: 100\n  business_hours: true\n"
	                    "idempotency: {ttl_h: 720}\n");
	if (cfg) {
		static const char *const d[] = {"done", "call-back.later_2"}, *const c[] = {"other"};
		CHECK(has_codes(cfg->log_rules.dispositions, cfg->log_rules.n_dispositions, d, 2));
		CHECK(cfg->log_rules.dispositions[2][0] == '\0');
		CHECK(has_codes(cfg->log_rules.categories, cfg->log_rules.n_categories, c, 1));
		CHECK(cfg->log_rules.reopen_window_h == 0);
		CHECK(cfg->sla.escalation_pct == 100);
		CHECK(cfg->sla.calendar.business_hours);
		CHECK(cfg->log_rules.idempotency_ttl_h == 720);
		config_free(cfg);
	}
	cfg = EXPECT_OK(MIN "complaints: {business_hours: false, escalation_pct: 1, reopen_window_h: 8760}\n"
	                    "idempotency: {ttl_h: 1}\n");
	CHECK(cfg && !cfg->sla.calendar.business_hours && cfg->sla.escalation_pct == 1);
	CHECK(cfg && cfg->log_rules.reopen_window_h == 8760 && cfg->log_rules.idempotency_ttl_h == 1);
	config_free(cfg);

	/* 32 codes of 64 characters fit; a 33rd or a 65th character does not. */
	char doc[8192], *p = doc;
	p += sprintf(p, MIN "calls:\n  dispositions:\n");
	for (int i = 0; i < 32; i++)
		p += sprintf(p, "    - c%02dx%s\n", i,
		             "123456789_123456789_123456789_123456789_123456789_123456789_");
	cfg = EXPECT_OK(doc);
	CHECK(cfg && cfg->log_rules.n_dispositions == 32 && strlen(cfg->log_rules.dispositions[31]) == 64);
	config_free(cfg);
	sprintf(p, "    - extra\n");
	EXPECT_ERR(doc, "t.yaml:43:7: ",
	           "'dispositions' in section 'calls' must have 1..32 entries, this is entry #33");
	EXPECT_ERR(
	    MIN
	    "calls:\n  dispositions: [a123456789_123456789_123456789_123456789_123456789_123456789_1234]\n",
	    "t.yaml:10:18: ",
	    "entry #1 of 'dispositions' in section 'calls' must be 1..64 characters long, got 65");

	EXPECT_ERR(
	    MIN "calls:\n  dispositions: [resolved, \"no action\"]\n", "t.yaml:10:28: ",
	    "entry #2 of 'dispositions' in section 'calls' may only contain letters, digits and '_.-', "
	    "got 'no action'");
	EXPECT_ERR(MIN "calls:\n  dispositions: [\"\"]\n",
	           "t.yaml:10:18: ", "must be 1..64 characters long, got 0");
	EXPECT_ERR(MIN "complaints:\n  categories:\n    - billing\n    - quality\n    - billing\n",
	           "t.yaml:13:7: ", "entry #3 of 'categories' in section 'complaints' repeats entry #1");
	EXPECT_ERR(MIN "complaints:\n  categories: [a, b, \"c\", b]\n",
	           "t.yaml:10:27: ", "entry #4 of 'categories' in section 'complaints' repeats entry #2");
	EXPECT_ERR(MIN "calls: {dispositions: resolved}\n",
	           "t.yaml:9:23: ", "'dispositions' in section 'calls' must be a sequence, got a scalar");
	EXPECT_ERR(MIN "calls: {dispositions: []}\n",
	           "t.yaml:9:23: ", "'dispositions' in section 'calls' must have 1..32 entries, got 0");
	EXPECT_ERR(MIN "calls:\n  dispositions:\n", "t.yaml:10:16: ", "must be a sequence, got a scalar");
	EXPECT_ERR(MIN "calls: {dispositions: [{a: 1}]}\n", "t.yaml:9:24: ",
	           "entry #1 of 'dispositions' in section 'calls' must be a scalar, got a mapping");
	EXPECT_ERR(MIN "calls: {disposition: [a]}\n",
	           "t.yaml:9:9: ", "unknown key 'disposition' in section 'calls'");
	EXPECT_ERR(MIN "calls: [a]\n", "t.yaml:9:8: ", "section 'calls' must be a mapping, got a sequence");
	EXPECT_ERR(MIN "complaints: {categories: [a], categories: [b]}\n",
	           "t.yaml:9:31: ", "duplicate key 'categories' in section 'complaints'");
	EXPECT_ERR(MIN "complaints:\n  reopen_window_h: 8761\n", "t.yaml:10:20: ",
	           "'reopen_window_h' in section 'complaints' is out of range: must be 0..8760");
	EXPECT_ERR(MIN "complaints:\n  escalation_pct: 0\n", "t.yaml:10:19: ", "must be 1..100");
	EXPECT_ERR(MIN "complaints:\n  escalation_pct: 101\n", "t.yaml:10:19: ", "must be 1..100");
	EXPECT_ERR(MIN "idempotency:\n  ttl_h: 0\n",
	           "t.yaml:10:10: ", "'ttl_h' in section 'idempotency' is out of range: must be 1..720");
	EXPECT_ERR(MIN "idempotency:\n  ttl_h: 721\n", "t.yaml:10:10: ", "must be 1..720");
	EXPECT_ERR(MIN "idempotency:\n  ttl: 24\n",
	           "t.yaml:10:3: ", "unknown key 'ttl' in section 'idempotency'");

	/* Booleans are true or false, nothing YAML 1.1 would also have taken. */
	static const char *const not_bools[] = {"yes", "no", "on", "True", "FALSE", "1", "\"\""};
	for (size_t i = 0; i < sizeof not_bools / sizeof not_bools[0]; i++) {
		snprintf(doc, sizeof doc, MIN "complaints:\n  business_hours: %s\n", not_bools[i]);
		EXPECT_ERR(
		    doc, "t.yaml:10:19: ", "'business_hours' in section 'complaints' must be true or false");
	}
	EXPECT_ERR(MIN "complaints:\n  business_hours: yes\n", "t.yaml:10:19: ", "got 'yes'");
}

static void test_sla(void)
{
	struct config *cfg;

	/* Cells left out keep their defaults. */
	cfg = EXPECT_OK(MIN "sla:\n  critical: {platinum: 1, gold: 1}\n  low:\n    lead: 525600\n");
	if (cfg) {
		CHECK(cfg->sla.minutes[SEV_CRITICAL][TIER_PLATINUM] == 1);
		CHECK(cfg->sla.minutes[SEV_CRITICAL][TIER_GOLD] == 1);
		CHECK(cfg->sla.minutes[SEV_CRITICAL][TIER_IRON] == 240);
		CHECK(cfg->sla.minutes[SEV_LOW][TIER_LEAD] == 525600);
		CHECK(cfg->sla.minutes[SEV_LOW][TIER_IRON] == 4320);
		CHECK(cfg->sla.minutes[SEV_HIGH][TIER_GOLD] == 480);
		config_free(cfg);
	}
	cfg = EXPECT_OK(MIN "sla: {high: {}}\n");
	if (cfg)
		check_sla_defaults(&cfg->sla);
	config_free(cfg);

	EXPECT_ERR(MIN "sla:\n  high:\n    gold: 0\n",
	           "t.yaml:11:11: ", "'gold' in 'high' in section 'sla' is out of range: must be 1..525600");
	EXPECT_ERR(MIN "sla:\n  low: {lead: 525601}\n", "t.yaml:10:15: ", "must be 1..525600");
	EXPECT_ERR(MIN "sla:\n  low: {lead: -1}\n",
	           "t.yaml:10:15: ", "must be a decimal integer in 1..525600");
	/* Ordering: the cell given in the file is blamed. */
	EXPECT_ERR(MIN "sla:\n  critical: {platinum: 130}\n", "t.yaml:10:24: ",
	           "'platinum' (130) in 'critical' in section 'sla' must be <= 'gold' (120)");
	EXPECT_ERR(MIN "sla:\n  medium: {gold: 400}\n",
	           "t.yaml:10:18: ", "'platinum' (480) in 'medium' in section 'sla' must be <= 'gold' (400)");
	EXPECT_ERR(MIN "sla:\n  low:\n    iron: 20000\n",
	           "t.yaml:11:11: ", "'iron' (20000) in 'low' in section 'sla' must be <= 'lead' (10080)");
	EXPECT_ERR(MIN "sla:\n  high: {platinum: 10, gold: 20, iron: 40, lead: 30}\n",
	           "t.yaml:10:40: ", "'iron' (40) in 'high' in section 'sla' must be <= 'lead' (30)");
	/* Equal is allowed. */
	cfg = EXPECT_OK(MIN "sla:\n  high: {platinum: 30, gold: 30, iron: 30, lead: 30}\n");
	config_free(cfg);

	EXPECT_ERR(MIN "sla: {high: 5}\n",
	           "t.yaml:9:13: ", "'high' in section 'sla' must be a mapping, got a scalar");
	EXPECT_ERR(MIN "sla: {urgent: {}}\n", "t.yaml:9:7: ", "unknown key 'urgent' in section 'sla'");
	EXPECT_ERR(MIN "sla: {high: {golden: 1}}\n",
	           "t.yaml:9:14: ", "unknown key 'golden' in 'high' in section 'sla'");
	EXPECT_ERR(MIN "sla: {high: {gold: 1, gold: 2}}\n",
	           "t.yaml:9:23: ", "duplicate key 'gold' in 'high' in section 'sla'");
	EXPECT_ERR(MIN "sla: {high: {gold: [1]}}\n",
	           "t.yaml:9:20: ", "'gold' in 'high' in section 'sla' must be a scalar, got a sequence");
	EXPECT_ERR(MIN "sla: &a {high: *a}\n",
	           "t.yaml:9:10: ", "unknown key 'high' in 'high' in section 'sla'");
}

static void test_calendar(void)
{
	struct config *cfg;
	char doc[16384], *p;

	cfg = EXPECT_OK(MIN "calendar:\n  timezone: Asia/Shanghai\n"
	                    "  hours: {mon: \"00:00-24:00\", sat: \"10:30-12:45\", fri: closed}\n"
	                    "  holidays: [\"2026-10-01\", \"2024-02-29\", \"2026-01-01\", \"2000-02-29\"]\n");
	if (cfg) {
		const struct sla_calendar *cal = &cfg->sla.calendar;
		CHECK(strcmp(cal->timezone, "Asia/Shanghai") == 0);
		CHECK(cal->day[1].open_min == 0 && cal->day[1].close_min == 1440);
		CHECK(cal->day[6].open_min == 630 && cal->day[6].close_min == 765);
		CHECK(cal->day[5].open_min == cal->day[5].close_min);
		CHECK(cal->day[2].open_min == 540 && cal->day[2].close_min == 1080);
		CHECK(cal->day[0].open_min == cal->day[0].close_min);
		/* Stored sorted, for binary search. */
		CHECK(cal->n_holidays == 4);
		CHECK(cal->holidays[0] == 20000229 && cal->holidays[1] == 20240229);
		CHECK(cal->holidays[2] == 20260101 && cal->holidays[3] == 20261001);
		config_free(cfg);
	}
	/* Loading validates the zone but leaves the process's TZ alone. */
	CHECK(getenv("TZ") == NULL || strcmp(getenv("TZ"), "Asia/Shanghai") != 0);

	p = doc + sprintf(doc, MIN "calendar:\n  holidays:\n");
	for (int i = 0; i < SLA_MAX_HOLIDAYS; i++)
		p += sprintf(p, "    - \"%04d-%02d-%02d\"\n", 2030 + i / 336, 1 + i / 28 % 12, 1 + i % 28);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && cfg->sla.calendar.n_holidays == SLA_MAX_HOLIDAYS);
	for (size_t i = 1; cfg && i < cfg->sla.calendar.n_holidays; i++)
		CHECK(cfg->sla.calendar.holidays[i - 1] < cfg->sla.calendar.holidays[i]);
	config_free(cfg);
	sprintf(p, "    - \"2040-01-01\"\n");
	EXPECT_ERR(doc, "t.yaml:523:7: ",
	           "'holidays' in section 'calendar' must have 0..512 entries, this is entry #513");

	/* Hours. */
	static const char *const bad_hours[] = {
	    "9:00-18:00",   "09:00-18:0",  "09:00 - 18:00", "09:60-18:00", "25:00-26:00",
	    "09:00-24:01",  "09.00-18.00", "open",          "Closed",      "",
	    "09:00-18:00x", "-9:00-18:00"};
	for (size_t i = 0; i < sizeof bad_hours / sizeof bad_hours[0]; i++) {
		snprintf(doc, sizeof doc, MIN "calendar:\n  hours:\n    mon: \"%s\"\n", bad_hours[i]);
		EXPECT_ERR(doc, "t.yaml:11:10: ",
		           "'mon' in 'hours' in section 'calendar' must be \"HH:MM-HH:MM\" (00:00..24:00) or "
		           "\"closed\"");
	}
	EXPECT_ERR(MIN "calendar:\n  hours: {tue: \"18:00-09:00\"}\n", "t.yaml:10:16: ",
	           "'tue' in 'hours' in section 'calendar' must close after it opens, got '18:00-09:00'");
	EXPECT_ERR(MIN "calendar:\n  hours: {sun: \"09:00-09:00\"}\n",
	           "t.yaml:10:16: ", "must close after it opens");
	EXPECT_ERR(MIN "calendar:\n  hours: {wed: \"24:00-24:00\"}\n",
	           "t.yaml:10:16: ", "must close after it opens");
	EXPECT_ERR(MIN "calendar:\n  hours: {monday: closed}\n",
	           "t.yaml:10:11: ", "unknown key 'monday' in 'hours' in section 'calendar'");
	EXPECT_ERR(MIN "calendar:\n  hours: [closed]\n",
	           "t.yaml:10:10: ", "'hours' in section 'calendar' must be a mapping, got a sequence");

	/* Holidays. */
	static const char *const bad_dates[] = {"2026/10/01",          "26-10-01", "2026-1-01", "2026-10-1",
	                                        "2026-10-01T00:00:00", "20261001", "",          "2026-1O-01"};
	for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
		snprintf(doc, sizeof doc, MIN "calendar:\n  holidays: [\"%s\"]\n", bad_dates[i]);
		EXPECT_ERR(doc, "t.yaml:10:14: ",
		           "entry #1 of 'holidays' in section 'calendar' must be a date YYYY-MM-DD");
	}
	static const char *const unreal_dates[] = {"2026-02-29", "2100-02-29", "2026-02-30", "2026-04-31",
	                                           "2026-13-01", "2026-00-10", "2026-10-00", "1969-12-31"};
	for (size_t i = 0; i < sizeof unreal_dates / sizeof unreal_dates[0]; i++) {
		snprintf(doc, sizeof doc, MIN "calendar:\n  holidays: [\"2026-10-01\", \"%s\"]\n",
		         unreal_dates[i]);
		EXPECT_ERR(doc, "t.yaml:10:28: ",
		           "entry #2 of 'holidays' in section 'calendar' is not a calendar date");
	}
	EXPECT_ERR(MIN "calendar:\n  holidays: [\"2026-10-01\", \"2026-10-01\"]\n",
	           "t.yaml:10:28: ", "entry #2 of 'holidays' in section 'calendar' repeats entry #1");
	EXPECT_ERR(MIN "calendar:\n  holidays: \"2026-10-01\"\n",
	           "t.yaml:10:13: ", "must be a sequence, got a scalar");

	/* Time zones must exist, and their names cannot leave zoneinfo. */
	EXPECT_ERR(MIN "calendar: {timezone: Mars/Olympus_Mons}\n",
	           "t.yaml:9:22: ", "'timezone' in section 'calendar' is not a zone of the tz database");
	EXPECT_ERR(MIN "calendar: {timezone: \"/etc/localtime\"}\n", "t.yaml:9:22: ", "is not a zone");
	EXPECT_ERR(MIN "calendar: {timezone: \"Asia\"}\n", "t.yaml:9:22: ", "is not a zone");
	EXPECT_ERR(MIN "calendar: {timezone: \"../../etc/passwd\"}\n",
	           "t.yaml:9:22: ", "may only contain letters, digits and '_+-/'");
	EXPECT_ERR(MIN "calendar: {timezone: \"zone.tab\"}\n", "t.yaml:9:22: ", "may only contain");
	EXPECT_ERR(MIN "calendar: {timezone: \"\"}\n",
	           "t.yaml:9:22: ", "must be 1..63 characters long, got 0");
	EXPECT_ERR(MIN "calendar: {timezone: UTC, tz: UTC}\n",
	           "t.yaml:9:27: ", "unknown key 'tz' in section 'calendar'");
	cfg = EXPECT_OK(MIN "calendar: {timezone: Europe/Berlin}\n");
	CHECK(cfg && strcmp(cfg->sla.calendar.timezone, "Europe/Berlin") == 0);
	config_free(cfg);
}

static void test_spool(void)
{
	struct config *cfg;
	char doc[12000], path[4200];

	cfg = EXPECT_OK(MIN "spool: {path: spool.log, max_bytes: 4096}\n");
	CHECK(cfg && strcmp(cfg->spool.path, "spool.log") == 0 && cfg->spool.max_bytes == 4096);
	config_free(cfg);
	cfg = EXPECT_OK(MIN "spool: {path: \"/srv/hot line/spöol\", max_bytes: 1099511627776}\n");
	CHECK(cfg && strcmp(cfg->spool.path, "/srv/hot line/spöol") == 0);
	CHECK(cfg && cfg->spool.max_bytes == 1099511627776ull);
	config_free(cfg);

	EXPECT_ERR(MIN "spool:\n  max_bytes: 4095\n", "t.yaml:10:14: ",
	           "'max_bytes' in section 'spool' is out of range: must be 4096..1099511627776");
	EXPECT_ERR(MIN "spool:\n  max_bytes: 1099511627777\n",
	           "t.yaml:10:14: ", "must be 4096..1099511627776");
	EXPECT_ERR(MIN "spool:\n  path: \"\"\n",
	           "t.yaml:10:9: ", "'path' in section 'spool' must be 1..4095 bytes long, got 0");
	EXPECT_ERR(MIN "spool:\n  path: \"a\\tb\"\n",
	           "t.yaml:10:9: ", "'path' in section 'spool' has a control character");
	memset(path, 'p', sizeof path);
	path[4095] = '\0';
	snprintf(doc, sizeof doc, MIN "spool:\n  path: \"/%s\"\n", path);
	EXPECT_ERR(doc, "t.yaml:10:9: ", "must be 1..4095 bytes long, got 4096");
	path[4094] = '\0';
	snprintf(doc, sizeof doc, MIN "spool:\n  path: \"/%s\"\n", path);
	cfg = EXPECT_OK(doc);
	CHECK(cfg && strlen(cfg->spool.path) == 4095);
	config_free(cfg);
	EXPECT_ERR(MIN "spool:\n  size: 1\n", "t.yaml:10:3: ", "unknown key 'size' in section 'spool'");
}

/* users: N entries, names u0..u{N-1}, optionally the last repeating the first. */
static char *many_users(size_t n, int dup_last)
{
	size_t cap = 256 + n * (sizeof HASH + 64);
	char *doc = malloc(cap), *p = doc;
	if (!doc)
		return NULL;
	p += sprintf(p, "listen: [\"127.0.0.1:0\"]\nredis: {address: \"127.0.0.1:6379\"}\nusers:\n");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "  - {name: u%zu, role: agent, secret: \"" HASH "\"}\n",
		             dup_last && i == n - 1 ? 0 : i);
	return doc;
}

static void test_many_users(void)
{
	char *doc = many_users(CONFIG_MAX_USERS, 0);
	struct config *cfg = doc ? EXPECT_OK(doc) : NULL;
	CHECK(cfg && cfg->n_users == CONFIG_MAX_USERS);
	CHECK(cfg && config_find_user(cfg, "u4095") == &cfg->users[4095]);
	config_free(cfg);
	free(doc);

	doc = many_users(CONFIG_MAX_USERS, 1);
	if (doc)
		EXPECT_ERR(doc, "t.yaml:4099:12: ",
		           "duplicate user name 'u0' in users entry #4096, first used in users entry #1");
	free(doc);

	doc = many_users(CONFIG_MAX_USERS + 1, 0);
	if (doc)
		EXPECT_ERR(
		    doc, "t.yaml:4100:5: ", "section 'users' must have 1..4096 entries, this is entry #4097");
	free(doc);
}

static void test_api_edges(void)
{
	char err[512], small[12];

	CHECK(!config_parse("t.yaml", "", 0, NULL, 0));
	CHECK(!config_parse("t.yaml", "x: 1\n", 5, err, 0));
	CHECK(!config_parse(NULL, NULL, 0, err, sizeof err));
	CHECK(strncmp(err, "<config>:1:1: empty document", 28) == 0);
	memset(small, 'X', sizeof small);
	CHECK(!config_parse("t.yaml", "x: 1\n", 5, small, sizeof small));
	CHECK(strcmp(small, "t.yaml:1:1:") == 0);

	/* len bounds the input: the text after it is never seen. */
	struct config *cfg = config_parse("t.yaml", MIN "bogus: 1\n", strlen(MIN), err, sizeof err);
	CHECK(cfg != NULL);
	config_free(cfg);

	CHECK(!config_load("/nonexistent/hotline.yaml", err, sizeof err));
	CHECK(strncmp(err, "/nonexistent/hotline.yaml:1:1: cannot open: ", 44) == 0);
	CHECK(!config_load("/", err, sizeof err));
	CHECK(strncmp(err, "/:1:1: ", 7) == 0);
	CHECK(!config_load(NULL, err, sizeof err));
	CHECK(!config_load("/nonexistent", NULL, 0));
}

/* What every loaded config promises, whatever the file said. */
static void check_invariants(const struct config *cfg)
{
	const struct config_log_rules *r = &cfg->log_rules;
	const struct sla_calendar *cal = &cfg->sla.calendar;
	CHECK(r->n_dispositions >= 1 && r->n_dispositions <= CONFIG_MAX_CODES);
	CHECK(r->n_categories >= 1 && r->n_categories <= CONFIG_MAX_CODES);
	for (int sev = 0; sev < SEV_COUNT; sev++)
		for (int t = 0; t + 1 < TIER_COUNT; t++)
			CHECK(cfg->sla.minutes[sev][t] >= 1 &&
			      cfg->sla.minutes[sev][t] <= cfg->sla.minutes[sev][t + 1]);
	CHECK(cal->n_holidays <= SLA_MAX_HOLIDAYS);
	for (size_t i = 1; i < cal->n_holidays; i++)
		CHECK(cal->holidays[i - 1] < cal->holidays[i]);
	for (int wd = 0; wd < 7; wd++)
		CHECK(cal->day[wd].open_min <= cal->day[wd].close_min && cal->day[wd].close_min <= 1440);
	CHECK(sla_timezone_exists(cal->timezone));
	CHECK(cfg->spool.path[0] != '\0');
}

/* A deterministic miniature fuzzer: mutations of a valid document must never
 * crash, leak or produce a multi-line or unterminated message. */
static void test_mutations(const char *base)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t blen = strlen(base);
	char *buf = malloc(blen + 64);
	char err[256];
	if (!buf)
		return;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, base, blen);
		size_t len = blen;
		for (int k = 0; k < 1 + iter % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t pos = (size_t)(x >> 8) % len;
			switch (x & 3) {
			case 0: /* flip a byte */
				buf[pos] = (char)(x >> 40);
				break;
			case 1: /* truncate */
				len = pos;
				break;
			case 2: /* insert a YAML-significant byte */
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = ":-[]{}&*!|>'\"%@`#,? \n\t0"[(x >> 32) % 24];
				len++;
				break;
			default: /* delete */
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			}
			if (len == 0)
				break;
		}
		memset(err, 'X', sizeof err);
		struct config *cfg = config_parse("f.yaml", buf, len, err, sizeof err);
		if (cfg) {
			CHECK(cfg->n_listen >= 1 && cfg->n_listen <= CONFIG_MAX_LISTEN);
			CHECK(cfg->n_users >= 1 && cfg->n_users <= CONFIG_MAX_USERS);
			CHECK(cfg->limits.max_line_unauth <= cfg->limits.max_line);
			check_invariants(cfg);
			config_free(cfg);
		} else {
			CHECK(memchr(err, '\0', sizeof err) != NULL);
			CHECK(strncmp(err, "f.yaml:", 7) == 0);
			CHECK(strchr(err, '\n') == NULL);
		}
	}
	free(buf);
}

int main(int argc, char **argv)
{
	const char *shipped = argc > 1 ? argv[1] : "config/hotline.yaml";

	test_shipped(shipped);
	test_minimal();
	test_values();
	test_names();
	test_structure_errors();
	test_syntax_errors();
	test_type_errors();
	test_listen_errors();
	test_redis_errors();
	test_sentinels();
	test_wait();
	test_limits_cross();
	test_redis_login();
	test_auth_throttle_keys();
	test_user_errors();
	test_many_users();
	test_api_edges();
	test_log_rules();
	test_sla();
	test_calendar();
	test_spool();

	char *text = slurp(shipped);
	if (text)
		test_mutations(text);
	free(text);
	test_mutations(MIN "limits: {max_line: 100, max_line_unauth: 64}\nlog: {level: warn}\n");

	return check_summary("test_config");
}
