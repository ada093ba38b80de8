/* cli_target.h - which Redis (and key prefix, phone rules) a `hotline`
 * command works on: from the daemon's config file (-c, default
 * /etc/hotline/hotline.yaml), overridable with --redis and --prefix, so the
 * CLI always agrees with the daemon it sits beside. */
#ifndef HOTLINE_CLI_TARGET_H
#define HOTLINE_CLI_TARGET_H

#include <getopt.h>
#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "phone.h"
#include "secret_file.h"

#define CLI_DEFAULT_CONFIG "/etc/hotline/hotline.yaml"

struct cli_target {
	char host[256];
	unsigned port;
	char unix_path[108];
	/* From a config with redis.sentinels (and no --redis): the master is
	 * asked for when connecting. */
	struct config_sentinel sentinels[CONFIG_MAX_SENTINELS];
	size_t n_sentinels;
	char master_name[CONFIG_NAME_MAX + 1];
	char prefix[64];
	char address[400]; /* as shown in messages */
	struct phone_rules phone;
	unsigned connect_ms, command_ms;
	char user[CONFIG_NAME_MAX + 1];      /* Redis ACL user, "" = default */
	char password[SECRET_FILE_MAX + 1];  /* "" = no AUTH */
	unsigned reopen_window_h; /* complaints.reopen_window_h (the audit judges reopens by it) */
};

/* Fill t.  config NULL: the default file if it exists, else the daemon's
 * defaults (127.0.0.1:6379, "hotline:"), which is said on stderr prefixed
 * by `who` -- unless redis_addr names the Redis and the command does not
 * use the phone rules (uses_phone false).  Returns 0, or -1 with a message
 * printed on stderr (bad config), or -2 (bad --redis / --prefix: a usage
 * error). */
int cli_target_load(struct cli_target *t, const char *who, const char *config, const char *redis_addr,
                    const char *prefix, bool uses_phone);

/* Log in as user with the password in password_file instead of the
 * config's redis.user / redis.password_file (--redis-user,
 * --redis-password-file; either may be NULL, user needs a password).
 * Returns 0, or -2 with a message on stderr (a usage error, like unsafe
 * credentials elsewhere in the CLI). */
int cli_target_login(struct cli_target *t, const char *who, const char *user, const char *password_file);

/* The options by which every command that works on Redis names it:
 * -c/--config, --redis, --prefix (cli_target_load) and --redis-user,
 * --redis-password-file (cli_target_login).  NULL = not given. */
struct cli_target_opts {
	const char *config, *redis, *prefix, *user, *password_file;
};

/* getopt_long codes of those long options: above any character, so that
 * none can collide with a command's own letters.  -c stays 'c'. */
enum {
	CLI_TARGET_OPT_REDIS = 0x1000,
	CLI_TARGET_OPT_PREFIX,
	CLI_TARGET_OPT_USER,
	CLI_TARGET_OPT_PASSWORD_FILE,
};

/* Entries of a command's `struct option` table (its short options include
 * "c:").  Two groups, so that each command keeps the order of its table:
 * getopt_long names the possibilities of an ambiguous abbreviation in it. */
/* clang-format off */
#define CLI_TARGET_OPTIONS                                                        \
	{"config", required_argument, NULL, 'c'},                                 \
	{"redis", required_argument, NULL, CLI_TARGET_OPT_REDIS},                 \
	{"prefix", required_argument, NULL, CLI_TARGET_OPT_PREFIX}
#define CLI_TARGET_LOGIN_OPTIONS                                                  \
	{"redis-user", required_argument, NULL, CLI_TARGET_OPT_USER},             \
	{"redis-password-file", required_argument, NULL, CLI_TARGET_OPT_PASSWORD_FILE}
/* clang-format on */

/* Take getopt_long's opt (and its arg) into o when it is one of the options
 * above: true; false when it is the command's own. */
bool cli_target_take_option(struct cli_target_opts *o, int opt, const char *arg);

/* cli_target_load then cli_target_login with the options in o, for every
 * command that works on Redis: CLI_OK, CLI_USAGE (bad --redis, --prefix or
 * login options) or CLI_FAILED (the config does not load), the reason said
 * on stderr. */
int cli_target_setup(struct cli_target *t, const char *who, const struct cli_target_opts *o, bool uses_phone);

/* Connect (with the configured timeouts), log in when a password is set
 * (AUTH [user] password), and PING.  With Sentinels, ask them in turn for
 * the master first (Sentinels get no AUTH), then log in to the master and
 * check its ROLE.  NULL with a message on stderr prefixed by `who`. */
redisContext *cli_target_connect(const struct cli_target *t, const char *who);

#endif
