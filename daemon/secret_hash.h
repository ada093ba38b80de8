/* secret_hash.h - how user secrets are hashed, shared by hotlined (which
 * verifies) and `hotline passwd` (which produces hashes for the config). */
#ifndef HOTLINE_SECRET_HASH_H
#define HOTLINE_SECRET_HASH_H

#include <stddef.h>

/* Argon2id parameters for new hashes: OWASP's minimum recommendation
 * (m = 19 MiB, t = 2, p = 1).  Verification uses whatever the stored hash
 * says, so raising these later needs no migration. */
#define SECRET_HASH_OPSLIMIT 2
#define SECRET_HASH_MEMLIMIT (19456u * 1024u)
#define SECRET_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/* Encode secret as "$argon2id$..." into out (SECRET_HASH_MAX bytes).
 * Returns 0, or -1 (out of memory / sodium not initialised). */
__attribute__((warn_unused_result)) int secret_hash(const char *secret, size_t len, char out[SECRET_HASH_MAX]);

#endif
