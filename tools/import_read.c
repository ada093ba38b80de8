#include "import_read.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "csv.h"
#include "customer.h"
#include "import.h"
#include "proto.h"

#define MAX_RECORD (1024 * 1024) /* bytes in one CSV record or JSON line */
#define READ_SIZE  (256 * 1024)

/* ---- fields and rows ---------------------------------------------------------------------------------- */

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* The field a header cell or JSON key names, the way customer.c reads it
 * (blanks around it ignored, any case); -1 if none. */
static int field_of_name(const char *s, size_t len)
{
	char name[32];

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= sizeof(name) || memchr(s, '\0', len))
		return -1;
	memcpy(name, s, len);
	name[len] = '\0';
	return customer_field_lookup(name);
}

/* The checks that span rows: an id once per file, an account for one customer only. */
static bool check_file_wide(struct importer *im, const struct row *r)
{
	unsigned long prev = seen_get(&im->ids, r->c.value[CF_ID]);

	if (prev != 0) {
		import_reject(im, r->line, "duplicate id, first seen at line %lu", prev);
		return false;
	}
	for (size_t j = 0; j < r->c.n_accounts; j++) {
		prev = seen_get(&im->accounts, r->c.accounts[j]);
		if (prev != 0) {
			import_reject(
			    im, r->line,
			    "field 'accounts': account %zu is already claimed by the customer at line %lu",
			    j + 1, prev);
			return false;
		}
	}
	return true;
}

/* A valid row (in the slot from batch_next_slot): checked against the file, then batched. */
static int accept(struct importer *im, struct row *r)
{
	bool ok = check_file_wide(im, r), stored = ok;

	for (size_t j = 0; stored && j < r->c.n_accounts; j++)
		stored = seen_add(&im->accounts, r->c.accounts[j], r->line);
	if (stored)
		stored = seen_add(&im->ids, r->c.value[CF_ID], r->line);
	if (!stored || im->dry_run) {
		customer_free(&r->c);
		im->n.valid += stored;
		return ok && !stored ? import_fail("out of memory") : 0;
	}
	im->n.valid++;
	if (im->b.n++ == 0)
		im->b.first_line = r->line;
	return im->b.n >= im->batch_size ? batch_flush(im) : 0;
}

static ssize_t read_some(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* ---- CSV ---------------------------------------------------------------------------------------------- */

struct csv_header {
	char **names;
	size_t n;
	int tier_col;
};

static void header_free(struct csv_header *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
}

static void printable(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t n = len < dstlen - 1 ? len : dstlen - 1;

	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	dst[n] = '\0';
}

/* The header names the columns once for the whole file: a bad one is a finding about the file. */
static int take_header(struct importer *im, const struct csv_record *rec, struct csv_header *h)
{
	bool have[CF_COUNT] = {false};
	char shown[41];

	h->tier_col = -1;
	h->names = calloc(rec->n_fields, sizeof(*h->names));
	if (!h->names)
		return import_fail("out of memory");
	for (size_t i = 0; i < rec->n_fields; i++, h->n++) {
		int f = field_of_name(rec->fields[i], rec->lens[i]);

		printable(shown, sizeof(shown), rec->fields[i], rec->lens[i]);
		if (f < 0 || have[f]) {
			import_reject(im, rec->line,
			              f < 0 ? "header: unknown field '%s'" : "header: field '%s' given twice",
			              shown);
			return -2;
		}
		have[f] = true;
		if (f == CF_TIER)
			h->tier_col = (int)i;
		if (!(h->names[i] = strdup(rec->fields[i])))
			return import_fail("out of memory");
	}
	for (int f = CF_ID; f <= CF_NAME; f++) {
		if (!have[f]) {
			import_reject(im, rec->line, "header: no '%s' column",
			              customer_field_name((enum customer_field)f));
			return -2;
		}
	}
	return 0;
}

static int csv_row(struct importer *im, const struct csv_record *rec, const struct csv_header *h)
{
	char err[256];
	struct row *r;

	if (rec->n_fields != h->n)
		return import_reject(im, rec->line, "%zu fields, the header has %zu", rec->n_fields, h->n);
	for (size_t i = 0; i < h->n; i++)
		if (memchr(rec->fields[i], '\0', rec->lens[i]))
			return import_reject(im, rec->line, "field '%s': contains a NUL byte", h->names[i]);
	if (!(r = batch_next_slot(im)))
		return import_fail("out of memory");
	r->line = rec->line;
	if (customer_from_text(&r->c, (const char *const *)h->names, (const char *const *)rec->fields, h->n,
	                       &im->target->phone, err, sizeof(err)) != 0)
		return import_reject(im, rec->line, "%s", err);
	r->tier_given = h->tier_col >= 0 && !is_blank(rec->fields[h->tier_col], rec->lens[h->tier_col]);
	return accept(im, r);
}

/* 0 to go on, -1 failed (reported), -2 the file's header is unusable (reported). */
static int csv_records(struct importer *im, struct csv_reader *cr, struct csv_header *h)
{
	struct csv_record rec;
	const char *why;
	enum csv_status st;
	int rc = 0;

	while (rc == 0 && (st = csv_next(cr, &rec, &why)) != CSV_NEED_MORE && st != CSV_END) {
		if (st == CSV_ERROR)
			import_reject(im, rec.line, "%s", why);
		else if (h->names)
			rc = csv_row(im, &rec, h);
		else
			rc = take_header(im, &rec, h);
		if (st == CSV_ERROR && !h->names)
			rc = -2; /* no header, no columns */
		progress_row(im);
	}
	return rc;
}

int import_csv(struct importer *im, int fd)
{
	struct csv_reader *cr = csv_new(MAX_RECORD);
	struct csv_header h = {.names = NULL};
	char *buf = malloc(READ_SIZE);
	ssize_t n = 1;
	int rc = 0;

	if (!cr || !buf)
		rc = import_fail("out of memory");
	while (rc == 0 && n > 0) {
		if ((n = read_some(fd, buf, READ_SIZE)) < 0) {
			rc = import_fail("cannot read %s: %s", im->name, strerror(errno));
			break;
		}
		im->prog.done += n;
		if (n == 0)
			csv_finish(cr);
		else
			csv_feed(cr, buf, (size_t)n);
		rc = csv_records(im, cr, &h);
	}
	if (rc == 0 && !h.names) {
		import_reject(im, 1, "no header row (the file is empty)");
		rc = -2;
	}
	header_free(&h);
	csv_free(cr);
	free(buf);
	return rc;
}

/* ---- JSON Lines --------------------------------------------------------------------------------------- */

static bool json_tier_given(json_t *obj)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *k = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);

		if (field_of_name(k, strlen(k)) == CF_TIER && json_is_string(v) &&
		    !is_blank(json_string_value(v), json_string_length(v)))
			return true;
	}
	return false;
}

