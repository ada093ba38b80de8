/* hotline bench: a load generator for hotlined's line protocol and, with
 * --resp, for Redis or a RESP proxy issuing the Redis commands hotlined
 * issues for the same work (bench_workload.h), so the daemon, Redis and a
 * proxy are measured by one generator.  Event loops on raw sockets
 * (bench_conn.h), one per --threads; latency in log-linear histograms
 * merged over threads (bench_hist.h); a human report and, with --json, a
 * JSON one (bench_stats.h).  BENCHMARKS.md says how it is used. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bench_loop.h"
#include "cli.h"
#include "config.h"
#include "line_client.h"
#include "secret_hash.h"

#define WHO              "hotline bench"
#define MAX_CONNECTIONS  10000
#define MAX_THREADS      64
#define MAX_PIPELINE     1024
#define MAX_PHONES       10000000
#define DEFAULT_DURATION 10.0
#define RESP_PORT        6379

struct bench_args {
	const char *to, *host, *json, *secret_file, *phones;
	unsigned port;
	unsigned long make_users;
	bool hold;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: hotline bench [--to HOST:PORT | --host H --port P | --to unix:PATH] [--resp]\n"
	        "                     [--workload ping|pop|call|complaint|mixed|idle]\n"
	        "                     [--connections N] [--pipeline P] [--threads T]\n"
	        "                     [--duration S | --requests N] [--warmup S] [--json FILE|-]\n"
	        "                     [--users-prefix NAME] [--users N] [--secret-file FILE]\n"
	        "                     [--customers N] [--phones FILE] [--complaint-pct N]\n"
	        "                     [--prefix KEYPREFIX] [--recent N] [--seed N] [--hold] [--quiet]\n"
	        "       hotline bench --make-users N [--users-prefix NAME] --secret-file FILE\n"
	        "\n"
	        "Drives hotlined (line protocol, default 127.0.0.1:%u) or, with --resp, Redis or a RESP proxy\n"
	        "(default 127.0.0.1:%u) with the Redis commands hotlined issues for the same work, and reports\n"
	        "throughput and latency percentiles (p50 p90 p99 p99.9 max) from merged histograms.\n"
	        "  --workload W      ping | pop (POP of a random demo customer) | call (offer, answer, end)\n"
	        "                    | complaint (open, ack, resolve) | mixed (per call: POP, offer, answer,\n"
	        "                    on --complaint-pct %% (10) a complaint, end) | idle (log in, stay idle);\n"
	        "                    default pop\n"
	        "  --connections N   1..%u (default 50); --pipeline P requests in flight per connection\n"
	        "                    (default 1: closed loop); --threads T event loops (default 1)\n"
	        "  --duration S      measure for S seconds (default %.0f), or --requests N requests in all;\n"
	        "                    --warmup S first runs S seconds unmeasured\n"
	        "  --users-prefix P  line mode: connection i logs in as P%%04u (account i %% N + 1 of\n"
	        "                    --users N, default the connection count up to 4096), all with the\n"
	        "                    secret in the first line of --secret-file FILE (mode 600)\n"
	        "  --make-users N    print the config `users:` entries for accounts P0001..PN (agents,\n"
	        "                    one Argon2id hash of the secret file's secret shared by all)\n"
	        "  --customers N     ids C000001.. as `hotline demo-data N` made them (default 100000);\n"
	        "                    --phones FILE: POP by phone, numbers (normalised) one per line\n"
	        "  --prefix P        --resp: hotlined's redis.key_prefix (default hotline:);\n"
	        "                    --recent N its pop.recent (default 5)\n"
	        "  --json FILE       also write the report as JSON (- = standard output; the text then\n"
	        "                    goes to standard error)\n"
	        "  --hold            once every connection is in, wait for a line on standard input before\n"
	        "                    running (to zero a profiler's counters, or read a server's memory)\n"
	        "Exit status: 0 every request answered OK; 1 some failed or a connection was lost;\n"
	        "2 could not run; 64 usage error.\n",
	        LC_DEFAULT_PORT, RESP_PORT, MAX_CONNECTIONS, DEFAULT_DURATION);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, WHO ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(hotline bench --help describes the options)\n");
	return CLI_USAGE;
}

static bool parse_count(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out >= min && *out <= max;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && end != s && *out >= 0 && *out <= 86400;
}

/* The first line of an owner-only file. */
static int read_secret(const char *file, char *out, size_t cap)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, WHO ": cannot open %s: %s\n", file, strerror(errno));
		return CLI_USAGE;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		fprintf(stderr, WHO ": %s must be a regular file readable by its owner only (chmod 600)\n", file);
		close(fd);
		return CLI_USAGE;
	}
	n = read(fd, out, cap - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (out[0] == '\0' || strpbrk(out, " \t")) {
		fprintf(stderr, WHO ": the first line of %s must be the secret (no blanks)\n", file);
		return CLI_USAGE;
	}
	return 0;
}

