#include "log_source.h"

#include "rfc3339.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_text.h"
#include "reply_arena.h"

/* Entries fetched per XRANGE: large enough that round trips do not
 * dominate, small enough that a chunk of big entries stays a few MB. */
#define CHUNK 1000
/* An export line longer than this is not one we wrote. */
#define MAX_LINE (4u << 20)
/* Bytes read from an export file at a time (the buffer grows, up to a bit
 * over MAX_LINE, only for a line longer than this). */
#define READ_CHUNK (256u << 10)

static const char *const stream_names[LOG_STREAM_COUNT] = {"calls", "complaints"};

const char *log_stream_name(enum log_stream s)
{
	return (unsigned)s < LOG_STREAM_COUNT ? stream_names[s] : "?";
}

int log_stream_from_name(const char *name)
{
	for (int i = 0; i < LOG_STREAM_COUNT; i++)
		if (strcmp(name, stream_names[i]) == 0)
			return i;
	return -1;
}

/* ---- ids and times (pure) ---- */

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

bool log_id_parse(const char *text, uint64_t *ms, uint64_t *n)
{
	const char *dash = strchr(text, '-');

	if (dash == NULL) {
		*n = 0;
		return parse_u64(text, strlen(text), ms);
	}
	return parse_u64(text, (size_t)(dash - text), ms) && parse_u64(dash + 1, strlen(dash + 1), n);
}

int log_id_cmp(uint64_t a_ms, uint64_t a_n, uint64_t b_ms, uint64_t b_n)
{
	if (a_ms != b_ms)
		return a_ms < b_ms ? -1 : 1;
	if (a_n != b_n)
		return a_n < b_n ? -1 : 1;
	return 0;
}

bool log_time_parse(const char *s, size_t len, bool end, uint64_t *out_ms)
{
	return rfc3339_parse_ms_n(s, len, end, out_ms);
}

bool log_time_to_id(const char *text, bool end, char out[LOG_ID_MAX])
{
	uint64_t ms, n;

	if (text[0] == '@') {
		if (!parse_u64(text + 1, strlen(text + 1), &ms) || ms > UINT64_MAX / 1000 - 1000)
			return false;
		ms = ms * 1000 + (end ? 999 : 0);
		n = end ? UINT64_MAX : 0;
	} else if (strlen(text) >= 10 && text[4] == '-' && text[7] == '-') {
		/* A date or RFC 3339 time; a stream id never has a '-' at [4]
		 * (ids of 1970's first 10 s aside, which no log holds). */
		if (!log_time_parse(text, strlen(text), end, &ms))
			return false;
		n = end ? UINT64_MAX : 0;
	} else {
		if (!log_id_parse(text, &ms, &n))
			return false;
		if (strchr(text, '-') == NULL && end)
			n = UINT64_MAX;
	}
	snprintf(out, LOG_ID_MAX, "%" PRIu64 "-%" PRIu64, ms, n);
	return true;
}

/* ---- the sources ---- */

struct stream_cursor {
	char key[320];
	struct reply_arena arena; /* holds chunk */
	redisReply *chunk;
	size_t next;     /* index of the next element of chunk to return */
	bool exhausted;  /* the last XRANGE returned less than a full chunk */
	char after[LOG_ID_MAX + 1]; /* "(<id>" of the last returned, or the range start */
};

struct log_source {
	bool from_file;
	char error[512];
	struct log_selection sel;
	uint64_t from_ms, from_n, to_ms, to_n;
	bool has_from, has_to;
	/* Redis */
	redisContext *rc;
	struct stream_cursor cur[LOG_STREAM_COUNT];
	/* file */
	int fd;
	bool close_fd;
	const char *path;
	char *buf;              /* read buffer: bytes [start, end) not yet consumed */
	size_t buf_cap, start, end;
	bool eof;
	uint64_t consumed;      /* bytes of the file consumed so far (progress) */
	uint64_t size;          /* of a regular file; 0 when unknown */
	unsigned long line_no;
	uint64_t records;
};

