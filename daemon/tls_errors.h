/* tls_errors.h - OpenSSL's error queue as one readable line, shared by the
 * daemon's TLS listener and the CLI's TLS client. */
#ifndef HOTLINE_TLS_ERRORS_H
#define HOTLINE_TLS_ERRORS_H

#include <stddef.h>

/* Empty the thread's OpenSSL error queue into out as "reason; reason"
 * (repeats dropped); fallback when the queue held nothing. */
void openssl_error_text(char *out, size_t outlen, const char *fallback);

#endif
