/* POP: the screen pop.  Finds the caller by phone, customer id or account
 * and answers in one line with the customer card, recent contacts and open
 * complaints.
 *
 * Redis round trips (each a pipeline of commands written together):
 *   by customer_id: 1  (HGETALL record, LRANGE contacts, HGETALL open complaints)
 *   by account:     2  (GET account index, then the same pipeline)
 *   by phone:       2  (SMEMBERS phone index, then the pipeline; or, for a
 *                       shared number, HMGET + LINDEX per candidate)
 * A POP with "call_id" adds one HSET to the last pipeline (no extra trip).
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "customer.h"
#include "handlers.h"
#include "keys.h"
#include "pop_script.h"
#include "redis_link.h"
#include "server.h"

/* Candidates fetched for a shared number before sorting; the reply shows
 * at most pop.max_candidates of them and says how many there were. */
#define POP_MAX_CANDIDATE_FETCH 100
#define CALL_ID_MAX 64

enum pop_step {
	STEP_INDEX,          /* SMEMBERS phone / GET account */
	STEP_RECORD,         /* HGETALL customer */
	STEP_CONTACTS,       /* LRANGE contacts */
	STEP_COMPLAINTS,     /* HGETALL open complaints */
	STEP_LINK_CALL,      /* HSET call -> customer */
	STEP_CANDIDATE,      /* HMGET card fields of one candidate */
	STEP_CANDIDATE_LAST, /* LINDEX contacts 0 of one candidate */
};

struct pop;

struct pop_cb {
	struct pop *pop;
	enum pop_step step;
	size_t index; /* candidate number */
};

struct pop {
	struct request *req;
	struct server *srv;
	unsigned awaiting;
	bool failed;          /* Redis error or link loss: answer unavailable */
	bool redis_error;     /* Redis answered with an error: answer internal */
	enum { BY_PHONE, BY_ACCOUNT, BY_ID } by;
	char key_value[PHONE_MAX + CUSTOMER_ID_MAX]; /* normalised phone, account or id */
	char customer_id[CUSTOMER_ID_MAX + 1];
	char call_id[CALL_ID_MAX + 1];
	json_t *line; /* dialled-number line, or NULL */
	bool want_line;

	json_t *customer, *recent, *complaints;
	bool not_found;

	char (*cand_ids)[CUSTOMER_ID_MAX + 1];
	json_t **cand_cards;
	size_t n_cand, n_cand_total;

	struct pop_cb fixed[5];
	struct pop_cb *cand_cbs;
};

static void pop_free(struct pop *p)
{
	json_decref(p->line);
	json_decref(p->customer);
	json_decref(p->recent);
	json_decref(p->complaints);
	for (size_t i = 0; p->cand_cards && i < p->n_cand; i++)
		json_decref(p->cand_cards[i]);
	free(p->cand_cards);
	free(p->cand_ids);
	free(p->cand_cbs);
	free(p);
}

static const char *prefix(const struct pop *p)
{
	return p->srv->cfg->redis.key_prefix;
}

/* Queue one command for this pop; false when the link refused it. */
static bool send_cmd(struct pop *p, struct pop_cb *cb, int argc, const char **argv);

static void on_reply(redisReply *reply, void *arg);

static void finish(struct pop *p);

/* ---- reply building ---- */

static int compare_due(const void *a, const void *b)
{
	const char *da = json_string_value(json_object_get(*(json_t *const *)a, "due"));
	const char *db = json_string_value(json_object_get(*(json_t *const *)b, "due"));

	return strcmp(da ? da : "~", db ? db : "~");
}

/* Open complaints, most urgent (earliest deadline) first. */
static json_t *complaints_from_hash(const redisReply *r)
{
	json_t *arr = json_array();
	json_t **items;
	size_t n = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
		return arr;
	items = calloc(r->elements / 2, sizeof(*items));
	if (items == NULL)
		return arr;
	for (size_t i = 1; i < r->elements; i += 2) {
		json_t *v = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);

		if (json_is_object(v))
			items[n++] = v;
		else
			json_decref(v);
	}
	qsort(items, n, sizeof(*items), compare_due);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	return arr;
}

