#include "config.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "buf.h"
#include "jsonparse.h"
#include "jwt.h"
#include "log.h"
#include "seal.h"

#define ES256_HALF  32      /* RFC 7518 section 3.4: R and S, 32 octets each */
#define P256_COORD  32      /* RFC 7518 section 6.2.1.2: x and y of P-256 */

/* The allowlist (RFC 7518 section 3.1 names; RFC 8725 section 3.1: the
 * verifier, not the token, decides which algorithms are acceptable). */
static const struct jws_alg {
	const char *name;
	const char *kty;                /* the JWK key type it needs */
	gnutls_sign_algorithm_t sign;
} algs[] = {
	{ "RS256", "RSA", GNUTLS_SIGN_RSA_SHA256 },
	{ "PS256", "RSA", GNUTLS_SIGN_RSA_PSS_RSAE_SHA256 },
	{ "ES256", "EC", GNUTLS_SIGN_ECDSA_SHA256 },
};

/* A parsed, not yet verified, compact JWS (RFC 7515 section 7.1). */
struct jws {
	const char *signing_input;      /* header "." payload, as sent */
	size_t signing_len;
	json_object *header;
	const struct jws_alg *alg;
	const char *kid;                /* NULL when the header has none */
	size_t kid_len;
	struct cp_buf payload;
	struct cp_buf sig;
};

/* The string member name of o, with its length; false when absent or
 * not a string. */
static bool
str_member(json_object *o, const char *name, const char **s, size_t *len)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return false;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return true;
}

static bool
str_member_is(json_object *o, const char *name, const char *want)
{
	const char *s;
	size_t len;

	return str_member(o, name, &s, &len) && len == strlen(want) &&
	    memcmp(s, want, len) == 0;
}

static void
jws_free(struct jws *j)
{
	json_object_put(j->header);
	cp_buf_free(&j->payload);
	cp_buf_free(&j->sig);
	memset(j, 0, sizeof(*j));
}

/* Splits and decodes token into j and checks the protected header:
 * alg on the allowlist, no "crit" (RFC 7515 section 4.1.11: we
 * understand no extension, so any listed one must be refused), kid a
 * string when present.  Keys named by the token itself (jwk, jku, x5u,
 * x5c) are never used, so they need no check. */
static enum cp_status
jws_parse(const char *token, size_t len, struct jws *j)
{
	const char *dot1, *dot2, *p;
	struct cp_buf hdr;
	enum cp_status rc = CP_ERR_SYNTAX;
	const char *alg;
	size_t alen, i;
	json_object *v;

	memset(j, 0, sizeof(*j));
	cp_buf_init(&hdr, CP_JWT_MAX_LEN);
	cp_buf_init(&j->payload, CP_JWT_MAX_LEN);
	cp_buf_init(&j->sig, CP_JWT_MAX_LEN);
	if (len > CP_JWT_MAX_LEN) {
		rc = CP_ERR_LIMIT;
		goto out;
	}
	if (token == NULL || len == 0)
		goto out;
	if ((dot1 = memchr(token, '.', len)) == NULL)
		goto out;
	p = dot1 + 1;
	if ((dot2 = memchr(p, '.', len - (size_t)(p - token))) == NULL)
		goto out;
	p = dot2 + 1;
	/* Exactly three parts: a fourth would be JWE or garbage. */
	if (memchr(p, '.', len - (size_t)(p - token)) != NULL)
		goto out;
	if (dot1 == token || dot2 == dot1 + 1 || p == token + len)
		goto out;
	if ((rc = cp_b64url_decode(token, (size_t)(dot1 - token), &hdr)) != CP_OK ||
	    (rc = cp_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &j->payload)) != CP_OK ||
	    (rc = cp_b64url_decode(p, len - (size_t)(p - token), &j->sig)) != CP_OK)
		goto out;
	j->signing_input = token;
	j->signing_len = (size_t)(dot2 - token);

	if ((rc = cp_json_parse_object(hdr.data, hdr.len, &j->header)) != CP_OK)
		goto out;
	rc = CP_ERR_INVALID;
	if (!str_member(j->header, "alg", &alg, &alen)) {
		cp_log(CP_LOG_INFO, "jwt: header without alg");
		goto out;
	}
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (alen == strlen(algs[i].name) && memcmp(alg, algs[i].name, alen) == 0)
			j->alg = &algs[i];
	if (j->alg == NULL) {
		cp_log(CP_LOG_INFO, "jwt: alg %.20s not allowed", alg);
		goto out;
	}
	if (json_object_object_get_ex(j->header, "crit", NULL)) {
		cp_log(CP_LOG_INFO, "jwt: crit header refused");
		goto out;
	}
	if (json_object_object_get_ex(j->header, "kid", &v) &&
	    !str_member(j->header, "kid", &j->kid, &j->kid_len)) {
		cp_log(CP_LOG_INFO, "jwt: kid is not a string");
		goto out;
	}
	rc = CP_OK;
