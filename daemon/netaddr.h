/* netaddr.h - socket addresses as people read them in logs. */
#ifndef HOTLINE_NETADDR_H
#define HOTLINE_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "127.0.0.1:7300", "[::1]:7300", or "local" for other families. */
void netaddr_format(const struct sockaddr *sa, char *out, size_t outlen);

#endif
