/* secret_file.h - a password read from a file only its owner (and, where
 * allowed, its group) can read, so that it is never written in a config
 * file, on a command line or in the environment.  Used for
 * redis.password_file (the daemon and the CLI, through the config loader),
 * the CLI's --redis-password-file and `hotline tail --credentials`. */
#ifndef HOTLINE_SECRET_FILE_H
#define HOTLINE_SECRET_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* The longest secret accepted, in bytes. */
#define SECRET_FILE_MAX 1024

/* Read the first line of path (a trailing LF or CR LF dropped; later lines
 * ignored) into out, NUL-terminated.  forbidden_mode names permission bits
 * that must be clear, e.g. S_IRWXO, or S_IRWXG | S_IRWXO for owner-only.
 * Refused, with one line saying why in why (never quoting the content):
 * a file that cannot be opened, is not a regular file, is too open, has an
 * empty first line, one of outsize bytes or more, or a control character.
 * Returns 0 or -1.  Nothing of the secret is left in local buffers. */
__attribute__((warn_unused_result)) int secret_file_read(const char *path, mode_t forbidden_mode, char *out,
                                                         size_t outsize, char *why, size_t whylen);

#endif
