/* cli_stop.h - how the CLI's long-running commands (tail, replay --to)
 * stop on Ctrl-C or SIGTERM: the signal sets a flag their loops check, and
 * is installed without SA_RESTART so it also wakes a poll() at once. */
#ifndef HOTLINE_CLI_STOP_H
#define HOTLINE_CLI_STOP_H

#include <signal.h>

extern volatile sig_atomic_t cli_stop_requested;

/* SIGINT and SIGTERM set cli_stop_requested. */
void cli_stop_on_signals(void);

/* CLOCK_MONOTONIC in milliseconds, for the commands' deadlines. */
long long cli_monotonic_ms(void);

#endif
