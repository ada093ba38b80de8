/* The log reader's pure parts (ids, command-line times) and its export-file
 * reading: records in file order, selection by stream and id range, exact
 * bytes kept, and a clear FILE:LINE error for a line that is not a record.
 * Reading from Redis is covered by the integration tests of export/audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/read.h>

#include "log_source.h"
#include "reply_arena.h"

#include "check.h"

static void times(void)
{
	char id[LOG_ID_MAX];
	uint64_t ms, n;

	CHECK(log_time_to_id("2026-11-22T09:00:00Z", false, id));
	CHECK_STR(id, "1795338000000-0");
	CHECK(log_time_to_id("2026-11-22T09:00:00Z", true, id));
	CHECK_STR(id, "1795338000999-18446744073709551615");
	CHECK(log_time_to_id("2026-11-22T10:00:00.250+01:00", false, id));
	CHECK_STR(id, "1795338000250-0");
	CHECK(log_time_to_id("2026-11-22T09:00:00.25Z", true, id));
	CHECK_STR(id, "1795338000250-18446744073709551615");
	CHECK(log_time_to_id("2026-11-22", false, id));
	CHECK_STR(id, "1795305600000-0");
	CHECK(log_time_to_id("2026-11-22", true, id));
	CHECK_STR(id, "1795391999999-18446744073709551615");
	CHECK(log_time_to_id("@1795338000", false, id));
	CHECK_STR(id, "1795338000000-0");
	CHECK(log_time_to_id("1795338000000-7", true, id));
	CHECK_STR(id, "1795338000000-7");
	CHECK(log_time_to_id("1795338000000", true, id));
	CHECK_STR(id, "1795338000000-18446744073709551615");
	CHECK(!log_time_to_id("2026-11-22T09:00:00", false, id)); /* no zone: ambiguous */
	CHECK(!log_time_to_id("2026-02-31", false, id));
	CHECK(!log_time_to_id("2026-13-01", false, id));
	CHECK(!log_time_to_id("yesterday", false, id));
	CHECK(!log_time_to_id("@", false, id));
	CHECK(!log_time_to_id("1-2-3", false, id));
	CHECK(!log_time_to_id("99999999999999999999999-0", false, id));

	/* a stream id is never taken for a date, whatever its length */
	CHECK(log_time_to_id("1234567-89", false, id));
	CHECK_STR(id, "1234567-89");
	/* entry times, parsed without the C library's time zone machinery */
	CHECK(log_time_parse("2026-11-22T09:00:00.123Z", 24, false, &ms) && ms == 1795338000123ull);
	CHECK(log_time_parse("2026-11-22T09:00:01Z", 20, false, &ms) && ms == 1795338001000ull);
	CHECK(log_time_parse("2026-11-22T09:00:01Z", 20, true, &ms) && ms == 1795338001999ull);
	CHECK(log_time_parse("1970-01-01T00:00:00Z", 20, false, &ms) && ms == 0);
	CHECK(log_time_parse("2024-02-29T23:59:59Z", 20, false, &ms) && ms == 1709251199000ull);
	CHECK(log_time_parse("2000-03-01", 10, false, &ms) && ms == 951868800000ull);
	CHECK(!log_time_parse("2023-02-29", 10, false, &ms));
	CHECK(!log_time_parse("2100-02-29", 10, false, &ms));
	CHECK(!log_time_parse("2026-11-22T09:00:00.123Z", 23, false, &ms)); /* cut short: no zone */
	CHECK(!log_time_parse("2026-11-22T09:00:00.123Zx", 25, false, &ms));
	CHECK(!log_time_parse("1970-01-01T00:00:00+01:00", 25, false, &ms)); /* before the epoch */

	CHECK(log_id_parse("5-3", &ms, &n) && ms == 5 && n == 3);
	CHECK(!log_id_parse("5-", &ms, &n));
	CHECK(!log_id_parse("-3", &ms, &n));
	CHECK(log_id_cmp(5, 3, 5, 4) < 0 && log_id_cmp(6, 0, 5, 9) > 0 && log_id_cmp(5, 5, 5, 5) == 0);
}

static char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_log_source.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("temp file");
		exit(2);
	}
	close(fd);
	return path;
}

