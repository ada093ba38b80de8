#include "bench_workload.h"

#include "projection.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "chain.h"
#include "demo_ids.h"
#include "journal_script.h"
#include "pop_script.h"

/* What the requests say: values hotlined's default config accepts. */
#define QUEUE       "mobile"
#define DISPOSITION "resolved"
#define CSAT        "5"
#define CATEGORY    "billing"
#define SEVERITY    "medium"
#define SUMMARY     "bench: charged twice for one order"
#define RESOLUTION  "refund issued"
#define DUE_AHEAD_S 86400 /* RESP: a complaint's deadline, a day ahead (medium x lead) */
#define IDEM_TTL_S  "86400"
#define CONTACTS_TRIM "49"

enum { CHAIN_CALLS, CHAIN_COMPLAINTS };

static const char *const kind_names[BENCH_KIND_COUNT] = {"ping", "pop", "call", "complaint", "mixed", "idle"};
static const char *const step_names[STEP_COUNT] = {"PING",       "POP",      "CALL offer",     "CALL answer",
                                                   "CALL end",   "COMPLAINT open", "COMPLAINT ack",
                                                   "COMPLAINT resolve"};

int bench_kind_from_name(const char *name)
{
	for (int i = 0; i < BENCH_KIND_COUNT; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *bench_kind_name(enum bench_kind k)
{
	return kind_names[k];
}

const char *bench_kind_transaction(enum bench_kind k)
{
	switch (k) {
	case BENCH_CALL:
	case BENCH_MIXED:
		return "call";
	case BENCH_COMPLAINT:
		return "complaint";
	default:
		return NULL;
	}
}

const char *bench_step_name(enum bench_step s)
{
	return s < STEP_COUNT ? step_names[s] : "done";
}

void bench_workload_init(struct bench_workload *wl)
{
	memset(wl, 0, sizeof(*wl));
	wl->kind = BENCH_POP;
	wl->customers = 100000;
	wl->complaint_pct = 10;
	snprintf(wl->prefix, sizeof(wl->prefix), "hotline:");
	wl->recent = 5;
}

void bench_workload_set_sha(struct bench_workload *wl)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(journal_script, strlen(journal_script), md, &n, EVP_sha1(), NULL) != 1 || n != 20) {
		wl->sha[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < n; i++)
		snprintf(wl->sha + 2 * i, 3, "%02x", md[i]);
}

const char *bench_journal_script(void)
{
	return journal_script;
}

/* ---- randomness and time ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

void bench_session_init(struct bench_session *s, const struct bench_workload *wl, const char *user,
                        unsigned thread, unsigned conn, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->wl = wl;
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->tag, sizeof(s->tag), "t%uc%u", thread, conn);
	s->rng = mix64(seed ^ mix64(((uint64_t)thread << 32) | conn));
	for (int i = 0; i < 2; i++)
		memcpy(s->chain[i].hash, CHAIN_GENESIS, sizeof(s->chain[i].hash));
}

static void format_utc(char out[32], long long unix_s, int ms /* -1: to the second */)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms >= 0)
		snprintf(out + n, 32 - n, ".%03dZ", ms);
	else
		snprintf(out + n, 32 - n, "Z");
}

void bench_now_set(struct bench_now *now, long long unix_ms)
{
	now->ms = unix_ms;
	format_utc(now->ts, unix_ms / 1000, (int)(unix_ms % 1000));
	format_utc(now->iso_s, unix_ms / 1000 + DUE_AHEAD_S, -1);
}

/* ---- the flows ---- */

static enum bench_step first_step(enum bench_kind k)
{
	switch (k) {
	case BENCH_PING:
		return STEP_PING;
	case BENCH_POP:
	case BENCH_MIXED:
		return STEP_POP;
	case BENCH_CALL:
		return STEP_OFFER;
	case BENCH_COMPLAINT:
		return STEP_OPEN;
	default:
		return STEP_DONE;
	}
}

static enum bench_step next_step(enum bench_kind k, const struct bench_flow *f)
{
	switch (f->step) {
	case STEP_POP:
		return k == BENCH_MIXED ? STEP_OFFER : STEP_DONE;
	case STEP_OFFER:
		return STEP_ANSWER;
	case STEP_ANSWER:
		return k == BENCH_MIXED && f->complaint ? STEP_OPEN : STEP_END;
	case STEP_OPEN:
		return k == BENCH_MIXED ? STEP_END : STEP_ACK;
	case STEP_ACK:
		return STEP_RESOLVE;
	default:
		return STEP_DONE;
	}
}

