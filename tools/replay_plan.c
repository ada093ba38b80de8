#include "replay_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "lost_record.h"

/* The request fields each event's entry carries back (PROTOCOL.md, CALL
 * and COMPLAINT).  Everything else in an entry (state, ts, tier, due,
 * level, leg_ms, ...) is the daemon's own and is worked out again. */
static const char *const call_fields[CALL_EVENT_COUNT][6] = {
	[CALL_OFFER] = {"queue", "phone", "customer_id", "dnis", "note", NULL},
	[CALL_ANSWER] = {"note", NULL},
	[CALL_HOLD] = {"note", NULL},
	[CALL_RESUME] = {"note", NULL},
	[CALL_TRANSFER] = {"to", "note", NULL},
	[CALL_END] = {"disposition", "csat", "note", NULL},
};
static const char *const complaint_open_fields[] = {"customer_id", "phone",   "call_id", "category",
                                                    "severity",    "summary", "note",    NULL};
static const char *const complaint_change_fields[] = {"note", NULL};
static const char *const complaint_resolve_fields[] = {"resolution", "note", NULL};
static const char *const no_fields[] = {NULL};

/* What `next` logs when it hands a complaint out. */
#define ASSIGN_EVENT "assign"

void replay_request_id(enum log_stream stream, const char *id, char out[REPLAY_ID_MAX + 1])
{
	snprintf(out, REPLAY_ID_MAX + 1, "rp-%s-%s", log_stream_name(stream), id);
}

static bool take_string(const json_t *entry, const char *key, char out[REPLAY_ID_MAX + 1])
{
	const json_t *v = json_object_get(entry, key);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > REPLAY_ID_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static void copy_fields(json_t *args, const json_t *entry, const char *const *fields)
{
	for (; *fields; fields++) {
		json_t *v = json_object_get(entry, *fields);

		if (v && !json_is_null(v))
			json_object_set(args, *fields, v);
	}
}

static void malformed(struct replay_request *rq, const char *why)
{
	rq->verdict = REPLAY_SKIP_MALFORMED;
	rq->why = why;
}

/* The fields of the event's request, or NULL (rq says why). */
static const char *const *fields_of(struct replay_request *rq, const char *event)
{
	int ev;

	if (rq->stream == LOG_CALLS) {
		rq->verb = "CALL";
		ev = call_event_from_name(event, strlen(event));
		if (ev < 0)
			return NULL;
		rq->sub = call_event_name((enum call_event)ev);
		return call_fields[ev];
	}
	rq->verb = "COMPLAINT";
	if (strcmp(event, ASSIGN_EVENT) == 0) {
		rq->sub = "next";
		return no_fields;
	}
	ev = complaint_action_from_name(event, strlen(event));
	if (ev < 0)
		return NULL;
	rq->sub = complaint_action_name((enum complaint_action)ev);
	rq->opens_complaint = ev == COMPLAINT_DO_OPEN;
	return ev == COMPLAINT_DO_OPEN      ? complaint_open_fields
	       : ev == COMPLAINT_DO_RESOLVE ? complaint_resolve_fields
	                                    : complaint_change_fields;
}

void replay_plan(enum log_stream stream, const char *id, const char *entry_text, size_t entry_len,
                 struct replay_request *rq)
{
	const char *id_key = stream == LOG_CALLS ? "call_id" : "complaint_id";
	const char *const *fields;
	const json_t *event, *role;
	char request_id[REPLAY_ID_MAX + 1];
	json_t *entry;

	memset(rq, 0, sizeof(*rq));
	rq->stream = stream;
	/* A daemon's note that Redis lost entries: not a request's, and the
	 * target's own log has its own losses (or none). */
	if (entry_text && lost_record_is(entry_text, entry_len)) {
		rq->verdict = REPLAY_SKIP_LOST;
		snprintf(rq->event, sizeof(rq->event), "lost");
		return;
	}
	entry = entry_text ? json_loadb(entry_text, entry_len, 0, NULL) : NULL;
	if (!json_is_object(entry)) {
		malformed(rq, entry_text ? "the entry is not a JSON object" : "the entry field is missing");
		goto out;
	}
	event = json_object_get(entry, "event");
	if (!json_is_string(event)) {
		malformed(rq, "no event");
		goto out;
	}
	if (!take_string(entry, id_key, rq->subject)) {
		malformed(rq, stream == LOG_CALLS ? "no valid call_id" : "no valid complaint_id");
		goto out;
	}
	/* A refused write changed nothing when it was logged; replaying it
	 * would make it count. */
	if (json_object_get(entry, "rejected")) {
		rq->verdict = REPLAY_SKIP_REJECTED;
		goto out;
	}
	snprintf(rq->event, sizeof(rq->event), "%s", json_string_value(event));
	fields = fields_of(rq, json_string_value(event));
	if (fields == NULL) {
		rq->verdict = REPLAY_SKIP_UNKNOWN;
		rq->why = "no request produces this event";
		goto out;
	}
	if (!take_string(entry, "agent", rq->agent)) {
		malformed(rq, "no valid agent");
		goto out;
	}
	rq->args = json_object();
	/* The complaint id of an open is the daemon's to give. */
	if (!rq->opens_complaint)
		json_object_set_new(rq->args, id_key, json_string(rq->subject));
	copy_fields(rq->args, entry, fields);
	json_object_set_new(rq->args, "as", json_string(rq->agent));
	role = json_object_get(entry, "role");
	if (json_is_string(role) && strcmp(json_string_value(role), "agent") != 0)
		json_object_set(rq->args, "as_role", (json_t *)role);
	replay_request_id(stream, id, request_id);
	json_object_set_new(rq->args, "request_id", json_string(request_id));
	rq->verdict = REPLAY_SEND;
out:
	json_decref(entry);
}

void replay_request_free(struct replay_request *rq)
{
	json_decref(rq->args);
	rq->args = NULL;
}

void replay_request_set_complaint(struct replay_request *rq, const char *complaint_id)
{
	json_object_set_new(rq->args, "complaint_id", json_string(complaint_id));
}

const char *replay_request_call(const struct replay_request *rq)
{
	if (rq->stream == LOG_CALLS)
		return rq->subject;
	return json_string_value(json_object_get(rq->args, "call_id"));
}

char *replay_request_line(const struct replay_request *rq)
{
	char *json = json_dumps(rq->args, JSON_COMPACT | JSON_PRESERVE_ORDER), *line = NULL;

	if (json && asprintf(&line, "%s %s %s", rq->verb, rq->sub, json) < 0)
		line = NULL;
	free(json);
	return line;
}
