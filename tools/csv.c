/* csv.c - RFC 4180 CSV reader (see csv.h).
 *
 * A byte-at-a-time state machine, so a record may be split across feeds at
 * any byte.  Field bytes are copied into one buffer allocated up front
 * (max_record bytes, each field NUL-terminated), which both bounds memory
 * on hostile input and keeps the reader free of allocation per record.
 */
#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char bom[3] = {'\xEF', '\xBB', '\xBF'};

enum state {
	ST_FIELD_START, /* before the first byte of a field */
	ST_UNQUOTED,    /* inside a field that did not start with a quote */
	ST_QUOTED,      /* inside a quoted field */
	ST_QUOTE_SEEN,  /* a quote inside a quoted field: closing, or the first of "" */
	ST_SKIP,        /* after an error: dropping bytes up to the next line end */
};

struct csv_reader {
	const char *in; /* the bytes fed, used in place */
	size_t in_len, in_pos;
	bool finished, ended;

	enum state st;
	bool in_record;     /* a byte of the current record has been seen */
	bool after_cr;      /* a CR ended a line: an LF right after it is the same line end */
	bool reset_pending; /* the last record was handed out: clear it on the next call */
	unsigned bom_state; /* BOM bytes matched so far, or 3 once decided */
	unsigned long line; /* line of the next byte */
	unsigned long rec_line;

	char *data; /* field bytes and NULs of the current record */
	size_t used, max_record, field_start;
	size_t n_fields;
	size_t lens[CSV_MAX_FIELDS];
	size_t offs[CSV_MAX_FIELDS];
	char *ptrs[CSV_MAX_FIELDS];
};

struct csv_reader *csv_new(size_t max_record)
{
	struct csv_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->data = malloc(max_record > 0 ? max_record : 1);
	if (!r->data) {
		free(r);
		return NULL;
	}
	r->max_record = max_record;
	r->line = 1;
	return r;
}

void csv_free(struct csv_reader *r)
{
	if (!r)
		return;
	free(r->data);
	free(r);
}

void csv_feed(struct csv_reader *r, const char *buf, size_t len)
{
	r->in = buf;
	r->in_len = len;
	r->in_pos = 0;
}

void csv_finish(struct csv_reader *r)
{
	r->finished = true;
}

static bool put(struct csv_reader *r, char c)
{
	if (r->used >= r->max_record)
		return false;
	r->data[r->used++] = c;
	return true;
}

static void begin_field(struct csv_reader *r)
{
	r->field_start = r->used;
}

static bool end_field(struct csv_reader *r)
{
	if (r->n_fields == CSV_MAX_FIELDS || !put(r, '\0'))
		return false;
	r->offs[r->n_fields] = r->field_start;
	r->lens[r->n_fields] = r->used - 1 - r->field_start;
	r->n_fields++;
	r->field_start = r->used;
	return true;
}

static void line_end(struct csv_reader *r, char c)
{
	r->line++;
	r->after_cr = c == '\r';
}

static enum csv_status emit(struct csv_reader *r, struct csv_record *rec)
{
	for (size_t i = 0; i < r->n_fields; i++)
		r->ptrs[i] = r->data + r->offs[i];
	rec->line = r->rec_line;
	rec->n_fields = r->n_fields;
	rec->fields = r->ptrs;
	rec->lens = r->lens;
	r->reset_pending = true;
	r->st = ST_FIELD_START;
	return CSV_RECORD;
}

static enum csv_status fail(struct csv_reader *r, struct csv_record *rec, const char **why, const char *what)
{
	rec->line = r->rec_line;
	rec->n_fields = 0;
	rec->fields = r->ptrs;
	rec->lens = r->lens;
	*why = what;
	r->reset_pending = true;
	r->st = ST_SKIP;
	return CSV_ERROR;
}

static enum csv_status field_full(struct csv_reader *r, struct csv_record *rec, const char **why)
{
	return fail(r, rec, why, r->n_fields == CSV_MAX_FIELDS ? "too many fields" : "record too long");
}

static bool is_line_end(char c)
{
	return c == '\n' || c == '\r';
}

/* A ',' or a line end closes the field; the latter the record too.  False for any other byte. */
static bool separator(struct csv_reader *r, char c, struct csv_record *rec, const char **why,
                      enum csv_status *st)
{
	if (c != ',' && !is_line_end(c))
		return false;
	r->st = ST_FIELD_START;
	if (is_line_end(c))
		line_end(r, c);
	if (!end_field(r)) {
		*st = field_full(r, rec, why);
		if (is_line_end(c))
			r->st = ST_FIELD_START; /* that line end was the one a skip would look for */
	} else {
		*st = c == ',' ? CSV_NEED_MORE : emit(r, rec);
	}
	return true;
}