static bool valid_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 20)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("_.-", *s)))
			return false;
	return true;
}

static int make_users(unsigned long n, const char *prefix, const char *secret)
{
	char hash[SECRET_HASH_MAX];

	if (secret_hash(secret, strlen(secret), hash) != 0) {
		fprintf(stderr, WHO ": hashing failed (out of memory?)\n");
		return CLI_FAILED;
	}
	printf("# %lu agent accounts for `hotline bench --users-prefix %s`, all with the secret of the\n"
	       "# secret file (one Argon2id hash, shared: made by hotline bench --make-users).  Put these\n"
	       "# entries under `users:` in hotline.yaml.\n",
	       n, prefix);
	for (unsigned long i = 1; i <= n; i++)
		printf("  - name: \"%s%04lu\"\n    role: agent\n    secret: \"%s\"\n", prefix, i, hash);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAILED;
}

static int load_phones(const char *file, struct bench_workload *wl)
{
	FILE *f = fopen(file, "r");
	char line[128], **list = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, WHO ": cannot open %s: %s\n", file, strerror(errno));
		return CLI_USAGE;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");

		line[len] = '\0';
		if (len == 0)
			continue;
		if (len > 20 || strspn(line, "+0123456789") != len || n >= MAX_PHONES) {
			fprintf(stderr, WHO ": %s: '%s' is not a normalised phone number (+ and digits)\n", file, line);
			goto fail;
		}
		if (n == cap) {
			char **grown = realloc(list, (cap ? cap * 2 : 1024) * sizeof(*list));

			if (grown == NULL)
				goto oom;
			list = grown;
			cap = cap ? cap * 2 : 1024;
		}
		if ((list[n] = strdup(line)) == NULL)
			goto oom;
		n++;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, WHO ": %s holds no phone number\n", file);
		free(list);
		return CLI_USAGE;
	}
	wl->phones = list;
	wl->n_phones = n;
	return 0;
oom:
	fprintf(stderr, WHO ": out of memory reading %s\n", file);
fail:
	fclose(f);
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return CLI_FAILED;
}

