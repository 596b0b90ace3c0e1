/*
 * The bearer token on an MCP request (RFC 6750 section 2.1) and its
 * verification before anything is relayed (doc/protocol.md 2.4): the IdP's
 * JWT, checked against its JWKS with the jwt.h rules, issuer idp_issuer,
 * audience idp_audience (unless it is "any"), an access token's type,
 * and, when the token names its client, idp_client_id.
 */
#ifndef CP_BEARER_H
#define CP_BEARER_H

#include <json-c/json.h>

#include "buf.h"
#include "conf.h"
#include "jwt.h"
#include "status.h"
#include "store.h"

/* The token of an "Authorization: Bearer <b64token>" value (scheme
 * case-insensitive, RFC 6750 section 2.1 b64token syntax), as a view of
 * auth.  CP_ERR_NOT_FOUND: no header or another scheme; CP_ERR_SYNTAX:
 * a Bearer value that is not one b64token. */
enum cp_status cp_bearer_token(const char *auth, struct cp_str *token);

#define CP_BEARER_CACHE_SLOTS   8       /* verified tokens remembered per process */
#define CP_BEARER_CACHE_SECONDS 60      /* ... for at most this long, never past exp */

/* Verifies token against the IdP (discovery and JWKS cached in st) and
 * returns its claims (caller puts).  A token this process verified in the
 * last CP_BEARER_CACHE_SECONDS (for the same issuer, audience and client) is not
 * verified again: MCP clients send one token on every request.  CP_ERR_FETCH / CP_ERR_TIMEOUT /
 * CP_ERR_UPSTREAM / CP_ERR_STORE / CP_ERR_DENIED mean the IdP could not
 * be asked (answer 503, not 401); anything else means the token is bad. */
enum cp_status cp_bearer_verify(const struct cp_config *cfg, struct cp_store *st,
    struct cp_str token, json_object **claims);

/* What cp_bearer_verify asks of a token under cfg at time now: issuer,
 * audience (or any, when the operator wrote so), an access token's type,
 * and idp_client_id in cid or client_id when they are present. */
void cp_bearer_expect(const struct cp_config *cfg, time_t now,
    struct cp_jwt_expect *expect);

/* True when rc from cp_bearer_verify means "could not check", not "bad". */
bool cp_bearer_unavailable(enum cp_status rc);

#endif
