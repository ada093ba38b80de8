/* chain_file.h - entries of one log stream written as an export file
 * (/work/wt/EXPORT-FORMAT.md: JSON Lines of stream, id, seq, prev, hash,
 * entry) on a fresh hash chain of its own: seq 1 starts at the genesis
 * prev, each hash is chain_hash's, so `hotline audit` verifies the file
 * like a live stream.  Stream ids are made from the entries' own times,
 * "<ms>-<n>", kept strictly increasing when times repeat or go back.
 *
 * The file appears whole or not at all: it is written under a temporary
 * name beside it and renamed when complete ("-" writes to standard output
 * as it goes). */
#ifndef HOTLINE_CHAIN_FILE_H
#define HOTLINE_CHAIN_FILE_H

#include <stdint.h>
#include <stdio.h>

#include "chain.h"

struct chain_file {
	FILE *f;
	const char *path, *stream, *who;
	char *tmp_path; /* NULL when writing to standard output */
	uint64_t seq;
	char prev[CHAIN_HEX_LEN + 1];
	int64_t last_ms;
	uint64_t n_in_ms;
};

/* Messages on failure are prefixed with who.  0, or -1 (reported). */
int chain_file_open(struct chain_file *cf, const char *who, const char *path, const char *stream);
int chain_file_append(struct chain_file *cf, int64_t ts_ms, const char *entry, size_t len);
/* Complete the file: flush, fsync, rename into place.  0, or -1 (reported; nothing left behind). */
int chain_file_close(struct chain_file *cf);
/* Give up: the temporary file is removed. */
void chain_file_abort(struct chain_file *cf);

#endif