static json_t *contacts_from_list(const redisReply *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		json_t *v = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);

		if (json_is_object(v))
			json_array_append_new(arr, v);
		else
			json_decref(v);
	}
	return arr;
}

static json_t *card_from_hgetall(const redisReply *r)
{
	const char **fv;
	size_t *fvlen;
	json_t *card;

	fv = calloc(r->elements, sizeof(*fv));
	fvlen = calloc(r->elements, sizeof(*fvlen));
	if (fv == NULL || fvlen == NULL) {
		free(fv);
		free(fvlen);
		return NULL;
	}
	for (size_t i = 0; i < r->elements; i++) {
		fv[i] = r->element[i]->str;
		fvlen[i] = r->element[i]->len;
	}
	card = customer_card_from_hash(fv, fvlen, r->elements / 2);
	free(fv);
	free(fvlen);
	return card;
}

/* Most valuable first, then most recently in contact, then by id. */
static int compare_candidates(const void *a, const void *b)
{
	const json_t *ca = *(json_t *const *)a, *cb = *(json_t *const *)b;
	const char *ta = json_string_value(json_object_get(ca, "tier"));
	const char *tb = json_string_value(json_object_get(cb, "tier"));
	enum customer_tier ra = ta ? customer_tier_from_name(ta, strlen(ta)) : TIER_COUNT;
	enum customer_tier rb = tb ? customer_tier_from_name(tb, strlen(tb)) : TIER_COUNT;
	const char *la = json_string_value(json_object_get(ca, "last_contact"));
	const char *lb = json_string_value(json_object_get(cb, "last_contact"));
	int c;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	c = strcmp(lb ? lb : "", la ? la : ""); /* later timestamps sort first */
	if (c)
		return c;
	return strcmp(json_string_value(json_object_get(ca, "id")), json_string_value(json_object_get(cb, "id")));
}

static json_t *ambiguous_body(struct pop *p)
{
	json_t *cands = json_array();
	unsigned cap = p->srv->cfg->pop.max_candidates;
	size_t n = 0;

	/* Candidates whose record vanished meanwhile have no card. */
	for (size_t i = 0; i < p->n_cand; i++)
		if (p->cand_cards[i])
			p->cand_cards[n++] = p->cand_cards[i];
	for (size_t i = n; i < p->n_cand; i++)
		p->cand_cards[i] = NULL;
	qsort(p->cand_cards, n, sizeof(*p->cand_cards), compare_candidates);
	for (size_t i = 0; i < n && i < cap; i++)
		json_array_append(cands, p->cand_cards[i]);
	return json_pack("{s:s,s:s,s:o,s:I}", "match", "ambiguous", "phone", p->key_value, "candidates", cands,
	                 "total", (json_int_t)p->n_cand_total);
}

static void add_line(struct pop *p, json_t *body)
{
	if (p->want_line)
		json_object_set(body, "line", p->line ? p->line : json_null());
}

static void finish(struct pop *p)
{
	struct request *req = p->req;
	json_t *body = NULL;

	if (p->call_id[0] && req->conn)
		conn_release_barrier(req->conn);

	if (p->failed) {
		if (p->redis_error)
			request_reply_err(req, ERR_INTERNAL, "Redis refused a screen-pop command (see the daemon log)");
		else
			request_reply_err(req, ERR_UNAVAILABLE, "customer data unavailable: Redis link down");
		pop_free(p);
		return;
	}
	if (p->not_found) {
		if (p->by == BY_PHONE) {
			body = json_pack("{s:s,s:s}", "match", "none", "phone", p->key_value);
		} else {
			request_reply_err(req, ERR_NOT_FOUND, "no customer with that %s",
			                  p->by == BY_ACCOUNT ? "account" : "customer_id");
			pop_free(p);
			return;
		}
	} else if (p->cand_cards) {
		body = ambiguous_body(p);
	} else {
		body = json_pack("{s:s,s:O,s:O,s:O}", "match", "unique", "customer", p->customer, "recent",
		                 p->recent ? p->recent : json_array(), "open_complaints",
		                 p->complaints ? p->complaints : json_array());
		if (p->call_id[0])
			json_object_set_new(body, "call_id", json_string(p->call_id));
	}
	if (body == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory building the reply");
	} else {
		add_line(p, body);
		request_reply_ok(req, body);
		json_decref(body);
	}
	pop_free(p);
}

