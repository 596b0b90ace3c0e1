/*
 * Sealed envelopes: state, authorization-code and refresh-token wrappers,
 * browser cookies, CSRF tokens and secrets at rest, all one format.
 *
 *   "v1." base64url(kid(1) | expiry(8, BE) | nonce(12) | ciphertext | tag(16))
 *
 * AES-256-GCM via GnuTLS; the associated data binds the version, the
 * purpose label (so one kind can never be opened as another), the key id
 * and the expiry.  Keys come from key_file: one base64 32-byte key per
 * line, newest first; sealing uses the first, opening tries the one the
 * kid names.  Each envelope carries a random 16-byte id the caller can
 * record with cp_store_once where replay matters.
 */
#ifndef CP_SEAL_H
#define CP_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "status.h"

#define CP_SEAL_ID_LEN      16
#define CP_SEAL_MAX_KEYS    16
#define CP_SEAL_MAX_PLAIN   (64 * 1024)

enum cp_seal_purpose {
	CP_SEAL_AUTHZ_STATE = 1,    /* /authorize -> IdP -> /callback */
	CP_SEAL_CODE,               /* our authorization code (wraps the IdP code) */
	CP_SEAL_REFRESH,            /* our refresh token (wraps the IdP one) */
	CP_SEAL_BROWSER,            /* __Host- browser-binding cookie */
	CP_SEAL_CSRF,               /* consent form token */
	CP_SEAL_CONSENT,            /* remembered-consent cookie */
	CP_SEAL_SB_STATE,           /* session-binding state */
	CP_SEAL_AT_REST             /* a bearer token stored in a binding */
};

struct cp_keys;

/* Loads key_file.  Refuses a file readable by group or others, an empty
 * file, a line that is not base64 of exactly 32 bytes, or more than
 * CP_SEAL_MAX_KEYS keys, with one line in err naming the file and line. */
enum cp_status cp_keys_load(const char *path, struct cp_keys **out,
    char *err, size_t errlen);
void cp_keys_free(struct cp_keys *keys);

/* Seals plain[0..len) for purpose until expires; appends the envelope
 * text to out.  *id (may be NULL) receives the envelope's random id. */
enum cp_status cp_seal(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const void *plain, size_t len, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN]);

/* Opens an envelope sealed for purpose; appends the plaintext to plain.
 * CP_ERR_SYNTAX (not an envelope), CP_ERR_CRYPTO (wrong key, purpose or
 * tampered), CP_ERR_EXPIRED (past its expiry at now). */
enum cp_status cp_open(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const char *envelope, size_t len, time_t now, struct cp_buf *plain,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires);

/* base64url without padding (RFC 4648 section 5). */
enum cp_status cp_b64url_encode(const void *p, size_t n, struct cp_buf *out);
enum cp_status cp_b64url_decode(const char *s, size_t n, struct cp_buf *out);

/* Fills p with n bytes from the CSPRNG. */
enum cp_status cp_random(void *p, size_t n);

#endif