void bench_flow_begin(struct bench_session *s, struct bench_flow *f)
{
	const struct bench_workload *wl = s->wl;
	uint64_t txn = s->next_txn++;

	memset(f, 0, sizeof(*f));
	f->step = first_step(wl->kind);
	demo_customer_id(f->customer_id, sizeof(f->customer_id), wl->customers,
	                 (unsigned long)rng_below(&s->rng, wl->customers));
	if (wl->n_phones > 0)
		snprintf(f->phone, sizeof(f->phone), "%s", wl->phones[rng_below(&s->rng, wl->n_phones)]);
	snprintf(f->call_id, sizeof(f->call_id), "b%s-%s-%" PRIu64, wl->run, s->tag, txn);
	/* In line mode the daemon names complaints; in RESP mode we do, as it would. */
	snprintf(f->complaint_id, sizeof(f->complaint_id), "K%s-%s-%" PRIu64, wl->run, s->tag, txn);
	f->complaint = wl->kind == BENCH_MIXED && rng_below(&s->rng, 100) < wl->complaint_pct;
	snprintf(f->tier, sizeof(f->tier), "lead");
}

static bool pop_by_phone(const struct bench_session *s)
{
	return s->wl->n_phones > 0;
}

/* ---- line mode ---- */

bool bench_flow_line(const struct bench_session *s, const struct bench_flow *f, struct bench_buf *out)
{
	bool mixed = s->wl->kind == BENCH_MIXED;

	switch (f->step) {
	case STEP_PING:
		return bench_buf_add(out, "PING\n", 5);
	case STEP_POP:
		if (pop_by_phone(s))
			return mixed ? bench_buf_printf(out, "POP {\"phone\":\"%s\",\"call_id\":\"%s\"}\n", f->phone, f->call_id)
			             : bench_buf_printf(out, "POP {\"phone\":\"%s\"}\n", f->phone);
		return mixed ? bench_buf_printf(out, "POP {\"customer_id\":\"%s\",\"call_id\":\"%s\"}\n", f->customer_id,
		                                f->call_id)
		             : bench_buf_printf(out, "POP {\"customer_id\":\"%s\"}\n", f->customer_id);
	case STEP_OFFER:
		/* mixed: the customer comes from the POP that named the call */
		return mixed ? bench_buf_printf(out, "CALL offer {\"call_id\":\"%s\",\"queue\":\"" QUEUE "\"}\n", f->call_id)
		             : bench_buf_printf(out,
		                                "CALL offer {\"call_id\":\"%s\",\"queue\":\"" QUEUE "\",\"customer_id\":\"%s\"}\n",
		                                f->call_id, f->customer_id);
	case STEP_ANSWER:
		return bench_buf_printf(out, "CALL answer {\"call_id\":\"%s\"}\n", f->call_id);
	case STEP_END:
		return bench_buf_printf(out,
		                        "CALL end {\"call_id\":\"%s\",\"disposition\":\"" DISPOSITION "\",\"csat\":" CSAT "}\n",
		                        f->call_id);
	case STEP_OPEN:
		return mixed ? bench_buf_printf(out,
		                                "COMPLAINT open {\"customer_id\":\"%s\",\"category\":\"" CATEGORY
		                                "\",\"severity\":\"" SEVERITY "\",\"summary\":\"" SUMMARY
		                                "\",\"call_id\":\"%s\"}\n",
		                                f->customer_id, f->call_id)
		             : bench_buf_printf(out,
		                                "COMPLAINT open {\"customer_id\":\"%s\",\"category\":\"" CATEGORY
		                                "\",\"severity\":\"" SEVERITY "\",\"summary\":\"" SUMMARY "\"}\n",
		                                f->customer_id);
	case STEP_ACK:
		return bench_buf_printf(out, "COMPLAINT ack {\"complaint_id\":\"%s\"}\n", f->complaint_id);
	case STEP_RESOLVE:
		return bench_buf_printf(out, "COMPLAINT resolve {\"complaint_id\":\"%s\",\"resolution\":\"" RESOLUTION "\"}\n",
		                        f->complaint_id);
	default:
		return false;
	}
}

static void set_err(struct bench_flow *f, const char *code, size_t len)
{
	if (len >= sizeof(f->err))
		len = sizeof(f->err) - 1;
	memcpy(f->err, code, len);
	f->err[len] = '\0';
}

