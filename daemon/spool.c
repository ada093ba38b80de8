/* spool.c - the durable local spool for writes made while Redis is unreachable (format and crash-safety
 * argument: spool.h).
 *
 * Everything that changes the files is ordered so that a crash between any two system calls leaves a
 * state spool_open() can classify: records are only ever added at the end, and removed only all at
 * once (truncate to 0); the cursor only moves forward over records that were durable before it moved,
 * or back to 0 after the data is gone.  The in-memory state is the target; the flags reset_pending and
 * broken remember when the disk lags behind it in a way that would be unsafe to build on.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Offsets go through off_t; a 32-bit off_t would silently wrap past 2 GiB. */
_Static_assert(sizeof(off_t) >= 8, "spool needs a 64-bit off_t");

#define REC_MAGIC 0x52534c48u /* "HLSR" little-endian */
#define REC_HDR   16
#define CUR_MAGIC 0x43534c48u /* "HLSC" little-endian */
#define CUR_SLOT  32
/* Slot 1 lives in another 512-byte sector so a torn write of one slot cannot damage the other. */
#define CUR_SLOT1_OFF 512
/* Stack buffer for checksumming and scanning: bounded memory whatever the record sizes. */
#define IO_CHUNK 16384

struct spool {
	int fd;  /* PATH, holding flock(LOCK_EX) */
	int cfd; /* PATH.cursor */
	char *path;
	size_t max_bytes;
	uint64_t size;      /* bytes of complete records in PATH */
	uint64_t cursor;    /* offset of the oldest unconsumed record */
	uint64_t cur_seq;   /* sequence number of the newest cursor slot */
	int cur_slot;       /* which slot holds it; the next write goes to the other */
	size_t pending;     /* records from cursor to size */
	unsigned char *buf; /* the peeked record */
	size_t buf_cap;
	size_t buf_max; /* no record can be larger: a bogus length never becomes a huge allocation */
	uint64_t peek_off;
	size_t peek_len;
	bool peek_valid;    /* buf holds the record at peek_off */
	bool reset_pending; /* the cursor may still be stale after "everything consumed": no appends */
	bool broken;        /* a failed append left bytes past size: no appends until reopened */
	char err[512];
};

enum rec_state { REC_OK, REC_TORN, REC_BAD };

/* ---- CRC-32C ------------------------------------------------------------------------------------------ */

/* Castagnoli, reflected 0x82f63b78: better error detection than CRC-32 for short messages.  Chained like
 * zlib's crc32: pass the previous result (0 to start). */
static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	static const uint32_t table[256] = {
	    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
	    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
	    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
	    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
	    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
	    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
	    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
	    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
	    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
	    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
	    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
	    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
	    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
	    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
	    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
	    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
	    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
	    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
	    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
	    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
	    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
	    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
	};
	const unsigned char *p = data;

	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- little-endian fields --------------------------------------------------------------------------- */

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
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void rec_header_encode(unsigned char h[REC_HDR], uint32_t len, uint32_t payload_crc)
{
	put32(h, REC_MAGIC);
	put32(h + 4, len);
	put32(h + 8, payload_crc);
	put32(h + 12, crc32c(0, h, 12));
}

static bool rec_header_decode(const unsigned char h[REC_HDR], uint32_t *len, uint32_t *payload_crc)
{
	if (get32(h) != REC_MAGIC || get32(h + 12) != crc32c(0, h, 12) || get32(h + 4) == 0)
		return false;
	*len = get32(h + 4);
	*payload_crc = get32(h + 8);
	return true;
}

static void cur_slot_encode(unsigned char b[CUR_SLOT], uint64_t seq, uint64_t off)
{
	memset(b, 0, CUR_SLOT);
	put32(b, CUR_MAGIC);
	put64(b + 8, seq);
	put64(b + 16, off);
	put32(b + 24, crc32c(0, b, 24));
}

static bool cur_slot_decode(const unsigned char b[CUR_SLOT], uint64_t *seq, uint64_t *off)
{
	if (get32(b) != CUR_MAGIC || get32(b + 24) != crc32c(0, b, 24))
		return false;
	*seq = get64(b + 8);
	*off = get64(b + 16);
	return true;
}

