#include "notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"

static void send_state(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("sd_notify failed: %d", rc);
}

void notify_ready(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status ? status : "ready");
	send_state(msg);
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	send_state(msg);
}

void notify_stopping(void)
{
	send_state("STOPPING=1");
}

void notify_status(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	send_state(msg);
}

static void watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	send_state("WATCHDOG=1");
}

struct event *notify_watchdog_start(struct event_base *base)
{
	uint64_t usec = 0;
	struct event *ev;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return NULL;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	ev = event_new(base, -1, EV_PERSIST, watchdog_tick, NULL);
	if (ev == NULL || event_add(ev, &tv) != 0) {
		log_error("cannot start the watchdog timer");
		if (ev)
			event_free(ev);
		return NULL;
	}
	log_info("watchdog: pinging every %llu ms", (unsigned long long)usec / 1000);
	return ev;
}
