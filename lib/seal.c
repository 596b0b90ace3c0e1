#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "seal.h"

#define SEAL_PREFIX         "v1."
#define SEAL_PREFIX_LEN     (sizeof(SEAL_PREFIX) - 1)
#define SEAL_AAD_LABEL      "cimd-proxy v1"
#define SEAL_KID_LEN        1
#define SEAL_EXPIRY_LEN     8
#define SEAL_NONCE_LEN      12      /* the GCM nonce size, SP 800-38D 5.2.1.1 */
#define SEAL_TAG_LEN        16
#define SEAL_HEADER_LEN     (SEAL_KID_LEN + SEAL_EXPIRY_LEN + SEAL_NONCE_LEN)
#define SEAL_MIN_RAW        (SEAL_HEADER_LEN + CP_SEAL_ID_LEN + SEAL_TAG_LEN)
#define SEAL_MAX_RAW        (SEAL_MIN_RAW + CP_SEAL_MAX_PLAIN)
#define SEAL_MAX_TEXT       (SEAL_PREFIX_LEN + (SEAL_MAX_RAW * 4 + 2) / 3)
#define SEAL_MAX_AAD        64
#define SEAL_MAX_KEY_LINE   128     /* a key line is 44 characters */

struct cp_keys {
	size_t n;
	struct {
		uint8_t kid;
		uint8_t key[CP_SEAL_KEY_LEN];
	} k[CP_SEAL_MAX_KEYS];
};

/* Purpose labels go into the associated data.  They are spelled out
 * rather than taken from the enum's numbers so that reordering the enum
 * can never make one kind of envelope open as another. */
static const char *const purpose_labels[] = {
	[CP_SEAL_AUTHZ_STATE] = "authz-state",
	[CP_SEAL_CODE]        = "code",
	[CP_SEAL_REFRESH]     = "refresh",
	[CP_SEAL_BROWSER]     = "browser",
	[CP_SEAL_CSRF]        = "csrf",
	[CP_SEAL_CONSENT]     = "consent",
	[CP_SEAL_SB_STATE]    = "sb-state",
	[CP_SEAL_AT_REST]     = "at-rest",
	[CP_SEAL_REFRESH_ANSWER] = "refresh-answer",
};

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum cp_status
cp_random(void *p, size_t n)
{
	return gnutls_rnd(GNUTLS_RND_RANDOM, p, n) == 0 ? CP_OK : CP_ERR_CRYPTO;
}

/* ---- base64 (RFC 4648) ------------------------------------------------ */

