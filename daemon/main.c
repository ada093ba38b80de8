/* hotlined - the call-centre interaction daemon.  Parses the command line,
 * loads the config, and hands over to the server's event loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "log.h"
#include "server.h"

#define DEFAULT_CONFIG "/etc/hotline/hotline.yaml"

/* Exit codes (documented in hotlined(8)). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* could not start or a fatal error while running; also an invalid config */
	EXIT_USAGE = 2,
};

static void usage(FILE *out)
{
	fprintf(out, "usage: hotlined [-c FILE]           run in the foreground (default config %s)\n"
	             "       hotlined --check-config FILE  validate FILE and exit\n"
	             "       hotlined --version | --help\n",
	        DEFAULT_CONFIG);
}

static int check_config(const char *path)
{
	char err[1024];
	struct config *cfg = config_load(path, err, sizeof(err));

	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return EXIT_RUNTIME;
	}
	printf("%s: ok (%zu listener(s), %zu user(s))\n", path, cfg->n_listen, cfg->n_users);
	config_free(cfg);
	return EXIT_OK;
}

static void banner(const struct config *cfg)
{
	char where[1024] = "", redis[400];
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listen && n < sizeof(where); i++)
		n += (size_t)snprintf(where + n, sizeof(where) - n, "%s%s:%u", i ? ", " : "", cfg->listen[i].host,
		                      cfg->listen[i].port);
	if (cfg->redis.n_sentinels)
		snprintf(redis, sizeof(redis), "master '%s' from %zu Sentinel(s)", cfg->redis.master_name,
		         cfg->redis.n_sentinels);
	else
		snprintf(redis, sizeof(redis), "%s%s", cfg->redis.unix_path[0] ? "unix:" : "",
		         cfg->redis.unix_path[0] ? cfg->redis.unix_path : cfg->redis.host);
	log_info("hotlined %s starting: config %s, listen %s, redis %s (prefix %s), %zu users",
	         HOTLINE_VERSION, cfg->path, where, redis, cfg->redis.key_prefix, cfg->n_users);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = DEFAULT_CONFIG;
	char err[1024];
	struct config *cfg;
	struct server *srv;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'k':
			return check_config(optarg);
		case 'V':
			printf("hotlined %s (libevent %s, hiredis %d.%d.%d)\n", HOTLINE_VERSION, event_get_version(),
			       HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	/* A client that vanishes mid-write must cost us an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LEVEL_INFO);
	cfg = config_load(config_path, err, sizeof(err));
	if (cfg == NULL) {
		log_error("invalid configuration: %s", err);
		return EXIT_RUNTIME;
	}
	log_set_level(cfg->log_level);
	banner(cfg);
	srv = server_new(cfg);
	if (srv == NULL)
		return EXIT_RUNTIME;
	rc = server_run(srv);
	server_free(srv);
	return rc;
}
