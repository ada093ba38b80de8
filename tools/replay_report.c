#include "replay_report.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const codes[REPLAY_N_CODES] = {
	"bad_request", "unknown_command", "line_too_long", "auth_required", "auth_failed", "forbidden",
	"not_found",   "conflict",        "unavailable",   "rate_limited",  "internal",
};

void replay_count_error(struct replay_counts *n, const char *code, size_t code_len)
{
	n->errors++;
	for (size_t i = 0; i < REPLAY_N_CODES; i++) {
		if (strlen(codes[i]) == code_len && memcmp(codes[i], code, code_len) == 0) {
			n->by_code[i]++;
			return;
		}
	}
	n->other_errors++;
}

bool replay_counts_findings(const struct replay_counts *n)
{
	return n->errors || n->unmapped || n->unknown || n->malformed;
}

void replay_report_text(FILE *out, const struct replay_counts *n, const struct replay_report_context *ctx)
{
	size_t shown = 0;

	fprintf(out, "replayed into %s: %llu entries read, %llu requests sent: %llu OK, %llu duplicate (logged before), "
	        "%llu ERR",
	        ctx->to, n->read, n->sent, n->ok, n->duplicate, n->errors);
	for (size_t i = 0; i < REPLAY_N_CODES; i++)
		if (n->by_code[i])
			fprintf(out, "%s%s %llu", shown++ ? ", " : " (", codes[i], n->by_code[i]);
	if (n->other_errors)
		fprintf(out, "%sother %llu", shown++ ? ", " : " (", n->other_errors);
	fprintf(
	    out,
	    "%s\nnot replayed: %llu rejected when logged, %llu lost records, %llu of complaints whose open "
	    "was not replayed, %llu of unknown events, %llu malformed",
	    shown ? ")" : "", n->rejected, n->lost, n->unmapped, n->unknown, n->malformed);
	if (ctx->call)
		fprintf(out, ", %llu not about call %s", n->not_selected, ctx->call);
	fprintf(out, "\n");
	if (n->forgotten)
		fprintf(out, "%llu complaints forgotten (more than --max-complaints %zu at once)\n", n->forgotten,
		        ctx->max_complaints);
	if (!ctx->complete)
		fprintf(out, "the replay did not finish\n");
}

void replay_report_json(FILE *out, const struct replay_counts *n, const struct replay_report_context *ctx)
{
	json_t *errs = json_object(), *report;
	char *text;

	for (size_t i = 0; i < REPLAY_N_CODES; i++)
		if (n->by_code[i])
			json_object_set_new(errs, codes[i], json_integer((json_int_t)n->by_code[i]));
	if (n->other_errors)
		json_object_set_new(errs, "other", json_integer((json_int_t)n->other_errors));
	report =
	    json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:b}", "to", ctx->to,
	              "read", (json_int_t)n->read, "sent", (json_int_t)n->sent, "ok", (json_int_t)n->ok,
	              "duplicate", (json_int_t)n->duplicate, "errors", (json_int_t)n->errors,
	              "errors_by_code", errs, "skipped", "rejected", (json_int_t)n->rejected, "lost",
	              (json_int_t)n->lost, "unmapped", (json_int_t)n->unmapped, "unknown_event",
	              (json_int_t)n->unknown, "malformed", (json_int_t)n->malformed, "not_selected",
	              (json_int_t)n->not_selected, "complaints_opened", (json_int_t)n->opened,
	              "complaints_forgotten", (json_int_t)n->forgotten, "complete", ctx->complete);
	text = report ? json_dumps(report, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	fprintf(out, "%s\n", text ? text : "{}");
	free(text);
	json_decref(report);
}
