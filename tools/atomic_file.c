#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool atomic_file_open(struct atomic_file *af, const char *path, char *err, size_t err_len)
{
	int fd;

	memset(af, 0, sizeof(*af));
	if (strlen(path) >= sizeof(af->path)) {
		snprintf(err, err_len, "%s: path too long", path);
		return false;
	}
	snprintf(af->path, sizeof(af->path), "%s", path);
	snprintf(af->tmp, sizeof(af->tmp), "%s.tmpXXXXXX", path);
	fd = mkostemp(af->tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot create a temporary file next to it: %s", path,
		         strerror(errno));
		return false;
	}
	af->f = fdopen(fd, "w");
	if (af->f == NULL) {
		snprintf(err, err_len, "%s: %s", af->tmp, strerror(errno));
		close(fd);
		unlink(af->tmp);
		return false;
	}
	return true;
}

void atomic_file_abort(struct atomic_file *af)
{
	if (af->f) {
		fclose(af->f);
		af->f = NULL;
		unlink(af->tmp);
	}
}

/* fsync the directory holding path, so a rename into it is durable. */
static int sync_dir(const char *path)
{
	char copy[4096];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

bool atomic_file_commit(struct atomic_file *af, char *err, size_t err_len)
{
	FILE *f = af->f;
	int e = 0;

	af->f = NULL;
	errno = 0;
	if (fflush(f) != 0 || ferror(f))
		e = errno ? errno : EIO;
	else if (fsync(fileno(f)) != 0)
		e = errno;
	if (fclose(f) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(af->tmp, af->path) != 0)
		e = errno;
	if (e) {
		snprintf(err, err_len, "%s: %s", af->path, strerror(e));
		unlink(af->tmp);
		return false;
	}
	if (sync_dir(af->path) != 0) {
		/* The file is complete and in place; only its durability across a
		 * power cut is in doubt. */
		snprintf(err, err_len, "%s: written, but syncing its directory failed: %s", af->path,
		         strerror(errno));
		return false;
	}
	return true;
}
