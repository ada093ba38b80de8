/* config.h - hotlined's configuration: one immutable struct per load.
 *
 * The YAML file is parsed into a fresh struct config, validated whole, and
 * only then handed to the server, which swaps it in (see server_reload).  A
 * live config is never mutated in place, so a bad file on SIGHUP leaves the
 * running one untouched.
 */
#ifndef HOTLINE_CONFIG_H
#define HOTLINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phone.h"
#include "secret_file.h"
#include "sla.h"

#define CONFIG_MAX_LISTEN 8
#define CONFIG_MAX_USERS 4096
#define CONFIG_MAX_LINES 1024
#define CONFIG_NAME_MAX 64 /* user names, queue names, codes */
#define CONFIG_MAX_CODES 32 /* call dispositions, complaint categories */
#define CONFIG_MAX_SENTINELS 16

enum role {
	ROLE_NONE = 0, /* not authenticated */
	ROLE_AGENT = 1,
	ROLE_SUPERVISOR = 2,
	ROLE_ADMIN = 3,
	ROLE_REPLAY = 4, /* `hotline replay --to`: logs calls and complaints as the recorded agents */
};

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

struct config_listen {
	char host[256]; /* numeric address or name, e.g. "127.0.0.1", "::" */
	uint16_t port;  /* 0 = let the kernel pick (tests) */
};

struct config_user {
	char name[CONFIG_NAME_MAX + 1];
	enum role role;
	char secret_hash[256]; /* "$argon2id$..." as produced by `hotline passwd` */
};

/* redis.durability: whether writes need a Redis that keeps what it acknowledges. */
enum redis_durability {
	REDIS_DURABILITY_RELAXED, /* default: log the settings, warn, accept writes */
	REDIS_DURABILITY_STRICT,  /* refuse CALL/COMPLAINT writes unless Redis is durable */
};

/* One Redis Sentinel to ask for the master ("host:port"). */
struct config_sentinel {
	char host[256];
	uint16_t port;
};

/* redis.wait: WAIT for replicas after appends to some streams. */
struct config_redis_wait {
	unsigned replicas;   /* default 0 = never WAIT */
	unsigned timeout_ms; /* default 100; at most half of command_timeout_ms */
	int streams[2];      /* 0 = calls, 1 = complaints (journal_stream order) */
	size_t n_streams;    /* default 1: [complaints] */
};

struct config_redis {
	/* Exactly one of host/port, unix_path or sentinels is set: with
	 * sentinels the daemon asks them for master_name's address, and
	 * host/port stay empty. */
	char host[256];
	uint16_t port;
	char unix_path[108];
	struct config_sentinel sentinels[CONFIG_MAX_SENTINELS];
	size_t n_sentinels;
	char master_name[CONFIG_NAME_MAX + 1]; /* required with sentinels */
	struct config_redis_wait wait;
	char key_prefix[64];         /* default "hotline:" */
	unsigned connect_timeout_ms; /* default 2000 */
	unsigned command_timeout_ms; /* default 5000: a reply later than this drops the link */
	unsigned reconnect_min_ms;   /* default 100 */
	unsigned reconnect_max_ms;   /* default 5000 */
	enum redis_durability durability; /* default relaxed */
	/* Logging in (sent as AUTH on every connection): an ACL user and the
	 * password read from password_file, never written in the YAML.  With
	 * only a password, AUTH <password> (the default user, requirepass). */
	char user[CONFIG_NAME_MAX + 1];     /* "" = none */
	char password_file[4096];           /* "" = none */
	char password[SECRET_FILE_MAX + 1]; /* its first line; wiped by config_free */
	/* The same for the Sentinels (requirepass or an ACL user in sentinel.conf). */
	char sentinel_user[CONFIG_NAME_MAX + 1];
	char sentinel_password_file[4096];
	char sentinel_password[SECRET_FILE_MAX + 1];
};