static void set_error(struct log_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct log_source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

const char *log_source_error(const struct log_source *s)
{
	return s->error;
}

static struct log_source *source_new(const struct log_selection *sel, char *err, size_t err_len)
{
	struct log_source *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->sel = *sel;
	if (s->sel.streams == 0)
		s->sel.streams = LOG_ALL_STREAMS;
	if (sel->from_id && !(s->has_from = log_id_parse(sel->from_id, &s->from_ms, &s->from_n))) {
		snprintf(err, err_len, "'%s' is not a stream id", sel->from_id);
		free(s);
		return NULL;
	}
	if (sel->to_id && !(s->has_to = log_id_parse(sel->to_id, &s->to_ms, &s->to_n))) {
		snprintf(err, err_len, "'%s' is not a stream id", sel->to_id);
		free(s);
		return NULL;
	}
	return s;
}

struct log_source *log_source_open_redis(redisContext *rc, const char *prefix, const struct log_selection *sel,
                                         char *err, size_t err_len)
{
	struct log_source *s = source_new(sel, err, err_len);

	if (s == NULL)
		return NULL;
	s->rc = rc;
	for (int i = 0; i < LOG_STREAM_COUNT; i++) {
		struct stream_cursor *c = &s->cur[i];

		snprintf(c->key, sizeof(c->key), "%slog:%s", prefix, stream_names[i]);
		c->exhausted = !(s->sel.streams & LOG_STREAM_MASK(i));
		snprintf(c->after, sizeof(c->after), "%s", sel->from_id ? sel->from_id : "-");
	}
	return s;
}

/* Make sure cursor c has an element to offer, fetching the next chunk when
 * needed.  Returns 1 (an element at c->next), 0 (stream done), -1. */
static int cursor_fill(struct log_source *s, struct stream_cursor *c)
{
	redisReply *r;

	if (c->chunk && c->next < c->chunk->elements)
		return 1;
	c->chunk = NULL; /* its memory is reused for the next one */
	c->next = 0;
	if (c->exhausted)
		return 0;
	r = reply_arena_command(s->rc, &c->arena, "XRANGE %s %s %s COUNT %d", c->key, c->after,
	                        s->sel.to_id ? s->sel.to_id : "+", CHUNK);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		set_error(s, "reading %s: %s", c->key,
		          r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") : s->rc->errstr);
		return -1;
	}
	if (r->elements < CHUNK)
		c->exhausted = true;
	if (r->elements == 0)
		return 0;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_ARRAY) {
			set_error(s, "reading %s: an entry of unexpected shape", c->key);
			return -1;
		}
		for (size_t j = 0; j < e->element[1]->elements; j++)
			if (e->element[1]->element[j]->type != REDIS_REPLY_STRING) {
				set_error(s, "reading %s: an entry of unexpected shape", c->key);
				return -1;
			}
	}
	c->chunk = r;
	snprintf(c->after, sizeof(c->after), "(%s", r->element[r->elements - 1]->element[0]->str);
	return 1;
}

static void record_reset(struct log_record *r)
{
	memset(r, 0, sizeof(*r));
}

/* Keep the four chain fields handy as well as the full list. */
static void record_add_field(struct log_record *r, const char *name, size_t name_len, const char *value,
                             size_t value_len)
{
	static const struct {
		const char *name;
		size_t off_v, off_l;
	} chain_fields[] = {
		{"seq", offsetof(struct log_record, seq), offsetof(struct log_record, seq_len)},
		{"prev", offsetof(struct log_record, prev), offsetof(struct log_record, prev_len)},
		{"hash", offsetof(struct log_record, hash), offsetof(struct log_record, hash_len)},
		{"entry", offsetof(struct log_record, entry), offsetof(struct log_record, entry_len)},
	};

	for (size_t i = 0; i < sizeof(chain_fields) / sizeof(chain_fields[0]); i++) {
		const char **v = (const char **)((char *)r + chain_fields[i].off_v);

		if (name_len == strlen(chain_fields[i].name) && memcmp(name, chain_fields[i].name, name_len) == 0 &&
		    *v == NULL) {
			*v = value;
			*(size_t *)((char *)r + chain_fields[i].off_l) = value_len;
		}
	}
	if (r->nfields == LOG_MAX_FIELDS) {
		r->fields_dropped++;
		return;
	}
	r->fields[r->nfields++] = (struct log_field){name, value, name_len, value_len};
}

