#include "cli_stop.h"

#include <time.h>

volatile sig_atomic_t cli_stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	cli_stop_requested = 1;
}

void cli_stop_on_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

long long cli_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
