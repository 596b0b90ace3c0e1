/*
 * The IdP as an OIDC provider: discovery (cached in the store), JWKS
 * (cached, refetched on an unknown kid at most once a minute) and token
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
#define CP_IDP_MAX_JWKS         (64 * 1024)

struct cp_idp {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *jwks_uri;
	bool iss_parameter_supported;   /* authorization_response_iss_parameter_supported */
};

/* Fetches (or reads from the store) the discovery document of
 * cfg->idp_issuer; checks its issuer equals idp_issuer byte for byte.
 * The caller frees with cp_idp_free. */
enum cp_status cp_idp_discover(const struct cp_config *cfg, struct cp_store *st,
    struct cp_idp *idp);
void cp_idp_free(struct cp_idp *idp);

/* The JWKS as parsed JSON (caller puts).  refresh: the caller saw an
 * unknown kid; refetches unless the last fetch was under
 * CP_IDP_JWKS_MIN_REFETCH seconds ago. */
enum cp_status cp_idp_jwks(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, bool refresh, json_object **jwks);

/* POSTs form to the token endpoint; resp holds the IdP's answer. */
enum cp_status cp_idp_token(const struct cp_config *cfg, const struct cp_idp *idp,
    const char *form, size_t len, struct cp_http_response *resp);

#endif