struct config_limits {
	unsigned max_connections;   /* default 10000 */
	unsigned max_unauthenticated; /* default 1000 of them not yet authenticated */
	size_t max_line;            /* default 65536 bytes, LF excluded */
	size_t max_line_unauth;     /* default 1024: cap before AUTH succeeds */
	size_t max_output;          /* default 1 MiB queued for one client */
	unsigned max_pending;       /* default 256 requests in flight per connection */
	unsigned idle_timeout_s;    /* default 0 = none, for authenticated clients */
	unsigned unauth_timeout_s;  /* default 30: time allowed to authenticate */
	unsigned max_auth_failures; /* default 5, then the connection is closed */
	unsigned max_auth_inflight; /* default 64 password checks queued daemon-wide */
	/* Per source address (IPv4 address, IPv6 /64, all unix-socket clients
	 * together): after this many failed AUTHs within auth_failure_window_s,
	 * AUTHs from it are refused for the next window without a password
	 * check. */
	unsigned max_auth_failures_per_addr; /* default 20; 0 = off */
	unsigned auth_failure_window_s;      /* default 60 */
};

/* A dialled number (DNIS) and the line it belongs to, so the screen pop
 * can tell the agent which brand to greet with and the default queue. */
struct config_line {
	char dnis[PHONE_MAX]; /* normalised with the phone rules */
	char brand[128];
	char queue[CONFIG_NAME_MAX + 1];
};

struct config_pop {
	unsigned recent;         /* default 5: contacts shown, newest first (0..50) */
	unsigned max_candidates; /* default 10: cards in an ambiguous match (1..100) */
};

/* What the call and complaint logs accept, and how long their records
 * stay meaningful. */
struct config_log_rules {
	char dispositions[CONFIG_MAX_CODES][CONFIG_NAME_MAX + 1]; /* how a call ended */
	size_t n_dispositions;
	char categories[CONFIG_MAX_CODES][CONFIG_NAME_MAX + 1]; /* what a complaint is about */
	size_t n_categories;
	unsigned reopen_window_h;   /* default 168: hours after close a complaint may be reopened */
	unsigned idempotency_ttl_h; /* default 24: hours a request_id's reply is remembered */
};

/* An optional listening address: "" in the file means off. */
struct config_endpoint {
	bool enabled;
	struct config_listen addr;
};

/* One TLS listener beside the plaintext ones (TLS 1.2+, reloaded on SIGHUP). */
struct config_tls {
	struct config_endpoint listen;
	char certificate[4096]; /* PEM, the chain with the server certificate first */
	char key[4096];         /* PEM private key */
};

/* The Prometheus text endpoint (off by default; keep it on loopback). */
struct config_metrics {
	struct config_endpoint listen;
};

/* Acknowledged writes wait here while Redis is unreachable. */
struct config_spool {
	char path[4096];  /* default "/var/lib/hotline/spool.log" */
	size_t max_bytes; /* default 64 MiB */
};

struct config {
	char path[4096]; /* file it came from, for logs */

	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t n_listen;

	struct config_redis redis;

	struct config_user *users; /* heap, n_users entries */
	size_t n_users;

	struct config_limits limits;

	struct phone_rules phone;
	struct config_pop pop;
	struct config_line *lines; /* heap, n_lines entries */
	size_t n_lines;

	enum log_level log_level;

	struct config_log_rules log_rules;
	struct sla_policy sla; /* the calendar's zone is validated, not applied */
	struct config_spool spool;
	struct config_tls tls;
	struct config_metrics metrics;
};

/* Parse and validate FILE.  On success returns a new config (free with
 * config_free).  On failure returns NULL and writes one human-readable
 * message of the form "FILE:LINE:COLUMN: what is wrong" into err. */
struct config *config_load(const char *file, char *err, size_t errlen);

/* The same, from an in-memory YAML document; `name` stands in for the file
 * name in error messages.  Used by the unit tests and the fuzzer. */
struct config *config_parse(const char *name, const char *yaml, size_t len, char *err, size_t errlen);

void config_free(struct config *cfg);

const struct config_user *config_find_user(const struct config *cfg, const char *name);

/* The line whose DNIS equals the normalised number, or NULL. */
const struct config_line *config_find_line(const struct config *cfg, const char *dnis);

/* Does redis.wait ask for WAIT after appends to stream (0 calls, 1 complaints)? */
bool config_redis_waits_for(const struct config_redis *r, int stream);

const char *role_name(enum role role);
const char *log_level_name(enum log_level level);

#endif
