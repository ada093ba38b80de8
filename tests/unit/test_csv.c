/* test_csv.c - unit tests for tools/csv.c, the pure CSV reader behind `hotline import`.
 *
 * Every case is read whole, then again split at every offset, in three pieces at every pair of offsets
 * (short inputs), and one byte at a time: the records must not depend on where the chunks were cut.  Each
 * chunk lives in its own buffer that is wiped and freed as soon as the reader asks for more, so a reader
 * that kept a pointer into old input is caught (by ASan in the sanitizer build, by wrong bytes otherwise).
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -fsanitize=address,undefined -Itools \
 *        tools/csv.c tests/unit/test_csv.c -o /tmp/test_csv
 */
#include "csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Literal with its length, so embedded NULs survive. */
#define S(lit) lit, sizeof(lit) - 1

#define BIG       4096 /* max_record for the cases that are not about the limit */
#define OUT_MAX   65536
#define MAX_CALLS 100000 /* csv_next calls per run: more means the reader does not make progress */

/* ---- running the reader ------------------------------------------------------------------------------- */

/* What the reader said, as text: "LINE:N:f1|f2;" per record, "LINE!why;" per error, "END" at the end.
 * Bytes other than printable ASCII, '|', ';' and '\' are written as \xHH. */
struct transcript {
	char s[OUT_MAX];
	size_t n;
	bool overflow;
};

static void put_text(struct transcript *t, const char *s, size_t len)
{
	if (t->n + len >= sizeof(t->s)) {
		t->overflow = true;
		return;
	}
	memcpy(t->s + t->n, s, len);
	t->n += len;
	t->s[t->n] = '\0';
}

static void put_byte(struct transcript *t, unsigned char c)
{
	char hex[8];

	if (c >= ' ' && c <= '~' && c != '|' && c != ';' && c != '\\') {
		put_text(t, (const char *)&c, 1);
	} else {
		snprintf(hex, sizeof(hex), "\\x%02x", c);
		put_text(t, hex, strlen(hex));
	}
}

static void put_record(struct transcript *t, enum csv_status st, const struct csv_record *rec,
                       const char *why)
{
	char head[64];

	if (st == CSV_ERROR) {
		snprintf(head, sizeof(head), "%lu!", rec->line);
		put_text(t, head, strlen(head));
		put_text(t, why, strlen(why));
		put_text(t, ";", 1);
		return;
	}
	snprintf(head, sizeof(head), "%lu:%zu:", rec->line, rec->n_fields);
	put_text(t, head, strlen(head));
	for (size_t i = 0; i < rec->n_fields; i++) {
		if (i > 0)
			put_text(t, "|", 1);
		/* The reader promises NUL-terminated fields whose length is lens[i]. */
		CHECK(rec->fields[i][rec->lens[i]] == '\0');
		for (size_t j = 0; j < rec->lens[i]; j++)
			put_byte(t, (unsigned char)rec->fields[i][j]);
	}
	put_text(t, ";", 1);
}

/* Take records until the reader wants more (false) or has ended (true). */
static bool drain(struct csv_reader *r, struct transcript *t, unsigned *calls)
{
	struct csv_record rec;
	const char *why = NULL;
	enum csv_status st;

	while (++*calls < MAX_CALLS) {
		st = csv_next(r, &rec, &why);
		if (st == CSV_NEED_MORE)
			return false;
		if (st == CSV_END)
			return true;
		put_record(t, st, &rec, why);
	}
	put_text(t, "LOOP", 4);
	return true;
}

/* Feed in[0..len) cut at cuts[0] < cuts[1] < ... (n_cuts of them), then finish. */
static void run_cuts(const char *in, size_t len, size_t max_record, const size_t *cuts, size_t n_cuts,
                     struct transcript *t)
{
	struct csv_reader *r = csv_new(max_record);
	unsigned calls = 0;
	size_t from = 0;
	bool ended = false;

