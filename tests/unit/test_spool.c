/* test_spool.c - unit tests for daemon/spool.c: order, reopen, the on-disk format (checked against an
 * independent encoder here), torn tails, corruption, the size cap, hand-made crash states of the cursor
 * and reset, a failed append's rollback, and a child killed with SIGKILL at random moments while it
 * appends and replays.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wmissing-prototypes -Wshadow -g \
 *          -fsanitize=address,undefined -Idaemon daemon/spool.c tests/unit/test_spool.c -o /tmp/t_spool
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define HDR      16
#define BIG      (1u << 20)
#define SLOT1    512
#define MAX_PAY  3000
#define KILL_MAX (64u * 1024)

/* Paths of the spool under test, inside a private temporary directory. */
struct env {
	char dir[64];
	char path[128];
	char cpath[160];
};

/* ---- independent encoder: the format as documented in spool.h ---------------------------------------- */

static uint32_t crc32c_bitwise(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Writes one cursor slot by hand; valid=false writes a slot whose CRC is wrong (a torn write). */
static void write_slot(const char *cpath, int slot, uint64_t seq, uint64_t off, bool valid)
{
	unsigned char b[32] = {0};
	int fd = open(cpath, O_WRONLY | O_CREAT, 0600);

	put32(b, 0x43534c48u);
	put64(b + 8, seq);
	put64(b + 16, off);
	put32(b + 24, crc32c_bitwise(b, 24) ^ (valid ? 0 : 1));
	CHECK(fd >= 0);
	CHECK(pwrite(fd, b, sizeof(b), slot ? SLOT1 : 0) == (ssize_t)sizeof(b));
	CHECK(close(fd) == 0);
}

/* ---- files --------------------------------------------------------------------------------------------- */

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	long long n = file_size(path);
	unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
	int fd = open(path, O_RDONLY);

	CHECK(n >= 0 && buf && fd >= 0);
	*len = 0;
	if (n > 0 && buf && fd >= 0 && read(fd, buf, (size_t)n) == n)
		*len = (size_t)n;
	if (fd >= 0)
		close(fd);
	return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
	CHECK(close(fd) == 0);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	unsigned char *buf = read_all(from, &len);

	write_all(to, buf, len);
	free(buf);
}

