/*
 * The IdP as an OIDC provider: discovery (cached in the store), JWKS
 * (cached, refetched on an unknown kid at most once a minute, and while
 * its fetch fails at most once per CP_IDP_JWKS_FAILED_RETRY) and token
 * endpoint calls.
 */
#ifndef CP_IDP_H
#define CP_IDP_H

#include <stdbool.h>

#include <json-c/json.h>

#include "conf.h"
#include "http.h"
#include "status.h"
#include "store.h"

#define CP_IDP_DISCOVERY_TTL    3600
#define CP_IDP_JWKS_TTL         3600
#define CP_IDP_JWKS_MIN_REFETCH 60
#define CP_IDP_JWKS_FAILED_RETRY 10     /* seconds after a failed JWKS fetch */
#define CP_IDP_MAX_JWKS         (64 * 1024)
#define CP_IDP_MAX_DISCOVERY    (64 * 1024)

struct cp_idp {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *jwks_uri;
	bool iss_parameter_supported;   /* authorization_response_iss_parameter_supported */
};

/* Fetches (or reads from the store) the discovery document of
 * cfg->idp_issuer; checks its issuer equals idp_issuer byte for byte and
 * that the three endpoints are https (http only to loopback, for tests).
 * st == NULL: no cache, always fetch.  CP_ERR_FETCH / CP_ERR_TIMEOUT /
 * CP_ERR_DENIED (transport), CP_ERR_UPSTREAM (not 200 JSON, wrong issuer,
 * endpoint missing), CP_ERR_SYNTAX / CP_ERR_DUPLICATE / CP_ERR_LIMIT (the
 * document).  The caller frees with cp_idp_free, also after a failure. */
enum cp_status cp_idp_discover(const struct cp_config *cfg, struct cp_store *st,
    struct cp_idp *idp);
void cp_idp_free(struct cp_idp *idp);

/* The JWKS as parsed JSON (caller puts).  refresh: the caller saw an
 * unknown kid; refetches unless the last fetch was under
 * CP_IDP_JWKS_MIN_REFETCH seconds ago.  A failed fetch (transport,
 * status, not a JWK Set) is recorded, and no fetch is tried within
 * CP_IDP_JWKS_FAILED_RETRY seconds of it, with or without refresh.  When
 * a fetch fails or is not tried, the cached copy (if any) is returned;
 * with nothing usable, CP_ERR_FETCH.  st == NULL: no cache, every call
 * fetches. */
enum cp_status cp_idp_jwks(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, bool refresh, json_object **jwks);

/* POSTs form to the token endpoint; resp holds the IdP's answer (any
 * HTTP status is CP_OK; the caller frees resp->body).  Errors as
 * cp_http_post_form. */
enum cp_status cp_idp_token(const struct cp_config *cfg, const struct cp_idp *idp,
    const char *form, size_t len, struct cp_http_response *resp);

#endif