out:
	cp_buf_free(&hdr);
	if (rc != CP_OK)
		jws_free(j);
	return rc;
}

/* Decodes the base64url member name of jwk into out, refusing values
 * longer than max; leading zero octets are dropped (RFC 7518 section
 * 6.3.1.1 allows none, but tolerating them costs nothing). */
static bool
jwk_bytes(json_object *jwk, const char *name, size_t max, struct cp_buf *out,
    size_t *skip)
{
	const char *s;
	size_t len;

	cp_buf_init(out, max);
	*skip = 0;
	if (!str_member(jwk, name, &s, &len) || cp_b64url_decode(s, len, out) != CP_OK)
		return false;
	while (*skip < out->len && out->data[*skip] == 0)
		(*skip)++;
	return *skip < out->len;
}

/* The public key of jwk for alg, when the JWK fits it: kty matches, its
 * own "alg" (if any) equals alg (RFC 7517 section 4.4), "use" (if any) is
 * "sig" (4.2), "key_ops" (if any) allows "verify" (4.3), and the key
 * material is well formed and of an acceptable size.  CP_ERR_INVALID when
 * it does not fit. */
static enum cp_status
jwk_pubkey(json_object *jwk, const struct jws_alg *alg, gnutls_pubkey_t *out,
    size_t *modulus_len)
{
	struct cp_buf a, b;
	gnutls_datum_t da, db;
	gnutls_pubkey_t pub = NULL;
	enum cp_status rc = CP_ERR_INVALID;
	json_object *ops, *op;
	size_t sa, sb, i, n;
	bool verify = false;

	*out = NULL;
	cp_buf_init(&a, 0);
	cp_buf_init(&b, 0);
	if (!json_object_is_type(jwk, json_type_object) ||
	    !str_member_is(jwk, "kty", alg->kty))
		goto out;
	if (json_object_object_get_ex(jwk, "alg", NULL) &&
	    !str_member_is(jwk, "alg", alg->name))
		goto out;
	if (json_object_object_get_ex(jwk, "use", NULL) &&
	    !str_member_is(jwk, "use", "sig"))
		goto out;
	if (json_object_object_get_ex(jwk, "key_ops", &ops)) {
		if (!json_object_is_type(ops, json_type_array))
			goto out;
		n = json_object_array_length(ops);
		for (i = 0; i < n; i++) {
			op = json_object_array_get_idx(ops, i);
			if (json_object_is_type(op, json_type_string) &&
			    strcmp(json_object_get_string(op), "verify") == 0)
				verify = true;
		}
		if (!verify)
			goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	if (strcmp(alg->kty, "RSA") == 0) {
		/* RFC 7518 section 3.3: keys of 2048 bits or more. */
		if (!jwk_bytes(jwk, "n", CP_JWT_MAX_RSA_BYTES + 1, &a, &sa) ||
		    !jwk_bytes(jwk, "e", CP_JWT_MAX_RSA_E_BYTES + 1, &b, &sb))
			goto out;
		n = a.len - sa;
		if (n < CP_JWT_MIN_RSA_BYTES || n > CP_JWT_MAX_RSA_BYTES ||
		    b.len - sb > CP_JWT_MAX_RSA_E_BYTES || !(b.data[b.len - 1] & 1))
			goto out;
		/* RFC 8017 section 3.1: 3 <= e < n.  With e = 1 the signature
		 * is the encoded message itself, which anyone can write; e < n
		 * holds already (at most MAX_RSA_E_BYTES against at least
		 * MIN_RSA_BYTES, both without leading zeros). */
		if (b.len - sb == 1 && (unsigned char)b.data[sb] < CP_JWT_MIN_RSA_E)
			goto out;
		da.data = (unsigned char *)a.data + sa;
		da.size = (unsigned)n;
		db.data = (unsigned char *)b.data + sb;
		db.size = (unsigned)(b.len - sb);
		if (gnutls_pubkey_import_rsa_raw(pub, &da, &db) < 0)
			goto out;
		*modulus_len = n;
	} else {
		/* RFC 7518 section 6.2.1: P-256 coordinates are exactly 32
		 * octets; ES256 needs P-256 (section 3.4). */
		if (!str_member_is(jwk, "crv", "P-256"))
			goto out;
		if (!jwk_bytes(jwk, "x", P256_COORD, &a, &sa) ||
		    !jwk_bytes(jwk, "y", P256_COORD, &b, &sb) ||
		    a.len != P256_COORD || b.len != P256_COORD)
			goto out;
		da.data = (unsigned char *)a.data;
		da.size = P256_COORD;
		db.data = (unsigned char *)b.data;
		db.size = P256_COORD;
		/* GnuTLS (nettle) refuses a point not on the curve. */
		if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1,
		    &da, &db) < 0)
			goto out;
		*modulus_len = 0;
	}
	*out = pub;
	pub = NULL;
	rc = CP_OK;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	cp_buf_free(&a);
	cp_buf_free(&b);
	return rc;
}