/* ---- Redis steps ---- */

static bool send_cmd(struct pop *p, struct pop_cb *cb, int argc, const char **argv)
{
	cb->pop = p;
	if (redis_link_command(p->srv->redis, on_reply, cb, argc, argv, NULL) != 0) {
		p->failed = true;
		return false;
	}
	p->awaiting++;
	return true;
}

static void fetch_customer(struct pop *p)
{
	char k_rec[KEY_MAX], k_contacts[KEY_MAX], k_open[KEY_MAX], k_call[KEY_MAX], recent_stop[16];
	const char *id = p->customer_id;

	key_customer(k_rec, prefix(p), id);
	key_contacts(k_contacts, prefix(p), id);
	key_open_complaints(k_open, prefix(p), id);
	snprintf(recent_stop, sizeof(recent_stop), "%d", (int)p->srv->cfg->pop.recent - 1);

	p->fixed[0].step = STEP_RECORD;
	p->fixed[1].step = STEP_CONTACTS;
	p->fixed[2].step = STEP_COMPLAINTS;
	if (!send_cmd(p, &p->fixed[0], 2, (const char *[]){"HGETALL", k_rec}))
		return;
	if (p->srv->cfg->pop.recent > 0 &&
	    !send_cmd(p, &p->fixed[1], 4, (const char *[]){"LRANGE", k_contacts, "0", recent_stop}))
		return;
	if (!send_cmd(p, &p->fixed[2], 2, (const char *[]){"HGETALL", k_open}))
		return;
	if (p->call_id[0]) {
		/* Link the call to the customer (and the customer's tier, read in
		 * Redis), so call events logged later carry both without the
		 * desktop repeating them; still the same round trip. */
		snprintf(k_call, sizeof(k_call), "%scall:%s", prefix(p), p->call_id);
		p->fixed[3].step = STEP_LINK_CALL;
		send_cmd(p, &p->fixed[3], 6, (const char *[]){"EVAL", pop_link_script, "2", k_call, k_rec, id});
	}
}

static void fetch_candidates(struct pop *p, const redisReply *members)
{
	size_t n = members->elements < POP_MAX_CANDIDATE_FETCH ? members->elements : POP_MAX_CANDIDATE_FETCH;

	p->n_cand_total = members->elements;
	p->cand_ids = calloc(n, sizeof(*p->cand_ids));
	p->cand_cards = calloc(n, sizeof(*p->cand_cards));
	p->cand_cbs = calloc(2 * n, sizeof(*p->cand_cbs));
	if (!p->cand_ids || !p->cand_cards || !p->cand_cbs) {
		p->failed = true;
		return;
	}
	for (size_t i = 0; i < members->elements && p->n_cand < n; i++) {
		const redisReply *m = members->element[i];

		if (m->len > CUSTOMER_ID_MAX)
			continue;
		memcpy(p->cand_ids[p->n_cand], m->str, m->len);
		p->n_cand++;
	}
	for (size_t i = 0; i < p->n_cand; i++) {
		char k_rec[KEY_MAX], k_contacts[KEY_MAX];

		key_customer(k_rec, prefix(p), p->cand_ids[i]);
		key_contacts(k_contacts, prefix(p), p->cand_ids[i]);
		p->cand_cbs[2 * i] = (struct pop_cb){.step = STEP_CANDIDATE, .index = i};
		p->cand_cbs[2 * i + 1] = (struct pop_cb){.step = STEP_CANDIDATE_LAST, .index = i};
		if (!send_cmd(p, &p->cand_cbs[2 * i], 6,
		              (const char *[]){"HMGET", k_rec, "id", "name", "tier", "status"}) ||
		    !send_cmd(p, &p->cand_cbs[2 * i + 1], 3, (const char *[]){"LINDEX", k_contacts, "0"}))
			return;
	}
}

