#include "chain_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

static int fail(const struct chain_file *cf, const char *what)
{
	fprintf(stderr, "%s: cannot %s %s: %s\n", cf->who, what, cf->path, strerror(errno));
	return -1;
}

int chain_file_open(struct chain_file *cf, const char *who, const char *path, const char *stream)
{
	int fd;

	*cf = (struct chain_file){.path = path, .stream = stream, .who = who, .last_ms = -1};
	memcpy(cf->prev, CHAIN_GENESIS, sizeof(cf->prev));
	if (strcmp(path, "-") == 0) {
		cf->f = stdout;
		cf->path = "<stdout>";
		return 0;
	}
	if ((cf->tmp_path = malloc(strlen(path) + 32)) == NULL) {
		errno = ENOMEM;
		return fail(cf, "write");
	}
	sprintf(cf->tmp_path, "%s.tmp.%ld", path, (long)getpid());
	fd = open(cf->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || (cf->f = fdopen(fd, "w")) == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		free(cf->tmp_path);
		cf->tmp_path = NULL;
		errno = e;
		return fail(cf, "write");
	}
	return 0;
}

int chain_file_append(struct chain_file *cf, int64_t ts_ms, const char *entry, size_t len)
{
	char id[48], seq[24], hash[CHAIN_HEX_LEN + 1], *text;
	json_t *line;
	int rc;

	/* Ids must increase: a time at or before the last one takes the last one's next number. */
	if (ts_ms > cf->last_ms) {
		cf->last_ms = ts_ms;
		cf->n_in_ms = 0;
	} else {
		cf->n_in_ms++;
	}
	snprintf(id, sizeof(id), "%" PRId64 "-%" PRIu64, cf->last_ms, cf->n_in_ms);
	cf->seq++;
	snprintf(seq, sizeof(seq), "%" PRIu64, cf->seq);
	chain_hash(cf->prev, cf->seq, entry, len, hash);
	line = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s%}", "stream", cf->stream, "id", id, "seq", seq, "prev",
	                 cf->prev, "hash", hash, "entry", entry, len);
	text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(line);
	if (text == NULL) {
		errno = ENOMEM;
		return fail(cf, "write");
	}
	rc = fprintf(cf->f, "%s\n", text) < 0 ? fail(cf, "write") : 0;
	free(text);
	memcpy(cf->prev, hash, sizeof(cf->prev));
	return rc;
}

int chain_file_close(struct chain_file *cf)
{
	int rc = 0;

	if (fflush(cf->f) != 0 || (cf->tmp_path && fsync(fileno(cf->f)) != 0))
		rc = fail(cf, "write");
	if (cf->tmp_path) {
		if (fclose(cf->f) != 0 && rc == 0)
			rc = fail(cf, "write");
		if (rc == 0 && rename(cf->tmp_path, cf->path) != 0)
			rc = fail(cf, "rename the finished file to");
		if (rc != 0)
			unlink(cf->tmp_path);
		free(cf->tmp_path);
		cf->tmp_path = NULL;
	}
	cf->f = NULL;
	return rc;
}

void chain_file_abort(struct chain_file *cf)
{
	if (cf->tmp_path) {
		fclose(cf->f);
		unlink(cf->tmp_path);
		free(cf->tmp_path);
		cf->tmp_path = NULL;
	}
	cf->f = NULL;
}