/* Checks j's signature with pub.  ES256 signatures are R || S (RFC 7518
 * section 3.4), GnuTLS wants DER; RSA signatures are exactly as long as
 * the modulus (RFC 8017 section 8.2.2 step 1). */
static bool
signature_ok(const struct jws *j, gnutls_pubkey_t pub, size_t modulus_len)
{
	gnutls_datum_t data, sig, r, s, der = { NULL, 0 };
	const unsigned char *p = (const unsigned char *)j->sig.data;
	bool good = false;
	size_t zr = 0, zs = 0;

	data.data = (unsigned char *)j->signing_input;
	data.size = (unsigned)j->signing_len;
	if (j->alg->sign == GNUTLS_SIGN_ECDSA_SHA256) {
		if (j->sig.len != 2 * ES256_HALF)
			return false;
		/* Minimal integers: DER forbids leading zero octets. */
		while (zr < ES256_HALF && p[zr] == 0)
			zr++;
		while (zs < ES256_HALF && p[ES256_HALF + zs] == 0)
			zs++;
		if (zr == ES256_HALF || zs == ES256_HALF)
			return false;
		r.data = (unsigned char *)p + zr;
		r.size = (unsigned)(ES256_HALF - zr);
		s.data = (unsigned char *)p + ES256_HALF + zs;
		s.size = (unsigned)(ES256_HALF - zs);
		if (gnutls_encode_rs_value(&der, &r, &s) < 0)
			return false;
		sig = der;
	} else {
		if (j->sig.len != modulus_len)
			return false;
		sig.data = (unsigned char *)j->sig.data;
		sig.size = (unsigned)j->sig.len;
	}
	good = gnutls_pubkey_verify_data2(pub, j->alg->sign, 0, &data, &sig) >= 0;
	gnutls_free(der.data);
	return good;
}