static enum bench_result fail(struct bench_flow *f, const char *code, size_t len)
{
	set_err(f, code, len);
	f->step = STEP_DONE;
	return BENCH_STEP_ERR;
}

static enum bench_result advance(const struct bench_session *s, struct bench_flow *f)
{
	f->step = next_step(s->wl->kind, f);
	f->phase = 0;
	f->failed = false;
	return BENCH_STEP_OK;
}

/* Copy a string member of a JSON object (reached by path a.b) into out. */
static bool json_take(const char *text, size_t len, const char *a, const char *b, char *out, size_t cap)
{
	json_t *root = json_loadb(text, len, 0, NULL), *v = json_object_get(root, a);
	bool ok;

	if (b)
		v = json_object_get(v, b);
	ok = json_is_string(v) && json_string_length(v) < cap;
	if (ok)
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
	json_decref(root);
	return ok;
}

enum bench_result bench_flow_line_reply(struct bench_session *s, struct bench_flow *f, const char *line,
                                        size_t len)
{
	if (len >= 3 && memcmp(line, "ERR", 3) == 0) {
		const char *code = line + 4, *sp;

		if (len < 5 || line[3] != ' ')
			return fail(f, "malformed_reply", 15);
		sp = memchr(code, ' ', len - 4);
		return fail(f, code, sp ? (size_t)(sp - code) : len - 4);
	}
	if (!(len == 2 && memcmp(line, "OK", 2) == 0) && !(len > 3 && memcmp(line, "OK ", 3) == 0))
		return fail(f, "malformed_reply", 15);
	/* Only what the next steps need is read from a reply. */
	if (f->step == STEP_OPEN && s->wl->kind == BENCH_COMPLAINT &&
	    !json_take(line + 3, len - 3, "complaint_id", NULL, f->complaint_id, sizeof(f->complaint_id)))
		return fail(f, "malformed_reply", 15);
	if (f->step == STEP_POP && f->complaint && pop_by_phone(s) &&
	    !json_take(line + 3, len - 3, "customer", "id", f->customer_id, sizeof(f->customer_id)))
		f->complaint = false; /* nobody (or several) on that number: no complaint to open */
	return advance(s, f);
}

/* ---- RESP mode ---- */

/* One command being put together: arguments point into the store. */
struct cmd {
	const char *argv[128];
	int argc;
	char store[16384];
	size_t used;
	bool overflow;
};

static void cmd_reset(struct cmd *c)
{
	c->argc = 0;
	c->used = 0;
	c->overflow = false;
}

static void arg(struct cmd *c, const char *s)
{
	if (c->argc < (int)(sizeof(c->argv) / sizeof(c->argv[0])))
		c->argv[c->argc++] = s;
	else
		c->overflow = true;
}

static const char *fmt(struct cmd *c, const char *format, ...) __attribute__((format(printf, 2, 3)));

static const char *fmt(struct cmd *c, const char *format, ...)
{
	va_list ap;
	char *at = c->store + c->used;
	size_t room = sizeof(c->store) - c->used;
	int n;

	va_start(ap, format);
	n = vsnprintf(at, room, format, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		c->overflow = true;
		return "";
	}
	c->used += (size_t)n + 1;
	return at;
}

/* n bytes of scratch in the store. */
static char *reserve(struct cmd *c, size_t n)
{
	char *at = c->store + c->used;

	if (sizeof(c->store) - c->used < n) {
		c->overflow = true;
		return NULL;
	}
	c->used += n;
	return at;
}

/* A follow-up command of the journal script: its argument count, then its arguments. */
static void op(struct cmd *c, int n, ...)
{
	va_list ap;

	arg(c, fmt(c, "%d", n));
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		arg(c, va_arg(ap, const char *));
	va_end(ap);
}

static bool emit(struct cmd *c, struct bench_buf *out)
{
	return !c->overflow && resp_append_command(out, c->argc, c->argv, NULL);
}

