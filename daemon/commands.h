/* commands.h - the command table: each verb named once, with its handler,
 * the roles allowed to use it and the shape of its arguments.  Dispatch
 * (validation, lookup, role check, argument parsing) lives here too, so a
 * handler only ever sees a well-formed request from an allowed role. */
#ifndef HOTLINE_COMMANDS_H
#define HOTLINE_COMMANDS_H

#include <stddef.h>

#include <jansson.h>

#include "proto.h"

struct conn;
struct request;

/* Role bits for command.roles. */
#define ALLOW_UNAUTH (1u << 0)
#define ALLOW_AGENT (1u << 1)
#define ALLOW_SUPERVISOR (1u << 2)
#define ALLOW_ADMIN (1u << 3)
#define ALLOW_REPLAY (1u << 4) /* a replay account: its requests name the recorded agent ("as") */
#define ALLOW_AUTHED (ALLOW_AGENT | ALLOW_SUPERVISOR | ALLOW_ADMIN)
#define ALLOW_ANYONE (ALLOW_UNAUTH | ALLOW_AUTHED | ALLOW_REPLAY)

enum arg_shape {
	ARGS_NONE,        /* nothing may follow the verb */
	ARGS_TOKENS,      /* the handler splits the rest itself */
	ARGS_JSON,        /* one JSON object (may be omitted: {}) */
	ARGS_SUBVERB_JSON /* one sub-verb token, then one JSON object (may be omitted) */
};

struct command_args {
	const char *rest; /* text after the verb (and sub-verb), leading blanks skipped */
	size_t rest_len;
	struct proto_token sub; /* ARGS_SUBVERB_JSON only */
	json_t *json;           /* ARGS_JSON / ARGS_SUBVERB_JSON: borrowed, freed after the handler */
};

typedef void command_fn(struct request *req, const struct command_args *args);

struct command {
	const char *name; /* uppercase, as in HELP and STATS */
	unsigned allow;
	enum arg_shape shape;
	command_fn *handler;
};

size_t command_count(void);
const struct command *command_at(size_t i);

/* Handle one complete request line from c.  Always produces exactly one
 * reply for the line (now or later). */
void commands_dispatch(struct conn *c, const char *line, size_t len);

#endif
