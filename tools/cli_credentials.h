/* cli_credentials.h - the user and secret a `hotline` command logs in with
 * (tail, replay --to): from an owner-only file or the environment, never
 * from the command line, where `ps` would show the secret to every user. */
#ifndef HOTLINE_CLI_CREDENTIALS_H
#define HOTLINE_CLI_CREDENTIALS_H

#include "config.h"

#define CLI_SECRET_MAX 512

struct cli_credentials {
	char user[CONFIG_NAME_MAX + 1];
	char secret[CLI_SECRET_MAX];
};

/* From `file` (its first line "user:secret"; the file must not be
 * accessible by group or others) when given, else from user_opt (or
 * HOTLINE_USER) and HOTLINE_SECRET.  user_opt, when given with a file,
 * must agree with it.  Returns -1 when cr is filled, else CLI_USAGE after
 * a message on stderr prefixed by `who`. */
int cli_credentials_get(struct cli_credentials *cr, const char *who, const char *user_opt, const char *file);

/* Overwrite the secret (before freeing or leaving). */
void cli_credentials_wipe(struct cli_credentials *cr);

#endif
