/* netaddr.h - socket addresses as people read them in logs, and the
 * listening sockets the daemon opens on them. */
#ifndef HOTLINE_NETADDR_H
#define HOTLINE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/listener.h>

/* "127.0.0.1:7300", "[::1]:7300", or "local" for other families. */
void netaddr_format(const struct sockaddr *sa, char *out, size_t outlen);

/* Why netaddr_listen failed, for the caller to say in its own words. */
struct netaddr_error {
	bool resolving;     /* true: HOST:PORT did not resolve; false: socket, bind or listen failed */
	const char *reason; /* gai_strerror's or strerror's text: use it before the next such call */
};

/* Listen on HOST:PORT (port 0: the kernel picks one) in BASE's loop: the
 * first address getaddrinfo gives for it (passive, numeric port, IPv4 or
 * IPv6 as HOST says), on a non-blocking, close-on-exec socket with
 * SO_REUSEADDR and BACKLOG, accepting into CB(ARG) (NULL: no accepting
 * until a callback is set, as evhttp_bind_listener does); freeing the
 * listener closes the socket.  NAME gets the address actually bound, with
 * the real port, as netaddr_format writes it ("HOST:PORT" as given if the
 * kernel cannot say).  NULL on failure with *ERR filled in; logs nothing. */
struct evconnlistener *netaddr_listen(struct event_base *base, const char *host, unsigned port, int backlog,
                                      evconnlistener_cb cb, void *arg, char *name, size_t namelen,
                                      struct netaddr_error *err);

#endif
