/*
 * JWS (compact) verification against the IdP's JWKS with GnuTLS.
 * Algorithms: RS256, ES256, PS256 only; never "none" or HMAC, and the
 * key's own "alg"/"kty" must agree with the header.  Claims checked:
 * iss (exact), exp and nbf with CP_JWT_LEEWAY, aud (unless the caller
 * says any_audience), and for access tokens their type and client.
 */
#ifndef CP_JWT_H
#define CP_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "conf.h"
#include "idp.h"
#include "status.h"
#include "store.h"

#define CP_JWT_MAX_LEN      16384
#define CP_JWT_LEEWAY       60
#define CP_JWT_MIN_RSA_BYTES    256     /* 2048 bits, RFC 7518 section 3.3 */
#define CP_JWT_MAX_RSA_BYTES    1024    /* 8192 bits */
#define CP_JWT_MAX_RSA_E_BYTES  8
#define CP_JWT_MIN_RSA_E        3       /* RFC 8017 section 3.1: 3 <= e < n */

struct cp_jwt_expect {
	const char *issuer;         /* required */
	const char *audience;       /* required unless any_audience */
	const char *nonce;          /* NULL: not checked (ID tokens set it) */
	time_t now;                 /* 0: the clock */
	bool any_audience;          /* aud not checked (idp_audience = any) */
	bool access_token;          /* refuse JWTs typed as another kind */
	const char *client_id;      /* access tokens: cid and client_id, when
	                               present, must be this; NULL: not checked */
};

/* Verifies token[0..len) and returns its claims (caller puts).
 * CP_ERR_SYNTAX (not a JWS, or header/claims not a JSON object),
 * CP_ERR_DUPLICATE (a member twice in header or claims), CP_ERR_LIMIT
 * (over CP_JWT_MAX_LEN), CP_ERR_INVALID (alg not allowed, crit header,
 * the kid's key of another type, claim mismatch, nbf/iat in the future),
 * CP_ERR_EXPIRED, CP_ERR_CRYPTO (bad signature or unknown key after one
 * JWKS refresh), CP_ERR_FETCH (JWKS unavailable).  On failure *claims is
 * NULL.  The token is never logged. */
enum cp_status cp_jwt_verify(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, const char *token, size_t len,
    const struct cp_jwt_expect *expect, json_object **claims);

/* The checks that need no key: the token's form and its protected header
 * (alg on the allowlist, no crit).  cp_jwt_verify's CP_ERR_SYNTAX,
 * CP_ERR_DUPLICATE, CP_ERR_LIMIT and CP_ERR_INVALID, or CP_OK. */
enum cp_status cp_jwt_check_form(const char *token, size_t len);

/* The same check against a JWKS given directly (tests, fuzzing). */
enum cp_status cp_jwt_verify_jwks(json_object *jwks, const char *token,
    size_t len, const struct cp_jwt_expect *expect, json_object **claims);

#endif