/* The bytes of a partial BOM turned out to be data: they start the first field. */
static bool replay_bom(struct csv_reader *r)
{
	unsigned n = r->bom_state;

	r->bom_state = 3;
	if (n == 0)
		return true;
	r->in_record = true;
	r->rec_line = r->line;
	r->st = ST_UNQUOTED;
	begin_field(r);
	for (unsigned i = 0; i < n; i++)
		if (!put(r, bom[i]))
			return false;
	return true;
}

static enum csv_status data(struct csv_reader *r, char c, struct csv_record *rec, const char **why)
{
	return put(r, c) ? CSV_NEED_MORE : fail(r, rec, why, "record too long");
}

static enum csv_status field_start(struct csv_reader *r, char c, struct csv_record *rec, const char **why)
{
	enum csv_status st;

	if (!r->in_record) {
		if (is_line_end(c)) {
			line_end(r, c); /* an empty line is no record */
			return CSV_NEED_MORE;
		}
		r->in_record = true;
		r->rec_line = r->line;
	}
	begin_field(r);
	if (separator(r, c, rec, why, &st))
		return st;
	r->st = c == '"' ? ST_QUOTED : ST_UNQUOTED;
	return c == '"' ? CSV_NEED_MORE : data(r, c, rec, why);
}

/* One byte; CSV_NEED_MORE means "keep going", anything else goes to the caller. */
static enum csv_status step(struct csv_reader *r, char c, struct csv_record *rec, const char **why)
{
	enum csv_status st;

	switch (r->st) {
	case ST_FIELD_START:
		return field_start(r, c, rec, why);
	case ST_UNQUOTED:
		if (separator(r, c, rec, why, &st))
			return st;
		if (c == '"')
			return fail(r, rec, why,
			            "quote inside an unquoted field (quote the field and double the quote)");
		return data(r, c, rec, why);
	case ST_QUOTE_SEEN:
		if (separator(r, c, rec, why, &st))
			return st;
		if (c != '"')
			return fail(r, rec, why, "text after a closing quote");
		r->st = ST_QUOTED;
		return data(r, c, rec, why);
	case ST_QUOTED:
		if (c == '"') {
			r->st = ST_QUOTE_SEEN;
			return CSV_NEED_MORE;
		}
		if (is_line_end(c))
			line_end(r, c);
		return data(r, c, rec, why);
	case ST_SKIP:
		if (is_line_end(c)) {
			line_end(r, c);
			r->st = ST_FIELD_START;
		}
		return CSV_NEED_MORE;
	}
	return CSV_NEED_MORE;
}

static enum csv_status at_end(struct csv_reader *r, struct csv_record *rec, const char **why)
{
	if (r->bom_state < 3 && !replay_bom(r))
		return fail(r, rec, why, "record too long");
	if (r->ended || r->st == ST_SKIP || !r->in_record) {
		r->ended = true;
		return CSV_END;
	}
	if (r->st == ST_QUOTED) {
		r->in_record = false; /* reported once; the next call says CSV_END */
		return fail(r, rec, why, "quoted field not closed before the end of the file");
	}
	if (!end_field(r))
		return field_full(r, rec, why);
	return emit(r, rec);
}

enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec, const char **why)
{
	if (r->reset_pending) {
		r->reset_pending = false;
		r->used = 0;
		r->n_fields = 0;
		r->in_record = false;
	}
	while (r->in_pos < r->in_len) {
		char c = r->in[r->in_pos++];
		enum csv_status st;

		if (r->after_cr) {
			r->after_cr = false;
			if (c == '\n') {
				/* CRLF: the CR already ended the line (and, inside quotes, was kept with the
				 * LF). */
				if (r->st == ST_QUOTED && !put(r, c))
					return fail(r, rec, why, "record too long");
				continue;
			}
		}
		if (r->bom_state < 3) {
			if (c == bom[r->bom_state]) {
				r->bom_state++;
				continue;
			}
			if (!replay_bom(r))
				return fail(r, rec, why, "record too long");
		}
		st = step(r, c, rec, why);
		if (st != CSV_NEED_MORE)
			return st;
	}
	if (!r->finished)
		return CSV_NEED_MORE;
	return at_end(r, rec, why);
}