static void on_index(struct pop *p, const redisReply *r)
{
	if (p->by == BY_ACCOUNT) {
		if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > CUSTOMER_ID_MAX) {
			p->not_found = true;
			return;
		}
		memcpy(p->customer_id, r->str, r->len);
		p->customer_id[r->len] = '\0';
		fetch_customer(p);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		p->not_found = true;
	} else if (r->elements == 1 && r->element[0]->len <= CUSTOMER_ID_MAX) {
		memcpy(p->customer_id, r->element[0]->str, r->element[0]->len);
		p->customer_id[r->element[0]->len] = '\0';
		fetch_customer(p);
	} else {
		fetch_candidates(p, r);
	}
}

static void on_candidate(struct pop *p, size_t i, const redisReply *r)
{
	const char *names[] = {"id", "name", "tier", "status"};
	json_t *card;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[0]->type != REDIS_REPLY_STRING)
		return; /* record gone: index entry is stale; leave the card out */
	card = json_object();
	for (size_t f = 0; f < 4; f++)
		if (r->element[f]->type == REDIS_REPLY_STRING)
			json_object_set_new(card, names[f], json_stringn(r->element[f]->str, r->element[f]->len));
	json_object_set_new(card, "last_contact", json_null());
	p->cand_cards[i] = card;
}

static void on_candidate_last(struct pop *p, size_t i, const redisReply *r)
{
	json_t *contact;

	if (p->cand_cards[i] == NULL || r->type != REDIS_REPLY_STRING)
		return;
	contact = json_loadb(r->str, r->len, 0, NULL);
	if (json_is_string(json_object_get(contact, "time")))
		json_object_set(p->cand_cards[i], "last_contact", json_object_get(contact, "time"));
	json_decref(contact);
}

static void on_reply(redisReply *reply, void *arg)
{
	struct pop_cb *cb = arg;
	struct pop *p = cb->pop;

	p->awaiting--;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		if (reply && !p->failed)
			log_warn("POP: Redis error: %.*s", (int)reply->len, reply->str);
		p->redis_error |= reply != NULL;
		p->failed = true;
	} else if (!p->failed) {
		switch (cb->step) {
		case STEP_INDEX:
			on_index(p, reply);
			break;
		case STEP_RECORD:
			if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0)
				p->not_found = true;
			else
				p->customer = card_from_hgetall(reply);
			break;
		case STEP_CONTACTS:
			p->recent = contacts_from_list(reply);
			break;
		case STEP_COMPLAINTS:
			p->complaints = complaints_from_hash(reply);
			break;
		case STEP_LINK_CALL:
			break;
		case STEP_CANDIDATE:
			on_candidate(p, cb->index, reply);
			break;
		case STEP_CANDIDATE_LAST:
			on_candidate_last(p, cb->index, reply);
			break;
		}
	}
	if (p->awaiting == 0)
		finish(p);
}

/* ---- request parsing ---- */

static bool take_string(struct request *req, const json_t *args, const char *key, const char **out, size_t *len)
{
	const json_t *v = json_object_get(args, key);

	*out = NULL;
	if (v == NULL)
		return true;
	if (!json_is_string(v)) {
		request_reply_err(req, ERR_BAD_REQUEST, "'%s' must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	*len = json_string_length(v);
	return true;
}

static bool check_keys(struct request *req, const json_t *args)
{
	static const char *const known[] = {"phone", "customer_id", "account", "call_id", "dnis"};
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)args, key, v) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok) {
			request_reply_err(req, ERR_BAD_REQUEST, "unknown field '%.40s' (POP takes phone, customer_id, "
			                  "account, call_id, dnis)", key);
			return false;
		}
	}
	return true;
}

