/*
 * auth_mint.h - a new API token: a random secret for the client and the
 * tokens-file line for the server (crunchd --mint-token, auth.h).
 *
 * The secret is AUTH_SECRET_PREFIX followed by AUTH_SECRET_BYTES bytes from
 * getrandom() in URL-safe base64 without padding (256 bits; RFC 4648
 * section 5), so it is a valid Bearer b64token as it is and a secret
 * scanner can recognise it by its prefix. The line holds only its SHA-256.
 *
 * Pure but for getrandom(); any thread.
 */
#ifndef CRUNCHD_AUTH_MINT_H
#define CRUNCHD_AUTH_MINT_H

#include <stddef.h>

#include "auth.h"

#define AUTH_SECRET_PREFIX "crunchd_"
#define AUTH_SECRET_BYTES 32
/* The secret's length: the prefix and ceil(32 * 4 / 3) = 43 characters. */
#define AUTH_SECRET_LEN (sizeof(AUTH_SECRET_PREFIX) - 1 + (AUTH_SECRET_BYTES * 4 + 2) / 3)

/*
 * Mints a token called name with scopes ("call,read") and the nlimits
 * "key=value" limits of limits (may be NULL when nlimits is 0). Writes the
 * secret (AUTH_SECRET_LEN + 1 bytes with the NUL) into secret and the
 * tokens-file line (no newline; AUTH_LINE_MAX + 1 bytes are enough) into
 * line. The line is checked by the tokens file's own parser, so whatever
 * the file would refuse is refused here with the same words. Returns 0, or
 * -1 with err set ("--mint-token: unknown scope \"x\" (...)", or the
 * failure of getrandom()).
 */
int auth_mint(const char *name, const char *scopes, const char *const *limits, size_t nlimits,
              char *secret, size_t secretlen, char *line, size_t linelen, char *err, size_t errlen);

#endif
