#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "addr_throttle.h"
#include "conn.h"
#include "handlers.h"
#include "pwhash_pool.h"
#include "server.h"

/* Failure k (k >= 2) on one connection is answered after (k-1) x this delay,
 * so guessing over one connection is slow; after limits.max_auth_failures
 * the connection is closed.  Guessing over many connections is bounded per
 * source address (addr_throttle.h): a blocked address's AUTHs are refused
 * without a password check, and count as failures of their connection
 * like any other, delay and close included. */
#define AUTH_FAILURE_DELAY_MS 250

struct auth_attempt {
	struct request *req;
	struct addr_key addr; /* copied: the connection may be gone when the check ends */
	char user[CONFIG_NAME_MAX + 1];
	bool known_user;
	const char *code; /* of the failure reply */
	char message[128];
};

static void answer_failure(struct auth_attempt *at)
{
	struct request *req = at->req;
	struct conn *c = req->conn;

	if (c == NULL) {
		request_reply_err(req, at->code, "%s", at->message);
		free(at);
		return;
	}
	conn_release_barrier(c);
	if (c->auth_failures >= c->srv->cfg->limits.max_auth_failures) {
		clog_warn(c, "too many failed AUTH attempts (%u); closing", c->auth_failures);
		conn_close_after_replies(c);
		request_reply_err(req, at->code, "%s; too many failures, closing", at->message);
	} else {
		request_reply_err(req, at->code, "%s", at->message);
	}
	free(at);
}

static void delayed_failure(evutil_socket_t fd, short what, void *arg)
{
	answer_failure(arg);
}

/* A refused AUTH on a live connection: it is left unauthenticated, and
 * answered the later the more failures it has had. */
static void fail_on_connection(struct auth_attempt *at)
{
	struct conn *c = at->req->conn;
	unsigned max = c->srv->cfg->limits.max_auth_failures;

	conn_clear_identity(c);
	c->auth_failures++;
	if (c->auth_failures >= 2 && c->auth_failures < max) {
		unsigned ms = (c->auth_failures - 1) * AUTH_FAILURE_DELAY_MS;
		struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

		/* The request keeps its slot, so later pipelined replies wait too;
		 * if the client leaves meanwhile, the orphan is freed on firing. */
		if (event_base_once(c->srv->base, -1, EV_TIMEOUT, delayed_failure, at, &tv) == 0)
			return;
	}
	answer_failure(at);
}

/* A wrong secret (or unknown user) counts against the source address,
 * also when the client did not wait for the answer. */
static void count_address_failure(struct server *srv, const struct auth_attempt *at)
{
	const struct config_limits *lim = &srv->cfg->limits;
	char where[64];

	if (!addr_throttle_failure(srv->auth_throttle, &at->addr, lim->max_auth_failures_per_addr,
	                           (uint64_t)lim->auth_failure_window_s * 1000, stats_now_ms()))
		return;
	srv->stats.auth_addr_blocks++;
	addr_key_format(&at->addr, where, sizeof(where));
	log_warn("AUTH: %u failed logins from %s within %u s; refusing its logins for %u s",
	         lim->max_auth_failures_per_addr, where, lim->auth_failure_window_s, lim->auth_failure_window_s);
}

static void auth_checked(bool ok, void *arg)
{
	struct auth_attempt *at = arg;
	struct request *req = at->req;
	struct conn *c = req->conn;
	const struct config_user *u;

	if (!ok || !at->known_user)
		count_address_failure(req->srv, at);
	if (c == NULL) {
		snprintf(at->message, sizeof(at->message), "connection gone");
		answer_failure(at);
		return;
	}
	/* The config may have been reloaded while the hash was checked. */
	u = ok && at->known_user ? config_find_user(c->srv->cfg, at->user) : NULL;
	if (u != NULL) {
		json_t *body = json_pack("{s:s,s:s}", "user", u->name, "role", role_name(u->role));

		conn_set_identity(c, u->name, u->role);
		conn_release_barrier(c);
		clog_info(c, "authenticated as %s", role_name(u->role));
		request_reply_ok(req, body);
		json_decref(body);
		free(at);
		return;
	}
	clog_warn(c, "AUTH failed (attempt %u)", c->auth_failures + 1);
	fail_on_connection(at);
}

/* The address is blocked: answer without spending a password check on it. */
static bool refused_for_address(struct server *srv, struct conn *c, struct auth_attempt *at)
{
	uint64_t wait_ms;

	if (srv->cfg->limits.max_auth_failures_per_addr == 0)
		return false;
	wait_ms = addr_throttle_blocked_for(srv->auth_throttle, &c->addr, stats_now_ms());
	if (wait_ms == 0)
		return false;
	srv->stats.auth_throttled++;
	at->code = ERR_RATE_LIMITED;
	snprintf(at->message, sizeof(at->message), "too many failed logins from this address; retry in %llu s",
	         (unsigned long long)(wait_ms + 999) / 1000);
	/* Debug only: refusals cost an attacker nothing, the block itself was logged. */
	clog_debug(c, "AUTH refused unchecked: too many failed logins from this address");
	conn_set_barrier(c);
	fail_on_connection(at);
	return true;
}

void cmd_auth(struct request *req, const struct command_args *args)
{
	struct conn *c = req->conn;
	struct server *srv = c->srv;
	struct proto_token user, secret, extra;
	const char *cursor = args->rest;
	size_t remaining = args->rest_len;
	const struct config_user *u;
	struct auth_attempt *at;

	if (!proto_next_token(&cursor, &remaining, &user) || !proto_next_token(&cursor, &remaining, &secret) ||
	    proto_next_token(&cursor, &remaining, &extra)) {
		request_reply_err(req, ERR_BAD_REQUEST, "usage: AUTH <user> <secret>");
		return;
	}
	at = calloc(1, sizeof(*at));
	if (at == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	at->req = req;
	at->addr = c->addr;
	at->code = ERR_AUTH_FAILED;
	snprintf(at->message, sizeof(at->message), "authentication failed");
	if (refused_for_address(srv, c, at))
		return;
	if (user.len <= CONFIG_NAME_MAX) {
		memcpy(at->user, user.p, user.len);
		at->user[user.len] = '\0';
	}
	u = at->user[0] ? config_find_user(srv->cfg, at->user) : NULL;
	at->known_user = u != NULL;
	/* Unknown users cost the same hash check, so timing does not tell
	 * which user names exist. */
	if (pwhash_pool_submit(srv->pwhash, u ? u->secret_hash : srv->dummy_hash, secret.p, secret.len,
	                       auth_checked, at) != 0) {
		free(at);
		clog_warn(c, "AUTH refused: password checks queue full");
		request_reply_err(req, ERR_RATE_LIMITED, "too many logins in progress; retry shortly");
		return;
	}
	conn_set_barrier(c);
}
