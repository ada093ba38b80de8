#include "secret_file.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

/* Bytes read: enough for the longest secret, its CR LF and one more byte
 * to tell "too long" from "exactly fits". */
#define READ_MAX (SECRET_FILE_MAX + 3)

static int fail(char *why, size_t whylen, int fd, char *buf, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(char *why, size_t whylen, int fd, char *buf, const char *fmt, ...)
{
	va_list ap;

	if (fd >= 0)
		close(fd);
	if (buf)
		sodium_memzero(buf, READ_MAX + 1);
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *who_may_not(mode_t forbidden_mode)
{
	return (forbidden_mode & S_IRWXG) ? "group or others" : "others";
}

int secret_file_read(const char *path, mode_t forbidden_mode, char *out, size_t outsize, char *why, size_t whylen)
{
	char buf[READ_MAX + 1];
	size_t len = 0, line;
	struct stat st;
	ssize_t n;
	/* O_NONBLOCK: a FIFO named by mistake must not hang the loader. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (outsize == 0)
		return fail(why, whylen, fd, NULL, "no room for the secret (bug)");
	out[0] = '\0';
	if (fd < 0)
		return fail(why, whylen, -1, NULL, "cannot open %s: %s", path, strerror(errno));
	/* fstat on the open file: no window to swap it after the check. */
	if (fstat(fd, &st) != 0)
		return fail(why, whylen, fd, NULL, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(why, whylen, fd, NULL, "%s is not a regular file", path);
	if (st.st_mode & forbidden_mode)
		return fail(why, whylen, fd, NULL,
		            "permissions %04o for '%s' are too open: a file holding a secret must not be "
		            "accessible by %s (chmod %s %s)",
		            (unsigned)(st.st_mode & 07777), path, who_may_not(forbidden_mode),
		            (forbidden_mode & S_IRWXG) ? "600" : "640", path);
	while (len < READ_MAX && (n = read(fd, buf + len, READ_MAX - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail(why, whylen, fd, buf, "cannot read %s: %s", path, strerror(errno));
		}
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	close(fd);
	buf[len] = '\0';
	for (line = 0; line < len && buf[line] != '\n'; line++)
		;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line == 0)
		return fail(why, whylen, -1, buf, "the first line of %s is empty: it must hold the secret", path);
	if (line >= outsize || line > SECRET_FILE_MAX)
		return fail(why, whylen, -1, buf, "the secret in %s is too long: at most %zu bytes", path,
		            (outsize - 1 < SECRET_FILE_MAX ? outsize - 1 : (size_t)SECRET_FILE_MAX));
	for (size_t i = 0; i < line; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return fail(why, whylen, -1, buf, "the secret in %s contains a control character", path);
	memcpy(out, buf, line);
	out[line] = '\0';
	sodium_memzero(buf, sizeof(buf));
	return 0;
}
