#include "cli_log_source.h"

#include <stdio.h>

#include "cli.h"

bool cli_log_take_option(struct cli_log_opts *o, int opt, const char *arg)
{
	const char **to;

	/* clang-format off */
	switch (opt) {
	case CLI_LOG_OPT_FILE: to = &o->file; break;
	case CLI_LOG_OPT_FROM: to = &o->from; break;
	case CLI_LOG_OPT_TO: to = &o->to; break;
	default: return false;
	}
	/* clang-format on */
	*to = arg;
	return true;
}

int cli_log_select_range(const struct cli_log_opts *o, const char *who, struct log_selection *sel,
                         char from_id[LOG_ID_MAX], char to_id[LOG_ID_MAX])
{
	if (o->from && !log_time_to_id(o->from, false, from_id)) {
		fprintf(stderr, "%s: --from: '%s' is not a time or stream id\n", who, o->from);
		return CLI_USAGE;
	}
	if (o->to && !log_time_to_id(o->to, true, to_id)) {
		fprintf(stderr, "%s: --to: '%s' is not a time or stream id\n", who, o->to);
		return CLI_USAGE;
	}
	sel->from_id = o->from ? from_id : NULL;
	sel->to_id = o->to ? to_id : NULL;
	return CLI_OK;
}

struct log_source *cli_log_open(const char *who, const char *file, const struct cli_target *t,
                                const struct log_selection *sel, redisContext **rc)
{
	struct log_source *src;
	char err[600];

	*rc = NULL;
	if (file) {
		src = log_source_open_file(file, sel, err, sizeof(err));
	} else {
		*rc = cli_target_connect(t, who);
		if (*rc == NULL)
			return NULL;
		src = log_source_open_redis(*rc, t->prefix, sel, err, sizeof(err));
	}
	if (src == NULL) {
		fprintf(stderr, "%s: %s\n", who, err);
		redisFree(*rc);
		*rc = NULL;
	}
	return src;
}
