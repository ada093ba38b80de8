/* hotline passwd: turn a secret into the "$argon2id$..." string that goes in
 * the config's users list.  The secret is read from the terminal (twice, not
 * echoed) or, when stdin is not a terminal, from its first line, never from
 * the command line where `ps` and shell history would see it. */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "secret_hash.h"

#define MAX_SECRET 1024

static int read_line(FILE *in, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, in) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1)
		return -2; /* no newline within the buffer: too long */
	buf[n] = '\0';
	return 0;
}

static int prompt(const char *what, char *buf, size_t len)
{
	struct termios old, quiet;
	int rc;

	fprintf(stderr, "%s", what);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = read_line(stdin, buf, len);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

int cmd_passwd(int argc, char **argv)
{
	char secret[MAX_SECRET + 2], again[MAX_SECRET + 2], hash[SECRET_HASH_MAX];
	int rc;

	if (argc > 1) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
		        "usage: hotline passwd < secret-file    (or interactively: hotline passwd)\n"
		        "Prints the Argon2id hash to put in the config as a user's `secret`.\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? CLI_OK : CLI_USAGE;
	}
	if (isatty(STDIN_FILENO)) {
		if (prompt("secret: ", secret, sizeof(secret)) != 0 || prompt("again: ", again, sizeof(again)) != 0) {
			fprintf(stderr, "hotline passwd: cannot read the secret\n");
			return CLI_FAILED;
		}
		rc = strcmp(secret, again);
		sodium_memzero(again, sizeof(again));
		if (rc != 0) {
			sodium_memzero(secret, sizeof(secret));
			fprintf(stderr, "hotline passwd: the two secrets differ\n");
			return CLI_FAILED;
		}
	} else {
		rc = read_line(stdin, secret, sizeof(secret));
		if (rc != 0) {
			fprintf(stderr, "hotline passwd: %s\n",
			        rc == -2 ? "secret longer than 1024 bytes" : "no secret on standard input");
			return CLI_FAILED;
		}
	}
	if (secret[0] == '\0') {
		fprintf(stderr, "hotline passwd: empty secret refused\n");
		return CLI_FAILED;
	}
	rc = secret_hash(secret, strlen(secret), hash);
	sodium_memzero(secret, sizeof(secret));
	if (rc != 0) {
		fprintf(stderr, "hotline passwd: hashing failed (out of memory?)\n");
		return CLI_FAILED;
	}
	printf("%s\n", hash);
	return CLI_OK;
}