static void flip_byte(const char *path, long long off)
{
	int fd = open(path, O_RDWR);
	unsigned char c = 0;

	CHECK(fd >= 0);
	CHECK(pread(fd, &c, 1, off) == 1);
	c ^= 0x20;
	CHECK(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

static void remove_spool(const struct env *e)
{
	unlink(e->path);
	unlink(e->cpath);
}

static void cleanup_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- payloads ------------------------------------------------------------------------------------------ */

static uint32_t xorshift(uint32_t *st)
{
	uint32_t x = *st;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *st = x;
}

/* len >= 8: the sequence number, then bytes that include LF and NUL every few positions. */
static void make_payload(unsigned char *buf, uint64_t seq, size_t len)
{
	put64(buf, seq);
	for (size_t i = 8; i < len; i++) {
		unsigned char b = (unsigned char)(seq * 131 + i * 7);

		buf[i] = i % 5 == 0 ? '\n' : i % 7 == 0 ? '\0' : b;
	}
}

/* The sequence number of a payload made by make_payload, or UINT64_MAX when its body is wrong. */
static uint64_t payload_seq(const void *rec, size_t len)
{
	unsigned char want[MAX_PAY];
	uint64_t seq;

	if (len < 8 || len > MAX_PAY)
		return UINT64_MAX;
	seq = get64(rec);
	make_payload(want, seq, len);
	return memcmp(want, rec, len) == 0 ? seq : UINT64_MAX;
}

static size_t len_for(uint64_t seq)
{
	return 8 + (size_t)(seq * 37 % 1200);
}

static struct spool *open_ok(const char *path, size_t max)
{
	char err[512] = "";
	struct spool *s = spool_open(path, max, err, sizeof(err));

	if (!s)
		fprintf(stderr, "open failed: %s\n", err);
	CHECK(s != NULL);
	return s;
}

static int append_seq(struct spool *s, uint64_t seq)
{
	unsigned char buf[MAX_PAY];
	size_t len = len_for(seq);

	make_payload(buf, seq, len);
	return spool_append(s, buf, len);
}

/* Peeks, checks the payload is record seq, consumes. */
static void expect_next(struct spool *s, uint64_t seq)
{
	const void *rec = NULL;
	size_t len = 0;
	int r = spool_peek(s, &rec, &len);

	CHECK(r == 0);
	if (r != 0) {
		fprintf(stderr, "  peek: %d %s\n", r, spool_error(s));
		return;
	}
	CHECK(len == len_for(seq));
	CHECK(payload_seq(rec, len) == seq);
	CHECK(spool_consume(s) == 0);
}

static size_t bytes_of(uint64_t first, uint64_t last)
{
	size_t n = 0;

	for (uint64_t q = first; q <= last; q++)
		n += HDR + len_for(q);
	return n;
}

/* ---- tests --------------------------------------------------------------------------------------------- */

static void test_crc_vector(void)
{
	/* The standard check value: if this fails, the format checks below mean nothing. */
	CHECK(crc32c_bitwise("123456789", 9) == 0xe3069283u);
}

static void test_order(const struct env *e)
{
	struct spool *s = open_ok(e->path, BIG);
	const unsigned char tiny[3][1] = {{'\n'}, {'\0'}, {0xff}};
	const void *rec;
	size_t len;

	if (!s)
		return;
	CHECK(spool_pending(s) == 0);
	CHECK(spool_bytes(s) == 0);
	CHECK(strcmp(spool_error(s), "") == 0);
	CHECK(spool_peek(s, &rec, &len) == 1);
	CHECK(spool_consume(s) == -1);
	CHECK(spool_append(s, "x", 0) == -1 && errno == EINVAL);

	/* One-byte records holding the bytes a text-based framing would trip over. */
	for (int i = 0; i < 3; i++)
		CHECK(spool_append(s, tiny[i], 1) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(spool_peek(s, &rec, &len) == 0 && len == 1 && memcmp(rec, tiny[i], 1) == 0);
		CHECK(spool_consume(s) == 0);
	}
	CHECK(spool_bytes(s) == 0 && file_size(e->path) == 0);

	for (uint64_t q = 1; q <= 200; q++)
		CHECK(append_seq(s, q) == 0);
	CHECK(spool_pending(s) == 200);
	CHECK(spool_bytes(s) == bytes_of(1, 200));
	CHECK(file_size(e->path) == (long long)bytes_of(1, 200));
	/* Peeking twice without consuming returns the same record. */
	CHECK(spool_peek(s, &rec, &len) == 0 && payload_seq(rec, len) == 1);
	for (uint64_t q = 1; q <= 120; q++)
		expect_next(s, q);
	for (uint64_t q = 201; q <= 260; q++)
		CHECK(append_seq(s, q) == 0);
	CHECK(spool_pending(s) == 140);
	for (uint64_t q = 121; q <= 260; q++)
		expect_next(s, q);
	CHECK(spool_pending(s) == 0);
	CHECK(spool_bytes(s) == 0);
	CHECK(file_size(e->path) == 0);
	CHECK(spool_peek(s, &rec, &len) == 1);
	spool_close(s);
	remove_spool(e);
}

static void test_reopen(const struct env *e)
{
	struct spool *s = open_ok(e->path, BIG);

	if (!s)
		return;
	for (uint64_t q = 1; q <= 50; q++)
		CHECK(append_seq(s, q) == 0);
	for (uint64_t q = 1; q <= 20; q++)
		expect_next(s, q);
	spool_close(s);

	s = open_ok(e->path, BIG);
	if (!s)
		return;
	CHECK(spool_pending(s) == 30);
	CHECK(spool_bytes(s) == bytes_of(1, 50));
	for (uint64_t q = 21; q <= 25; q++)
		expect_next(s, q);
	CHECK(append_seq(s, 51) == 0);
	spool_close(s);

	s = open_ok(e->path, BIG);
	if (!s)
		return;
	CHECK(spool_pending(s) == 26);
	for (uint64_t q = 26; q <= 51; q++)
		expect_next(s, q);
	spool_close(s);
	CHECK(file_size(e->path) == 0);

	/* After the reset the cursor is really 0: a new record is pending after reopen. */
	s = open_ok(e->path, BIG);
	if (!s)
		return;
	CHECK(spool_pending(s) == 0);
	CHECK(append_seq(s, 52) == 0);
	spool_close(s);
	s = open_ok(e->path, BIG);
	if (!s)
		return;
	CHECK(spool_pending(s) == 1);
	expect_next(s, 52);
	spool_close(s);
	remove_spool(e);
}

static void test_format(const struct env *e)
{
	const unsigned char a[] = "a\nb\0c";
	const unsigned char b[] = {0, 0, 0, 0};
	struct spool *s = open_ok(e->path, BIG);
	unsigned char *raw;
	size_t len;

	if (!s)
		return;
	CHECK(spool_append(s, a, sizeof(a)) == 0);
	CHECK(spool_append(s, b, sizeof(b)) == 0);
	raw = read_all(e->path, &len);
	CHECK(len == 2 * HDR + sizeof(a) + sizeof(b));
	if (len == 2 * HDR + sizeof(a) + sizeof(b)) {
		CHECK(memcmp(raw, "HLSR", 4) == 0);
		CHECK(get32(raw + 4) == sizeof(a));
		CHECK(get32(raw + 8) == crc32c_bitwise(a, sizeof(a)));
		CHECK(get32(raw + 12) == crc32c_bitwise(raw, 12));
		CHECK(memcmp(raw + HDR, a, sizeof(a)) == 0);
		CHECK(get32(raw + HDR + sizeof(a) + 4) == sizeof(b));
	}
	free(raw);

	CHECK(spool_consume(s) == 0);
	raw = read_all(e->cpath, &len);
	/* A fresh cursor file has no valid slot, so the first write lands in slot 0. */
	CHECK(len >= 32);
	if (len >= 32) {
		CHECK(memcmp(raw, "HLSC", 4) == 0);
		CHECK(get32(raw + 24) == crc32c_bitwise(raw, 24));
		CHECK(get64(raw + 16) == HDR + sizeof(a));
	}
	free(raw);
	spool_close(s);
	remove_spool(e);
}

/* Records 1..5, the first `consumed` of them consumed; returns the file image. */
static unsigned char *five_records(const struct env *e, int consumed, size_t *len)
{
	struct spool *s = open_ok(e->path, BIG);

	if (s) {
		for (uint64_t q = 1; q <= 5; q++)
			CHECK(append_seq(s, q) == 0);
		for (int q = 1; q <= consumed; q++)
			expect_next(s, (uint64_t)q);
		spool_close(s);
	}
	return read_all(e->path, len);
}

static void test_torn_tail(const struct env *e)
{
	size_t len, last = HDR + len_for(5);
	unsigned char *img = five_records(e, 2, &len);
	unsigned char *cur;
	size_t clen;

	cur = read_all(e->cpath, &clen);
	CHECK(len == bytes_of(1, 5));
	/* Every possible cut inside the last record, from one byte short to header-plus-one-byte. */
	for (size_t k = 1; k < last && len == bytes_of(1, 5); k++) {
		struct spool *s;

		write_all(e->path, img, len - k);
		write_all(e->cpath, cur, clen);
		s = open_ok(e->path, BIG);
		if (!s)
			break;
		CHECK(spool_pending(s) == 2);
		CHECK(spool_bytes(s) == bytes_of(1, 4));
		CHECK(file_size(e->path) == (long long)bytes_of(1, 4));
		if (k % 97 == 1) {
			CHECK(append_seq(s, 5) == 0);
			spool_close(s);
			s = open_ok(e->path, BIG);
			if (!s)
				break;
			CHECK(spool_pending(s) == 3);
			for (uint64_t q = 3; q <= 5; q++)
				expect_next(s, q);
		}
		spool_close(s);
	}
	free(cur);
	remove_spool(e);
	free(img);
}

/* Tails a crash can leave at full length: pages that never reached the disk read back as zeros. */
static void test_torn_tail_full_length(const struct env *e)
{
	size_t len, last = HDR + len_for(5);
	unsigned char *img = five_records(e, 0, &len);
	const size_t start = bytes_of(1, 4);
	/* Zeroed ranges within record 5; the last entry flips its final byte instead (a torn sector). */
	struct {
		size_t from, to;
	} zero[] = {{0, last}, {0, HDR}, {4, 8}, {HDR + 10, last}, {0, 0}};
	const size_t nz = sizeof(zero) / sizeof(zero[0]);

	CHECK(len == bytes_of(1, 5));
	for (size_t z = 0; z < nz && len == bytes_of(1, 5); z++) {
		unsigned char *copy = malloc(len);
		struct spool *s;

		if (!copy)
			break;
		memcpy(copy, img, len);
		memset(copy + start + zero[z].from, 0, zero[z].to - zero[z].from);
		if (z == nz - 1)
			copy[len - 1] ^= 0x55;
		write_all(e->path, copy, len);
		unlink(e->cpath);
		s = open_ok(e->path, BIG);
		free(copy);
		if (!s)
			continue;
		CHECK(spool_pending(s) == 4);
		CHECK(file_size(e->path) == (long long)start);
		spool_close(s);
	}
	remove_spool(e);
	free(img);
}

static void expect_open_fails(const struct env *e, const char *why)
{
	char err[512] = "";
	struct spool *s = spool_open(e->path, BIG, err, sizeof(err));

	CHECK(s == NULL);
	CHECK(strncmp(err, "spool ", 6) == 0 && strstr(err, e->path) != NULL);
	CHECK(strstr(err, why) != NULL);
	if (s || !strstr(err, why))
		fprintf(stderr, "  got: %s\n", err);
	spool_close(s);
}

static void test_corruption(const struct env *e)
{
	size_t len;
	unsigned char *img = five_records(e, 1, &len);
	/* Offsets inside record 3: a payload byte, the length, the magic, the payload CRC. */
	const long long r3 = (long long)bytes_of(1, 2);
	const long long where[] = {r3 + HDR + 3, r3 + 5, r3, r3 + 9};
	struct spool *s;
	const void *rec;
	size_t rlen;

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		write_all(e->path, img, len);
		flip_byte(e->path, where[i]);
		expect_open_fails(e, "corrupt");
		/* Nothing was dropped: the file is as it was. */
		CHECK(file_size(e->path) == (long long)len);
	}

	/* Damage that appears while the spool is open is reported by peek, not skipped. */
	write_all(e->path, img, len);
	s = open_ok(e->path, BIG);
	if (s) {
		flip_byte(e->path, (long long)bytes_of(1, 1) + HDR + 1);
		CHECK(spool_peek(s, &rec, &rlen) == -1);
		CHECK(strstr(spool_error(s), "checksum") != NULL);
		spool_close(s);
	}
	remove_spool(e);
	free(img);
}

/* A damaged first header followed by a valid one that straddles the recovery scan's 16 KiB read chunks
 * (scan starts one byte in): the overlap between chunks must still find it, or everything is dropped. */
static void test_corruption_chunk_edge(const struct env *e)
{
	enum { CHUNK = 16384 };
	unsigned char *big = malloc(CHUNK + 64);

	if (!big)
		return;
	memset(big, 'x', CHUNK + 64);
	/* The second header starts at HDR + len; cover every straddling position and both neighbours. */
	for (size_t len = CHUNK + 1 - 2 * HDR; len <= CHUNK + 1 - HDR; len++) {
		struct spool *s = open_ok(e->path, BIG);

		if (!s)
			break;
		CHECK(spool_append(s, big, len) == 0);
		CHECK(spool_append(s, "tail", 4) == 0);
		spool_close(s);
		flip_byte(e->path, 0);
		expect_open_fails(e, "corrupt");
		remove_spool(e);
	}
	free(big);
}

static void test_full(const struct env *e)
{
	const size_t max = 2 * (HDR + 10);
	const unsigned char rec[16] = "0123456789abcde";
	struct spool *s = open_ok(e->path, max);

	if (!s)
		return;
	CHECK(spool_append(s, rec, 10) == 0);
	CHECK(spool_append(s, rec, 10) == 0);
	CHECK(spool_bytes(s) == max);
	CHECK(spool_append(s, rec, 1) == -2);
	CHECK(spool_pending(s) == 2);
	CHECK(spool_bytes(s) == max);
	CHECK(file_size(e->path) == (long long)max);
	CHECK(spool_consume(s) == 0);
	/* Consuming does not free space until everything is consumed: the file only shrinks to 0. */
	CHECK(spool_append(s, rec, 1) == -2);
	CHECK(spool_consume(s) == 0);
	CHECK(spool_append(s, rec, 10) == 0);
	CHECK(spool_append(s, rec, 11) == -2);
	CHECK(spool_append(s, rec, 10) == 0);
	spool_close(s);

	/* A smaller cap after restart: the data stays replayable, new appends are refused. */
	s = open_ok(e->path, 20);
	if (!s)
		return;
	CHECK(spool_pending(s) == 2);
	CHECK(spool_append(s, rec, 1) == -2);
	for (int i = 0; i < 2; i++) {
		const void *p;
		size_t n;

		CHECK(spool_peek(s, &p, &n) == 0 && n == 10 && memcmp(p, rec, 10) == 0);
		CHECK(spool_consume(s) == 0);
	}
	CHECK(spool_append(s, rec, 4) == 0);
	CHECK(spool_append(s, rec, 1) == -2);
	spool_close(s);
	remove_spool(e);
}

/* States a crash inside consume or the reset can leave, written by hand. */
static void test_crash_states(const struct env *e)
{
	const size_t b1 = bytes_of(1, 1), b2 = bytes_of(1, 2), end = bytes_of(1, 5);
	size_t len, clen;
	unsigned char *img = five_records(e, 0, &len);
	unsigned char *raw;
	struct spool *s;

	/* Cursor written at the end, truncate never happened: nothing pending, file emptied. */
	unlink(e->cpath);
	write_slot(e->cpath, 1, 7, end, true);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 0);
		CHECK(file_size(e->path) == 0);
		spool_close(s);
	}

	/* Truncate done, cursor reset never happened.  b2 is a record boundary of what gets appended next,
	 * so a stale cursor would silently skip two records after the next restart. */
	write_all(e->path, "", 0);
	unlink(e->cpath);
	write_slot(e->cpath, 0, 3, b2, true);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 0);
		for (uint64_t q = 1; q <= 5; q++)
			CHECK(append_seq(s, q) == 0);
		spool_close(s);
	}
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 5);
		expect_next(s, 1);
		spool_close(s);
	}

	/* Mid-replay: cursor at record 3. */
	write_all(e->path, img, len);
	unlink(e->cpath);
	write_slot(e->cpath, 0, 1, b2, true);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 3);
		expect_next(s, 3);
		spool_close(s);
	}

	/* The newer slot was torn: the older one (one record behind) wins; a replay, never a skip. */
	unlink(e->cpath);
	write_slot(e->cpath, 0, 4, b1, true);
	write_slot(e->cpath, 1, 5, b2, false);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 4);
		expect_next(s, 2);
		spool_close(s);
	}

	/* Both valid: the higher sequence number wins wherever it sits, and the next write goes to the
	 * other slot, leaving the winner intact. */
	write_all(e->path, img, len);
	unlink(e->cpath);
	write_slot(e->cpath, 0, 9, b2, true);
	write_slot(e->cpath, 1, 8, b1, true);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 3);
		expect_next(s, 3);
		spool_close(s);
	}
	raw = read_all(e->cpath, &clen);
	CHECK(clen == SLOT1 + 32);
	if (clen == SLOT1 + 32) {
		CHECK(get64(raw + 8) == 9 && get64(raw + 16) == b2);
		CHECK(get64(raw + SLOT1 + 8) == 10 && get64(raw + SLOT1 + 16) == bytes_of(1, 3));
	}
	free(raw);

	/* A cursor file with no valid slot means offset 0: everything is replayed again, nothing lost. */
	write_all(e->cpath, "garbage garbage garbage garbage garbage", 39);
	s = open_ok(e->path, BIG);
	if (s) {
		CHECK(spool_pending(s) == 5);
		spool_close(s);
	}

	/* Cursors no crash can produce are refused rather than guessed at. */
	unlink(e->cpath);
	write_slot(e->cpath, 0, 1, b1 + 1, true);
	expect_open_fails(e, "boundary");
	unlink(e->cpath);
	write_slot(e->cpath, 0, 1, end + HDR + 20, true);
	expect_open_fails(e, "past the end");
	CHECK(file_size(e->path) == (long long)len);

	remove_spool(e);
	free(img);
}

