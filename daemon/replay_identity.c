#include "replay_identity.h"

#include <string.h>

static bool valid_user_name(const char *s, size_t len)
{
	if (len == 0 || len > CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

bool replay_identity_take(json_t *args, char as[CONFIG_NAME_MAX + 1], enum role *role, const char **why)
{
	const json_t *name = json_object_get(args, "as"), *r = json_object_get(args, "as_role");

	if (name == NULL) {
		*why = "a replay account must say which agent it acts as: missing 'as'";
		return false;
	}
	if (!json_is_string(name) || !valid_user_name(json_string_value(name), json_string_length(name))) {
		*why = "'as' must be a user name: 1..64 characters of [A-Za-z0-9_.@-]";
		return false;
	}
	/* Only the roles that log calls and complaints can have done so. */
	if (r == NULL || (json_is_string(r) && strcmp(json_string_value(r), "agent") == 0)) {
		*role = ROLE_AGENT;
	} else if (json_is_string(r) && strcmp(json_string_value(r), "supervisor") == 0) {
		*role = ROLE_SUPERVISOR;
	} else {
		*why = "'as_role' must be agent or supervisor";
		return false;
	}
	memcpy(as, json_string_value(name), json_string_length(name) + 1);
	json_object_del(args, "as");
	json_object_del(args, "as_role");
	return true;
}