/* Parse the arguments into p; false when a reply was already sent. */
static bool parse(struct pop *p, const json_t *args)
{
	struct request *req = p->req;
	const struct config *cfg = p->srv->cfg;
	const char *phone, *id, *account, *call_id, *dnis, *why = NULL;
	size_t phone_len = 0, id_len = 0, account_len = 0, call_len = 0, dnis_len = 0;
	char dnis_norm[PHONE_MAX];
	const struct config_line *line;

	if (!check_keys(req, args) || !take_string(req, args, "phone", &phone, &phone_len) ||
	    !take_string(req, args, "customer_id", &id, &id_len) ||
	    !take_string(req, args, "account", &account, &account_len) ||
	    !take_string(req, args, "call_id", &call_id, &call_len) || !take_string(req, args, "dnis", &dnis, &dnis_len))
		return false;
	if ((phone != NULL) + (id != NULL) + (account != NULL) != 1) {
		request_reply_err(req, ERR_BAD_REQUEST, "POP needs exactly one of phone, customer_id, account");
		return false;
	}
	if (call_id && !customer_valid_key_part(call_id, call_len, CALL_ID_MAX)) {
		request_reply_err(req, ERR_BAD_REQUEST, "call_id must be 1..64 characters of [A-Za-z0-9_.-]");
		return false;
	}
	if (call_id)
		memcpy(p->call_id, call_id, call_len + 1);
	if (phone) {
		p->by = BY_PHONE;
		if (!phone_normalize(&cfg->phone, phone, phone_len, p->key_value, &why)) {
			request_reply_err(req, ERR_BAD_REQUEST, "phone: %s", why);
			return false;
		}
	} else {
		const char *v = id ? id : account;
		size_t len = id ? id_len : account_len;

		p->by = id ? BY_ID : BY_ACCOUNT;
		if (!customer_valid_key_part(v, len, CUSTOMER_ID_MAX)) {
			request_reply_err(req, ERR_BAD_REQUEST, "%s must be 1..64 characters of [A-Za-z0-9_.-]",
			                  id ? "customer_id" : "account");
			return false;
		}
		memcpy(p->key_value, v, len + 1);
		if (id)
			memcpy(p->customer_id, v, len + 1);
	}
	if (dnis) {
		p->want_line = true;
		if (!phone_normalize(&cfg->phone, dnis, dnis_len, dnis_norm, &why)) {
			request_reply_err(req, ERR_BAD_REQUEST, "dnis: %s", why);
			return false;
		}
		line = config_find_line(cfg, dnis_norm);
		if (line)
			p->line = json_pack("{s:s,s:s,s:s}", "dnis", line->dnis, "brand", line->brand, "queue", line->queue);
	}
	return true;
}

void cmd_pop(struct request *req, const struct command_args *args)
{
	struct server *srv = req->conn->srv;
	struct pop *p;

	if (redis_link_state(srv->redis) != REDIS_LINK_UP) {
		request_reply_err(req, ERR_UNAVAILABLE, "customer data unavailable: Redis link %s",
		                  redis_link_state_name(redis_link_state(srv->redis)));
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		request_reply_err(req, ERR_INTERNAL, "out of memory");
		return;
	}
	p->req = req;
	p->srv = srv;
	if (!parse(p, args->json)) {
		pop_free(p);
		return;
	}
	/* Linking a call writes: a CALL pipelined behind this POP must see it. */
	if (p->call_id[0])
		conn_set_barrier(req->conn);
	if (p->by == BY_ID) {
		fetch_customer(p);
	} else {
		char key[KEY_MAX];

		p->fixed[4].step = STEP_INDEX;
		if (p->by == BY_PHONE) {
			key_phone(key, prefix(p), p->key_value);
			send_cmd(p, &p->fixed[4], 2, (const char *[]){"SMEMBERS", key});
		} else {
			key_account(key, prefix(p), p->key_value);
			send_cmd(p, &p->fixed[4], 2, (const char *[]){"GET", key});
		}
	}
	/* Nothing could be queued (the link dropped just now): answer at once. */
	if (p->awaiting == 0)
		finish(p);
}
