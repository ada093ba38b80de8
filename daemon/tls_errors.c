#include "tls_errors.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

void openssl_error_text(char *out, size_t outlen, const char *fallback)
{
	unsigned long e;
	size_t n = 0;

	out[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char buf[256];

		if (reason == NULL) {
			ERR_error_string_n(e, buf, sizeof(buf));
			reason = buf;
		}
		if (n < outlen && strstr(out, reason) == NULL)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "; " : "", reason);
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "%s", fallback);
}