/* Verifies j against the keys of jwks the token may use: the ones whose
 * kid equals the header's, or, without a kid, every one that fits the
 * alg.  CP_ERR_NOT_FOUND: no key with that kid (worth a JWKS refresh);
 * CP_ERR_INVALID: keys with that kid, none fitting the alg; CP_ERR_CRYPTO:
 * no fitting key verifies the signature. */
static enum cp_status
verify_signature(json_object *jwks, const struct jws *j)
{
	json_object *keys, *jwk;
	gnutls_pubkey_t pub;
	enum cp_status rc = CP_ERR_NOT_FOUND, krc;
	const char *kid;
	size_t i, n, kid_len, modulus_len;

	if (jwks == NULL || !json_object_object_get_ex(jwks, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array))
		return CP_ERR_NOT_FOUND;
	n = json_object_array_length(keys);
	for (i = 0; i < n; i++) {
		jwk = json_object_array_get_idx(keys, i);
		if (!json_object_is_type(jwk, json_type_object))
			continue;
		if (j->kid != NULL && (!str_member(jwk, "kid", &kid, &kid_len) ||
		    kid_len != j->kid_len || memcmp(kid, j->kid, kid_len) != 0))
			continue;
		krc = jwk_pubkey(jwk, j->alg, &pub, &modulus_len);
		if (krc == CP_ERR_NOMEM)
			return krc;
		if (krc != CP_OK) {
			/* A kid names one key: if it is the wrong kind, that
			 * is an algorithm confusion, not an unknown key. */
			if (j->kid != NULL && rc == CP_ERR_NOT_FOUND)
				rc = CP_ERR_INVALID;
			continue;
		}
		if (signature_ok(j, pub, modulus_len)) {
			gnutls_pubkey_deinit(pub);
			return CP_OK;
		}
		gnutls_pubkey_deinit(pub);
		rc = CP_ERR_CRYPTO;
	}
	/* Without a kid, no fitting key at all is an unknown key. */
	return rc;
}

/* A NumericDate claim (RFC 7519 section 2): a JSON number of seconds.
 * false when present but not a number; *present says whether it is. */
static bool
date_member(json_object *o, const char *name, int64_t *out, bool *present)
{
	json_object *v;
	double d;

	*present = json_object_object_get_ex(o, name, &v);
	if (!*present)
		return true;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d) || d < -9.0e15 || d > 9.0e15)
			return false;
		*out = (int64_t)d;     /* toward zero: a second either way is within the leeway */
		return true;
	}
	return false;
}

/* RFC 7519 section 4.1.3: aud is one string or an array of strings;
 * true when want is among them. */
static bool
aud_contains(json_object *claims, const char *want)
{
	json_object *aud, *v;
	size_t i, n, wlen = strlen(want);

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return str_member_is(claims, "aud", want);
	if (!json_object_is_type(aud, json_type_array))
		return false;
	n = json_object_array_length(aud);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(aud, i);
		if (json_object_is_type(v, json_type_string) &&
		    (size_t)json_object_get_string_len(v) == wlen &&
		    memcmp(json_object_get_string(v), want, wlen) == 0)
			return true;
	}
	return false;
}

/* The registered claims (RFC 7519 section 4.1), and the OIDC nonce (OIDC
 * Core section 3.1.3.7 step 11). */
