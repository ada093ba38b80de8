/* chain_lua.h - the Lua with which every log append reads its stream's head
 * inside Redis (chain.h): the daemon's journal script and the CLI's import
 * both check that head before they XADD, so one chain never forks however
 * many writers append to it.
 *
 * Reads KEYS[1] and sets the locals lseq and lhash: the last entry's seq and
 * hash, or "0" and the genesis hash when the stream is empty. */
#ifndef HOTLINE_CHAIN_LUA_H
#define HOTLINE_CHAIN_LUA_H

#include "chain.h"

#define CHAIN_LUA_READ_HEAD                                                                                  \
	"local lseq, lhash = '0', '" CHAIN_GENESIS "'\n"                                                     \
	"local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"                              \
	"if last[1] then\n"                                                                                  \
	"  local f = last[1][2]\n"                                                                           \
	"  for i = 1, #f, 2 do\n"                                                                            \
	"    if f[i] == 'seq' then lseq = f[i + 1] elseif f[i] == 'hash' then lhash = f[i + 1] end\n"        \
	"  end\n"                                                                                            \
	"end\n"

#endif
