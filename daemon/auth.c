#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "conn.h"
#include "handlers.h"
#include "pwhash_pool.h"
#include "server.h"

/* Failure k (k >= 2) on one connection is answered after (k-1) x this delay,
 * so guessing over one connection is slow; after limits.max_auth_failures
 * the connection is closed. */
#define AUTH_FAILURE_DELAY_MS 250

struct auth_attempt {
	struct request *req;
	char user[CONFIG_NAME_MAX + 1];
	bool known_user;
};

static void answer_failure(struct request *req)
{
	struct conn *c = req->conn;

	if (c == NULL) {
		request_reply_err(req, ERR_AUTH_FAILED, "authentication failed");
		return;
	}
	conn_release_barrier(c);
	if (c->auth_failures >= c->srv->cfg->limits.max_auth_failures) {
		clog_warn(c, "too many failed AUTH attempts (%u); closing", c->auth_failures);
		conn_close_after_replies(c);
		request_reply_err(req, ERR_AUTH_FAILED, "authentication failed; too many failures, closing");
	} else {
		request_reply_err(req, ERR_AUTH_FAILED, "authentication failed");
	}
}

static void delayed_failure(evutil_socket_t fd, short what, void *arg)
{
	answer_failure(arg);
}

static void auth_checked(bool ok, void *arg)
{
	struct auth_attempt *at = arg;
	struct request *req = at->req;
	struct conn *c = req->conn;
	const struct config_user *u;

	if (c == NULL) {
		request_reply_err(req, ERR_AUTH_FAILED, "connection gone");
		goto out;
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
		goto out;
	}
	conn_clear_identity(c);
	c->auth_failures++;
	clog_warn(c, "AUTH failed (attempt %u)", c->auth_failures);
	if (c->auth_failures >= 2 && c->auth_failures < c->srv->cfg->limits.max_auth_failures) {
		unsigned ms = (c->auth_failures - 1) * AUTH_FAILURE_DELAY_MS;
		struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

		/* The request keeps its slot, so later pipelined replies wait too;
		 * if the client leaves meanwhile, the orphan is freed on firing. */
		if (event_base_once(c->srv->base, -1, EV_TIMEOUT, delayed_failure, req, &tv) == 0)
			goto out;
	}
	answer_failure(req);
out:
	free(at);
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