static int resolve(struct bench_config *cfg, const struct bench_args *a)
{
	char host[256];
	unsigned port = cfg->wl.resp ? RESP_PORT : LC_DEFAULT_PORT;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	char portstr[16];
	int rc;

	if (a->to && strncmp(a->to, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&cfg->addr;

		if (strlen(a->to + 5) == 0 || strlen(a->to + 5) >= sizeof(un->sun_path))
			return bad_usage("--to unix:PATH wants a socket path shorter than 108 bytes");
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", a->to + 5);
		cfg->addrlen = sizeof(*un);
		snprintf(cfg->target, sizeof(cfg->target), "%s", a->to);
		return 0;
	}
	if (a->to) {
		if (lc_parse_hostport(a->to, host, sizeof(host), &port, port) != 0)
			return bad_usage("--to wants HOST:PORT or unix:PATH, not '%s'", a->to);
	} else {
		snprintf(host, sizeof(host), "%s", a->host ? a->host : "127.0.0.1");
		if (a->port)
			port = a->port;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, WHO ": cannot resolve %s: %s\n", host, gai_strerror(rc));
		return CLI_FAILED;
	}
	memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
	cfg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(cfg->target, sizeof(cfg->target), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	return 0;
}

/* One file descriptor per connection, plus a few: raise the soft limit to it. */
static int raise_fd_limit(unsigned connections)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr, WHO ": %u connections need %llu file descriptors; the hard limit is %llu "
		        "(raise it with ulimit -Hn or LimitNOFILE)\n",
		        connections, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return CLI_FAILED;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, WHO ": cannot raise the file descriptor limit to %llu: %s\n",
		        (unsigned long long)need, strerror(errno));
		return CLI_FAILED;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_config *cfg, struct bench_args *a)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},          {"host", required_argument, NULL, 'H'},
	    {"port", required_argument, NULL, 'P'},        {"resp", no_argument, NULL, 'R'},
	    {"workload", required_argument, NULL, 'w'},    {"connections", required_argument, NULL, 'c'},
	    {"pipeline", required_argument, NULL, 'p'},    {"threads", required_argument, NULL, 'T'},
	    {"duration", required_argument, NULL, 'd'},    {"requests", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'W'},      {"json", required_argument, NULL, 'j'},
	    {"users-prefix", required_argument, NULL, 'u'}, {"users", required_argument, NULL, 'U'},
	    {"secret-file", required_argument, NULL, 's'}, {"make-users", required_argument, NULL, 'M'},
	    {"customers", required_argument, NULL, 'C'},   {"phones", required_argument, NULL, 'f'},
	    {"complaint-pct", required_argument, NULL, 'K'}, {"prefix", required_argument, NULL, 'x'},
	    {"recent", required_argument, NULL, 'r'},      {"seed", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},             {"help", no_argument, NULL, 'h'},
	    {"hold", no_argument, NULL, 'L'},
	    {NULL, 0, NULL, 0}};
	unsigned long long v;
	bool users_given = false;
	int opt, kind;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			a->to = optarg;
			break;
		case 'H':
			a->host = optarg;
			break;
		case 'P':
			if (!parse_count(optarg, 1, 65535, &v))
				return bad_usage("--port wants 1..65535, not '%s'", optarg);
			a->port = (unsigned)v;
			break;
		case 'R':
			cfg->wl.resp = true;
			break;
		case 'w':
			if ((kind = bench_kind_from_name(optarg)) < 0)
				return bad_usage("unknown workload '%s' (ping pop call complaint mixed idle)", optarg);
			cfg->wl.kind = (enum bench_kind)kind;
			break;
		case 'c':
			if (!parse_count(optarg, 1, MAX_CONNECTIONS, &v))
				return bad_usage("--connections wants 1..10000, not '%s'", optarg);
			cfg->connections = (unsigned)v;
			break;
		case 'p':
			if (!parse_count(optarg, 1, MAX_PIPELINE, &v))
				return bad_usage("--pipeline wants 1..1024, not '%s'", optarg);
			cfg->pipeline = (unsigned)v;
			break;
		case 'T':
			if (!parse_count(optarg, 1, MAX_THREADS, &v))
				return bad_usage("--threads wants 1..64, not '%s'", optarg);
			cfg->threads = (unsigned)v;
			break;
		case 'd':
			if (!parse_seconds(optarg, &cfg->duration_s) || cfg->duration_s <= 0)
				return bad_usage("--duration wants seconds (0 < S <= 86400), not '%s'", optarg);
			break;
		case 'n':
			if (!parse_count(optarg, 1, 1ULL << 48, &cfg->requests))
				return bad_usage("--requests wants a positive count, not '%s'", optarg);
			break;
		case 'W':
			if (!parse_seconds(optarg, &cfg->warmup_s))
				return bad_usage("--warmup wants seconds (0..86400), not '%s'", optarg);
			break;
		case 'j':
			a->json = optarg;
			break;
		case 'u':
			if (!valid_prefix(optarg))
				return bad_usage("--users-prefix wants 1..20 of [A-Za-z0-9_.-], not '%s'", optarg);
			snprintf(cfg->users_prefix, sizeof(cfg->users_prefix), "%s", optarg);
			break;
		case 'U':
			if (!parse_count(optarg, 1, CONFIG_MAX_USERS, &v))
				return bad_usage("--users wants 1..4096 (the config's limit), not '%s'", optarg);
			cfg->users = (unsigned)v;
			users_given = true;
			break;
		case 's':
			a->secret_file = optarg;
			break;
		case 'M':
			if (!parse_count(optarg, 1, CONFIG_MAX_USERS, &v))
				return bad_usage("--make-users wants 1..4096 (the config's limit), not '%s'", optarg);
			a->make_users = (unsigned long)v;
			break;
		case 'C':
			if (!parse_count(optarg, 1, 100000000, &v))
				return bad_usage("--customers wants 1..100000000, not '%s'", optarg);
			cfg->wl.customers = (unsigned long)v;
			break;
		case 'f':
			a->phones = optarg;
			break;
		case 'K':
			if (!parse_count(optarg, 0, 100, &v))
				return bad_usage("--complaint-pct wants 0..100, not '%s'", optarg);
			cfg->wl.complaint_pct = (unsigned)v;
			break;
		case 'x':
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(cfg->wl.prefix))
				return bad_usage("--prefix wants 1..63 characters, not '%s'", optarg);
			snprintf(cfg->wl.prefix, sizeof(cfg->wl.prefix), "%s", optarg);
			break;
		case 'r':
			if (!parse_count(optarg, 0, 1000, &v))
				return bad_usage("--recent wants 0..1000, not '%s'", optarg);
			cfg->wl.recent = (unsigned)v;
			break;
		case 'S':
			if (!parse_count(optarg, 0, UINT64_MAX, &v))
				return bad_usage("--seed wants a non-negative integer, not '%s'", optarg);
			cfg->seed = v;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'L':
			a->hold = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return bad_usage("unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (a->to && (a->host || a->port))
		return bad_usage("--to and --host/--port are alternatives");
	if (cfg->duration_s > 0 && cfg->requests > 0)
		return bad_usage("--duration and --requests are alternatives");
	if (cfg->wl.kind == BENCH_IDLE && cfg->requests > 0)
		return bad_usage("the idle workload runs for a --duration");
	if (cfg->duration_s == 0 && cfg->requests == 0)
		cfg->duration_s = DEFAULT_DURATION;
	if (cfg->threads > cfg->connections)
		return bad_usage("--threads cannot exceed --connections");
	if (!users_given)
		cfg->users = cfg->connections < CONFIG_MAX_USERS ? cfg->connections : CONFIG_MAX_USERS;
	if (a->make_users == 0 && !cfg->wl.resp && cfg->wl.kind != BENCH_PING && !a->secret_file)
		return bad_usage("the line protocol needs --secret-file (the bench accounts' secret)");
	if (a->make_users && !a->secret_file)
		return bad_usage("--make-users needs --secret-file");
	return 0;
}

