/* notify.h - the systemd service-manager protocol (sd_notify), via libsystemd.
 * Every call is a no-op when NOTIFY_SOCKET is unset, so the daemon runs the
 * same under systemd, in a terminal and in tests. */
#ifndef HOTLINE_NOTIFY_H
#define HOTLINE_NOTIFY_H

#include <event2/event.h>

void notify_ready(const char *status);
void notify_reloading(void); /* RELOADING=1 with MONOTONIC_USEC, as systemd 253+ expects */
void notify_stopping(void);
void notify_status(const char *status);

/* Start pinging the watchdog from the event loop at half the interval
 * systemd asked for, so a wedged loop is noticed.  Returns the timer event
 * (to free at exit) or NULL when no watchdog is configured. */
struct event *notify_watchdog_start(struct event_base *base);

#endif
