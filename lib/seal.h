/*
 * Sealed envelopes: state, authorization-code and refresh-token wrappers,
 * browser cookies, CSRF tokens and secrets at rest, all one format.
 *
 *   "v1." base64url(kid(1) | expiry(8, BE) | nonce(12) | ciphertext | tag(16))
 *
 * AES-256-GCM via GnuTLS; the ciphertext encrypts id(16) | plaintext, and
 * the associated data is "cimd-proxy v1" | purpose label | kid | expiry,
 * so one kind can never be opened as another and neither the key id nor
 * the expiry can be changed.  Keys come from key_file: one base64 32-byte
 * key per line, newest first; sealing uses the first, opening tries the
 * ones the kid names.  The kid is the first byte of SHA-256(key), not a
 * position, so prepending a new key keeps older envelopes openable.  Each
 * envelope carries a random 16-byte id the caller can record with
 * cp_store_once where replay matters.
 *
 * A struct cp_keys is immutable after loading and may be shared by threads.
 */
#ifndef CP_SEAL_H
#define CP_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sys/types.h>

#include "buf.h"
#include "status.h"

#define CP_SEAL_ID_LEN      16
#define CP_SEAL_MAX_KEYS    16
#define CP_SEAL_MAX_PLAIN   (64 * 1024)
#define CP_SEAL_KEY_LEN     32
#define CP_SEAL_MAX_KEY_FILE 4096   /* 16 keys of 45 bytes, with room */

enum cp_seal_purpose {
	CP_SEAL_AUTHZ_STATE = 1,    /* /authorize -> IdP -> /callback */
	CP_SEAL_CODE,               /* our authorization code (wraps the IdP code) */
	CP_SEAL_REFRESH,            /* our refresh token (wraps the IdP one) */
	CP_SEAL_BROWSER,            /* __Host- browser-binding cookie */
	CP_SEAL_CSRF,               /* consent form token */
	CP_SEAL_CONSENT,            /* remembered-consent cookie */
	CP_SEAL_SB_STATE,           /* session-binding state */
	CP_SEAL_AT_REST,            /* a bearer token stored in a binding */
	CP_SEAL_REFRESH_ANSWER      /* a refresh's answer kept for its repeats */
};

struct cp_keys;

/* Loads key_file.  Refuses a file that others may read or write, or the
 * group may write (group-readable 0640 is allowed: the web server's group
 * often needs it), an empty file, a line that is not base64 of exactly
 * 32 bytes, or more than CP_SEAL_MAX_KEYS keys (the message says how
 * many there are), with one line in err naming the file and line (never
 * a key).  CP_ERR_CONFIG for a refused file, CP_ERR_IO when it cannot be
 * read.  The caller frees *out. */
enum cp_status cp_keys_load(const char *path, struct cp_keys **out,
    char *err, size_t errlen);
/* True when a key file with this st_mode is refused for its permissions:
 * others may access it or the group may write it, so its keys may be
 * known or planted by someone other than the web server user. */
bool cp_keys_mode_exposed(mode_t mode);
/* Parses key file text (len bytes) as if read from name, without the
 * mode check; for tests and fuzzing.  Same errors as cp_keys_load. */
enum cp_status cp_keys_parse(const char *name, const char *text, size_t len,
    struct cp_keys **out, char *err, size_t errlen);
/* Wipes the key material and frees keys (NULL is fine). */
void cp_keys_free(struct cp_keys *keys);

/* Seals plain[0..len) for purpose until expires; appends the envelope
 * text to out.  *id (may be NULL) receives the envelope's random id.
 * CP_ERR_LIMIT over CP_SEAL_MAX_PLAIN, CP_ERR_INVALID for an unknown
 * purpose or a negative expiry, CP_ERR_CRYPTO when GnuTLS fails. */
enum cp_status cp_seal(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const void *plain, size_t len, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN]);

/* The length of the envelope text cp_seal makes from len bytes of
 * plaintext, so a caller can refuse input whose envelope would not fit
 * where it must travel before sealing anything. */
size_t cp_seal_text_len(size_t len);

/* Opens an envelope sealed for purpose; appends the plaintext to plain;
 * *id and *expires (each may be NULL) receive the envelope's id and
 * expiry.  CP_ERR_SYNTAX (not an envelope), CP_ERR_LIMIT (longer than any
 * envelope cp_seal makes), CP_ERR_CRYPTO (wrong key, purpose or
 * tampered), CP_ERR_EXPIRED (authentic, but expires <= now).  On failure
 * nothing is appended and the outputs are untouched. */
enum cp_status cp_open(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const char *envelope, size_t len, time_t now, struct cp_buf *plain,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires);

/* A keyed hash (HMAC-SHA256) of label and p[0..n), under the key at
 * position which (0 = newest) of keys, for looking a value up in the
 * store without keeping it there: whoever reads the store cannot tell
 * the value, nor test a guess, without the key.  The HMAC key is derived
 * from the sealing key, so neither use weakens the other; label keeps
 * one kind of value apart from another.  CP_ERR_NOT_FOUND when keys has
 * no key at that position (a caller tries 0, 1, ... to find what was
 * recorded before a rotation), CP_ERR_CRYPTO when GnuTLS fails. */
#define CP_KEYS_MAC_LEN     32
enum cp_status cp_keys_mac(const struct cp_keys *keys, size_t which, const char *label,
    const void *p, size_t n, uint8_t out[CP_KEYS_MAC_LEN]);

/* base64url without padding (RFC 4648 section 5).  Decoding is strict:
 * only the 64 URL-safe characters, no padding, no length of the form
 * 4n+1, and zero trailing bits (section 3.5), so each byte string has
 * exactly one accepted encoding; anything else is CP_ERR_SYNTAX. */
enum cp_status cp_b64url_encode(const void *p, size_t n, struct cp_buf *out);
enum cp_status cp_b64url_decode(const char *s, size_t n, struct cp_buf *out);

/* base64 with padding (RFC 4648 section 4), as strict: a length of 4n,
 * at most two "=" and only at the end, zero trailing bits; anything else
 * is CP_ERR_SYNTAX.  The bytes are appended to out (not NUL-terminated
 * beyond what cp_buf keeps). */
enum cp_status cp_b64_decode(const char *s, size_t n, struct cp_buf *out);

/* Fills p with n bytes from the CSPRNG (GnuTLS, GNUTLS_RND_RANDOM);
 * CP_ERR_CRYPTO if it fails. */
enum cp_status cp_random(void *p, size_t n);

#endif
