#include "export_format.h"

#include <string.h>

/* The entry fields that get a CSV column, in column order.  "object_id"
 * is the call_id or complaint_id. */
static const char *const columns[] = {
    "ts",    "event", "object_id", "agent",    "role",        "state",      "customer_id", "phone",
    "queue", "tier",  "severity",  "category", "disposition", "csat",       "leg_ms",      "due",
    "level", "owner", "to",        "rejected", "source",      "request_id",
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

bool export_jsonl(struct text_buf *b, const struct log_record *r)
{
	bool exact = r->fields_dropped == 0;

	text_buf_adds(b, "{\"stream\":\"");
	text_buf_adds(b, log_stream_name(r->stream));
	text_buf_adds(b, "\",\"id\":");
	json_escape(b, r->id, strlen(r->id));
	for (size_t i = 0; i < r->nfields; i++) {
		text_buf_addc(b, ',');
		exact &= json_escape(b, r->fields[i].name, r->fields[i].name_len);
		text_buf_addc(b, ':');
		exact &= json_escape(b, r->fields[i].value, r->fields[i].value_len);
	}
	text_buf_adds(b, "}\n");
	return exact;
}

void export_csv_field(struct text_buf *b, const char *s, size_t len)
{
	bool quote = len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t');

	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		text_buf_add(b, s, len);
		return;
	}
	text_buf_addc(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			text_buf_addc(b, '"');
		text_buf_addc(b, s[i]);
	}
	text_buf_addc(b, '"');
}

void export_csv_header(struct text_buf *b)
{
	text_buf_adds(b, "stream,id,seq");
	for (size_t i = 0; i < N_COLUMNS; i++) {
		text_buf_addc(b, ',');
		text_buf_adds(b, columns[i]);
	}
	text_buf_adds(b, ",entry\r\n");
}

static int column_of(const char *key, size_t len, enum log_stream stream)
{
	const char *id_key = stream == LOG_CALLS ? "call_id" : "complaint_id";

	if (len == strlen(id_key) && memcmp(key, id_key, len) == 0)
		key = "object_id", len = strlen("object_id");
	for (size_t i = 0; i < N_COLUMNS; i++)
		if (strlen(columns[i]) == len && memcmp(columns[i], key, len) == 0)
			return (int)i;
	return -1;
}

void export_csv_row(struct text_buf *b, const struct log_record *r, char *scratch)
{
	struct json_member m[64];
	struct {
		const char *p;
		size_t len;
	} cell[N_COLUMNS] = {{0}};
	size_t n = 0, at, used = 0;

	/* A malformed entry still gets its row: stream, id, seq and the raw text. */
	if (r->entry &&
	    json_scan_object(r->entry, r->entry_len, m, sizeof(m) / sizeof(m[0]), &n, &at) != NULL)
		n = 0;
	if (n > sizeof(m) / sizeof(m[0]))
		n = sizeof(m) / sizeof(m[0]);
	for (size_t i = 0; i < n; i++) {
		int c = m[i].key_escaped ? -1 : column_of(m[i].key, m[i].key_len, r->stream);

		if (c < 0 || cell[c].p)
			continue;
		if (m[i].kind == JSON_K_STRING && m[i].value_escaped) {
			cell[c].len = json_unescape(m[i].value, m[i].value_len, scratch + used);
			cell[c].p = scratch + used;
			used += cell[c].len;
		} else {
			cell[c].p = m[i].value; /* a plain string's text, or a number, true, ... as written */
			cell[c].len = m[i].value_len;
		}
	}
	text_buf_adds(b, log_stream_name(r->stream));
	text_buf_addc(b, ',');
	export_csv_field(b, r->id, strlen(r->id));
	text_buf_addc(b, ',');
	export_csv_field(b, r->seq ? r->seq : "", r->seq_len);
	for (size_t i = 0; i < N_COLUMNS; i++) {
		text_buf_addc(b, ',');
		export_csv_field(b, cell[i].p ? cell[i].p : "", cell[i].len);
	}
	text_buf_addc(b, ',');
	export_csv_field(b, r->entry ? r->entry : "", r->entry_len);
	text_buf_adds(b, "\r\n");
}
