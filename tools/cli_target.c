#include "cli_target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "config.h"
#include "customer.h"
#include "sentinel_reply.h"

static bool parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* "host:port", "[v6addr]:port" or "unix:/path". */
static bool set_address(struct cli_target *t, const char *a)
{
	const char *colon = strrchr(a, ':'), *host = a;
	size_t hostlen;

	t->unix_path[0] = t->host[0] = '\0';
	if (strncmp(a, "unix:", 5) == 0) {
		if (a[5] == '\0' || strlen(a + 5) >= sizeof(t->unix_path))
			return false;
		snprintf(t->unix_path, sizeof(t->unix_path), "%s", a + 5);
		return true;
	}
	if (colon == NULL || !parse_port(colon + 1, &t->port))
		return false;
	hostlen = (size_t)(colon - a);
	if (a[0] == '[') {
		if (hostlen < 3 || a[hostlen - 1] != ']')
			return false;
		host++;
		hostlen -= 2;
	}
	if (hostlen == 0 || hostlen >= sizeof(t->host))
		return false;
	memcpy(t->host, host, hostlen);
	t->host[hostlen] = '\0';
	return true;
}

static bool valid_prefix(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 63)
		return false;
	for (; *p; p++)
		if (!customer_valid_key_part(p, 1, 1) && *p != ':')
			return false;
	return true;
}