	memset(t, 0, sizeof(*t));
	if (!r) {
		put_text(t, "NOMEM", 5);
		return;
	}
	for (size_t k = 0; k <= n_cuts && !ended; k++) {
		size_t to = k < n_cuts ? cuts[k] : len;
		char *chunk = malloc(to - from + 1);

		if (!chunk)
			abort();
		memcpy(chunk, in + from, to - from);
		csv_feed(r, chunk, to - from);
		ended = drain(r, t, &calls);
		memset(chunk, 0xA5, to - from + 1); /* the reader may not look at these bytes again */
		free(chunk);
		from = to;
	}
	if (!ended) {
		csv_finish(r);
		ended = drain(r, t, &calls);
	}
	put_text(t, "END", 3);
	/* Once ended, it stays ended. */
	{
		struct csv_record rec;
		const char *why;

		CHECK(csv_next(r, &rec, &why) == CSV_END);
	}
	csv_free(r);
}

static void run_whole(const char *in, size_t len, size_t max_record, struct transcript *t)
{
	run_cuts(in, len, max_record, NULL, 0, t);
}

/* The transcript of in read whole must be want, and every other way of chunking it must agree. */
static void expect_at(const char *in, size_t len, size_t max_record, const char *want, const char *file,
                      int line)
{
	static struct transcript whole, other;
	size_t cuts[2];
	size_t *bytes;
	bool all_same = true;

	run_whole(in, len, max_record, &whole);
	if (!check_report(!whole.overflow && strcmp(whole.s, want) == 0, file, line, "records differ")) {
		fprintf(stderr, "  got:  %s\n  want: %s\n", whole.s, want);
		return;
	}
	for (size_t a = 0; a <= len && all_same; a++) {
		cuts[0] = a;
		run_cuts(in, len, max_record, cuts, 1, &other);
		if (strcmp(other.s, whole.s) != 0) {
			all_same = false;
			fprintf(stderr, "  split at %zu: %s\n", a, other.s);
		}
	}
	for (size_t a = 0; len <= 64 && a <= len && all_same; a++) {
		for (size_t b = a; b <= len && all_same; b++) {
			cuts[0] = a;
			cuts[1] = b;
			run_cuts(in, len, max_record, cuts, 2, &other);
			if (strcmp(other.s, whole.s) != 0) {
				all_same = false;
				fprintf(stderr, "  split at %zu and %zu: %s\n", a, b, other.s);
			}
		}
	}
	bytes = malloc((len + 1) * sizeof(*bytes));
	if (!bytes)
		abort();
	for (size_t i = 0; i < len; i++)
		bytes[i] = i + 1;
	if (all_same && len > 0) {
		run_cuts(in, len, max_record, bytes, len - 1, &other);
		if (strcmp(other.s, whole.s) != 0) {
			all_same = false;
			fprintf(stderr, "  byte by byte: %s\n", other.s);
		}
	}
	free(bytes);
	check_report(all_same, file, line, "the records depend on where the input was cut (whole: %s)",
	             whole.s);
}

#define EXPECT(in, want)          expect_at(S(in), BIG, (want), __FILE__, __LINE__)
#define EXPECT_MAX(in, max, want) expect_at(S(in), (max), (want), __FILE__, __LINE__)

/* ---- fields and quoting ------------------------------------------------------------------------------- */

static void test_fields(void)
{
	EXPECT("", "END");
	EXPECT("a,b,c\n1,2,3\n", "1:3:a|b|c;2:3:1|2|3;END");
	EXPECT("a,b", "1:2:a|b;END"); /* the last record needs no line end */
	EXPECT(",,\n", "1:3:||;END");
	EXPECT("a,\n", "1:2:a|;END");
	EXPECT(" a , b \n", "1:2: a | b ;END"); /* blanks are data */
	EXPECT("  \n", "1:1:  ;END");           /* a line of blanks is a record, unlike an empty line */
	EXPECT("a\0b,c\n", "1:2:a\\x00b|c;END");
	EXPECT("caf\xC3\xA9\n", "1:1:caf\\xc3\\xa9;END");
}