static int
b64_value(const char *alphabet, char c)
{
	const char *p;

	if (c == '\0' || (p = memchr(alphabet, c, 64)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/*
 * Decodes n characters of unpadded base64 in alphabet into a fresh
 * malloc'd *raw of *rawlen bytes (the caller wipes and frees it).
 * Refuses a length of 4k+1 and nonzero trailing bits: RFC 4648 section
 * 3.5 lets decoders reject them, and doing so makes every encoding
 * canonical, so an envelope cannot be altered without its bytes changing.
 */
static enum cp_status
b64_decode_raw(const char *alphabet, const char *s, size_t n, uint8_t **raw,
    size_t *rawlen)
{
	uint8_t *out = NULL;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;
	int v;
	enum cp_status rc = CP_ERR_SYNTAX;

	*raw = NULL;
	*rawlen = 0;
	if (n % 4 == 1)
		goto out;
	if ((out = malloc(n / 4 * 3 + 3)) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((v = b64_value(alphabet, s[i])) < 0)
			goto out;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		goto out;
	*raw = out;
	*rawlen = o;
	out = NULL;
	rc = CP_OK;
out:
	if (out) {
		gnutls_memset(out, 0, n / 4 * 3 + 3);
		free(out);
	}
	return rc;
}

enum cp_status
cp_b64url_encode(const void *p, size_t n, struct cp_buf *out)
{
	const uint8_t *in = p;
	char chunk[256];
	size_t i = 0, c = 0;
	uint32_t v;
	enum cp_status rc;

	while (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		chunk[c++] = b64url_alphabet[(v >> 18) & 63];
		chunk[c++] = b64url_alphabet[(v >> 12) & 63];
		if (i + 1 < n)
			chunk[c++] = b64url_alphabet[(v >> 6) & 63];
		if (i + 2 < n)
			chunk[c++] = b64url_alphabet[v & 63];
		i += 3;
		if (c > sizeof(chunk) - 4 || i >= n) {
			if ((rc = cp_buf_add(out, chunk, c)) != CP_OK)
				return rc;
			c = 0;
		}
	}
	/* An empty input still leaves out a valid (empty) C string. */
	return n == 0 ? cp_buf_add(out, "", 0) : CP_OK;
}

enum cp_status
cp_b64url_decode(const char *s, size_t n, struct cp_buf *out)
{
	uint8_t *raw;
	size_t rawlen;
	enum cp_status rc;

	if ((rc = b64_decode_raw(b64url_alphabet, s, n, &raw, &rawlen)) != CP_OK)
		return rc;
	rc = cp_buf_add(out, raw, rawlen);
	gnutls_memset(raw, 0, rawlen);
	free(raw);
	return rc;
}

enum cp_status
cp_b64_decode(const char *s, size_t n, struct cp_buf *out)
{
	uint8_t *raw;
	size_t rawlen, pad = 0;
	enum cp_status rc;

	if (n % 4 != 0)
		return CP_ERR_SYNTAX;
	while (pad < 2 && n > 0 && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if ((rc = b64_decode_raw(b64std_alphabet, s, n, &raw, &rawlen)) != CP_OK)
		return rc;
	rc = cp_buf_add(out, raw, rawlen);
	gnutls_memset(raw, 0, rawlen);
	free(raw);
	return rc;
}

/* ---- keys -------------------------------------------------------------- */

void
cp_keys_free(struct cp_keys *keys)
{
	if (keys == NULL)
		return;
	gnutls_memset(keys, 0, sizeof(*keys));
	free(keys);
}

/* Decodes one key line: padded standard base64 (what gnutls_base64_encode2
 * and `cimd-proxy-admin keygen` write) of exactly CP_SEAL_KEY_LEN bytes. */
static enum cp_status
key_line(const char *s, size_t n, uint8_t key[CP_SEAL_KEY_LEN], size_t *got)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0, pad = 0;
	enum cp_status rc;

	*got = 0;
	if (n % 4 != 0 || n > SEAL_MAX_KEY_LINE)
		return CP_ERR_SYNTAX;
	while (pad < 2 && n > 0 && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if (pad > 0 && n % 4 == 0)
		return CP_ERR_SYNTAX;
	if ((rc = b64_decode_raw(b64std_alphabet, s, n, &raw, &rawlen)) != CP_OK)
		return rc;
	*got = rawlen;
	if (rawlen == CP_SEAL_KEY_LEN)
		memcpy(key, raw, CP_SEAL_KEY_LEN);
	else
		rc = CP_ERR_INVALID;
	gnutls_memset(raw, 0, rawlen);
	free(raw);
	return rc;
}

enum cp_status
cp_keys_parse(const char *name, const char *text, size_t len,
    struct cp_keys **out, char *err, size_t errlen)
{
	struct cp_keys *keys = NULL;
	uint8_t digest[32];
	const char *line, *end, *nl;
	size_t n, got, over = 0;
	unsigned lineno = 0;
	enum cp_status rc = CP_ERR_CONFIG;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if ((keys = calloc(1, sizeof(*keys))) == NULL) {
		rc = CP_ERR_NOMEM;
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	for (line = text, end = text + len; line < end; line = nl + 1) {
		lineno++;
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n = (size_t)(nl - line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
		    line[n - 1] == '\t'))
			n--;
		while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		if (n == 0)
			continue;
		/* Past the limit the lines are only counted, so the message
		 * can say how many to drop. */
		if (keys->n == CP_SEAL_MAX_KEYS) {
			over++;
			continue;
		}
		switch (key_line(line, n, keys->k[keys->n].key, &got)) {
		case CP_OK:
			break;
		case CP_ERR_INVALID:
			snprintf(err, errlen, "%s:%u: a key must be %d bytes, this one is %zu: "
			    "generate one with cimd-proxy-admin keygen",
			    name, lineno, CP_SEAL_KEY_LEN, got);
			goto out;
		case CP_ERR_NOMEM:
			rc = CP_ERR_NOMEM;
			snprintf(err, errlen, "%s: out of memory", name);
			goto out;
		default:
			snprintf(err, errlen, "%s:%u: not a base64 key", name, lineno);
			goto out;
		}
		/* The kid names the key, not its position, so a rotation that
		 * prepends a new key leaves older envelopes openable. */
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, keys->k[keys->n].key,
		    CP_SEAL_KEY_LEN, digest) != 0) {
			rc = CP_ERR_CRYPTO;
			snprintf(err, errlen, "%s: cannot hash a key", name);
			goto out;
		}
		keys->k[keys->n].kid = digest[0];
		keys->n++;
	}
	if (keys->n == 0) {
		snprintf(err, errlen, "%s: no keys: generate one with cimd-proxy-admin keygen",
		    name);
		goto out;
	}
	if (over > 0) {
		snprintf(err, errlen, "%s: key file has %zu keys, the limit is %d: "
		    "use cimd-proxy-admin keygen --keep N (it keeps the newest N), "
		    "or remove the oldest lines", name, keys->n + over, CP_SEAL_MAX_KEYS);
		goto out;
	}
	*out = keys;
	keys = NULL;
	rc = CP_OK;
out:
	gnutls_memset(digest, 0, sizeof(digest));
	cp_keys_free(keys);
	return rc;
}

bool
cp_keys_mode_exposed(mode_t mode)
{
	return (mode & (S_IRWXO | S_IWGRP | S_IXGRP)) != 0;
}

enum cp_status
cp_keys_load(const char *path, struct cp_keys **out, char *err, size_t errlen)
{
	struct stat sb;
	struct cp_buf text;
	char chunk[512];
	ssize_t r;
	int fd = -1;
	enum cp_status rc = CP_ERR_IO;

	*out = NULL;
	cp_buf_init(&text, CP_SEAL_MAX_KEY_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = CP_ERR_CONFIG;
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Whoever can read the keys can forge every state, code and refresh
	 * token; whoever can write them can plant their own. */
	if (sb.st_mode & S_IRWXO) {
		snprintf(err, errlen, "%s: others may access it (mode %04o): "
		    "chmod 600, or 640 for the web server's group",
		    path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (cp_keys_mode_exposed(sb.st_mode)) {
		snprintf(err, errlen, "%s: the group may write it (mode %04o): "
		    "chmod 600, or 640 for the web server's group",
		    path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	rc = CP_ERR_IO;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		if (cp_buf_add(&text, chunk, (size_t)r) != CP_OK) {
			rc = CP_ERR_CONFIG;
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    CP_SEAL_MAX_KEY_FILE);
			goto out;
		}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = cp_keys_parse(path, cp_buf_cstr(&text), text.len, out, err, errlen);
out:
	gnutls_memset(chunk, 0, sizeof(chunk));
	cp_buf_wipe_free(&text);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- envelopes --------------------------------------------------------- */

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Builds the associated data: "cimd-proxy v1" | label | kid | expiry.
 * The label is the only variable-length part and the tail is fixed, so
 * the concatenation is unambiguous.  Returns its length, 0 if purpose is
 * unknown. */
static size_t
seal_aad(enum cp_seal_purpose purpose, const uint8_t header[SEAL_HEADER_LEN],
    uint8_t aad[SEAL_MAX_AAD])
{
	const char *label;
	size_t n = sizeof(SEAL_AAD_LABEL) - 1, l;

	if ((unsigned)purpose >= sizeof(purpose_labels) / sizeof(purpose_labels[0]) ||
	    (label = purpose_labels[purpose]) == NULL)
		return 0;
	l = strlen(label);
	memcpy(aad, SEAL_AAD_LABEL, n);
	memcpy(aad + n, label, l);
	memcpy(aad + n + l, header, SEAL_KID_LEN + SEAL_EXPIRY_LEN);
	return n + l + SEAL_KID_LEN + SEAL_EXPIRY_LEN;
}

enum cp_status
cp_seal(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const void *plain, size_t len, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN])
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_datum_t k;
	uint8_t *raw = NULL, *pt = NULL, aad[SEAL_MAX_AAD];
	size_t aadlen, ptlen = CP_SEAL_ID_LEN + len, ctlen, rawcap;
	enum cp_status rc = CP_ERR_INVALID;

	if (keys == NULL || keys->n == 0 || expires < 0)
		goto out;
	rc = CP_ERR_LIMIT;
	if (len > CP_SEAL_MAX_PLAIN)
		goto out;
	rc = CP_ERR_NOMEM;
	rawcap = SEAL_MIN_RAW + len;
	if ((raw = malloc(rawcap)) == NULL || (pt = malloc(ptlen)) == NULL)
		goto out;
	raw[0] = keys->k[0].kid;
	put_be64(raw + SEAL_KID_LEN, (uint64_t)expires);
	rc = CP_ERR_INVALID;
	if ((aadlen = seal_aad(purpose, raw, aad)) == 0)
		goto out;
	rc = CP_ERR_CRYPTO;
	/* A random 96-bit nonce per envelope: safe for far more envelopes
	 * than one key seals between rotations (SP 800-38D 8.3). */
	if (gnutls_rnd(GNUTLS_RND_NONCE, raw + SEAL_KID_LEN + SEAL_EXPIRY_LEN,
	    SEAL_NONCE_LEN) != 0 ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, pt, CP_SEAL_ID_LEN) != 0)
		goto out;
	if (len)
		memcpy(pt + CP_SEAL_ID_LEN, plain, len);
	k.data = (unsigned char *)keys->k[0].key;
	k.size = CP_SEAL_KEY_LEN;
	ctlen = rawcap - SEAL_HEADER_LEN;
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0) {
		h = NULL;
		goto out;
	}
	if (gnutls_aead_cipher_encrypt(h, raw + SEAL_KID_LEN + SEAL_EXPIRY_LEN,
	    SEAL_NONCE_LEN, aad, aadlen, SEAL_TAG_LEN, pt, ptlen,
	    raw + SEAL_HEADER_LEN, &ctlen) != 0 || ctlen != ptlen + SEAL_TAG_LEN)
		goto out;
	if ((rc = cp_buf_add(out, SEAL_PREFIX, SEAL_PREFIX_LEN)) != CP_OK ||
	    (rc = cp_b64url_encode(raw, rawcap, out)) != CP_OK)
		goto out;
	if (id)
		memcpy(id, pt, CP_SEAL_ID_LEN);
	rc = CP_OK;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	if (pt) {
		gnutls_memset(pt, 0, ptlen);
		free(pt);
	}
	free(raw);
	return rc;
}

size_t
cp_seal_text_len(size_t len)
{
	/* base64url without padding: 4 characters per 3 bytes, rounded up. */
	return SEAL_PREFIX_LEN + ((SEAL_MIN_RAW + len) * 4 + 2) / 3;
}

enum cp_status
cp_open(const struct cp_keys *keys, enum cp_seal_purpose purpose,
    const char *envelope, size_t len, time_t now, struct cp_buf *plain,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires)
{
	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t k;
	uint8_t *raw = NULL, *pt = NULL, aad[SEAL_MAX_AAD];
	size_t rawlen = 0, aadlen, ptlen = 0, i;
	uint64_t exp;
	bool opened = false;
	enum cp_status rc = CP_ERR_LIMIT;

	if (len > SEAL_MAX_TEXT)
		goto out;
	rc = CP_ERR_SYNTAX;
	if (len < SEAL_PREFIX_LEN || memcmp(envelope, SEAL_PREFIX, SEAL_PREFIX_LEN) != 0)
		goto out;
	if ((rc = b64_decode_raw(b64url_alphabet, envelope + SEAL_PREFIX_LEN,
	    len - SEAL_PREFIX_LEN, &raw, &rawlen)) != CP_OK)
		goto out;
	rc = CP_ERR_SYNTAX;
	if (rawlen < SEAL_MIN_RAW)
		goto out;
	exp = get_be64(raw + SEAL_KID_LEN);
	if (exp > INT64_MAX)
		goto out;
	rc = CP_ERR_INVALID;
	if (keys == NULL || (aadlen = seal_aad(purpose, raw, aad)) == 0)
		goto out;
	rc = CP_ERR_NOMEM;
	if ((pt = malloc(rawlen)) == NULL)
		goto out;
	/* Two keys may share a kid (one byte): try each that claims it; the
	 * tag tells the right one. */
	for (i = 0; i < keys->n && !opened; i++) {
		if (keys->k[i].kid != raw[0])
			continue;
		k.data = (unsigned char *)keys->k[i].key;
		k.size = CP_SEAL_KEY_LEN;
		ptlen = rawlen;
		if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0)
			continue;
		opened = gnutls_aead_cipher_decrypt(h, raw + SEAL_KID_LEN + SEAL_EXPIRY_LEN,
		    SEAL_NONCE_LEN, aad, aadlen, SEAL_TAG_LEN, raw + SEAL_HEADER_LEN,
		    rawlen - SEAL_HEADER_LEN, pt, &ptlen) == 0 &&
		    ptlen == rawlen - SEAL_HEADER_LEN - SEAL_TAG_LEN;
		gnutls_aead_cipher_deinit(h);
	}
	rc = CP_ERR_CRYPTO;
	if (!opened)
		goto out;
	/* The expiry is authenticated, so it is checked only after the tag. */
	rc = CP_ERR_EXPIRED;
	if ((int64_t)exp <= (int64_t)now)
		goto out;
	if ((rc = cp_buf_add(plain, pt + CP_SEAL_ID_LEN, ptlen - CP_SEAL_ID_LEN)) != CP_OK)
		goto out;
	if (id)
		memcpy(id, pt, CP_SEAL_ID_LEN);
	if (expires)
		*expires = (time_t)exp;
	rc = CP_OK;
out:
	if (pt) {
		gnutls_memset(pt, 0, rawlen);
		free(pt);
	}
	if (raw) {
		gnutls_memset(raw, 0, rawlen);
		free(raw);
	}
	return rc;
}

enum cp_status
cp_keys_mac(const struct cp_keys *keys, size_t which, const char *label,
    const void *p, size_t n, uint8_t out[CP_KEYS_MAC_LEN])
{
	static const char derive[] = SEAL_AAD_LABEL " keyed hash";
	uint8_t subkey[CP_KEYS_MAC_LEN];
	gnutls_hmac_hd_t h;
	enum cp_status rc = CP_ERR_NOT_FOUND;

	if (keys == NULL || which >= keys->n)
		return rc;
	rc = CP_ERR_CRYPTO;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, keys->k[which].key, CP_SEAL_KEY_LEN,
	    derive, sizeof(derive) - 1, subkey) != 0 ||
	    gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, subkey, sizeof(subkey)) != 0)
		goto out;
	/* The label's NUL ends it, so no label is a prefix of another's input. */
	if (gnutls_hmac(h, label, strlen(label) + 1) == 0 && gnutls_hmac(h, p, n) == 0)
		rc = CP_OK;
	gnutls_hmac_deinit(h, out);
out:
	gnutls_memset(subkey, 0, sizeof(subkey));
	return rc;
}