static int next_from_redis(struct log_source *s, struct log_record *r)
{
	int best = -1;
	uint64_t best_ms = 0, best_n = 0;

	for (int i = 0; i < LOG_STREAM_COUNT; i++) {
		struct stream_cursor *c = &s->cur[i];
		int got = cursor_fill(s, c);
		uint64_t ms, n;

		if (got < 0)
			return -1;
		if (got == 0)
			continue;
		if (!log_id_parse(c->chunk->element[c->next]->element[0]->str, &ms, &n)) {
			set_error(s, "reading %s: '%s' is not a stream id", c->key, c->chunk->element[c->next]->element[0]->str);
			return -1;
		}
		if (best < 0 || log_id_cmp(ms, n, best_ms, best_n) < 0)
			best = i, best_ms = ms, best_n = n;
	}
	if (best < 0)
		return 0;

	struct stream_cursor *c = &s->cur[best];
	const redisReply *e = c->chunk->element[c->next++], *fields = e->element[1];

	record_reset(r);
	r->stream = (enum log_stream)best;
	snprintf(r->id, sizeof(r->id), "%s", e->element[0]->str);
	r->id_ms = best_ms;
	r->id_n = best_n;
	for (size_t i = 0; i + 1 < fields->elements; i += 2)
		record_add_field(r, fields->element[i]->str, fields->element[i]->len, fields->element[i + 1]->str,
		                 fields->element[i + 1]->len);
	return 1;
}

struct log_source *log_source_open_file(const char *path, const struct log_selection *sel, char *err,
                                        size_t err_len)
{
	struct log_source *s = source_new(sel, err, err_len);
	struct stat st;

	if (s == NULL)
		return NULL;
	s->from_file = true;
	s->path = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if (strcmp(path, "-") == 0) {
		s->fd = STDIN_FILENO;
	} else {
		s->fd = open(path, O_RDONLY | O_CLOEXEC);
		s->close_fd = true;
		if (s->fd < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			free(s);
			return NULL;
		}
	}
	if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
		s->size = (uint64_t)st.st_size;
	s->buf_cap = READ_CHUNK;
	s->buf = malloc(s->buf_cap);
	if (s->buf == NULL) {
		snprintf(err, err_len, "out of memory");
		log_source_close(s);
		return NULL;
	}
	return s;
}

/* The next line (without its line end) in *line and *len, pointing into the
 * read buffer until the next call.  1 = a line, 0 = end of file, -1 =
 * error.  Memory stays bounded: a line longer than MAX_LINE is an error
 * as soon as that many bytes are buffered without a line end. */
static int read_line(struct log_source *s, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(s->buf + s->start, '\n', s->end - s->start);
		ssize_t got;

		if (nl || (s->eof && s->end > s->start)) {
			size_t n = nl ? (size_t)(nl - (s->buf + s->start)) : s->end - s->start;

			*line = s->buf + s->start;
			*len = n;
			s->start += n + (nl != NULL);
			s->consumed += n + (nl != NULL);
			s->line_no++;
			if (n > MAX_LINE) {
				set_error(s, "%s:%lu: line longer than %u bytes", s->path, s->line_no, MAX_LINE);
				return -1;
			}
			return 1;
		}
		if (s->eof)
			return 0;
		if (s->end - s->start > MAX_LINE) {
			set_error(s, "%s:%lu: line longer than %u bytes", s->path, s->line_no + 1, MAX_LINE);
			return -1;
		}
		/* Make room: move the partial line to the front, grow if full. */
		if (s->start > 0) {
			memmove(s->buf, s->buf + s->start, s->end - s->start);
			s->end -= s->start;
			s->start = 0;
		}
		if (s->end == s->buf_cap) {
			size_t cap = s->buf_cap * 2;
			char *nb = realloc(s->buf, cap);

			if (nb == NULL) {
				set_error(s, "%s: out of memory", s->path);
				return -1;
			}
			s->buf = nb;
			s->buf_cap = cap;
		}
		got = read(s->fd, s->buf + s->end, s->buf_cap - s->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			set_error(s, "%s: %s", s->path, strerror(errno));
			return -1;
		}
		if (got == 0)
			s->eof = true;
		s->end += (size_t)got;
	}
}

/* Decode a member's raw key or value in place and NUL-terminate it (there
 * is always room: the closing quote follows the raw text). */
static const char *decode_in_place(const char *raw, size_t raw_len, bool escaped, size_t *len)
{
	char *p = (char *)raw;

	*len = escaped ? json_unescape(raw, raw_len, p) : raw_len;
	p[*len] = '\0';
	return p;
}

/* Parse one export line (in the read buffer, decoded there in place) into
 * r; false with s->error set. */
