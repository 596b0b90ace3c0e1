/*
 * The login legs at the IdP that /authorize + /callback + /token and the
 * session binding share: the authorization request URL (RFC 6749 4.1.1,
 * RFC 7636 4.3, OIDC Core 3.1.2.1), the check of the IdP's answer at our
 * redirect URI (RFC 6749 4.1.2, RFC 9207 2.4), the token request forms
 * and their one POST (RFC 6749 4.1.3, 6), and the ID token check (OIDC
 * Core 3.1.3.7).  What one IdP does differently from the RFCs lives in
 * struct cp_idp_quirks, chosen in idp_login.c: a new IdP's quirk touches
 * that table and the code that reads the flag, nothing else.
 */
#ifndef CP_IDP_LOGIN_H
#define CP_IDP_LOGIN_H

#include <stdbool.h>

#include <json-c/json.h>

#include "buf.h"
#include "conf.h"
#include "form.h"
#include "idp.h"
#include "status.h"
#include "store.h"

#define CP_IDP_MAX_FORM     8192    /* a token request we POST to the IdP */

/* What an IdP does differently; one row per IdP family in idp_login.c. */
struct cp_idp_quirks {
	const char *name;               /* for logs */
	const char *issuer_suffix;      /* host suffix of idp_issuer; NULL: any */
	/* The authorization request may carry RFC 8707 resource.  Okta
	 * refuses it (400 invalid_request for its org server), so no IdP
	 * gets it until one is known to need it. */
	bool authz_resource;
};

/* The quirks of cfg's IdP (the first row matching idp_issuer's host). */
const struct cp_idp_quirks *cp_idp_quirks(const struct cp_config *cfg);

/* The parameters of one authorization request; NULL ones are left out. */
struct cp_idp_authz {
	const char *redirect_uri;       /* ours at public_url */
	const char *scope;
	const char *state;
	const char *code_challenge;     /* S256 */
	const char *prompt;             /* OIDC Core 3.1.2.1 */
	const char *nonce;
	const char *login_hint;
	const char *resource;           /* sent only when quirks allow */
};

/* Appends to url the IdP's authorization_endpoint with the static IdP
 * client (idp_client_id), response_type=code and a's parameters.
 * cp_oauth_redirect's failures. */
enum cp_status cp_idp_authz_url(const struct cp_config *cfg,
    const struct cp_idp *idp, const struct cp_idp_authz *a, struct cp_buf *url);

/* The IdP's answer at one of our redirect URIs (RFC 6749 4.1.2), read
 * from f: iss as RFC 9207 2.4 asks (equal to the IdP's issuer when
 * present, required when the IdP advertises the parameter; a mismatch is
 * security-logged naming where), then exactly one of code and error.
 * NULL when acceptable, with *code or *error set (the other NULL);
 * otherwise a sentence for the user saying what was wrong. */
const char *cp_idp_answer(const struct cp_idp *idp, const struct cp_form *f,
    const char *where, const char **code, const char **error);

/* The authorization_code grant's form (RFC 6749 4.1.3, RFC 7636 4.5)
 * for the static IdP client, appended to form. */
enum cp_status cp_idp_code_form(const struct cp_config *cfg, const char *code,
    const char *redirect_uri, const char *verifier, struct cp_buf *form);

/* The refresh_token grant's form (RFC 6749 6); scope may be NULL. */
enum cp_status cp_idp_refresh_form(const struct cp_config *cfg,
    const char *refresh_token, const char *scope, struct cp_buf *form);

/* POSTs form to the token endpoint once.  CP_OK when the IdP answered:
 * *status is its HTTP status and *body its answer when that is a JSON
 * object (caller puts), else NULL.  Otherwise the transport failure
 * (logged), as cp_idp_token. */
enum cp_status cp_idp_exchange(const struct cp_config *cfg,
    const struct cp_idp *idp, const struct cp_buf *form, long *status,
    json_object **body);

/* Verifies an ID token (OIDC Core 3.1.3.7: iss = idp_issuer, aud =
 * idp_client_id, exp, nonce; jwt.h: signature and alg allowlist) and
 * returns its claims (caller puts).  cp_jwt_verify's failures. */
enum cp_status cp_idp_id_token(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, const char *id_token, const char *nonce,
    json_object **claims);

#endif
