/* fuzz_json.c - the allocation-free JSON scanner the log readers use (tools/json_text.c), the
 * audit's entry reader (tools/audit_entry.c) and the export line writer (tools/export_format.c).
 *
 * Input: the bytes are one candidate JSON text (an export line or an entry).  Properties: the
 * offset of a refusal lies within the input; whatever jansson takes for an object (nested less
 * than JSON_TEXT_MAX_DEPTH) the scanner takes too; a string member decodes to no more bytes
 * than its raw text, and escaping the decoded bytes gives JSON that scans and decodes back to
 * exactly them; the entry reader never reads outside the text or its scratch; an export line
 * built from the input as a stored field scans, and gives the field back exactly when it says
 * it is exact; the array scanner accepts every array jansson accepts; the lost record reader
 * (tools/lost_record.c) agrees with its own "is it one?" and fills only what it says it read.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_entry.h"
#include "export_format.h"
#include "fuzz_util.h"
#include "json_text.h"
#include "lost_record.h"

#define MAX_MEMBERS 16

static void round_trip(const char *bytes, size_t len)
{
	struct text_buf b = {0};
	struct json_member m[2];
	size_t n, at;
	char *back;

	text_buf_adds(&b, "{\"k\":");
	FUZZ_CHECK(json_escape(&b, bytes, len));
	text_buf_addc(&b, '}');
	FUZZ_CHECK(!b.failed);
	FUZZ_CHECK(json_scan_object(b.p, b.len, m, 2, &n, &at) == NULL && n == 1 &&
	           m[0].kind == JSON_K_STRING);
	back = malloc(m[0].value_len + 1);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(json_unescape(m[0].value, m[0].value_len, back) == len);
	FUZZ_CHECK(memcmp(back, bytes, len) == 0);
	free(back);
	text_buf_free(&b);
}

/* The input as the value of a stored field: the export line must scan, and hold the bytes
 * exactly when export_jsonl says so. */
static void export_line(const uint8_t *data, size_t size)
{
	struct log_record r = {.stream = LOG_CALLS, .nfields = 1};
	struct text_buf b = {0};
	struct json_member m[4];
	size_t n, at;
	bool exact;

	memcpy(r.id, "1-0", 4);
	r.fields[0] = (struct log_field){"entry", (const char *)data, 5, size};
	exact = export_jsonl(&b, &r);
	FUZZ_CHECK(!b.failed && b.len > 0 && b.p[b.len - 1] == '\n');
	FUZZ_CHECK(json_scan_object(b.p, b.len - 1, m, 4, &n, &at) == NULL && n == 3);
	if (exact) {
		char *back = malloc(m[2].value_len + 1);

		FUZZ_CHECK(back != NULL);
		FUZZ_CHECK(json_unescape(m[2].value, m[2].value_len, back) == size &&
		           memcmp(back, data, size) == 0);
		free(back);
	}
	text_buf_free(&b);
}

/* The lost record reader on the text: "is it one" and the parse agree, and
 * what a good record holds is within its bounds. */
static void lost_record(const char *text, size_t size)
{
	static struct lost_record lr;
	char why[200] = "";
	enum lost_parse got = lost_record_parse(text, size, &lr, why, sizeof(why));

	FUZZ_CHECK((got == LOST_NOT) == !lost_record_is(text, size));
	if (got == LOST_MALFORMED)
		FUZZ_CHECK(why[0] != '\0');
	if (got != LOST_OK)
		return;
	FUZZ_CHECK(lr.n >= 1 && lr.n <= LOST_MAX_ITEMS && lr.reported_by[0] && lr.master[0]);
	for (size_t i = 0; i < lr.n; i++)
		FUZZ_CHECK(lr.item[i].seq >= 1 && strlen(lr.item[i].hash) == LOST_HASH_LEN &&
		           strlen(lr.item[i].id) < LOG_ID_MAX); /* "what" is optional */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json_member m[MAX_MEMBERS];
	struct audit_entry e;
	size_t n, at;
	char why[200], *scratch;
	const char *err = json_scan_object(text, size, m, MAX_MEMBERS, &n, &at);
	json_t *j = json_loadb(text, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
	struct json_member elements[MAX_MEMBERS];
	size_t array_at, array_n;
	const char *array_err = json_scan_array(text, size, elements, MAX_MEMBERS, &array_n, &array_at);

	FUZZ_CHECK(at <= size && array_at <= size);
	if (j && json_is_array(j) && !(array_err && strcmp(array_err, "nested too deeply") == 0) &&
	    memchr(text, '\0', size) == NULL)
		FUZZ_CHECK(array_err == NULL);
	/* Whatever jansson accepts, the scanner accepts -- except input with a
	 * raw NUL byte, which jansson takes in places JSON does not allow it
	 * (found by fuzzing: {"a":true<NUL>,"b":1}); the log never holds one
	 * (the daemon refuses control characters) and refusing it is right. */
	if (j && json_is_object(j) && !(err && strcmp(err, "nested too deeply") == 0) &&
	    memchr(text, '\0', size) == NULL)
		FUZZ_CHECK(err == NULL);
	json_decref(j);
	if (err == NULL) {
		for (size_t i = 0; i < n && i < MAX_MEMBERS; i++) {
			char *buf;
			size_t len;

			if (m[i].kind != JSON_K_STRING)
				continue;
			buf = malloc(m[i].value_len + 1);
			FUZZ_CHECK(buf != NULL);
			len = json_unescape(m[i].value, m[i].value_len, buf);
			FUZZ_CHECK(len <= m[i].value_len);
			round_trip(buf, len);
			free(buf);
		}
	}
	/* exactly size bytes of scratch, so ASan sees any overrun */
	scratch = malloc(size ? size : 1);
	FUZZ_CHECK(scratch != NULL);
	for (int st = 0; st < LOG_STREAM_COUNT; st++)
		if (!audit_entry_parse((enum log_stream)st, text, size, scratch, &e, why, sizeof(why)))
			FUZZ_CHECK(why[0] != '\0');
	free(scratch);
	lost_record(text, size);
	export_line(data, size);
	return 0;
}
