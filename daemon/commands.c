#include "commands.h"

#include <string.h>
#include <strings.h>

#include "conn.h"
#include "handlers.h"
#include "replay_identity.h"
#include "stats.h"

static const struct command table[] = {
	{"AUTH", ALLOW_ANYONE, ARGS_TOKENS, cmd_auth},
	{"CALL", ALLOW_AGENT | ALLOW_SUPERVISOR | ALLOW_REPLAY, ARGS_SUBVERB_JSON, cmd_call},
	{"COMPLAINT", ALLOW_AGENT | ALLOW_SUPERVISOR | ALLOW_REPLAY, ARGS_SUBVERB_JSON, cmd_complaint},
	{"HELP", ALLOW_ANYONE, ARGS_NONE, cmd_help},
	{"PING", ALLOW_ANYONE, ARGS_NONE, cmd_ping},
	{"POP", ALLOW_AUTHED, ARGS_JSON, cmd_pop},
	{"QUEUE", ALLOW_SUPERVISOR | ALLOW_ADMIN, ARGS_NONE, cmd_queue},
	{"QUIT", ALLOW_ANYONE, ARGS_NONE, cmd_quit},
	{"STATS", ALLOW_SUPERVISOR | ALLOW_ADMIN, ARGS_NONE, cmd_stats},
	{"TAIL", ALLOW_SUPERVISOR | ALLOW_ADMIN, ARGS_TOKENS, cmd_tail},
	{"UNTAIL", ALLOW_SUPERVISOR | ALLOW_ADMIN, ARGS_TOKENS, cmd_untail},
};

_Static_assert(sizeof(table) / sizeof(table[0]) <= STATS_MAX_COMMANDS, "raise STATS_MAX_COMMANDS");

size_t command_count(void)
{
	return sizeof(table) / sizeof(table[0]);
}

const struct command *command_at(size_t i)
{
	return &table[i];
}

static int lookup(const struct proto_token *verb)
{
	for (size_t i = 0; i < command_count(); i++)
		if (proto_token_is(verb, table[i].name))
			return (int)i;
	return -1;
}

static unsigned role_bit(enum role role)
{
	switch (role) {
	case ROLE_AGENT:
		return ALLOW_AGENT;
	case ROLE_SUPERVISOR:
		return ALLOW_SUPERVISOR;
	case ROLE_ADMIN:
		return ALLOW_ADMIN;
	case ROLE_REPLAY:
		return ALLOW_REPLAY;
	case ROLE_NONE:
		break;
	}
	return ALLOW_UNAUTH;
}

/* Fill args per the command's shape; false (and the reply sent) on error. */
static bool parse_args(struct request *req, const struct command *cmd, const char *line, const char *cursor,
                       size_t remaining, struct command_args *args)
{
	struct proto_error err = {0};

	proto_skip_space(&cursor, &remaining);
	switch (cmd->shape) {
	case ARGS_NONE:
		if (remaining) {
			request_reply_err(req, ERR_BAD_REQUEST, "%s takes no arguments", cmd->name);
			return false;
		}
		break;
	case ARGS_SUBVERB_JSON:
		if (!proto_next_token(&cursor, &remaining, &args->sub)) {
			request_reply_err(req, ERR_BAD_REQUEST, "%s needs a sub-command", cmd->name);
			return false;
		}
		proto_skip_space(&cursor, &remaining);
		/* fall through */
	case ARGS_JSON:
		args->json = proto_parse_json_object(cursor, remaining, (size_t)(cursor - line), true, &err);
		if (args->json == NULL) {
			request_reply_err(req, err.code, "%s", err.message);
			return false;
		}
		break;
	case ARGS_TOKENS:
		break;
	}
	args->rest = cursor;
	args->rest_len = remaining;
	return true;
}

/* A replay account's request acts as the recorded agent it names: the
 * handler sees that agent as the user, and replayed_by says who sent it.
 * False (and the reply sent) when the request does not name one. */
static bool act_as_recorded_agent(struct request *req, const struct conn *c, json_t *args)
{
	const char *why = NULL;
	enum role role;

	if (!replay_identity_take(args, req->user, &role, &why)) {
		request_reply_err(req, ERR_BAD_REQUEST, "%s", why);
		return false;
	}
	req->role = role;
	memcpy(req->replayed_by, c->user, sizeof(req->replayed_by));
	return true;
}

void commands_dispatch(struct conn *c, const char *line, size_t len)
{
	struct command_args args = {0};
	const struct command *cmd;
	struct proto_token verb;
	struct request *req;
	const char *cursor = line;
	size_t remaining = len, bad = 0;
	unsigned control;
	int idx;

	req = conn_request_new(c, -1);
	if (req == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (!proto_valid_utf8(line, len, &bad)) {
		request_reply_err(req, ERR_BAD_REQUEST, "invalid UTF-8 or NUL byte at byte offset %zu", bad);
		return;
	}
	if (proto_find_control(line, len, &bad, &control)) {
		request_reply_err(req, ERR_BAD_REQUEST, "control character U+%04X at byte offset %zu", control, bad);
		return;
	}
	if (!proto_next_token(&cursor, &remaining, &verb)) {
		request_reply_err(req, ERR_BAD_REQUEST, "blank request");
		return;
	}
	idx = lookup(&verb);
	if (idx < 0) {
		request_reply_err(req, ERR_UNKNOWN_COMMAND, "unknown command '%.*s'; HELP lists the verbs",
		                  verb.len > 32 ? 32 : (int)verb.len, verb.p);
		return;
	}
	cmd = &table[idx];
	req->verb = idx;
	if (!(cmd->allow & role_bit(c->role))) {
		if (c->role == ROLE_NONE)
			request_reply_err(req, ERR_AUTH_REQUIRED, "%s needs AUTH first", cmd->name);
		else
			request_reply_err(req, ERR_FORBIDDEN, "%s is not allowed for role %s", cmd->name,
			                  role_name(c->role));
		return;
	}
	if (!parse_args(req, cmd, line, cursor, remaining, &args))
		return;
	/* The replay role's verbs (CALL, COMPLAINT) are exactly those with a JSON object. */
	if (c->role == ROLE_REPLAY && args.json && !act_as_recorded_agent(req, c, args.json)) {
		json_decref(args.json);
		return;
	}
	cmd->handler(req, &args);
	json_decref(args.json);
}