static int read_all(const char *path, const struct log_selection *sel, char ids[][LOG_ID_MAX + 16], int max,
                    char *err, size_t err_len)
{
	struct log_source *s = log_source_open_file(path, sel, err, err_len);
	struct log_record r;
	int n = 0, got;

	if (s == NULL)
		return -1;
	while (n < max && (got = log_source_next(s, &r)) == 1)
		snprintf(ids[n++], LOG_ID_MAX + 16, "%s/%s", log_stream_name(r.stream), r.id);
	if (got < 0) {
		snprintf(err, err_len, "%s", log_source_error(s));
		n = -1;
	}
	log_source_close(s);
	return n;
}

static void file_reading(void)
{
	const char *text = "{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":\"1\",\"prev\":\"p\",\"hash\":\"h\","
	                   "\"entry\":\"{\\\"event\\\":\\\"offer\\\"}\"}\n"
	                   "\n"
	                   "{\"stream\":\"complaints\",\"id\":\"11-0\",\"seq\":\"1\",\"entry\":\"e\",\"extra\":\"x\"}\n"
	                   "{\"stream\":\"calls\",\"id\":\"12-5\",\"seq\":\"2\",\"prev\":\"h\",\"hash\":\"h2\",\"entry\":\"{}\"}\r\n";
	char *path = write_file(text), err[512], ids[8][LOG_ID_MAX + 16];
	struct log_selection all = {0}, calls = {.streams = LOG_STREAM_MASK(LOG_CALLS)},
	                     range = {.from_id = "11-0", .to_id = "12-5"};
	struct log_source *s;
	struct log_record r;

	CHECK(read_all(path, &all, ids, 8, err, sizeof(err)) == 3);
	CHECK_STR(ids[0], "calls/10-0");
	CHECK_STR(ids[1], "complaints/11-0");
	CHECK_STR(ids[2], "calls/12-5");
	CHECK(read_all(path, &calls, ids, 8, err, sizeof(err)) == 2);
	CHECK_STR(ids[1], "calls/12-5");
	CHECK(read_all(path, &range, ids, 8, err, sizeof(err)) == 2);
	CHECK_STR(ids[0], "complaints/11-0");

	s = log_source_open_file(path, &all, err, sizeof(err));
	CHECK(s != NULL);
	CHECK(log_source_next(s, &r) == 1);
	CHECK(r.entry_len == strlen("{\"event\":\"offer\"}") && memcmp(r.entry, "{\"event\":\"offer\"}", r.entry_len) == 0);
	CHECK(r.seq_len == 1 && r.seq[0] == '1' && r.nfields == 4 && r.line == 1);
	CHECK(log_source_next(s, &r) == 1);
	CHECK(r.prev == NULL && r.hash == NULL && r.nfields == 3 && r.line == 3);
	CHECK(r.fields[2].name_len == 5 && memcmp(r.fields[2].name, "extra", 5) == 0);
	log_source_close(s);
	unlink(path);

	path = write_file("{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":\"1\"}\nnot json\n");
	CHECK(read_all(path, &all, ids, 8, err, sizeof(err)) == -1);
	CHECK(strstr(err, ":2: not an export record") != NULL);
	unlink(path);
	path = write_file("{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":1}\n");
	CHECK(read_all(path, &all, ids, 8, err, sizeof(err)) == -1 && strstr(err, ":1: field 'seq' is not a string"));
	unlink(path);
	path = write_file("{\"stream\":\"calls\",\"seq\":\"1\"}\n");
	CHECK(read_all(path, &all, ids, 8, err, sizeof(err)) == -1 && strstr(err, "needs \"stream\""));
	unlink(path);
	path = write_file("{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":\"1\",\"seq\":\"2\"}\n");
	CHECK(read_all(path, &all, ids, 8, err, sizeof(err)) == -1);
	unlink(path);
	CHECK(log_source_open_file("/nonexistent/x", &all, err, sizeof(err)) == NULL && strstr(err, "No such file"));
}

/* Values are the exact bytes, escapes and NULs included; keys are compared
 * decoded; the last line needs no line end. */
static void exact_bytes(void)
{
	char *path = write_file("{\"stream\":\"calls\",\"id\":\"10-0\",\"entry\":\"a\\u0000b\\n\\\"\",\"x\\u0079\":\"\\u00e9\"}");
	struct log_selection all = {0};
	char err[512], ids[2][LOG_ID_MAX + 16];
	struct log_source *s = log_source_open_file(path, &all, err, sizeof(err));
	struct log_record r;
	uint64_t done, total;

	CHECK(s != NULL);
	CHECK(log_source_next(s, &r) == 1);
	CHECK(r.entry_len == 5 && memcmp(r.entry, "a\0b\n\"", 5) == 0);
	CHECK(r.nfields == 2 && r.fields[1].name_len == 2 && memcmp(r.fields[1].name, "xy", 2) == 0);
	CHECK(r.fields[1].value_len == 2 && memcmp(r.fields[1].value, "\xc3\xa9", 2) == 0);
	CHECK(log_source_next(s, &r) == 0);
	log_source_progress(s, &done, &total);
	CHECK(done == total && total > 0);
	log_source_close(s);
	unlink(path);

	path = write_file("{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":\"1\",\"s\\u0065q\":\"2\"}\n");
	CHECK(read_all(path, &all, ids, 2, err, sizeof(err)) == -1 && strstr(err, ":1: field 'seq' appears twice"));
	unlink(path);
}

