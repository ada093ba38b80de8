/* atomic_file.h - write a file so that it either appears complete or not
 * at all: the data goes to a temporary file in the same directory, which
 * is flushed, fsync'd and renamed over the target, and the directory is
 * fsync'd so the rename itself survives a crash.  A failed write (ENOSPC,
 * EIO...) leaves the old file, if any, untouched and removes the temporary.
 * New files are created with mode 0600: exports hold personal data.
 */
#ifndef HOTLINE_ATOMIC_FILE_H
#define HOTLINE_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct atomic_file {
	FILE *f; /* write here */
	char path[4096], tmp[4096 + 16];
};

/* false with a message in err. */
bool atomic_file_open(struct atomic_file *af, const char *path, char *err, size_t err_len);
/* Flush, fsync, rename into place; false with a message (the temporary is
 * removed). */
bool atomic_file_commit(struct atomic_file *af, char *err, size_t err_len);
/* Give up: close and remove the temporary. */
void atomic_file_abort(struct atomic_file *af);

#endif