static bool parse_export_line(struct log_source *s, char *line, size_t len, struct log_record *r)
{
	struct json_member m[LOG_MAX_FIELDS + 8];
	size_t n, err_at, stored;
	const char *why = json_scan_object(line, len, m, sizeof(m) / sizeof(m[0]), &n, &err_at);
	int stream = -1;
	bool have_id = false;

	if (why) {
		set_error(s, "%s:%lu: not an export record: %s at byte %zu", s->path, s->line_no, why, err_at + 1);
		return false;
	}
	stored = n < sizeof(m) / sizeof(m[0]) ? n : sizeof(m) / sizeof(m[0]);
	record_reset(r);
	r->line = s->line_no;
	for (size_t i = 0; i < stored; i++) {
		size_t key_len, value_len;
		const char *key = decode_in_place(m[i].key, m[i].key_len, m[i].key_escaped, &key_len);

		for (size_t j = 0; j < i; j++)
			if (m[j].key_len == key_len && memcmp(m[j].key, key, key_len) == 0) {
				set_error(s, "%s:%lu: field '%.40s' appears twice", s->path, s->line_no, key);
				return false;
			}
		m[i].key_len = key_len; /* decoded, for the duplicate check */
		if (m[i].kind != JSON_K_STRING) {
			set_error(s, "%s:%lu: field '%.40s' is not a string", s->path, s->line_no, key);
			return false;
		}
		const char *value = decode_in_place(m[i].value, m[i].value_len, m[i].value_escaped, &value_len);

		if (key_len == 6 && memcmp(key, "stream", 6) == 0) {
			stream = log_stream_from_name(value);
		} else if (key_len == 2 && memcmp(key, "id", 2) == 0) {
			if (value_len >= sizeof(r->id) || memchr(value, '\0', value_len) ||
			    !log_id_parse(value, &r->id_ms, &r->id_n) || strchr(value, '-') == NULL) {
				set_error(s, "%s:%lu: '%.60s' is not a stream id", s->path, s->line_no, value);
				return false;
			}
			memcpy(r->id, value, value_len + 1);
			have_id = true;
		} else {
			record_add_field(r, key, key_len, value, value_len);
		}
	}
	r->fields_dropped += n - stored;
	if (stream < 0 || !have_id) {
		set_error(s, "%s:%lu: an export record needs \"stream\" (calls or complaints) and \"id\"", s->path,
		          s->line_no);
		return false;
	}
	r->stream = (enum log_stream)stream;
	return true;
}

static int next_from_file(struct log_source *s, struct log_record *r)
{
	for (;;) {
		char *line;
		size_t n;
		int got = read_line(s, &line, &n);

		if (got <= 0)
			return got;
		while (n > 0 && line[n - 1] == '\r')
			n--;
		size_t i = 0;

		while (i < n && isspace((unsigned char)line[i]))
			i++;
		if (i == n)
			continue; /* blank */
		if (!parse_export_line(s, line, n, r))
			return -1;
		if (!(s->sel.streams & LOG_STREAM_MASK(r->stream)))
			continue;
		if (s->has_from && log_id_cmp(r->id_ms, r->id_n, s->from_ms, s->from_n) < 0)
			continue;
		if (s->has_to && log_id_cmp(r->id_ms, r->id_n, s->to_ms, s->to_n) > 0)
			continue;
		return 1;
	}
}

int log_source_next(struct log_source *s, struct log_record *r)
{
	int got = s->from_file ? next_from_file(s, r) : next_from_redis(s, r);

	if (got == 1)
		s->records++;
	return got;
}

void log_source_progress(const struct log_source *s, uint64_t *done, uint64_t *total)
{
	*done = s->from_file ? s->consumed : s->records;
	*total = s->from_file ? s->size : 0;
}

void log_source_close(struct log_source *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < LOG_STREAM_COUNT; i++)
		reply_arena_free(&s->cur[i].arena);
	if (s->close_fd && s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
}

int log_stream_entries_added(redisContext *rc, const char *prefix, enum log_stream s, uint64_t *added, char *err,
                             size_t err_len)
{
	redisReply *r = redisCommand(rc, "XINFO STREAM %slog:%s", prefix, log_stream_name(s));
	int found = 0;

	if (r == NULL) {
		snprintf(err, err_len, "XINFO STREAM %slog:%s: %s", prefix, log_stream_name(s), rc->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key") != NULL) {
		freeReplyObject(r);
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, err_len, "XINFO STREAM %slog:%s: %s", prefix, log_stream_name(s),
		         r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
		freeReplyObject(r);
		return -1;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, "entries-added") == 0 &&
		    r->element[i + 1]->type == REDIS_REPLY_INTEGER && r->element[i + 1]->integer >= 0) {
			*added = (uint64_t)r->element[i + 1]->integer;
			found = 1;
		}
	freeReplyObject(r);
	return found;
}
