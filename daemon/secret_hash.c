#include "secret_hash.h"

#include <sodium.h>

_Static_assert(SECRET_HASH_MAX == crypto_pwhash_STRBYTES, "SECRET_HASH_MAX must match libsodium");

int secret_hash(const char *secret, size_t len, char out[SECRET_HASH_MAX])
{
	if (sodium_init() < 0)
		return -1;
	return crypto_pwhash_str_alg(out, secret, len, SECRET_HASH_OPSLIMIT, SECRET_HASH_MEMLIMIT,
	                             crypto_pwhash_ALG_ARGON2ID13);
}