static void test_lock_and_errors(const struct env *e)
{
	char err[512] = "";
	struct spool *s = open_ok(e->path, BIG);
	struct spool *t = spool_open(e->path, BIG, err, sizeof(err));
	char bad[256];

	CHECK(t == NULL && strstr(err, "in use") != NULL);
	spool_close(t);
	spool_close(s);

	snprintf(bad, sizeof(bad), "%s/no/such/dir/spool", e->dir);
	t = spool_open(bad, BIG, err, sizeof(err));
	CHECK(t == NULL && strstr(err, bad) != NULL && strstr(err, "No such file") != NULL);
	spool_close(t);
	t = spool_open(e->dir, BIG, err, sizeof(err));
	CHECK(t == NULL && strncmp(err, "spool ", 6) == 0);
	spool_close(t);
	remove_spool(e);
}

/* A write that fails half-way (here: the file size limit) is rolled back, so it can never end up as a
 * damaged record in the middle of the file once later appends succeed. */
static void test_failed_append(const struct env *e)
{
	struct spool *s = open_ok(e->path, BIG);
	struct rlimit old, lim;
	void (*prev)(int);
	int r, err;

	if (!s)
		return;
	CHECK(append_seq(s, 1) == 0);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = bytes_of(1, 1) + HDR + 5;
	prev = signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	r = append_seq(s, 2);
	err = errno;
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, prev);
	CHECK(r == -1 && err == EFBIG);
	CHECK(strstr(spool_error(s), "append") != NULL);
	CHECK(file_size(e->path) == (long long)bytes_of(1, 1));
	CHECK(spool_pending(s) == 1);
	CHECK(append_seq(s, 2) == 0);
	CHECK(append_seq(s, 3) == 0);
	spool_close(s);
	s = open_ok(e->path, BIG);
	if (!s)
		return;
	CHECK(spool_pending(s) == 3);
	for (uint64_t q = 1; q <= 3; q++)
		expect_next(s, q);
	spool_close(s);
	remove_spool(e);
}

