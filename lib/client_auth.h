/*
 * Client authentication at /token for private_key_jwt clients (RFC 7523
 * sections 2.2 and 3, RFC 7521 section 4.2): the client signs a short
 * JWT with a key of its document's JWKS and sends it as
 * client_assertion.  Public clients (none) send nothing.
 */
#ifndef CP_CLIENT_AUTH_H
#define CP_CLIENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "cimd.h"
#include "status.h"
#include "store.h"

/* RFC 7523 section 2.2: the client_assertion_type value. */
#define CP_ASSERTION_TYPE       "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* Longest client_assertion accepted, in bytes: a JWS signed by an
 * 8192-bit RSA key with a long client_id in iss and sub still fits. */
#define CP_ASSERTION_MAX_LEN    4096
/* How far ahead an assertion's exp may lie (seconds, plus CP_JWT_LEEWAY
 * for clock skew): it is a one-request credential, and its jti is kept
 * in the store until exp, so a far exp would be a long-lived record. */
#define CP_ASSERTION_MAX_LIFETIME 300
/* Store key prefix (CP_NS_ONCE) of a spent assertion's jti. */
#define CP_ASSERTION_JTI_KEY    "assertion-jti:"

/* What an assertion must say (RFC 7523 section 3). */
struct cp_assertion_expect {
	const char *client_id;          /* iss and sub */
	const char *endpoint;           /* aud names this token endpoint ... */
	const char *issuer;             /* ... or this */
	time_t now;                     /* 0: the clock */
};

/* The auth method's name as a document and the metadata write it. */
const char *cp_client_auth_str(enum cp_client_auth auth);

/* Verifies assertion (NUL-terminated) with jwks: signed RS256, PS256 or
 * ES256 by one of its keys (jwt.h; never none or HMAC), iss and sub
 * exactly e->client_id, aud e->endpoint or e->issuer (a string or
 * an array holding one), exp present, not past (CP_JWT_LEEWAY) and at
 * most CP_ASSERTION_MAX_LIFETIME ahead, jti a non-empty string.  On
 * CP_OK *claims holds the claims (caller puts); otherwise CP_ERR_LIMIT,
 * CP_ERR_SYNTAX, CP_ERR_DUPLICATE, CP_ERR_INVALID, CP_ERR_EXPIRED or
 * CP_ERR_CRYPTO, with *why a static phrase for the error answer. */
enum cp_status cp_assertion_verify(json_object *jwks, const char *assertion,
    const struct cp_assertion_expect *e, json_object **claims, const char **why);

/* RFC 7523 section 3 item 7: a jti is used once.  Records claims' jti
 * for client_id in the store until the assertion can no longer pass
 * (exp + CP_JWT_LEEWAY), across processes and hosts.  CP_OK the first
 * time, CP_ERR_REPLAY after, CP_ERR_STORE when the store failed. */
enum cp_status cp_assertion_spend(struct cp_store *st, const char *client_id,
    json_object *claims);

#endif