/* ---- errors and I/O ----------------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void set_err(struct spool *s, const char *fmt, ...)
{
	int saved = errno; /* callers report errno to their own caller after this */
	int n = snprintf(s->err, sizeof(s->err), "spool %s: ", s->path ? s->path : "?");
	va_list ap;

	if (n < 0 || (size_t)n >= sizeof(s->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Reads up to n bytes; fewer only at end of file.  -1 on error. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Writes all of iov (modified) at off; short writes are continued, so -1 means a real error. */
static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		off += (uint64_t)n;
		for (; cnt > 0 && (size_t)n >= iov->iov_len; iov++, cnt--)
			n -= (ssize_t)iov->iov_len;
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* CRC of len bytes at off, streamed.  0 ok, -1 I/O error, 1 the file ended early. */
static int crc_range(int fd, uint64_t off, uint64_t len, uint32_t *crc)
{
	unsigned char chunk[IO_CHUNK];
	uint32_t c = 0;

	while (len > 0) {
		size_t want = len < sizeof(chunk) ? (size_t)len : sizeof(chunk);
		ssize_t n = pread_full(fd, chunk, want, off);

		if (n < 0)
			return -1;
		if ((size_t)n < want)
			return 1;
		c = crc32c(c, chunk, want);
		off += want;
		len -= want;
	}
	*crc = c;
	return 0;
}

/* A new file's directory entry is not covered by fdatasync on the file. */
static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, rc;

	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (rc != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* ---- cursor file ------------------------------------------------------------------------------------- */

static __attribute__((warn_unused_result)) int cursor_load(struct spool *s, uint64_t *off)
{
	static const uint64_t slot_off[2] = {0, CUR_SLOT1_OFF};
	bool found = false;

	*off = 0;
	s->cur_seq = 0;
	s->cur_slot = 1;
	for (int i = 0; i < 2; i++) {
		unsigned char b[CUR_SLOT];
		uint64_t seq, o;
		ssize_t n = pread_full(s->cfd, b, sizeof(b), slot_off[i]);

		if (n < 0) {
			set_err(s, "reading cursor: %s", strerror(errno));
			return -1;
		}
		/* A short or invalid slot is one whose write never completed: the other one stands. */
		if ((size_t)n < sizeof(b) || !cur_slot_decode(b, &seq, &o))
			continue;
		if (!found || seq > s->cur_seq) {
			found = true;
			s->cur_seq = seq;
			s->cur_slot = i;
			*off = o;
		}
	}
	return 0;
}

/* Overwrites the older slot only, so until fdatasync returns the newer one is intact. */
static __attribute__((warn_unused_result)) int cursor_store(struct spool *s, uint64_t off)
{
	unsigned char b[CUR_SLOT];
	int slot = 1 - s->cur_slot;
	struct iovec iov = {b, sizeof(b)};

	cur_slot_encode(b, s->cur_seq + 1, off);
	if (pwritev_full(s->cfd, &iov, 1, slot ? CUR_SLOT1_OFF : 0) != 0 || fdatasync(s->cfd) != 0) {
		set_err(s, "writing cursor: %s", strerror(errno));
		return -1;
	}
	s->cur_seq++;
	s->cur_slot = slot;
	return 0;
}

/* Everything is consumed: empty the data file, then (only once that is durable) the cursor.  The
 * reverse order could leave cursor 0 over old records (all replayed again); this order leaves at worst
 * "cursor past EOF of an empty file", which spool_open completes. */
static __attribute__((warn_unused_result)) int finish_reset(struct spool *s)
{
	s->reset_pending = true;
	s->size = 0;
	s->cursor = 0;
	s->pending = 0;
	s->peek_valid = false;
	if (ftruncate(s->fd, 0) != 0 || fdatasync(s->fd) != 0) {
		set_err(s, "truncating: %s", strerror(errno));
		return -1;
	}
	if (cursor_store(s, 0) != 0)
		return -1;
	s->reset_pending = false;
	s->broken = false; /* whatever a failed append left behind is gone too */
	return 0;
}

/* ---- recovery --------------------------------------------------------------------------------------- */

/* Looks for any valid record header at or after from.  A torn tail is one record's bytes, so a valid
 * header after a damaged one means acknowledged data would be behind the damage.  1 found, 0 not, -1. */
static int find_header(struct spool *s, uint64_t from, uint64_t fsize, uint64_t *at)
{
	unsigned char chunk[IO_CHUNK];
	uint64_t pos = from;

	while (pos + REC_HDR <= fsize) {
		uint64_t left = fsize - pos;
		size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		ssize_t n = pread_full(s->fd, chunk, want, pos);
		uint32_t len, crc;

		if (n < 0) {
			set_err(s, "reading: %s", strerror(errno));
			return -1;
		}
		if (n < REC_HDR)
			return 0;
		for (size_t i = 0; i + REC_HDR <= (size_t)n; i++) {
			if (rec_header_decode(chunk + i, &len, &crc)) {
				*at = pos + i;
				return 1;
			}
		}
		/* Overlap by REC_HDR - 1 so a header straddling two chunks is still seen; n >= REC_HDR
		 * guarantees progress. */
		pos += (uint64_t)n - (REC_HDR - 1);
	}
	return 0;
}

static enum rec_state bad_header(struct spool *s, uint64_t off, uint64_t fsize)
{
	uint64_t at;
	int r = find_header(s, off + 1, fsize, &at);

	if (r < 0)
		return REC_BAD;
	if (r == 0)
		return REC_TORN;
	set_err(s, "corrupt: invalid record header at offset %llu, but a valid one follows at offset %llu",
	        (unsigned long long)off, (unsigned long long)at);
	return REC_BAD;
}

/* Classifies the record at off in a file of fsize bytes; *next is where the following one starts. */
static enum rec_state check_record(struct spool *s, uint64_t off, uint64_t fsize, uint64_t *next)
{
	unsigned char h[REC_HDR];
	uint32_t len, want, got;
	ssize_t n = pread_full(s->fd, h, sizeof(h), off);
	uint64_t end;
	int r;

	if (n < 0) {
		set_err(s, "reading: %s", strerror(errno));
		return REC_BAD;
	}
	if ((size_t)n < sizeof(h))
		return REC_TORN;
	if (!rec_header_decode(h, &len, &want))
		return bad_header(s, off, fsize);
	end = off + REC_HDR + len;
	if (end > fsize)
		return REC_TORN;
	r = crc_range(s->fd, off + REC_HDR, len, &got);
	if (r != 0) {
		set_err(s, "reading: %s", r < 0 ? strerror(errno) : "file shrank during recovery");
		return REC_BAD;
	}
	if (got != want) {
		/* Only the last record can have been in flight when the daemon died. */
		if (end == fsize)
			return REC_TORN;
		set_err(
		    s,
		    "corrupt: payload checksum mismatch in record at offset %llu, %llu bytes before the end",
		    (unsigned long long)off, (unsigned long long)(fsize - end));
		return REC_BAD;
	}
	*next = end;
	return REC_OK;
}

/* Walks every record, cuts a torn tail, and counts records before and after the cursor. */
static __attribute__((warn_unused_result)) int walk(struct spool *s, uint64_t fsize, uint64_t cur,
                                                    size_t *total, size_t *before, bool *on_boundary)
{
	uint64_t off = 0;

	*total = 0;
	*before = 0;
	*on_boundary = false;
	/* Terminates: each complete record advances off by at least REC_HDR + 1, and off stays <= fsize. */
	for (;;) {
		uint64_t next = 0;
		enum rec_state st;

		if (off == cur)
			*on_boundary = true;
		if (off >= fsize)
			break;
		st = check_record(s, off, fsize, &next);
		if (st == REC_BAD)
			return -1;
		if (st == REC_TORN) {
			if (ftruncate(s->fd, (off_t)off) != 0 || fdatasync(s->fd) != 0) {
				set_err(s, "dropping torn tail at offset %llu: %s", (unsigned long long)off,
				        strerror(errno));
				return -1;
			}
			break;
		}
		(*total)++;
		if (off < cur)
			(*before)++;
		off = next;
	}
	s->size = off;
	return 0;
}

static __attribute__((warn_unused_result)) int recover(struct spool *s)
{
	struct stat st;
	uint64_t cur;
	size_t total, before;
	bool on_boundary;

	if (fstat(s->fd, &st) != 0) {
		set_err(s, "stat: %s", strerror(errno));
		return -1;
	}
	/* A spool written under a larger max_bytes must still be replayable. */
	s->buf_max = (uint64_t)st.st_size > s->max_bytes ? (size_t)st.st_size : s->max_bytes;
	if (cursor_load(s, &cur) != 0 ||
	    walk(s, (uint64_t)st.st_size, cur, &total, &before, &on_boundary) != 0)
		return -1;
	if (cur > s->size) {
		/* Only an interrupted reset leaves the cursor past the data, and it leaves the data empty. */
		if (s->size != 0) {
			set_err(s, "corrupt: cursor offset %llu is past the end of the records (%llu bytes)",
			        (unsigned long long)cur, (unsigned long long)s->size);
			return -1;
		}
		return finish_reset(s);
	}
	if (!on_boundary) {
		set_err(s, "corrupt: cursor offset %llu is not at a record boundary",
		        (unsigned long long)cur);
		return -1;
	}
	s->cursor = cur;
	s->pending = total - before;
	if (s->pending == 0 && (s->size != 0 || cur != 0))
		return finish_reset(s);
	return 0;
}

/* ---- public ------------------------------------------------------------------------------------------ */

/* what names the file in messages, which already start with the data file's path. */
static __attribute__((warn_unused_result)) int open_one(struct spool *s, const char *path, const char *what)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		set_err(s, "opening %s: %s", what, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		set_err(s, "stat %s: %s", what, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(s, "%s is not a regular file", what);
		close(fd);
		return -1;
	}
	return fd;
}

static __attribute__((warn_unused_result)) int open_files(struct spool *s)
{
	size_t plen = strlen(s->path);
	char *cpath = malloc(plen + sizeof(".cursor"));

	if (!cpath) {
		set_err(s, "out of memory");
		return -1;
	}
	memcpy(cpath, s->path, plen);
	memcpy(cpath + plen, ".cursor", sizeof(".cursor"));
	s->fd = open_one(s, s->path, "data file");
	if (s->fd >= 0 && flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		set_err(s, "%s", errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
		free(cpath);
		return -1;
	}
	if (s->fd >= 0)
		s->cfd = open_one(s, cpath, "cursor file");
	free(cpath);
	if (s->fd < 0 || s->cfd < 0)
		return -1;
	if (fsync_dir_of(s->path) != 0) {
		set_err(s, "syncing directory: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct spool *spool_open(const char *path, size_t max_bytes, char *err, size_t errlen)
{
	struct spool *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		if (err && errlen)
			snprintf(err, errlen, "spool %s: out of memory", path);
		free(s);
		return NULL;
	}
	s->fd = -1;
	s->cfd = -1;
	s->max_bytes = max_bytes;
	if (open_files(s) != 0 || recover(s) != 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", s->err);
		spool_close(s);
		return NULL;
	}
	s->err[0] = '\0';
	return s;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	/* Nothing to flush: every state change was synced before the call that made it returned. */
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->path);
	free(s);
}

/* Undoes a failed append so no partial record can sit under later, acknowledged ones. */
static int append_failed(struct spool *s, const char *what)
{
	int saved = errno;

	if (ftruncate(s->fd, (off_t)s->size) != 0 || fdatasync(s->fd) != 0)
		s->broken = true;
	set_err(s, "append: %s: %s%s", what, strerror(saved),
	        s->broken ? " (rollback failed; appends refused until reopened)" : "");
	errno = saved;
	return -1;
}

int spool_append(struct spool *s, const void *rec, size_t len)
{
	unsigned char h[REC_HDR];
	struct iovec iov[2];
	uint64_t room;

	if (!rec || len == 0 || len > UINT32_MAX) {
		set_err(s, "append: record length %zu not in 1..%lu", len, (unsigned long)UINT32_MAX);
		errno = len > UINT32_MAX ? EFBIG : EINVAL;
		return -1;
	}
	if (s->broken) {
		set_err(s, "append: refused after a failed rollback; reopen the spool");
		errno = EIO;
		return -1;
	}
	if (s->reset_pending && finish_reset(s) != 0)
		return -1;
	room = s->size < s->max_bytes ? s->max_bytes - s->size : 0;
	if (room < REC_HDR || len > room - REC_HDR) {
		set_err(s, "full: %zu-byte record does not fit in %zu bytes", len, s->max_bytes);
		return -2;
	}
	rec_header_encode(h, (uint32_t)len, crc32c(0, rec, len));
	iov[0] = (struct iovec){h, sizeof(h)};
	iov[1] = (struct iovec){(void *)rec, len};
	if (pwritev_full(s->fd, iov, 2, s->size) != 0)
		return append_failed(s, "write");
	if (fdatasync(s->fd) != 0)
		return append_failed(s, "fdatasync");
	s->size += REC_HDR + len;
	s->pending++;
	return 0;
}

size_t spool_pending(const struct spool *s)
{
	return s->pending;
}

size_t spool_bytes(const struct spool *s)
{
	return (size_t)s->size;
}

/* Reads and checks the header of the oldest record; its payload length in *len. */
static int read_oldest_header(struct spool *s, uint32_t *len, uint32_t *crc)
{
	unsigned char h[REC_HDR];
	ssize_t n = pread_full(s->fd, h, sizeof(h), s->cursor);

	if (n < 0) {
		set_err(s, "reading: %s", strerror(errno));
		return -1;
	}
	if ((size_t)n < sizeof(h) || !rec_header_decode(h, len, crc) ||
	    s->cursor + REC_HDR + *len > s->size) {
		set_err(s, "corrupt: invalid record header at offset %llu", (unsigned long long)s->cursor);
		errno = EIO;
		return -1;
	}
	return 0;
}

static int grow_buf(struct spool *s, size_t len)
{
	size_t cap = s->buf_cap ? s->buf_cap : 256;
	unsigned char *p;

	if (len <= s->buf_cap)
		return 0;
	if (len > s->buf_max) {
		set_err(s, "record of %zu bytes exceeds the %zu-byte limit", len, s->buf_max);
		errno = EFBIG;
		return -1;
	}
	while (cap < len)
		cap = cap > s->buf_max / 2 ? s->buf_max : cap * 2;
	p = realloc(s->buf, cap);
	if (!p) {
		set_err(s, "out of memory for a %zu-byte record", len);
		errno = ENOMEM;
		return -1;
	}
	s->buf = p;
	s->buf_cap = cap;
	return 0;
}

int spool_peek(struct spool *s, const void **rec, size_t *len)
{
	uint32_t n, want;
	ssize_t got;

	if (s->pending == 0)
		return 1;
	if (!s->peek_valid || s->peek_off != s->cursor) {
		s->peek_valid = false;
		if (read_oldest_header(s, &n, &want) != 0 || grow_buf(s, n) != 0)
			return -1;
		got = pread_full(s->fd, s->buf, n, s->cursor + REC_HDR);
		if (got < 0 || (size_t)got < n) {
			set_err(s, "reading record at offset %llu: %s", (unsigned long long)s->cursor,
			        got < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		if (crc32c(0, s->buf, n) != want) {
			set_err(s, "corrupt: payload checksum mismatch in record at offset %llu",
			        (unsigned long long)s->cursor);
			errno = EIO;
			return -1;
		}
		s->peek_valid = true;
		s->peek_off = s->cursor;
		s->peek_len = n;
	}
	*rec = s->buf;
	*len = s->peek_len;
	return 0;
}

/* The position advances in memory even when persisting it fails: the disk then lags behind, which
 * only means the record may be replayed once more after a restart. */
int spool_consume(struct spool *s)
{
	uint32_t len, crc;
	uint64_t next;

	if (s->pending == 0) {
		set_err(s, "consume: nothing pending");
		errno = EINVAL;
		return -1;
	}
	if (s->peek_valid && s->peek_off == s->cursor)
		len = (uint32_t)s->peek_len;
	else if (read_oldest_header(s, &len, &crc) != 0)
		return -1;
	next = s->cursor + REC_HDR + len;
	s->peek_valid = false;
	if (s->pending == 1) {
		if (next != s->size) {
			set_err(s, "corrupt: last record ends at %llu, data at %llu",
			        (unsigned long long)next, (unsigned long long)s->size);
			errno = EIO;
			return -1;
		}
		return finish_reset(s);
	}
	s->cursor = next;
	s->pending--;
	return cursor_store(s, next);
}

const char *spool_error(const struct spool *s)
{
	return s->err;
}