static int json_row(struct importer *im, const char *line, size_t len, unsigned long lineno)
{
	json_error_t je;
	json_t *obj;
	struct row *r;
	char err[256], *near;
	int rc;

	if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (is_blank(line, len))
		return 0;
	obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!obj) {
		/* jansson quotes the offending token ("near '...'"): it may be personal data. */
		if ((near = strstr(je.text, " near ")))
			*near = '\0';
		return import_reject(im, lineno, "invalid JSON at column %d: %s", je.column, je.text);
	}
	if (!(r = batch_next_slot(im))) {
		json_decref(obj);
		return import_fail("out of memory");
	}
	r->line = lineno;
	rc = customer_from_json(&r->c, obj, &im->target->phone, err, sizeof(err));
	r->tier_given = rc == 0 && json_tier_given(obj);
	json_decref(obj);
	if (rc != 0)
		return import_reject(im, lineno, "%s", err);
	return accept(im, r);
}

static unsigned long count_lf(const char *p, size_t len)
{
	unsigned long n = 0;
	const char *end = p + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* Every complete line in buf; *lines counts the lines finished so far, *used the bytes done. */
static int json_lines(struct importer *im, struct proto_framer *fr, const char *buf, size_t len,
                      unsigned long *lines, size_t *used)
{
	enum proto_frame_status st;
	const char *line;
	size_t ll, consumed;
	int rc = 0;

	*used = 0;
	do {
		st = proto_frame(fr, buf + *used, len - *used, &line, &ll, &consumed);
		if (st == PROTO_LINE) {
			*lines += count_lf(buf + *used, (size_t)(line - (buf + *used))) + 1;
			rc = json_row(im, line, ll, *lines);
			progress_row(im);
		} else {
			*lines += count_lf(buf + *used, consumed);
			if (st == PROTO_TOO_LONG)
				import_reject(im, *lines + 1, "line longer than %d bytes", MAX_RECORD);
		}
		*used += consumed;
	} while (rc == 0 && st != PROTO_NEED_MORE);
	return rc;
}

int import_jsonl(struct importer *im, int fd)
{
	size_t cap = MAX_RECORD + 2 + READ_SIZE, len = 0, used;
	char *buf = malloc(cap);
	struct proto_framer fr;
	unsigned long lines = 0;
	bool eof = false;
	int rc = 0;

	if (!buf)
		return import_fail("out of memory");
	proto_framer_init(&fr, MAX_RECORD);
	while (rc == 0 && !eof) {
		ssize_t n = read_some(fd, buf + len, cap - len);

		if (n < 0) {
			rc = import_fail("cannot read %s: %s", im->name, strerror(errno));
			break;
		}
		im->prog.done += n;
		len += (size_t)n;
		/* The framer only hands out lines ending in LF: give the last one its LF. */
		if ((eof = n == 0) && len > 0 && buf[len - 1] != '\n')
			buf[len++] = '\n';
		rc = json_lines(im, &fr, buf, len, &lines, &used);
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	free(buf);
	return rc;
}
