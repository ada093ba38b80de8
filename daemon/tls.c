/* tls.c - see tls.h. */
#include "tls.h"
#include "tls_errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
/* The bufferevent's own read event, for tls_resume_reading (libevent 2.1
 * has no public call that makes an OpenSSL bufferevent look at
 * SSL_pending). */
#include <event2/bufferevent_struct.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

/* Room for both config paths (4095 bytes each) and OpenSSL's reasons. */
#define TLS_ERR_MAX 10240

struct tls {
	SSL_CTX *ctx; /* for new connections; live ones hold their own reference */
};

/* A clearer message than OpenSSL's for the commonest mistake. */
static bool readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "%s %s: cannot read it: %s", what, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* An encrypted key would make OpenSSL ask for a passphrase on the
 * terminal: refuse instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

static void format_time(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "?");
}

/* "subject /CN=x, serial 1A2B, valid until 2027-01-01T00:00:00Z" */
static void describe_cert(X509 *x, char *out, size_t outlen, bool *expired)
{
	char subject[256] = "?", until[32];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *serial = bn ? BN_bn2hex(bn) : NULL;

	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	format_time(X509_get0_notAfter(x), until, sizeof(until));
	snprintf(out, outlen, "subject %s, serial %s, valid until %s", subject, serial ? serial : "?", until);
	*expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
	OPENSSL_free(serial);
	BN_free(bn);
}

static SSL_CTX *build(const struct config_tls *cfg, char *err, size_t errlen, char *desc, size_t desclen,
                      bool *expired)
{
	static const unsigned char sid_ctx[] = "hotlined";
	char why[512];
	EVP_PKEY *pkey = NULL;
	SSL_CTX *ctx;
	X509 *cert;
	FILE *f;

	ERR_clear_error();
	if (!readable("certificate", cfg->certificate, err, errlen) ||
	    !readable("key", cfg->key, err, errlen))
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		openssl_error_text(why, sizeof(why), "unknown OpenSSL error");
		snprintf(err, errlen, "cannot create a context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: OpenSSL 3 reports a TCP close without
	 * close_notify as a protocol error, which libevent 2.1 cannot tell
	 * from other errors; as a clean end it is the end of input, which is
	 * what allow_dirty_shutdown asks for (a line protocol cannot be
	 * truncated unnoticed: a partial last line is never executed). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections (waiting supervisors) need not keep 2 x 16 KiB. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->certificate) != 1) {
		openssl_error_text(why, sizeof(why), "unknown OpenSSL error");
		snprintf(err, errlen, "certificate %s does not load: %s", cfg->certificate, why);
		goto fail;
	}
	cert = SSL_CTX_get0_certificate(ctx);
	if ((f = fopen(cfg->key, "r")) == NULL) {
		snprintf(err, errlen, "key %s: cannot read it: %s", cfg->key, strerror(errno));
		goto fail;
	}
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (pkey == NULL) {
		openssl_error_text(why, sizeof(why), "unknown OpenSSL error");
		snprintf(err, errlen, "key %s does not load (an unencrypted PEM key is needed): %s", cfg->key,
		         why);
		goto fail;
	}
	if (cert == NULL || X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "key %s does not belong to the certificate %s", cfg->key,
		         cfg->certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error_text(why, sizeof(why), "unknown OpenSSL error");
		snprintf(err, errlen, "key %s cannot be used with the certificate %s: %s", cfg->key,
		         cfg->certificate, why);
		goto fail;
	}
	EVP_PKEY_free(pkey);
	describe_cert(cert, desc, desclen, expired);
	return ctx;
fail:
	EVP_PKEY_free(pkey);
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls *tls_new(const struct config_tls *cfg)
{
	struct tls *t = calloc(1, sizeof(*t));
	char err[TLS_ERR_MAX], desc[512];
	bool expired = false;

	if (t == NULL) {
		log_error("TLS: out of memory");
		return NULL;
	}
	t->ctx = build(cfg, err, sizeof(err), desc, sizeof(desc), &expired);
	if (t->ctx == NULL) {
		log_error("TLS %s", err);
		free(t);
		return NULL;
	}
	log_info("TLS certificate %s: %s", cfg->certificate, desc);
	if (expired)
		log_warn("TLS certificate %s has expired: clients will refuse it", cfg->certificate);
	return t;
}

bool tls_reload(struct tls *t, const struct config_tls *cfg)
{
	char err[TLS_ERR_MAX], desc[512];
	bool expired = false;
	SSL_CTX *fresh = build(cfg, err, sizeof(err), desc, sizeof(desc), &expired);

	if (fresh == NULL) {
		log_error("reload: TLS %s; keeping the previous certificate", err);
		return false;
	}
	/* Connections accepted with the old context keep it alive through
	 * their SSL objects; this drops only our reference. */
	SSL_CTX_free(t->ctx);
	t->ctx = fresh;
	log_info("reload: TLS certificate %s for new connections: %s", cfg->certificate, desc);
	if (expired)
		log_warn("reload: TLS certificate %s has expired: clients will refuse it", cfg->certificate);
	return true;
}

void tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct bufferevent *tls_bufferevent_new(struct tls *t, struct event_base *base, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(t->ctx);
	struct bufferevent *bev;

	if (ssl == NULL) {
		ERR_clear_error();
		evutil_closesocket(fd);
		return NULL;
	}
	/* Deferred callbacks: OpenSSL's bufferevent writes (and may fail)
	 * inside evbuffer_add; conn.c, like with plain sockets, expects its
	 * callbacks from the event loop only, never from within its own calls. */
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		/* libevent 2.1 has freed ssl (BEV_OPT_CLOSE_ON_FREE), not the socket. */
		evutil_closesocket(fd);
		return NULL;
	}
	/* A client that closes the TCP connection without close_notify is an
	 * end of input, as on a plain socket, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void tls_error_text(struct bufferevent *bev, const char *fallback, char *out, size_t outlen)
{
	unsigned long e;
	size_t n = 0;

	out[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		const char *reason;
		char buf[256];

		if (ERR_GET_LIB(e) == 0)
			continue; /* libevent also records SSL_get_error()'s code */
		reason = ERR_reason_error_string(e);

		if (reason == NULL) {
			ERR_error_string_n(e, buf, sizeof(buf));
			reason = buf;
		}
		if (n < outlen && strstr(out, reason) == NULL)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "; " : "", reason);
	}
	ERR_clear_error();
	if (out[0] == '\0')
		snprintf(out, outlen, "%s", fallback);
}

void tls_describe_session(struct bufferevent *bev, char *out, size_t outlen)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl == NULL)
		snprintf(out, outlen, "?");
	else
		snprintf(out, outlen, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

void tls_resume_reading(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	size_t low = 0, high = 0;

	if (ssl == NULL || !SSL_is_init_finished(ssl) || SSL_pending(ssl) <= 0)
		return;
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		return;
	if (bufferevent_getwatermark(bev, EV_READ, &low, &high) == 0 && high > 0 &&
	    evbuffer_get_length(bufferevent_get_input(bev)) >= high)
		return;
	event_active(&bev->ev_read, EV_READ, 1);
}

void tls_shutdown(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl && SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(ssl);
	ERR_clear_error();
}