struct thread_arg {
	struct bench_loop *loop;
	pthread_barrier_t *barrier;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;

	bench_loop_login(t->loop);
	pthread_barrier_wait(t->barrier); /* every loop logged in */
	pthread_barrier_wait(t->barrier); /* the main thread took the start figures */
	bench_loop_run(t->loop);
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int write_json(const char *path, json_t *report)
{
	int rc;

	if (strcmp(path, "-") == 0) {
		rc = json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		fputc('\n', stdout);
		rc |= fflush(stdout);
	} else {
		rc = json_dump_file(report, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	}
	if (rc != 0)
		fprintf(stderr, WHO ": cannot write the JSON report to %s\n", path);
	return rc;
}

/* Run the loops, merge what they counted, report. */
/* --hold: the caller says when to start (any line, or the end of input). */
static void wait_for_go(void)
{
	char line[64];

	fprintf(stderr, WHO ": holding; press Enter (a line on standard input) to start\n");
	if (fgets(line, sizeof(line), stdin) == NULL)
		clearerr(stdin);
}

static int run(struct bench_config *cfg, const char *json_path, bool hold)
{
	struct bench_loop *loops = calloc(cfg->threads, sizeof(*loops));
	struct thread_arg *targs = calloc(cfg->threads, sizeof(*targs));
	pthread_t *tids = calloc(cfg->threads, sizeof(*tids));
	struct bench_stats *total = bench_stats_new();
	struct bench_run_info info = {.wl = &cfg->wl, .target = cfg->target, .connections = cfg->connections,
	                              .pipeline = cfg->pipeline, .threads = cfg->threads, .warmup_s = cfg->warmup_s,
	                              .duration_s = cfg->duration_s, .requests = cfg->requests};
	pthread_barrier_t barrier;
	unsigned started = 0, first = 0;
	uint64_t t0 = bench_now_ns();
	double cpu0;
	FILE *text = json_path && strcmp(json_path, "-") == 0 ? stderr : stdout;
	int rc = CLI_FAILED;

	if (!loops || !targs || !tids || !total)
		goto out;
	for (unsigned i = 0; i < cfg->threads; i++) {
		unsigned n = cfg->connections / cfg->threads + (i < cfg->connections % cfg->threads);

		if (bench_loop_init(&loops[i], cfg, i, first, n) != 0) {
			fprintf(stderr, WHO ": out of memory setting up %u connections\n", cfg->connections);
			goto out;
		}
		first += n;
	}
	if (!cfg->quiet)
		fprintf(stderr, WHO ": connecting %u connections to %s%s...\n", cfg->connections, cfg->target,
		        cfg->wl.resp ? "" : " and logging them in");
	pthread_barrier_init(&barrier, NULL, cfg->threads + 1);
	for (unsigned i = 0; i < cfg->threads; i++) {
		targs[i] = (struct thread_arg){.loop = &loops[i], .barrier = &barrier};
		int err = pthread_create(&tids[i], NULL, thread_main, &targs[i]);

		if (err != 0) {
			/* The others wait at the barrier for a party that never comes. */
			fprintf(stderr, WHO ": cannot start thread %u: %s\n", i, strerror(err));
			exit(CLI_FAILED);
		}
		started++;
	}
	pthread_barrier_wait(&barrier);
	info.login_s = (double)(bench_now_ns() - t0) / 1e9;
	{
		unsigned ready = 0;

		for (unsigned i = 0; i < cfg->threads; i++)
			ready += loops[i].stats->conn_ready;
		if (!cfg->quiet)
			fprintf(stderr, WHO ": %u of %u connections ready in %.1f s; running %s for %s\n", ready,
			        cfg->connections, info.login_s, bench_kind_name(cfg->wl.kind),
			        cfg->requests ? "a request count" : "a duration");
	}
	if (hold)
		wait_for_go();
	cpu0 = cpu_seconds();
	pthread_barrier_wait(&barrier);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	info.client_cpu_s = cpu_seconds() - cpu0;
	pthread_barrier_destroy(&barrier);
	for (unsigned i = 0; i < cfg->threads; i++) {
		bench_stats_merge(total, loops[i].stats);
		if (loops[i].first_error[0])
			fprintf(stderr, WHO ": %s\n", loops[i].first_error);
	}
	bench_report_text(text, total, &info);
	if (json_path) {
		json_t *report = bench_report_json(total, &info);

		if (report == NULL || write_json(json_path, report) != 0) {
			json_decref(report);
			goto out;
		}
		json_decref(report);
	}
	if (total->conn_ready == 0)
		rc = CLI_FAILED;
	else if (total->failed || total->unanswered || total->conn_failed || total->conn_lost)
		rc = CLI_FINDINGS;
	else
		rc = CLI_OK;
out:
	for (unsigned i = 0; loops && i < cfg->threads; i++)
		bench_loop_free(&loops[i]);
	free(loops);
	free(targs);
	free(tids);
	bench_stats_free(total);
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_config cfg = {.connections = 50, .pipeline = 1, .threads = 1};
	struct bench_args a = {0};
	int rc;

	bench_workload_init(&cfg.wl);
	snprintf(cfg.users_prefix, sizeof(cfg.users_prefix), "bench");
	cfg.seed = (uint64_t)time(NULL);
	rc = parse_args(argc, argv, &cfg, &a);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (a.secret_file && (rc = read_secret(a.secret_file, cfg.secret, sizeof(cfg.secret))) != 0)
		return rc;
	if (a.make_users) {
		rc = make_users(a.make_users, cfg.users_prefix, cfg.secret);
		sodium_memzero(cfg.secret, sizeof(cfg.secret));
		return rc;
	}
	if (a.phones && (rc = load_phones(a.phones, &cfg.wl)) != 0)
		return rc;
	if ((rc = resolve(&cfg, &a)) != 0 || (rc = raise_fd_limit(cfg.connections)) != 0)
		return rc;
	/* This run's token goes into every call and complaint id, so runs never collide. */
	snprintf(cfg.wl.run, sizeof(cfg.wl.run), "%08x", (unsigned)(bench_now_ns() ^ ((uint64_t)getpid() << 16)));
	if (cfg.wl.resp)
		bench_workload_set_sha(&cfg.wl);
	signal(SIGPIPE, SIG_IGN);
	rc = run(&cfg, a.json, a.hold);
	sodium_memzero(cfg.secret, sizeof(cfg.secret));
	for (size_t i = 0; i < cfg.wl.n_phones; i++)
		free(cfg.wl.phones[i]);
	free((void *)cfg.wl.phones);
	return rc;
}
