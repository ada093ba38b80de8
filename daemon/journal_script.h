/* journal_script.h - the Lua script behind every log append (see journal.h).
 *
 * KEYS[1] stream, KEYS[2] state hash, KEYS[3] idempotency hash (absent when
 *         the write has no request_id: only keys of the layout are declared,
 *         so a Redis ACL limited to the prefix accepts the call)
 * ARGV[1] expected state version ("0" = the state hash must not exist)
 * ARGV[2] expected seq of the stream's last entry ("0" = empty stream)
 * ARGV[3] expected hash of the last entry (the new entry's prev)
 * ARGV[4] new seq, ARGV[5] new hash, ARGV[6] entry JSON
 * ARGV[7] reply JSON to remember, ARGV[8] its TTL in seconds
 * ARGV[9] zset to report a rank in ("" = none), ARGV[10] the member
 * ARGV[11..] follow-up commands: a count, then that many arguments, ...;
 *            an argument "$ID" becomes the new entry's id.
 * Returns {"ok", id, rank} | {"dup", id, reply, rank} | {"state", {hgetall}} |
 *         {"head", seq, hash}.
 * Nothing is written unless every check passes, so a refused append
 * changes nothing.
 */
#ifndef HOTLINE_JOURNAL_SCRIPT_H
#define HOTLINE_JOURNAL_SCRIPT_H

#include "chain_lua.h"

static const char journal_script[] =
	"local idem = KEYS[3]\n"
	"if idem then\n"
	"  local prior = redis.call('HMGET', idem, 'id', 'reply', 'rank')\n"
	"  if prior[1] then return {'dup', prior[1], prior[2], prior[3] or '0'} end\n"
	"end\n"
	"local v = redis.call('HGET', KEYS[2], 'v') or '0'\n"
	"if v ~= ARGV[1] then return {'state', redis.call('HGETALL', KEYS[2])} end\n"
	CHAIN_LUA_READ_HEAD
	"if lseq ~= ARGV[2] or lhash ~= ARGV[3] then return {'head', lseq, lhash} end\n"
	"local id = redis.call('XADD', KEYS[1], '*', 'seq', ARGV[4], 'prev', ARGV[3], 'hash', ARGV[5],\n"
	"                      'entry', ARGV[6])\n"
	"local i = 11\n"
	"while i <= #ARGV do\n"
	"  local n = tonumber(ARGV[i])\n"
	"  local args = {}\n"
	"  for j = 1, n do\n"
	"    local a = ARGV[i + j]\n"
	"    if a == '$ID' then a = id end\n"
	"    args[j] = a\n"
	"  end\n"
	"  redis.call(unpack(args))\n"
	"  i = i + n + 1\n"
	"end\n"
	"local rank = 0\n"
	"if ARGV[9] ~= '' then\n"
	"  local r = redis.call('ZRANK', ARGV[9], ARGV[10])\n"
	"  if r then rank = r + 1 end\n"
	"end\n"
	"if idem then\n"
	"  redis.call('HSET', idem, 'id', id, 'reply', ARGV[7], 'rank', rank)\n"
	"  redis.call('EXPIRE', idem, ARGV[8])\n"
	"end\n"
	"return {'ok', id, rank}\n";

#endif
