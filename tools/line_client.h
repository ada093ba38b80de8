/* line_client.h - a small blocking client for hotlined's line protocol
 * (proto/PROTOCOL.md), shared by the CLI commands that talk to a daemon
 * (tail, bench, replay), in plain TCP or over TLS (lc_start_tls).
 *
 * Every call waits at most its timeout (milliseconds; negative = no limit)
 * using poll(), so a caller can wake up regularly to check a signal flag.
 * A signal that interrupts a wait makes the call return LC_INTR with
 * nothing lost: call it again.  Lines are read into a growable buffer, so
 * partial lines from the socket are simply kept until their LF arrives.
 */
#ifndef HOTLINE_LINE_CLIENT_H
#define HOTLINE_LINE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define LC_MAX_LINE     (1024 * 1024) /* longest line accepted from the server, LF excluded */
#define LC_DEFAULT_PORT 7300

enum lc_result {
	LC_OK = 0,
	LC_TIMEOUT = -1,     /* nothing complete arrived in time; partial data is kept */
	LC_EOF = -2,         /* the server closed the connection (a partial last line is dropped) */
	LC_ERR = -3,         /* socket error or protocol violation: see lc_error() */
	LC_INTR = -4,        /* a signal interrupted the wait; retry */
	LC_TOO_LONG = -5,    /* a line over LC_MAX_LINE was discarded; the connection stays usable */
	LC_AUTH_FAILED = -6, /* lc_auth: ERR auth_failed (do not retry with the same secret) */
	LC_TLS_VERIFY = -7,  /* lc_start_tls: the server's certificate did not verify (do not retry) */
};

/* TLS for a connection: TLS 1.2 or later, the server's certificate checked
 * against a CA and the name connected to. */
struct lc_tls_options {
	bool enabled;
	const char *ca_file;     /* PEM CA certificate(s); NULL = the system's trust store */
	const char *server_name; /* name (or IP address) the certificate must carry, also sent as
	                          * SNI when a name; NULL = the host given to lc_connect */
};

struct lc_conn;

/* Split "host:port", "[v6addr]:port", "host", "[v6addr]" or a bare IPv6
 * address ("::1", which cannot carry a port) into host and port; the port
 * defaults to default_port.  Returns 0, or -1 when malformed. */
int lc_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port, unsigned default_port);

/* Connect over TCP (IPv4 or IPv6, every address of a name in turn) within
 * timeout_ms in total.  NULL on failure, with the reason in err. */
struct lc_conn *lc_connect(const char *host, unsigned port, int timeout_ms, char *err, size_t errlen);

/* Handshake TLS on a fresh connection (before anything is sent) within
 * timeout_ms; from then on every call goes through TLS.  LC_OK;
 * LC_TLS_VERIFY when the certificate does not verify (wrong CA, name,
 * expired); LC_ERR, LC_TIMEOUT-as-LC_ERR or LC_INTR otherwise, with the
 * reason in lc_error().  Does nothing when opt is NULL or not enabled. */
int lc_start_tls(struct lc_conn *c, const struct lc_tls_options *opt, int timeout_ms);

/* Send `line` followed by LF (line must not contain LF). */
int lc_send_line(struct lc_conn *c, const char *line, int timeout_ms);

/* Read the next line.  On LC_OK, *line points to it (CR LF stripped,
 * NUL-terminated, *len bytes) inside the connection's buffer, valid until
 * the next call on c. */
int lc_read_line(struct lc_conn *c, int timeout_ms, char **line, size_t *len);

/* AUTH user secret, waiting for its reply; pushed lines before it are
 * skipped (a `* bye` is kept as the error text).  LC_OK, LC_AUTH_FAILED,
 * or another failure with the server's reply or the error in lc_error().
 * The caller must not have other requests unanswered. */
int lc_auth(struct lc_conn *c, const char *user, const char *secret, int timeout_ms);

/* The last error, as text for messages. */
const char *lc_error(const struct lc_conn *c);

/* "host:port" or "[v6]:port" of the peer, as given to lc_connect. */
const char *lc_address(const struct lc_conn *c);

void lc_close(struct lc_conn *c);

#endif
