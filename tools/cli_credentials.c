#include "cli_credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "secret_file.h"

static bool valid_cred(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* The first line of an owner-only file: "user:secret". */
static int read_file(struct cli_credentials *cr, const char *who, const char *file)
{
	char line[SECRET_FILE_MAX + 1], why[600], *colon;

	if (secret_file_read(file, S_IRWXG | S_IRWXO, line, sizeof(line), why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", who, why);
		return CLI_USAGE;
	}
	colon = strchr(line, ':');
	if (colon == NULL || (size_t)(colon - line) > CONFIG_NAME_MAX || strlen(colon + 1) >= CLI_SECRET_MAX) {
		explicit_bzero(line, sizeof(line));
		fprintf(stderr, "%s: the first line of %s must be user:secret\n", who, file);
		return CLI_USAGE;
	}
	memcpy(cr->user, line, (size_t)(colon - line));
	cr->user[colon - line] = '\0';
	snprintf(cr->secret, sizeof(cr->secret), "%s", colon + 1);
	explicit_bzero(line, sizeof(line));
	return -1;
}

int cli_credentials_get(struct cli_credentials *cr, const char *who, const char *user_opt, const char *file)
{
	const char *secret = getenv("HOTLINE_SECRET"), *user = user_opt ? user_opt : getenv("HOTLINE_USER");
	int rc;

	if (file) {
		if ((rc = read_file(cr, who, file)) >= 0)
			return rc;
		if (user_opt && strcmp(user_opt, cr->user) != 0) {
			fprintf(stderr, "%s: --user %s disagrees with the user in %s\n", who, user_opt, file);
			return CLI_USAGE;
		}
	} else if (secret && *secret && user && *user) {
		if (strlen(user) >= sizeof(cr->user) || strlen(secret) >= sizeof(cr->secret))
			goto bad;
		snprintf(cr->user, sizeof(cr->user), "%s", user);
		snprintf(cr->secret, sizeof(cr->secret), "%s", secret);
	} else {
		fprintf(stderr,
		        "%s: no credentials: set HOTLINE_SECRET and HOTLINE_USER (or --user USER), or "
		            "use --credentials FILE (user:secret, mode 600); secrets are not taken from the "
		            "command line\n",
		        who);
		return CLI_USAGE;
	}
	if (valid_cred(cr->user, CONFIG_NAME_MAX) && valid_cred(cr->secret, CLI_SECRET_MAX - 1))
		return -1;
bad:
	fprintf(stderr,
	        "%s: the user name (at most %d bytes) and secret must be non-empty, without spaces or "
	            "control characters\n",
	        who, CONFIG_NAME_MAX);
	return CLI_USAGE;
}


void cli_credentials_wipe(struct cli_credentials *cr)
{
	explicit_bzero(cr->secret, sizeof(cr->secret));
}