static void test_quotes(void)
{
	EXPECT("\"a,b\",c\n", "1:2:a,b|c;END");
	EXPECT("\"say \"\"hi\"\"\",x\n", "1:2:say \"hi\"|x;END");
	EXPECT("\"\"\n", "1:1:;END"); /* one empty quoted field: a record, not an empty line */
	EXPECT("\"\",\"\"\n", "1:2:|;END");
	EXPECT("\"\"\"\"\n", "1:1:\";END");
	EXPECT("\"a\"", "1:1:a;END"); /* closing quote at the very end */
	EXPECT("x,\"a\"\r", "1:2:x|a;END");
	EXPECT("\"a\nb\",c\n", "1:2:a\\x0ab|c;END");
}

/* ---- line ends and line numbers ----------------------------------------------------------------------- */

static void test_line_ends(void)
{
	EXPECT("a,b\nc,d\n", "1:2:a|b;2:2:c|d;END");
	EXPECT("a,b\r\nc,d\r\n", "1:2:a|b;2:2:c|d;END");
	EXPECT("a,b\rc,d\r", "1:2:a|b;2:2:c|d;END");
	EXPECT("a\r\n\r\nb\n\nc\rd", "1:1:a;3:1:b;5:1:c;6:1:d;END"); /* empty lines count, yield nothing */
	EXPECT("\n\r\n\r\n", "END");
	EXPECT("a\n\rb\n", "1:1:a;3:1:b;END"); /* LF then CR: two line ends */
	EXPECT("a\r\rb\n", "1:1:a;3:1:b;END");
}

static void test_multiline_fields(void)
{
	/* A record starts on the line of its first byte; later records count the lines inside it. */
	EXPECT("id,notes\n1,\"line one\nline two\"\n2,x\n",
	       "1:2:id|notes;2:2:1|line one\\x0aline two;4:2:2|x;END");
	EXPECT("1,\"a\r\nb\r\nc\"\r\n2\r\n",
	       "1:2:1|a\\x0d\\x0ab\\x0d\\x0ac;4:1:2;END"); /* CRLF kept inside */
	EXPECT("1,\"a\rb\"\n2\n", "1:2:1|a\\x0db;3:1:2;END");
	EXPECT("1,\"\n\n\n\"\n2\n", "1:2:1|\\x0a\\x0a\\x0a;5:1:2;END");
	EXPECT("\n\n\"a\nb\"\n", "3:1:a\\x0ab;END");
}

/* ---- byte-order mark ---------------------------------------------------------------------------------- */

static void test_bom(void)
{
	EXPECT("\xEF\xBB\xBFid,name\n", "1:2:id|name;END");
	EXPECT("\xEF\xBB\xBF\"id\",name\n", "1:2:id|name;END");
	EXPECT("\xEF\xBB\xBF", "END");
	EXPECT("\xEF\xBB\xBF\n\na\n", "3:1:a;END");
	/* Only at the very start; a partial one is data. */
	EXPECT("a\n\xEF\xBB\xBF\n", "1:1:a;2:1:\\xef\\xbb\\xbf;END");
	EXPECT("\xEF\xBBx\n", "1:1:\\xef\\xbbx;END");
	EXPECT("\xEF\xBB", "1:1:\\xef\\xbb;END");
	EXPECT("\xEF,a\n", "1:2:\\xef|a;END");
	EXPECT("\xEF\n", "1:1:\\xef;END");
	EXPECT("\xEF\"a\"\n", "1!quote inside an unquoted field (quote the field and double the quote);END");
}

/* ---- malformed input: reported once, reading goes on at the next line -------------------------------- */