int cli_target_load(struct cli_target *t, const char *who, const char *config, const char *redis_addr,
                    const char *prefix, bool uses_phone)
{
	const char *file = config ? config : CLI_DEFAULT_CONFIG;
	bool defaults = false;
	struct config *cfg;
	char err[1024];

	*t = (struct cli_target){.port = 6379, .connect_ms = 2000, .command_ms = 5000, .reopen_window_h = 168};
	snprintf(t->host, sizeof(t->host), "127.0.0.1");
	snprintf(t->prefix, sizeof(t->prefix), "hotline:");
	phone_rules_default(&t->phone);
	if (!config && access(CLI_DEFAULT_CONFIG, F_OK) != 0 && errno == ENOENT) {
		defaults = true;
	} else if ((cfg = config_load(file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: cannot load the config: %s\n", who, err);
		return -1;
	} else {
		snprintf(t->host, sizeof(t->host), "%s", cfg->redis.host);
		t->port = cfg->redis.port;
		snprintf(t->unix_path, sizeof(t->unix_path), "%s", cfg->redis.unix_path);
		memcpy(t->sentinels, cfg->redis.sentinels, sizeof(t->sentinels));
		t->n_sentinels = cfg->redis.n_sentinels;
		snprintf(t->master_name, sizeof(t->master_name), "%s", cfg->redis.master_name);
		snprintf(t->prefix, sizeof(t->prefix), "%s", cfg->redis.key_prefix);
		t->phone = cfg->phone;
		t->connect_ms = cfg->redis.connect_timeout_ms;
		t->command_ms = cfg->redis.command_timeout_ms;
		snprintf(t->user, sizeof(t->user), "%s", cfg->redis.user);
		memcpy(t->password, cfg->redis.password, sizeof(t->password));
		t->reopen_window_h = cfg->log_rules.reopen_window_h;
		config_free(cfg);
	}
	if (redis_addr)
		t->n_sentinels = 0; /* --redis names the Redis itself */
	if (redis_addr && !set_address(t, redis_addr)) {
		fprintf(stderr, "%s: --redis must be host:port, [v6addr]:port or unix:/path, got '%s'\n", who,
		        redis_addr);
		return -2;
	}
	if (prefix && !valid_prefix(prefix)) {
		fprintf(stderr, "%s: --prefix must be 1..63 characters of [A-Za-z0-9_:.-], got '%s'\n", who, prefix);
		return -2;
	}
	if (prefix)
		snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
	if (t->n_sentinels)
		snprintf(t->address, sizeof(t->address), "master '%s' (Sentinel)", t->master_name);
	else if (t->unix_path[0])
		snprintf(t->address, sizeof(t->address), "unix:%s", t->unix_path);
	else
		snprintf(t->address, sizeof(t->address), strchr(t->host, ':') ? "[%s]:%u" : "%s:%u", t->host,
		         t->port);
	if (defaults && (uses_phone || !redis_addr))
		fprintf(stderr, "%s: no %s: using Redis at %s, prefix \"%s\", default phone rules\n", who,
		        CLI_DEFAULT_CONFIG, t->address, t->prefix);
	return 0;
}

bool cli_target_take_option(struct cli_target_opts *o, int opt, const char *arg)
{
	const char **to;

	/* clang-format off */
	switch (opt) {
	case 'c': to = &o->config; break;
	case CLI_TARGET_OPT_REDIS: to = &o->redis; break;
	case CLI_TARGET_OPT_PREFIX: to = &o->prefix; break;
	case CLI_TARGET_OPT_USER: to = &o->user; break;
	case CLI_TARGET_OPT_PASSWORD_FILE: to = &o->password_file; break;
	default: return false;
	}
	/* clang-format on */
	*to = arg;
	return true;
}

int cli_target_setup(struct cli_target *t, const char *who, const struct cli_target_opts *o, bool uses_phone)
{
	int rc = cli_target_load(t, who, o->config, o->redis, o->prefix, uses_phone);

	if (rc == 0)
		rc = cli_target_login(t, who, o->user, o->password_file);
	return rc == 0 ? CLI_OK : rc == -2 ? CLI_USAGE : CLI_FAILED;
}

int cli_target_login(struct cli_target *t, const char *who, const char *user, const char *password_file)
{
	char why[512];

	if (user && (!*user || strlen(user) >= sizeof(t->user) || strpbrk(user, " \t\r\n"))) {
		fprintf(stderr, "%s: --redis-user must be 1..%zu characters without blanks\n", who, sizeof(t->user) - 1);
		return -2;
	}
	if (user && !password_file) {
		fprintf(stderr, "%s: --redis-user needs --redis-password-file (passwords are not taken from the "
		                "command line)\n", who);
		return -2;
	}
	if (password_file == NULL)
		return 0;
	sodium_memzero(t->password, sizeof(t->password));
	if (secret_file_read(password_file, S_IRWXO, t->password, sizeof(t->password), why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: --redis-password-file: %s\n", who, why);
		return -2;
	}
	snprintf(t->user, sizeof(t->user), "%s", user ? user : "");
	return 0;
}

/* AUTH [user] password; false with a message on stderr. */
static bool login(redisContext *c, const struct cli_target *t, const char *who)
{
	const char *argv[3] = {"AUTH", t->user, t->password};
	size_t len[3] = {4, strlen(t->user), strlen(t->password)};
	redisReply *r = t->user[0] ? redisCommandArgv(c, 3, argv, len)
	                           : redisCommandArgv(c, 2, (const char *[]){"AUTH", t->password},
	                                              (size_t[]){4, len[2]});
	bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;

	if (!ok)
		fprintf(stderr, "%s: Redis at %s refused the login as %s: %s\n", who, t->address,
		        t->user[0] ? t->user : "the default user", r ? r->str : c->errstr);
	freeReplyObject(r);
	return ok;
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/* Ask the Sentinels in turn for the master's address (into m).  -1 with a
 * message on stderr when none answers. */
static int ask_sentinels(const struct cli_target *t, const char *who, struct sentinel_addr *m)
{
	char why[300] = "no Sentinel configured", where[SENTINEL_ADDR_TEXT] = "-";

	for (size_t i = 0; i < t->n_sentinels; i++) {
		struct sentinel_addr sn;
		redisContext *c;
		redisReply *r;
		bool ok;

		snprintf(sn.host, sizeof(sn.host), "%s", t->sentinels[i].host);
		sn.port = t->sentinels[i].port;
		sentinel_addr_format(&sn, where, sizeof(where));
		c = redisConnectWithTimeout(sn.host, sn.port, ms_tv(t->connect_ms));
		if (c == NULL || c->err) {
			snprintf(why, sizeof(why), "%s", c ? c->errstr : "out of memory");
			redisFree(c);
			continue;
		}
		redisSetTimeout(c, ms_tv(t->command_ms));
		r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", t->master_name);
		if (r == NULL)
			snprintf(why, sizeof(why), "%s", c->errstr);
		ok = r && sentinel_parse_master_addr(r, m, why, sizeof(why));
		freeReplyObject(r);
		redisFree(c);
		if (ok)
			return 0;
	}
	fprintf(stderr, "%s: no Sentinel named master '%s' (last asked: %s: %s)\n", who, t->master_name,
	        where, why);
	return -1;
}

/* Connect to t's address, log in, PING, and (with Sentinels) check ROLE. */
static redisContext *connect_to(const struct cli_target *t, const char *who)
{
	struct timeval ct = ms_tv(t->connect_ms);
	redisContext *c;
	redisReply *r;

	c = t->unix_path[0] ? redisConnectUnixWithTimeout(t->unix_path, ct)
	                    : redisConnectWithTimeout(t->host, (int)t->port, ct);
	if (c == NULL || c->err) {
		fprintf(stderr, "%s: cannot connect to Redis at %s: %s\n", who, t->address,
		        c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, ms_tv(t->command_ms));
	if (t->password[0] && !login(c, t, who)) {
		redisFree(c);
		return NULL;
	}
	r = redisCommand(c, "PING");
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "%s: Redis at %s does not answer PING: %s\n", who, t->address, r ? r->str : c->errstr);
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	if (t->n_sentinels) {
		char role[64];

		/* The Sentinels' answer may be stale: only a master will do. */
		r = redisCommand(c, "ROLE");
		if (!sentinel_role_is_master(r, role, sizeof(role))) {
			fprintf(stderr,
			        "%s: %s, named by the Sentinels, is not the master (ROLE: %s); retry\n", who,
			        t->address, role);
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

redisContext *cli_target_connect(const struct cli_target *t, const char *who)
{
	struct cli_target master;
	struct sentinel_addr m;
	redisContext *c;

	if (t->n_sentinels == 0)
		return connect_to(t, who);
	if (ask_sentinels(t, who, &m) != 0)
		return NULL;
	master = *t;
	snprintf(master.host, sizeof(master.host), "%s", m.host);
	master.port = m.port;
	sentinel_addr_format(&m, master.address, sizeof(master.address));
	c = connect_to(&master, who);
	sodium_memzero(master.password, sizeof(master.password)); /* the copy on the stack */
	return c;
}