/* ---- kill -9 at random moments ------------------------------------------------------------------------ */

/* What the child reports through the pipe, one atomic 9-byte write per event, after the call returned. */
enum { EV_ACKED = 'A', EV_CONSUMED = 'C', EV_ERROR = 'E' };

static void report(int fd, char kind, uint64_t seq)
{
	unsigned char b[9];

	b[0] = (unsigned char)kind;
	put64(b + 1, seq);
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		_exit(3);
}

/* Alternates bursts of appends and of replay (peek + consume) until killed. */
__attribute__((noreturn)) static void child(const char *path, uint64_t next, int wfd, uint32_t seed)
{
	char err[512];
	struct spool *s = spool_open(path, KILL_MAX, err, sizeof(err));
	uint32_t rng = seed | 1;

	if (!s) {
		report(wfd, EV_ERROR, 0);
		_exit(2);
	}
	for (int op = 0; op < 100000; op++) {
		int burst = (int)(xorshift(&rng) % 24);
		bool appending = xorshift(&rng) % 2;

		for (int i = 0; i < burst; i++) {
			const void *rec;
			size_t len;
			uint64_t seq;
			int r;

			if (appending) {
				r = append_seq(s, next);
				if (r == -2)
					break;
				report(wfd, r == 0 ? EV_ACKED : EV_ERROR, next++);
				continue;
			}
			r = spool_peek(s, &rec, &len);
			if (r == 1)
				break;
			seq = r == 0 ? payload_seq(rec, len) : UINT64_MAX;
			if (seq == UINT64_MAX || spool_consume(s) != 0) {
				report(wfd, EV_ERROR, seq);
				_exit(4);
			}
			report(wfd, EV_CONSUMED, seq);
		}
	}
	spool_close(s);
	_exit(0);
}

