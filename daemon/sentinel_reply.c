#include "sentinel_reply.h"

#include <stdio.h>
#include <string.h>

static bool why(char *buf, size_t len, const char *msg)
{
	snprintf(buf, len, "%s", msg);
	return false;
}

/* A host as Sentinel reports it: an address or a name, never blanks or
 * control characters (it ends up in log lines and connect calls). */
static bool host_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len >= max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '[' || c == ']')
			return false;
	}
	return true;
}

static bool port_ok(const char *s, size_t len, uint16_t *port)
{
	unsigned v = 0;

	if (len == 0 || len > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool set_addr(struct sentinel_addr *a, const char *host, size_t hlen, const char *port, size_t plen)
{
	uint16_t p;

	if (!host_ok(host, hlen, sizeof(a->host)) || !port_ok(port, plen, &p))
		return false;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->port = p;
	return true;
}

bool sentinel_parse_master_addr(const redisReply *r, struct sentinel_addr *out, char *whybuf, size_t whylen)
{
	if (r == NULL)
		return why(whybuf, whylen, "no reply");
	if (r->type == REDIS_REPLY_NIL)
		return why(whybuf, whylen, "this Sentinel does not monitor a master by that name");
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(whybuf, whylen, "error: %.200s", r->str);
		return false;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return why(whybuf, whylen, "not a [host, port] reply");
	if (!set_addr(out, r->element[0]->str, r->element[0]->len, r->element[1]->str, r->element[1]->len))
		return why(whybuf, whylen, "a malformed host or port");
	return true;
}

bool sentinel_role_is_master(const redisReply *r, char *role, size_t rolelen)
{
	const redisReply *first;

	if (r == NULL) {
		snprintf(role, rolelen, "no reply");
		return false;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(role, rolelen, "error: %.100s", r->str);
		return false;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
	    (r->element[0]->type != REDIS_REPLY_STRING && r->element[0]->type != REDIS_REPLY_STATUS)) {
		snprintf(role, rolelen, "a malformed ROLE reply");
		return false;
	}
	first = r->element[0];
	snprintf(role, rolelen, "%.*s", (int)(first->len < 32 ? first->len : 32), first->str);
	for (char *p = role; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	return first->len == 6 && memcmp(first->str, "master", 6) == 0;
}

/* The next blank-separated word of [*s, end), or false when there is none. */
static bool next_word(const char **s, const char *end, const char **w, size_t *wlen)
{
	while (*s < end && **s == ' ')
		(*s)++;
	*w = *s;
	while (*s < end && **s != ' ')
		(*s)++;
	*wlen = (size_t)(*s - *w);
	return *wlen > 0;
}

bool sentinel_parse_switch(const char *msg, size_t len, const char *master_name, struct sentinel_addr *from,
                           struct sentinel_addr *to)
{
	const char *s = msg, *end = msg + len, *w[6];
	size_t wl[6];

	for (int i = 0; i < 5; i++)
		if (!next_word(&s, end, &w[i], &wl[i]))
			return false;
	if (next_word(&s, end, &w[5], &wl[5]))
		return false; /* a sixth word: not the format we know */
	if (wl[0] != strlen(master_name) || memcmp(w[0], master_name, wl[0]) != 0)
		return false;
	return set_addr(from, w[1], wl[1], w[2], wl[2]) && set_addr(to, w[3], wl[3], w[4], wl[4]);
}

bool sentinel_addr_equal(const struct sentinel_addr *a, const struct sentinel_addr *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

void sentinel_addr_format(const struct sentinel_addr *a, char *out, size_t len)
{
	snprintf(out, len, strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host, (unsigned)a->port);
}

void sentinel_order_init(struct sentinel_order *o, unsigned n)
{
	o->n = n < CONFIG_MAX_SENTINELS ? n : CONFIG_MAX_SENTINELS;
	for (unsigned i = 0; i < o->n; i++)
		o->at[i] = (unsigned char)i;
}

void sentinel_order_promote(struct sentinel_order *o, unsigned index)
{
	unsigned i;

	for (i = 0; i < o->n && o->at[i] != index; i++)
		;
	if (i == o->n)
		return;
	memmove(&o->at[1], &o->at[0], i);
	o->at[0] = (unsigned char)index;
}
