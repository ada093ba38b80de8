#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void netaddr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(out, outlen, "local");
	}
}

struct evconnlistener *netaddr_listen(struct event_base *base, const char *host, unsigned port, int backlog,
                                      evconnlistener_cb cb, void *arg, char *name, size_t namelen,
                                      struct netaddr_error *err)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	struct evconnlistener *evl;
	char service[12];
	int rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &ai);
	if (rc != 0) {
		*err = (struct netaddr_error){.resolving = true, .reason = gai_strerror(rc)};
		return NULL;
	}
	evl = evconnlistener_new_bind(base, cb, arg, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	                              backlog, ai->ai_addr, (int)ai->ai_addrlen);
	rc = errno;
	freeaddrinfo(ai);
	if (evl == NULL) {
		*err = (struct netaddr_error){.resolving = false, .reason = strerror(rc)};
		return NULL;
	}
	if (getsockname(evconnlistener_get_fd(evl), (struct sockaddr *)&bound, &bound_len) == 0)
		netaddr_format((struct sockaddr *)&bound, name, namelen);
	else
		snprintf(name, namelen, "%s:%u", host, port);
	return evl;
}
