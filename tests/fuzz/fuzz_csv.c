/* fuzz_csv.c - the CSV reader behind `hotline import` (tools/csv.c) over random chunk splits.
 *
 * Input: byte 0 picks max_record, byte 1 seeds the chunk splits, the rest is the file.  Every chunk
 * lives in its own heap buffer that is wiped and freed when the reader asks for more, so a reader
 * that keeps a pointer into old input is caught by ASan.  Properties: the records (and errors) are
 * the same whether the input is read whole or in chunks; fields are NUL-terminated at lens[i]; at
 * most CSV_MAX_FIELDS fields; line numbers never go down; the reader always makes progress and,
 * once it has said CSV_END, keeps saying it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz_util.h"

static bool drain(struct csv_reader *r, uint64_t *h, size_t max_record, unsigned long *last_line,
                  size_t *calls, size_t limit)
{
	struct csv_record rec;
	const char *why;

	for (;;) {
		FUZZ_CHECK(++*calls < limit);
		why = NULL;
		enum csv_status st = csv_next(r, &rec, &why);
		if (st == CSV_NEED_MORE)
			return false;
		if (st == CSV_END)
			return true;
		FUZZ_CHECK(rec.line >= 1 && rec.line >= *last_line);
		*last_line = rec.line;
		*h = fuzz_hash(*h, &rec.line, sizeof(rec.line));
		if (st == CSV_ERROR) {
			FUZZ_CHECK(why != NULL);
			*h = fuzz_hash(*h, "!", 1);
			*h = fuzz_hash(*h, why, strlen(why));
			continue;
		}
		FUZZ_CHECK(st == CSV_RECORD);
		FUZZ_CHECK(rec.n_fields >= 1 && rec.n_fields <= CSV_MAX_FIELDS);
		size_t total = 0;
		for (size_t i = 0; i < rec.n_fields; i++) {
			FUZZ_CHECK(rec.fields[i][rec.lens[i]] == '\0');
			total += rec.lens[i];
			*h = fuzz_hash(*h, &rec.lens[i], sizeof(rec.lens[i]));
			*h = fuzz_hash(*h, rec.fields[i], rec.lens[i]);
		}
		FUZZ_CHECK(total <= max_record);
		*h = fuzz_hash(*h, ";", 1);
	}
}

static uint64_t run(const uint8_t *data, size_t size, size_t max_record, struct fuzz_rng *rng)
{
	struct csv_reader *r = csv_new(max_record);
	uint64_t h = FUZZ_HASH_INIT;
	unsigned long last_line = 0;
	size_t calls = 0, limit = 4 * size + 64, from = 0;
	bool ended = false;

	FUZZ_CHECK(r != NULL);
	while (from < size && !ended) {
		size_t n = rng ? fuzz_chunk(rng, size - from) : size - from;
		char *chunk = malloc(n);
		FUZZ_CHECK(chunk != NULL);
		memcpy(chunk, data + from, n);
		csv_feed(r, chunk, n);
		ended = drain(r, &h, max_record, &last_line, &calls, limit);
		memset(chunk, 0xA5, n);
		free(chunk);
		from += n;
	}
	if (!ended) {
		csv_finish(r);
		ended = drain(r, &h, max_record, &last_line, &calls, limit);
	}
	FUZZ_CHECK(ended);
	struct csv_record rec;
	const char *why;
	FUZZ_CHECK(csv_next(r, &rec, &why) == CSV_END);
	csv_free(r);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_records[] = {1, 2, 7, 64, 1024, 65536};
	if (size < 2)
		return 0;
	size_t max_record = max_records[data[0] % (sizeof(max_records) / sizeof(max_records[0]))];
	struct fuzz_rng rng = {.s = data[1]};

	data += 2;
	size -= 2;
	uint64_t whole = run(data, size, max_record, NULL);
	uint64_t split = run(data, size, max_record, &rng);
	FUZZ_CHECK(whole == split);
	return 0;
}