#define QUOTE_IN_FIELD "quote inside an unquoted field (quote the field and double the quote)"
#define AFTER_QUOTE    "text after a closing quote"
#define NOT_CLOSED     "quoted field not closed before the end of the file"

static void test_malformed(void)
{
	EXPECT("ab\"c,d\nok\n", "1!" QUOTE_IN_FIELD ";2:1:ok;END");
	EXPECT("\"a\"b,c\nok\n", "1!" AFTER_QUOTE ";2:1:ok;END");
	EXPECT("\"a\" ,c\r\nok\r\n", "1!" AFTER_QUOTE ";2:1:ok;END");
	EXPECT("x,\"a\"b\rok\r", "1!" AFTER_QUOTE ";2:1:ok;END");
	EXPECT("\"a\"b", "1!" AFTER_QUOTE ";END");
	EXPECT("ok\n\"abc", "1:1:ok;2!" NOT_CLOSED ";END");
	EXPECT("ok\n\"abc\ndef\n", "1:1:ok;2!" NOT_CLOSED ";END");
	EXPECT("\"a\"\"", "1!" NOT_CLOSED ";END");
	/* After an error the rest of the physical line is dropped, quotes and all. */
	EXPECT("x\"y,\"a\nb\"\nok\n", "1!" QUOTE_IN_FIELD ";2!" QUOTE_IN_FIELD ";3:1:ok;END");
	EXPECT("a\"\n\nb\n", "1!" QUOTE_IN_FIELD ";3:1:b;END");
	EXPECT("1,\"x\ny\"z\n2\n", "1!" AFTER_QUOTE ";3:1:2;END");
}

static void test_limits(void)
{
	static char many[2 * (CSV_MAX_FIELDS + 1) + 8];
	char want[128];
	size_t n = 0;

	/* max_record counts each field's bytes and its NUL. */
	EXPECT_MAX("abcdefg\n", 8, "1:1:abcdefg;END");
	EXPECT_MAX("abcdefgh\nok\n", 8, "1!record too long;2:1:ok;END");
	EXPECT_MAX("abc,def\n", 8, "1:2:abc|def;END");
	EXPECT_MAX("abc,defg\nok\n", 8, "1!record too long;2:1:ok;END");
	EXPECT_MAX("abcdefgh", 8, "1!record too long;END");
	EXPECT_MAX("\"ab\r\ncd\"\nok\n", 3, "1!record too long;3:1:ok;END"); /* the LF of a quoted CRLF */
	EXPECT_MAX("\xEF\xBB\n", 2, "1!record too long;END");                /* a partial BOM as data */
	EXPECT_MAX("ok\nabcdefghij\nok\n", 4, "1:1:ok;2!record too long;3:1:ok;END");

	/* CSV_MAX_FIELDS fields are fine, one more is not. */
	for (size_t i = 0; i < CSV_MAX_FIELDS; i++) {
		many[n++] = 'x';
		many[n++] = i + 1 < CSV_MAX_FIELDS ? ',' : '\n';
	}
	{
		struct transcript t;

		run_whole(many, n, BIG, &t);
		snprintf(want, sizeof(want), "1:%d:", CSV_MAX_FIELDS);
		CHECK(strncmp(t.s, want, strlen(want)) == 0);
	}
	memcpy(many + n - 1, ",x\nok\n", 6);
	n += 5;
	expect_at(many, n, BIG, "1!too many fields;2:1:ok;END", __FILE__, __LINE__);
}

