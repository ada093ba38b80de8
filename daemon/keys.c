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

int key_call(char out[KEY_MAX], const char *prefix, const char *call_id)
{
	return fit(snprintf(out, KEY_MAX, "%scall:%s", prefix, call_id));
}

int key_calls_open(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scalls:open", prefix));
}

int key_complaint(char out[KEY_MAX], const char *prefix, const char *complaint_id)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaint:%s", prefix, complaint_id));
}

int key_complaint_history(char out[KEY_MAX], const char *prefix, const char *complaint_id)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaint:%s:history", prefix, complaint_id));
}

int key_complaints_open(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaints:open", prefix));
}

int key_complaints_unassigned(char out[KEY_MAX], const char *prefix)
{
	return fit(snprintf(out, KEY_MAX, "%scomplaints:unassigned", prefix));
}
