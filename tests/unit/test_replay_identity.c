/* A replay account's "as"/"as_role": taken out of the request when valid,
 * refused (request untouched) when missing or invalid. */
#include <string.h>

#include <jansson.h>

#include "replay_identity.h"

#include "check.h"

static bool take(const char *json, char as[CONFIG_NAME_MAX + 1], enum role *role, const char **why, json_t **out)
{
	json_t *args = json_loads(json, JSON_ALLOW_NUL, NULL);
	bool ok;

	*why = NULL;
	as[0] = '\0';
	ok = args && replay_identity_take(args, as, role, why);
	*out = args;
	return ok;
}

static void refused(const char *json, const char *reason_part)
{
	char as[CONFIG_NAME_MAX + 1];
	enum role role = ROLE_NONE;
	const char *why;
	json_t *args, *orig = json_loads(json, JSON_ALLOW_NUL, NULL);

	CHECK(!take(json, as, &role, &why, &args));
	CHECK(why && strstr(why, reason_part));
	CHECK(role == ROLE_NONE && as[0] == '\0');
	/* nothing taken out: the verb refuses the same fields as it would have */
	CHECK(args && orig && json_equal(args, orig));
	json_decref(args);
	json_decref(orig);
}

int main(void)
{
	char as[CONFIG_NAME_MAX + 1], longname[80];
	enum role role;
	const char *why;
	json_t *args;

	CHECK(take("{\"call_id\":\"c1\",\"as\":\"agent.7@site-b_x\"}", as, &role, &why, &args));
	CHECK_STR(as, "agent.7@site-b_x");
	CHECK(role == ROLE_AGENT);
	CHECK(json_object_size(args) == 1 && json_object_get(args, "call_id"));
	json_decref(args);

	CHECK(take("{\"as\":\"boss\",\"as_role\":\"supervisor\",\"note\":\"n\"}", as, &role, &why, &args));
	CHECK_STR(as, "boss");
	CHECK(role == ROLE_SUPERVISOR);
	CHECK(json_object_size(args) == 1 && json_object_get(args, "note"));
	json_decref(args);

	CHECK(take("{\"as\":\"a\",\"as_role\":\"agent\"}", as, &role, &why, &args));
	CHECK(role == ROLE_AGENT && json_object_size(args) == 0);
	json_decref(args);

	memset(longname, 'x', 64);
	longname[64] = '\0';
	{
		char json[128];

		snprintf(json, sizeof(json), "{\"as\":\"%s\"}", longname);
		CHECK(take(json, as, &role, &why, &args));
		CHECK(strlen(as) == 64);
		json_decref(args);
		snprintf(json, sizeof(json), "{\"as\":\"%sy\"}", longname);
		refused(json, "'as' must be");
	}

	refused("{}", "missing 'as'");
	refused("{\"as_role\":\"agent\"}", "missing 'as'");
	refused("{\"as\":\"\"}", "'as' must be");
	refused("{\"as\":\"a b\"}", "'as' must be");
	refused("{\"as\":\"a:b\"}", "'as' must be");
	refused("{\"as\":\"a\\u0000b\"}", "'as' must be");
	refused("{\"as\":7}", "'as' must be");
	refused("{\"as\":null}", "'as' must be");
	refused("{\"as\":\"a\",\"as_role\":\"admin\"}", "'as_role'");
	refused("{\"as\":\"a\",\"as_role\":\"replay\"}", "'as_role'");
	refused("{\"as\":\"a\",\"as_role\":\"\"}", "'as_role'");
	refused("{\"as\":\"a\",\"as_role\":1}", "'as_role'");
	return check_summary("test_replay_identity");
}