static enum cp_status
check_claims(json_object *claims, const struct cp_jwt_expect *expect)
{
	int64_t now = (int64_t)(expect->now ? expect->now : time(NULL));
	int64_t exp = 0, nbf = 0, iat = 0;
	bool has_exp, has_nbf, has_iat;
	const char *s;
	size_t len;

	if (expect->issuer == NULL || (expect->audience == NULL && !expect->any_audience))
		return CP_ERR_INTERNAL;
	if (!str_member(claims, "iss", &s, &len) || len != strlen(expect->issuer) ||
	    memcmp(s, expect->issuer, len) != 0) {
		cp_log(CP_LOG_INFO, "jwt: iss is not %s", expect->issuer);
		return CP_ERR_INVALID;
	}
	if (!date_member(claims, "exp", &exp, &has_exp) ||
	    !date_member(claims, "nbf", &nbf, &has_nbf) ||
	    !date_member(claims, "iat", &iat, &has_iat) || !has_exp) {
		cp_log(CP_LOG_INFO, "jwt: exp missing, or exp/nbf/iat not a number");
		return CP_ERR_INVALID;
	}
	/* The token's numbers are never in a sum: no overflow, whatever
	 * they are; now is the clock's. */
	if (exp <= now - CP_JWT_LEEWAY) {
		cp_log(CP_LOG_INFO, "jwt: expired");
		return CP_ERR_EXPIRED;
	}
	if (has_nbf && nbf > now + CP_JWT_LEEWAY) {
		cp_log(CP_LOG_INFO, "jwt: not valid yet (nbf)");
		return CP_ERR_INVALID;
	}
	if (has_iat && iat > now + CP_JWT_LEEWAY) {
		cp_log(CP_LOG_INFO, "jwt: issued in the future (iat)");
		return CP_ERR_INVALID;
	}
	if (!expect->any_audience && !aud_contains(claims, expect->audience)) {
		cp_log(CP_LOG_INFO, "jwt: aud does not name %s", expect->audience);
		return CP_ERR_INVALID;
	}
	if (expect->nonce != NULL && (!str_member(claims, "nonce", &s, &len) ||
	    !cp_secret_eq(s, len, expect->nonce, strlen(expect->nonce)))) {
		cp_log(CP_LOG_INFO, "jwt: nonce mismatch");
		return CP_ERR_INVALID;
	}
	return CP_OK;
}

/* True when the header's typ (RFC 7515 section 4.1.9: a media type,
 * compared without case, "application/" optional) is want. */
static bool
typ_is(const char *typ, size_t len, const char *want)
{
	static const char prefix[] = "application/";
	size_t plen = sizeof(prefix) - 1;

	if (len > plen && strncasecmp(typ, prefix, plen) == 0) {
		typ += plen;
		len -= plen;
	}
	return len == strlen(want) && strncasecmp(typ, want, len) == 0;
}

/*
 * Is this JWT an access token, and one issued to our client?  Only
 * access tokens may open /mcp: an ID token (OIDC Core section 2) says
 * who logged in to a client, not that anything may be called with it
 * (RFC 8725 section 3.11: tokens of different kinds must not be accepted
 * for one another).  What real IdPs write decides the rules:
 *  - the header typ, when present, must be JWT (RFC 7519 section 5.1;
 *    Keycloak, Entra ID) or at+jwt (RFC 9068 section 2.1; Auth0's
 *    profile).  Anything else names another kind of JWT (logout+jwt,
 *    token-introspection+jwt, secevent+jwt, dpop+jwt, an explicitly typed
 *    ID token) and is refused.  Okta writes no typ at all.
 *  - the payload claim typ, Keycloak's token kind, when present, must be
 *    "Bearer": its ID tokens say "ID", refresh tokens "Refresh", logout
 *    tokens "Logout", and DPoP-bound access tokens "DPoP", which a proxy
 *    that checks no DPoP proof must not take as bearer tokens.
 *  - cid (Okta) and client_id (RFC 9068 section 2.2), when present, must
 *    be our IdP client: a token the IdP issued to another application
 *    for the same audience was not obtained through this proxy.
 * An IdP that marks neither kind (Okta, oidc-provider) is covered by the
 * audience: its ID tokens carry the client id as aud (OIDC Core section
 * 2), never the gateway's audience.
 */