/* A line longer than the limit is an error, found without reading it all. */
static void long_line(void)
{
	char path[64] = "/tmp/test_log_source.XXXXXX", err[512], ids[2][LOG_ID_MAX + 16];
	struct log_selection all = {0};
	int fd = mkstemp(path);
	static char chunk[1 << 16];
	FILE *f = fdopen(fd, "w");

	memset(chunk, 'x', sizeof(chunk));
	fputs("{\"stream\":\"calls\",\"id\":\"10-0\",\"seq\":\"1\"}\n{\"stream\":\"calls\",\"entry\":\"", f);
	for (int i = 0; i < 80; i++) /* 5 MiB */
		fwrite(chunk, 1, sizeof(chunk), f);
	fputs("\"}\n", f);
	fclose(f);
	CHECK(read_all(path, &all, ids, 2, err, sizeof(err)) == -1 && strstr(err, ":2: line longer than"));
	unlink(path);
}

/* Replies built in the arena look like hiredis's own, and the arena's
 * memory is reused from one reply to the next. */
static void arena_replies(void)
{
	static const char reply[] = "*3\r\n*2\r\n$3\r\n1-0\r\n*4\r\n$3\r\nseq\r\n$1\r\n1\r\n$5\r\nentry\r\n$2\r\n{}\r\n"
	                            ":42\r\n$-1\r\n";
	struct reply_arena a = {0};
	redisReader *rd = redisReaderCreateWithFunctions(&reply_arena_functions);
	void *obj = NULL;
	redisReply *r;
	size_t blocks;
	static char big[3 << 20];
	char head[32];

	rd->privdata = &a;
	CHECK(redisReaderFeed(rd, reply, sizeof(reply) - 1) == REDIS_OK);
	CHECK(redisReaderGetReply(rd, &obj) == REDIS_OK && obj != NULL);
	r = obj;
	CHECK(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
	CHECK(r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2);
	CHECK(strcmp(r->element[0]->element[0]->str, "1-0") == 0);
	CHECK(r->element[0]->element[1]->elements == 4);
	CHECK(r->element[0]->element[1]->element[3]->len == 2 &&
	      strcmp(r->element[0]->element[1]->element[3]->str, "{}") == 0);
	CHECK(r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 42);
	CHECK(r->element[2]->type == REDIS_REPLY_NIL);
	blocks = a.n;
	CHECK(blocks == 1);

	/* a string bigger than a block gets a block of its own ... */
	memset(big, 'x', sizeof(big));
	snprintf(head, sizeof(head), "$%zu\r\n", sizeof(big));
	reply_arena_reset(&a);
	CHECK(redisReaderFeed(rd, head, strlen(head)) == REDIS_OK && redisReaderFeed(rd, big, sizeof(big)) == REDIS_OK &&
	      redisReaderFeed(rd, "\r\n", 2) == REDIS_OK);
	CHECK(redisReaderGetReply(rd, &obj) == REDIS_OK && obj != NULL);
	r = obj;
	CHECK(r->type == REDIS_REPLY_STRING && r->len == sizeof(big) && r->str[sizeof(big) - 1] == 'x');
	blocks = a.n;
	/* ... and the same again needs no new memory */
	reply_arena_reset(&a);
	CHECK(redisReaderFeed(rd, head, strlen(head)) == REDIS_OK && redisReaderFeed(rd, big, sizeof(big)) == REDIS_OK &&
	      redisReaderFeed(rd, "\r\n", 2) == REDIS_OK);
	CHECK(redisReaderGetReply(rd, &obj) == REDIS_OK && obj != NULL);
	CHECK(a.n == blocks);
	redisReaderFree(rd);
	reply_arena_free(&a);
}

int main(void)
{
	times();
	file_reading();
	exact_bytes();
	long_line();
	arena_replies();
	return check_summary("log_source");
}
