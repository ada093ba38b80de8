/* demo_ids.h - the customer ids `hotline demo-data N` gives, so that
 * `hotline bench` can pick existing customers without reading the data. */
#ifndef HOTLINE_DEMO_IDS_H
#define HOTLINE_DEMO_IDS_H

#include <stddef.h>

/* The id of customer i (0-based) of n: "C000001" ... */
void demo_customer_id(char *out, size_t len, unsigned long n, unsigned long i);

#endif