/* ---- round trip: random records, written the way a spreadsheet would, read back -------------------- */

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_put(struct buf *b, const char *s, size_t len)
{
	if (len == 0 && b->p)
		return;
	if (b->n + len + 1 > b->cap) {
		b->cap = (b->n + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	if (len > 0)
		memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

/* Lines before offset `at`, counted the reader's way: LF, CR and CRLF each end one line. */
static unsigned long line_at(const char *s, size_t at)
{
	unsigned long line = 1;

	for (size_t i = 0; i < at; i++)
		if (s[i] == '\n' || (s[i] == '\r' && !(i + 1 < at && s[i + 1] == '\n')))
			line++;
	return line;
}

static void test_round_trip(void)
{
	static const char alphabet[] = {'a', 'b', ' ', ',', '"', '\r', '\n', '\0', '\xC3', '\xA9'};
	static const char *const ends[] = {"\n", "\r\n", "\r"};
	struct buf in = {NULL, 0, 0}, want = {NULL, 0, 0};
	struct transcript whole, other;
	size_t cuts[3];

	for (int round = 0; round < 200; round++) {
		unsigned records = 1 + rnd(6);

		in.n = want.n = 0;
		buf_put(&want, "", 0);
		if (rnd(4) == 0) /* a blank line or two between records now and then */
			buf_put(&in, "\n", 1);
		for (unsigned r = 0; r < records; r++) {
			unsigned fields = 1 + rnd(4);
			size_t start = in.n;
			struct buf rec = {NULL, 0, 0};
			char head[64];

			for (unsigned f = 0; f < fields; f++) {
				char field[16];
				unsigned len = rnd(6);
				bool quote = rnd(3) == 0 || (fields == 1 && len == 0);

				for (unsigned i = 0; i < len; i++) {
					field[i] = alphabet[rnd(sizeof(alphabet))];
					quote |= field[i] == ',' || field[i] == '"' || field[i] == '\r' ||
					         field[i] == '\n';
				}
				if (f > 0) {
					buf_put(&in, ",", 1);
					buf_put(&rec, "|", 1);
				}
				if (quote)
					buf_put(&in, "\"", 1);
				for (unsigned i = 0; i < len; i++) {
					struct transcript one = {.n = 0};

					buf_put(&in, field[i] == '"' ? "\"\"" : &field[i],
					        field[i] == '"' ? 2 : 1);
					put_byte(&one, (unsigned char)field[i]);
					buf_put(&rec, one.s, one.n);
				}
				if (quote)
					buf_put(&in, "\"", 1);
			}
			snprintf(head, sizeof(head), "%lu:%u:", line_at(in.p, start), fields);
			buf_put(&want, head, strlen(head));
			buf_put(&want, rec.p, rec.n);
			buf_put(&want, ";", 1);
			free(rec.p);
			if (r + 1 < records || rnd(2)) {
				const char *end = ends[rnd(3)];

				buf_put(&in, end, strlen(end));
			}
			/* Two line ends in a row could read as CR + LF: only put a blank line after an LF. */
			if (in.p[in.n - 1] == '\n' && rnd(5) == 0)
				buf_put(&in, "\n", 1);
		}
		buf_put(&want, "END", 3);

		run_whole(in.p, in.n, BIG, &whole);
		if (!check_report(strcmp(whole.s, want.p) == 0, __FILE__, __LINE__, "round %d differs",
		                  round)) {
			fprintf(stderr, "  got:  %s\n  want: %s\n", whole.s, want.p);
			break;
		}
		for (int k = 0; k < 20; k++) {
			cuts[0] = rnd((unsigned)in.n + 1);
			cuts[1] = cuts[0] + rnd((unsigned)(in.n - cuts[0]) + 1);
			cuts[2] = cuts[1] + rnd((unsigned)(in.n - cuts[1]) + 1);
			run_cuts(in.p, in.n, BIG, cuts, 3, &other);
			if (!check_report(strcmp(other.s, whole.s) == 0, __FILE__, __LINE__,
			                  "round %d cut at %zu %zu %zu differs", round, cuts[0], cuts[1],
			                  cuts[2]))
				break;
		}
	}
	free(in.p);
	free(want.p);
}

int main(void)
{
	test_fields();
	test_quotes();
	test_line_ends();
	test_multiline_fields();
	test_bom();
	test_malformed();
	test_limits();
	test_round_trip();
	return check_summary("test_csv");
}
