/* replay_identity.h - a replay account acting as a recorded agent.
 *
 * `hotline replay --to` re-drives a recorded log into a daemon through one
 * account of role `replay`.  Each of its CALL and COMPLAINT requests names
 * the agent who did the recorded event ("as") and that agent's role
 * ("as_role"), so the new entry, the leg-ownership check and a complaint's
 * owner are the recorded agent's; the entry's "replayed_by" keeps every
 * replayed entry distinguishable (proto/PROTOCOL.md, "Replay accounts").
 * Pure: no I/O, so it is unit-tested.
 */
#ifndef HOTLINE_REPLAY_IDENTITY_H
#define HOTLINE_REPLAY_IDENTITY_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"

/* Take "as" (required: 1..64 of [A-Za-z0-9_.@-], the user-name syntax; the
 * name need not be a configured user) and "as_role" (optional: "agent",
 * the default, or "supervisor") out of args, into as and *role.  False
 * with the reason in *why (args unchanged) when either is missing or
 * invalid. */
bool replay_identity_take(json_t *args, char as[CONFIG_NAME_MAX + 1], enum role *role, const char **why);

#endif
