#include "log_source.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rfc3339.h"

/* Entries fetched per XRANGE: large enough that round trips do not
 * dominate, small enough that a chunk of big entries stays a few MB. */
#define CHUNK 1000
/* An export line longer than this is not one we wrote. */
#define MAX_LINE (4u << 20)

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

bool log_time_to_id(const char *text, bool end, char out[LOG_ID_MAX])
{
	uint64_t ms, n;

	if (text[0] == '@') {
		if (!parse_u64(text + 1, strlen(text + 1), &ms) || ms > UINT64_MAX / 1000 - 1000)
			return false;
		ms = ms * 1000 + (end ? 999 : 0);
		n = end ? UINT64_MAX : 0;
	} else if (strchr(text + 1, '-') && (strchr(text, 'T') || strchr(text, 't') || strchr(text, ' ') ||
	                                    strlen(text) == 10)) {
		if (!rfc3339_parse_ms(text, end, &ms))
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
	FILE *f;
	bool close_f;
	const char *path;
	char *line;
	size_t line_cap;
	unsigned long line_no;
	json_t *doc; /* the current line, owner of the record's strings */
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
	freeReplyObject(c->chunk);
	c->chunk = NULL;
	c->next = 0;
	if (c->exhausted)
		return 0;
	r = redisCommand(s->rc, "XRANGE %s %s %s COUNT %d", c->key, c->after, s->sel.to_id ? s->sel.to_id : "+",
	                 CHUNK);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		set_error(s, "reading %s: %s", c->key,
		          r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") : s->rc->errstr);
		freeReplyObject(r);
		return -1;
	}
	if (r->elements < CHUNK)
		c->exhausted = true;
	if (r->elements == 0) {
		freeReplyObject(r);
		return 0;
	}
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) {
			set_error(s, "reading %s: an entry of unexpected shape", c->key);
			freeReplyObject(r);
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
	if (fields->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < fields->elements; i += 2)
			record_add_field(r, fields->element[i]->str, fields->element[i]->len, fields->element[i + 1]->str,
			                 fields->element[i + 1]->len);
	return 1;
}

struct log_source *log_source_open_file(const char *path, const struct log_selection *sel, char *err,
                                        size_t err_len)
{
	struct log_source *s = source_new(sel, err, err_len);

	if (s == NULL)
		return NULL;
	s->from_file = true;
	s->path = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if (strcmp(path, "-") == 0) {
		s->f = stdin;
	} else {
		s->f = fopen(path, "r");
		s->close_f = true;
		if (s->f == NULL) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			free(s);
			return NULL;
		}
	}
	return s;
}

/* Parse one export line into r; false with s->error set. */
static bool parse_export_line(struct log_source *s, const char *line, size_t len, struct log_record *r)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	int stream = -1;
	bool have_id = false;

	json_decref(s->doc);
	s->doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (s->doc == NULL || !json_is_object(s->doc)) {
		set_error(s, "%s:%lu: not an export record: %s", s->path, s->line_no,
		          s->doc ? "not a JSON object" : jerr.text);
		return false;
	}
	record_reset(r);
	r->line = s->line_no;
	json_object_foreach(s->doc, key, v) {
		if (!json_is_string(v)) {
			set_error(s, "%s:%lu: field '%s' is not a string", s->path, s->line_no, key);
			return false;
		}
		if (strcmp(key, "stream") == 0) {
			stream = log_stream_from_name(json_string_value(v));
		} else if (strcmp(key, "id") == 0) {
			if (json_string_length(v) >= sizeof(r->id) ||
			    !log_id_parse(json_string_value(v), &r->id_ms, &r->id_n) ||
			    strchr(json_string_value(v), '-') == NULL) {
				set_error(s, "%s:%lu: '%s' is not a stream id", s->path, s->line_no, json_string_value(v));
				return false;
			}
			snprintf(r->id, sizeof(r->id), "%s", json_string_value(v));
			have_id = true;
		} else {
			record_add_field(r, key, strlen(key), json_string_value(v), json_string_length(v));
		}
	}
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
		ssize_t n;

		errno = 0;
		n = getline(&s->line, &s->line_cap, s->f);
		if (n < 0) {
			if (ferror(s->f)) {
				set_error(s, "%s: %s", s->path, strerror(errno ? errno : EIO));
				return -1;
			}
			return 0;
		}
		s->line_no++;
		if ((size_t)n > MAX_LINE) {
			set_error(s, "%s:%lu: line longer than %u bytes", s->path, s->line_no, MAX_LINE);
			return -1;
		}
		while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r'))
			n--;
		size_t i = 0;

		while (i < (size_t)n && isspace((unsigned char)s->line[i]))
			i++;
		if (i == (size_t)n)
			continue; /* blank */
		if (!parse_export_line(s, s->line, (size_t)n, r))
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
	return s->from_file ? next_from_file(s, r) : next_from_redis(s, r);
}

void log_source_close(struct log_source *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < LOG_STREAM_COUNT; i++)
		freeReplyObject(s->cur[i].chunk);
	if (s->close_f && s->f)
		fclose(s->f);
	free(s->line);
	json_decref(s->doc);
	free(s);
}