/* What the parent knows: records <= consumed are gone for good, records <= acked were acknowledged. */
struct model {
	uint64_t consumed;
	uint64_t acked;
	bool error;
};

static void apply_events(struct model *m, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i + 9 <= n; i += 9) {
		uint64_t seq = get64(b + i + 1);

		if (b[i] == EV_ACKED) {
			CHECK(seq == m->acked + 1);
			m->acked = seq;
		} else if (b[i] == EV_CONSUMED) {
			CHECK(seq == m->consumed + 1);
			m->consumed = seq;
		} else {
			m->error = true;
		}
	}
}

/* Reads events until the deadline (or EOF when deadline_ms < 0). */
static void collect(int rfd, struct model *m, int deadline_ms)
{
	unsigned char buf[9 * 512];
	size_t have = 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {rfd, POLLIN, 0};
		int timeout = -1;
		ssize_t n;

		if (deadline_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			timeout = deadline_ms -
			          (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (timeout <= 0)
				break;
		}
		if (poll(&p, 1, timeout) <= 0)
			continue;
		n = read(rfd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		apply_events(m, buf, have - have % 9);
		memmove(buf, buf + (have - have % 9), have % 9);
		have %= 9;
	}
	CHECK(have == 0);
}

/* Replays a copy of the spool (so the original stays for the next child) and checks it against the
 * model: a contiguous run starting right after the last reported consume (or one later: a consume that
 * finished but was not reported) and ending at the last ack (or one later: an append that finished but
 * was not reported).  Then the model is moved to what the copy showed. */
static void verify_copy(const struct env *e, struct model *m)
{
	char cpy[200], ccpy[220];
	struct spool *s;
	uint64_t first = 0, last = 0;
	size_t n = 0;

	snprintf(cpy, sizeof(cpy), "%s/copy", e->dir);
	snprintf(ccpy, sizeof(ccpy), "%s/copy.cursor", e->dir);
	copy_file(e->path, cpy);
	if (file_size(e->cpath) >= 0)
		copy_file(e->cpath, ccpy);
	s = open_ok(cpy, KILL_MAX);
	for (size_t i = 0; s && i < 100000; i++) {
		const void *rec;
		size_t len;
		int r = spool_peek(s, &rec, &len);
		uint64_t seq;

		CHECK(r == 0 || r == 1);
		if (r != 0)
			break;
		seq = payload_seq(rec, len);
		CHECK(seq != UINT64_MAX);
		CHECK(n == 0 || seq == last + 1);
		if (n++ == 0)
			first = seq;
		last = seq;
		CHECK(spool_consume(s) == 0);
	}
	spool_close(s);
	unlink(cpy);
	unlink(ccpy);
	if (n == 0) {
		CHECK(m->acked >= m->consumed && m->acked <= m->consumed + 1);
		m->consumed = m->acked;
		return;
	}
	CHECK(first == m->consumed + 1 || first == m->consumed + 2);
	CHECK(last == m->acked || last == m->acked + 1);
	if (first < m->consumed + 1 || first > m->consumed + 2 || last < m->acked || last > m->acked + 1)
		fprintf(stderr, "  spool holds %llu..%llu; consumed %llu, acked %llu\n",
		        (unsigned long long)first, (unsigned long long)last, (unsigned long long)m->consumed,
		        (unsigned long long)m->acked);
	m->consumed = first - 1;
	m->acked = last;
}

static void test_kill9(const struct env *e)
{
	struct model m = {0, 0, false};
	uint32_t rng = 0x5eed1234u;
	uint64_t total_acked = 0;

	for (int round = 0; round < 20; round++) {
		int p[2], status = 0;
		int delay = (int)(xorshift(&rng) % 120);
		uint64_t before = m.acked;
		pid_t pid;

		CHECK(pipe(p) == 0);
		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid < 0)
			return;
		if (pid == 0) {
			close(p[0]);
			child(e->path, m.acked + 1, p[1], xorshift(&rng));
		}
		close(p[1]);
		xorshift(&rng);
		collect(p[0], &m, delay);
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		collect(p[0], &m, -1);
		close(p[0]);
		CHECK(!m.error);
		total_acked += m.acked - before;
		verify_copy(e, &m);
	}
	/* The chaos must have done something, or this test proves nothing. */
	CHECK(total_acked > 20);
	printf("kill -9: 20 rounds, %llu acked appends, %llu consumed\n", (unsigned long long)total_acked,
	       (unsigned long long)m.consumed);
	remove_spool(e);
}

int main(void)
{
	struct env e;

	snprintf(e.dir, sizeof(e.dir), "/tmp/test_spool.XXXXXX");
	if (!mkdtemp(e.dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(e.path, sizeof(e.path), "%s/spool", e.dir);
	snprintf(e.cpath, sizeof(e.cpath), "%s.cursor", e.path);

	test_crc_vector();
	test_order(&e);
	test_reopen(&e);
	test_format(&e);
	test_torn_tail(&e);
	test_torn_tail_full_length(&e);
	test_corruption(&e);
	test_corruption_chunk_edge(&e);
	test_full(&e);
	test_crash_states(&e);
	test_lock_and_errors(&e);
	test_failed_append(&e);
	test_kill9(&e);

	cleanup_dir(e.dir);
	return check_summary("test_spool");
}
