/* pop_script.h - the Lua a POP naming a call_id runs to link the call to
 * the customer found (and the customer's tier, read in Redis), in the same
 * round trip as the reads.  Shared with `hotline bench --resp`, which
 * issues the same commands. */
#ifndef HOTLINE_POP_SCRIPT_H
#define HOTLINE_POP_SCRIPT_H

/* KEYS[1] the call's state hash, KEYS[2] the customer record; ARGV[1] the customer id. */
static const char pop_link_script[] =
	"return redis.call('HSET', KEYS[1], 'customer_id', ARGV[1], 'tier',"
	" redis.call('HGET', KEYS[2], 'tier') or '')";

#endif
