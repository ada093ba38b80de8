#include "keys.h"

#include <stdio.h>

static int fit(int n)
{
	return n < 0 || n >= KEY_MAX ? -1 : n;
}

int key_customer(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s", prefix, id));
}

int key_phone(char out[KEY_MAX], const char *prefix, const char *e164)
{
	return fit(snprintf(out, KEY_MAX, "%sphone:%s", prefix, e164));
}

int key_account(char out[KEY_MAX], const char *prefix, const char *account)
{
	return fit(snprintf(out, KEY_MAX, "%saccount:%s", prefix, account));
}

int key_revenue_index(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scustomers:revenue", prefix));
}

int key_contacts(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s:contacts", prefix, id));
}

int key_open_complaints(char out[KEY_MAX], const char *prefix, const char *id)
{
	return fit(snprintf(out, KEY_MAX, "%scustomer:%s:open_complaints", prefix, id));
}

int key_import_seen(char out[KEY_MAX], const char *prefix, const char *source)
{
	return fit(snprintf(out, KEY_MAX, "%simport:%s", prefix, source));
}