static bool read_cmd(struct bench_buf *out, int argc, ...)
{
	const char *argv[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 8; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	return resp_append_command(out, argc, argv, NULL);
}

static const char *stream_key(struct cmd *c, const struct bench_session *s, unsigned which)
{
	/* The connection's own stream: one writer per chain, as a daemon is. */
	return fmt(c, "%sbench:%s:%s.%u:log:%s", s->wl->prefix, s->wl->run, s->tag, s->chain[which].gen,
	           which == CHAIN_CALLS ? "calls" : "complaints");
}

/* EVALSHA of the journal script appending entry to the connection's stream
 * `which`, with state_key at version v-1 -> v; the follow-up ops are added
 * to c by the caller after this, so start it first. */
static void journal_begin(struct cmd *c, struct bench_session *s, struct bench_flow *f, unsigned which,
                          const char *state_key, unsigned v, const char *entry, const char *reply,
                          const char *rank_zset, const char *rank_member)
{
	struct bench_chain *ch = &s->chain[which];
	char *hash = reserve(c, CHAIN_HEX_LEN + 1);
	uint64_t seq = ch->seq;

	if (hash == NULL)
		return;
	chain_hash(ch->hash, seq + 1, entry, strlen(entry), hash);
	arg(c, "EVALSHA");
	arg(c, s->wl->sha);
	arg(c, "2"); /* no request_id: no idempotency key, as the daemon sends it */
	arg(c, stream_key(c, s, which));
	arg(c, state_key);
	arg(c, fmt(c, "%u", v - 1));
	arg(c, fmt(c, "%" PRIu64, seq));
	arg(c, fmt(c, "%s", ch->hash));
	arg(c, fmt(c, "%" PRIu64, seq + 1));
	arg(c, hash);
	arg(c, entry);
	arg(c, reply);
	arg(c, IDEM_TTL_S);
	arg(c, rank_zset ? rank_zset : "");
	arg(c, rank_member ? rank_member : "");
	/* Optimistic, like the daemon: the next append chains onto this one. */
	ch->seq++;
	memcpy(ch->hash, hash, sizeof(ch->hash));
	f->stream = which;
}

/* An append was refused: this connection's chain is no longer known, so
 * it starts a fresh stream (appends already in flight fail too). */
static void chain_lost(struct bench_session *s, unsigned which)
{
	struct bench_chain *ch = &s->chain[which];

	ch->gen++;
	ch->seq = 0;
	memcpy(ch->hash, CHAIN_GENESIS, sizeof(ch->hash));
}

static unsigned resp_pop(struct bench_session *s, struct bench_flow *f, struct bench_buf *out)
{
	const struct bench_workload *wl = s->wl;
	struct cmd c;
	char k_rec[300], stop[16];
	unsigned n = 0;

	if (f->phase == 0 && pop_by_phone(s)) {
		snprintf(k_rec, sizeof(k_rec), "%sphone:%s", wl->prefix, f->phone);
		return read_cmd(out, 2, "SMEMBERS", k_rec) ? 1 : 0;
	}
	snprintf(k_rec, sizeof(k_rec), "%scustomer:%s", wl->prefix, f->customer_id);
	snprintf(stop, sizeof(stop), "%d", (int)wl->recent - 1);
	cmd_reset(&c);
	if (!read_cmd(out, 2, "HGETALL", k_rec))
		return 0;
	n++;
	if (wl->recent > 0) {
		if (!read_cmd(out, 4, "LRANGE", fmt(&c, "%s:contacts", k_rec), "0", stop))
			return 0;
		n++;
	}
	if (!read_cmd(out, 2, "HGETALL", fmt(&c, "%s:open_complaints", k_rec)))
		return 0;
	n++;
	if (wl->kind == BENCH_MIXED) {
		if (!read_cmd(out, 6, "EVAL", pop_link_script, "2", fmt(&c, "%scall:%s", wl->prefix, f->call_id), k_rec,
		              f->customer_id))
			return 0;
		n++;
	}
	return c.overflow ? 0 : n;
}

/* The call's entry as hotlined writes it (fields in its order). */
static const char *call_entry(struct cmd *c, const struct bench_session *s, const struct bench_flow *f,
                              const char *event, const char *state, const struct bench_now *now)
{
	bool customer = f->customer_id[0] != '\0';

	if (strcmp(event, "end") == 0)
		return fmt(c,
		           "{\"event\":\"end\",\"call_id\":\"%s\",\"agent\":\"%s\",\"role\":\"agent\",\"ts\":\"%s\"%s%s%s,"
		           "\"queue\":\"" QUEUE "\",\"tier\":\"%s\",\"disposition\":\"" DISPOSITION "\",\"csat\":" CSAT
		           ",\"state\":\"ended\",\"leg_ms\":%lld}",
		           f->call_id, s->user, now->ts, customer ? ",\"customer_id\":\"" : "", f->customer_id,
		           customer ? "\"" : "", f->tier, now->ms - f->leg_at_ms);
	return fmt(c,
	           "{\"event\":\"%s\",\"call_id\":\"%s\",\"agent\":\"%s\",\"role\":\"agent\",\"ts\":\"%s\"%s%s%s,"
	           "\"queue\":\"" QUEUE "\",\"tier\":\"%s\",\"state\":\"%s\"}",
	           event, f->call_id, s->user, now->ts, customer ? ",\"customer_id\":\"" : "", f->customer_id,
	           customer ? "\"" : "", f->tier, state);
}

static unsigned resp_call(struct bench_session *s, struct bench_flow *f, const struct bench_now *now,
                          struct bench_buf *out)
{
	const struct bench_workload *wl = s->wl;
	static const char *const events[] = {[STEP_OFFER] = "offer", [STEP_ANSWER] = "answer", [STEP_END] = "end"};
	static const char *const states[] = {[STEP_OFFER] = "offered", [STEP_ANSWER] = "answered", [STEP_END] = "ended"};
	unsigned v = f->step == STEP_OFFER ? 1 : f->step == STEP_ANSWER ? 2 : 3;
	const char *event = events[f->step], *state = states[f->step], *k_call, *k_open, *entry, *card;
	struct cmd c;

	cmd_reset(&c);
	k_call = fmt(&c, "%scall:%s", wl->prefix, f->call_id);
	if (f->phase == 0) {
		/* Read the call's state (and, for an offer naming its customer, the tier). */
		if (!read_cmd(out, 2, "HGETALL", k_call))
			return 0;
		if (f->step == STEP_OFFER && wl->kind != BENCH_MIXED)
			return read_cmd(out, 3, "HGET", fmt(&c, "%scustomer:%s", wl->prefix, f->customer_id), "tier") && !c.overflow
			           ? 2
			           : 0;
		return 1;
	}
	k_open = fmt(&c, "%scalls:open", wl->prefix);
	entry = call_entry(&c, s, f, event, state, now);
	card = fmt(&c, "{\"state\":\"%s\",\"queue\":\"" QUEUE "\",\"agent\":\"%s\",\"since\":\"%s\"}", state, s->user,
	           now->ts);
	journal_begin(&c, s, f, CHAIN_CALLS, k_call, v, entry, fmt(&c, "{\"call_id\":\"%s\",\"state\":\"%s\"}", f->call_id, state),
	              NULL, NULL);
	switch (f->step) {
	case STEP_OFFER:
		op(&c, 16, "HSET", k_call, "state", state, "agent", s->user, "customer_id", f->customer_id, "queue", QUEUE,
		   "tier", f->tier, "offered_at", now->ts, "v", "1");
		op(&c, 4, "HSET", k_open, f->call_id, card);
		break;
	case STEP_ANSWER:
		op(&c, 16, "HSET", k_call, "state", state, "agent", s->user, "customer_id", f->customer_id, "queue", QUEUE,
		   "tier", f->tier, "leg_at_ms", fmt(&c, "%lld", now->ms), "v", "2");
		op(&c, 4, "HSET", k_open, f->call_id, card);
		f->leg_at_ms = now->ms;
		break;
	default: {
		const char *k_contacts = fmt(&c, "%scustomer:%s:contacts", wl->prefix, f->customer_id);

		op(&c, 14, "HSET", k_call, "state", state, "customer_id", f->customer_id, "queue", QUEUE, "tier", f->tier,
		   "ended_at", now->ts, "v", "3");
		op(&c, 3, "LPUSH", k_contacts,
		   fmt(&c,
		       "{\"time\":\"%s\",\"kind\":\"call\",\"agent\":\"%s\",\"summary\":\"call ended: " DISPOSITION
		       "\",\"call_id\":\"%s\",\"csat\":" CSAT "}",
		       now->ts, s->user, f->call_id));
		op(&c, 4, "LTRIM", k_contacts, "0", CONTACTS_TRIM);
		op(&c, 3, "PEXPIREAT", k_call, fmt(&c, "%lld", now->ms + PROJECTION_ENDED_CALL_TTL_MS));
		op(&c, 3, "HDEL", k_open, f->call_id);
		break;
	}
	}
	return emit(&c, out) ? 1 : 0;
}

static unsigned resp_complaint(struct bench_session *s, struct bench_flow *f, const struct bench_now *now,
                               struct bench_buf *out)
{
	const struct bench_workload *wl = s->wl;
	const char *k_c, *k_hist, *k_open, *k_unassigned, *k_oc, *k_contacts, *entry, *card, *due, *event, *state;
	const char *call = wl->kind == BENCH_MIXED ? f->call_id : NULL;
	unsigned v = f->step == STEP_OPEN ? 1 : f->step == STEP_ACK ? 2 : 3;
	struct cmd c;

	cmd_reset(&c);
	k_c = fmt(&c, "%scomplaint:%s", wl->prefix, f->complaint_id);
	if (f->phase == 0) {
		if (!read_cmd(out, 2, "HGETALL", k_c))
			return 0;
		if (f->step == STEP_OPEN)
			return read_cmd(out, 4, "HMGET", fmt(&c, "%scustomer:%s", wl->prefix, f->customer_id), "id", "tier") &&
			               !c.overflow
			           ? 2
			           : 0;
		return 1;
	}
	if (f->step == STEP_OPEN)
		f->due_s = now->ms / 1000 + DUE_AHEAD_S;
	k_hist = fmt(&c, "%s:history", k_c);
	k_open = fmt(&c, "%scomplaints:open", wl->prefix);
	k_unassigned = fmt(&c, "%scomplaints:unassigned", wl->prefix);
	k_oc = fmt(&c, "%scustomer:%s:open_complaints", wl->prefix, f->customer_id);
	k_contacts = fmt(&c, "%scustomer:%s:contacts", wl->prefix, f->customer_id);
	due = fmt(&c, "%lld", f->due_s);
	event = f->step == STEP_OPEN ? "open" : f->step == STEP_ACK ? "ack" : "resolve";
	state = f->step == STEP_OPEN ? "open" : f->step == STEP_ACK ? "acknowledged" : "resolved";
	entry = fmt(&c,
	            "{\"event\":\"%s\",\"complaint_id\":\"%s\",\"agent\":\"%s\",\"role\":\"agent\",\"ts\":\"%s\","
	            "\"customer_id\":\"%s\",\"tier\":\"%s\",\"severity\":\"" SEVERITY "\",\"category\":\"" CATEGORY "\"%s%s%s"
	            "%s,\"state\":\"%s\",\"due\":\"%s\"%s%s}",
	            event, f->complaint_id, s->user, now->ts, f->customer_id, f->tier,
	            f->step == STEP_OPEN ? ",\"summary\":\"" SUMMARY "\"" : "", call ? ",\"call_id\":\"" : "",
	            call ? call : "", call ? "\"" : "", state, now->iso_s, f->step == STEP_OPEN ? ",\"level\":0" : "",
	            f->step == STEP_RESOLVE ? ",\"resolution\":\"" RESOLUTION "\"" : "");
	card = fmt(&c,
	           "{\"complaint_id\":\"%s\",\"state\":\"%s\",\"severity\":\"" SEVERITY "\",\"category\":\"" CATEGORY
	           "\",\"tier\":\"%s\",\"due\":\"%s\",\"level\":0,\"summary\":\"" SUMMARY "\"}",
	           f->complaint_id, state, f->tier, now->iso_s);
	journal_begin(&c, s, f, CHAIN_COMPLAINTS, k_c, v, entry,
	              fmt(&c, "{\"complaint_id\":\"%s\",\"state\":\"%s\",\"due\":\"%s\"}", f->complaint_id, state, now->iso_s),
	              f->step == STEP_OPEN ? k_open : NULL, f->step == STEP_OPEN ? f->complaint_id : NULL);
	switch (f->step) {
	case STEP_OPEN:
		op(&c, 24, "HSET", k_c, "state", state, "severity", SEVERITY, "tier", f->tier, "category", CATEGORY,
		   "summary", SUMMARY, "opened_at", fmt(&c, "%lld", now->ms / 1000), "due", due, "opened_by", s->user,
		   "level", "0", "customer_id", f->customer_id, "v", "1");
		break;
	case STEP_ACK:
		op(&c, 6, "HSET", k_c, "state", state, "v", "2");
		break;
	default:
		op(&c, 10, "HSET", k_c, "state", state, "resolved_at", fmt(&c, "%lld", now->ms / 1000), "resolution",
		   RESOLUTION, "v", "3");
		break;
	}
	op(&c, 3, "RPUSH", k_hist, entry);
	if (f->step == STEP_RESOLVE) {
		op(&c, 3, "ZREM", k_open, f->complaint_id);
		op(&c, 3, "ZREM", k_unassigned, f->complaint_id);
		op(&c, 3, "HDEL", k_oc, f->complaint_id);
	} else {
		op(&c, 4, "ZADD", k_open, due, f->complaint_id);
		op(&c, 4, "ZADD", k_unassigned, due, f->complaint_id);
		op(&c, 4, "HSET", k_oc, f->complaint_id, card);
	}
	if (f->step != STEP_ACK) {
		op(&c, 3, "LPUSH", k_contacts,
		   fmt(&c,
		       "{\"time\":\"%s\",\"kind\":\"complaint\",\"agent\":\"%s\",\"summary\":\"complaint %s: " CATEGORY
		       "\",\"complaint_id\":\"%s\"}",
		       now->ts, s->user, event, f->complaint_id));
		op(&c, 4, "LTRIM", k_contacts, "0", CONTACTS_TRIM);
	}
	return emit(&c, out) ? 1 : 0;
}

unsigned bench_flow_resp(struct bench_session *s, struct bench_flow *f, const struct bench_now *now,
                         struct bench_buf *out)
{
	switch (f->step) {
	case STEP_PING:
		return read_cmd(out, 1, "PING") ? 1 : 0;
	case STEP_POP:
		return resp_pop(s, f, out);
	case STEP_OFFER:
	case STEP_ANSWER:
	case STEP_END:
		return resp_call(s, f, now, out);
	case STEP_OPEN:
	case STEP_ACK:
	case STEP_RESOLVE:
		return resp_complaint(s, f, now, out);
	default:
		return 0;
	}
}

/* The first word of an error reply: "ERR", "NOSCRIPT", "WRONGTYPE", ... */
static void note_error(struct bench_flow *f, const struct resp_reply *r)
{
	size_t n = 0;

	while (n < r->len && r->str[n] != ' ')
		n++;
	if (!f->failed)
		set_err(f, r->str, n);
	f->failed = true;
}

enum bench_result bench_flow_resp_reply(struct bench_session *s, struct bench_flow *f, unsigned i, unsigned n,
                                        const struct resp_reply *r)
{
	bool append = f->phase == 1 && f->step != STEP_POP && f->step != STEP_PING;

	if (r->type == '-') {
		note_error(f, r);
		if (append)
			chain_lost(s, f->stream);
	} else if (!f->failed) {
		if (f->step == STEP_PING && !resp_is(r, "PONG")) {
			set_err(f, "unexpected_reply", 16);
			f->failed = true;
		} else if (append && !(r->type == '*' && resp_is(r, "ok"))) {
			/* "head" (the chain moved), "state" (the version moved), "dup": refused. */
			set_err(f, r->type == '*' && r->str ? "journal_refused" : "unexpected_reply", r->type == '*' && r->str ? 15 : 16);
			f->failed = true;
			chain_lost(s, f->stream);
		} else if (f->step == STEP_POP && f->phase == 0 && pop_by_phone(s)) {
			/* SMEMBERS: the first customer on the number (the demo's shared numbers take the unique path here) */
			if (r->type != '*' || r->n < 1 || r->str == NULL || r->len > BENCH_ID_MAX) {
				f->customer_id[0] = '\0';
			} else {
				memcpy(f->customer_id, r->str, r->len);
				f->customer_id[r->len] = '\0';
			}
		} else if (f->step == STEP_OFFER && f->phase == 0 && i == 1 && r->type == '$' && r->str &&
		           r->len < sizeof(f->tier) && r->len > 0) {
			memcpy(f->tier, r->str, r->len);
			f->tier[r->len] = '\0';
		}
	}
	if (i + 1 < n)
		return BENCH_PENDING;
	if (f->failed) {
		f->step = STEP_DONE;
		return BENCH_STEP_ERR;
	}
	if (f->step == STEP_POP && f->phase == 0 && pop_by_phone(s)) {
		if (f->customer_id[0] == '\0') {
			f->complaint = false; /* match none: the POP is over after one round trip */
			return advance(s, f);
		}
		f->phase = 1;
		return BENCH_NEXT_PHASE;
	}
	if (f->step != STEP_POP && f->step != STEP_PING && f->phase == 0) {
		f->phase = 1;
		return BENCH_NEXT_PHASE;
	}
	return advance(s, f);
}