static enum cp_status
check_access_token(json_object *header, json_object *claims,
    const struct cp_jwt_expect *expect)
{
	static const char *const client_claims[] = { "cid", "client_id" };
	static const char bearer[] = "Bearer";
	const char *s;
	size_t len, i;

	if (json_object_object_get_ex(header, "typ", NULL) &&
	    (!str_member(header, "typ", &s, &len) ||
	    !(typ_is(s, len, "jwt") || typ_is(s, len, "at+jwt")))) {
		cp_log(CP_LOG_INFO, "jwt: header typ is not an access token's");
		return CP_ERR_INVALID;
	}
	if (json_object_object_get_ex(claims, "typ", NULL) &&
	    (!str_member(claims, "typ", &s, &len) || len != sizeof(bearer) - 1 ||
	    strncasecmp(s, bearer, len) != 0)) {
		cp_log(CP_LOG_INFO, "jwt: typ claim is not Bearer: not an access token");
		return CP_ERR_INVALID;
	}
	for (i = 0; expect->client_id != NULL &&
	    i < sizeof(client_claims) / sizeof(client_claims[0]); i++)
		if (json_object_object_get_ex(claims, client_claims[i], NULL) &&
		    !str_member_is(claims, client_claims[i], expect->client_id)) {
			cp_log(CP_LOG_INFO, "jwt: %s is not %s: issued to another client",
			    client_claims[i], expect->client_id);
			return CP_ERR_INVALID;
		}
	return CP_OK;
}

/* cp_jwt_verify_jwks, but CP_ERR_NOT_FOUND for an unknown key so the
 * caller can decide to refresh the JWKS. */
static enum cp_status
verify(json_object *jwks, const char *token, size_t len,
    const struct cp_jwt_expect *expect, json_object **claims)
{
	struct jws j;
	json_object *c = NULL;
	enum cp_status rc;

	*claims = NULL;
	if ((rc = jws_parse(token, len, &j)) != CP_OK)
		return rc;
	if ((rc = verify_signature(jwks, &j)) != CP_OK) {
		cp_log(CP_LOG_INFO, "jwt: %s signature: %s", j.alg->name,
		    rc == CP_ERR_NOT_FOUND ? "no such key" :
		    rc == CP_ERR_INVALID ? "key does not fit the alg" : "bad");
		goto out;
	}
	/* Only a verified payload is parsed: the claims are trusted from
	 * here on. */
	if ((rc = cp_json_parse_object(j.payload.data, j.payload.len, &c)) != CP_OK)
		goto out;
	if ((rc = check_claims(c, expect)) != CP_OK)
		goto out;
	if (expect->access_token && (rc = check_access_token(j.header, c, expect)) != CP_OK)
		goto out;
	*claims = c;
	c = NULL;
out:
	json_object_put(c);
	jws_free(&j);
	return rc;
}

enum cp_status
cp_jwt_check_form(const char *token, size_t len)
{
	struct jws j;
	enum cp_status rc = jws_parse(token, len, &j);

	if (rc == CP_OK)
		jws_free(&j);
	return rc;
}

enum cp_status
cp_jwt_verify_jwks(json_object *jwks, const char *token, size_t len,
    const struct cp_jwt_expect *expect, json_object **claims)
{
	enum cp_status rc = verify(jwks, token, len, expect, claims);

	return rc == CP_ERR_NOT_FOUND ? CP_ERR_CRYPTO : rc;
}

enum cp_status
cp_jwt_verify(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, const char *token, size_t len,
    const struct cp_jwt_expect *expect, json_object **claims)
{
	json_object *jwks = NULL;
	enum cp_status rc;

	*claims = NULL;
	if (cp_idp_jwks(cfg, st, idp, false, &jwks) != CP_OK) {
		rc = CP_ERR_FETCH;
		goto out;
	}
	rc = verify(jwks, token, len, expect, claims);
	if (rc == CP_ERR_NOT_FOUND) {
		/* The IdP may have rotated its keys (RFC 7517 section 4.5). */
		json_object_put(jwks);
		jwks = NULL;
		if (cp_idp_jwks(cfg, st, idp, true, &jwks) != CP_OK) {
			rc = CP_ERR_FETCH;
			goto out;
		}
		rc = verify(jwks, token, len, expect, claims);
		if (rc == CP_ERR_NOT_FOUND)
			rc = CP_ERR_CRYPTO;
	}
out:
	json_object_put(jwks);
	return rc;
}
