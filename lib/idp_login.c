#include "config.h"

#include <string.h>
#include <strings.h>

#include "idp_login.h"
#include "jsonparse.h"
#include "jwt.h"
#include "log.h"
#include "oauth.h"
#include "url.h"

/* IdP quirks, first match wins; the last row is every other IdP. */
static const struct cp_idp_quirks quirks[] = {
	{ "okta", ".okta.com", false },
	{ "okta", ".oktapreview.com", false },
	{ "okta", ".okta-emea.com", false },
	/* An unknown IdP gets what Okta accepts: the RFCs allow an IdP to
	 * refuse a resource it does not know (RFC 8707 2, invalid_target). */
	{ "generic", NULL, false },
};

/* True when host ends with suffix (case-insensitive, DNS names). */
static bool
host_has_suffix(const char *host, const char *suffix)
{
	size_t h = strlen(host), s = strlen(suffix);

	return h > s && strcasecmp(host + h - s, suffix) == 0;
}

const struct cp_idp_quirks *
cp_idp_quirks(const struct cp_config *cfg)
{
	const size_t n = sizeof(quirks) / sizeof(quirks[0]);
	struct cp_url u;
	size_t i = 0;

	memset(&u, 0, sizeof(u));
	if (cfg->idp_issuer != NULL && cp_url_parse(cfg->idp_issuer, &u) == CP_OK &&
	    u.host != NULL)
		while (i < n - 1 && !host_has_suffix(u.host, quirks[i].issuer_suffix))
			i++;
	else
		i = n - 1;
	cp_url_free(&u);
	return &quirks[i];
}

enum cp_status
cp_idp_authz_url(const struct cp_config *cfg, const struct cp_idp *idp,
    const struct cp_idp_authz *a, struct cp_buf *url)
{
	const struct cp_idp_quirks *q = cp_idp_quirks(cfg);
	struct cp_oauth_param p[] = {
		{ "client_id", cfg->idp_client_id },
		{ "response_type", "code" },
		{ "redirect_uri", a->redirect_uri },
		{ "scope", a->scope },
		{ "prompt", a->prompt },
		{ "state", a->state },
		{ "nonce", a->nonce },
		{ "code_challenge", a->code_challenge },
		{ "code_challenge_method", a->code_challenge ? "S256" : NULL },
		{ "login_hint", a->login_hint },
		{ "resource", q->authz_resource ? a->resource : NULL },
	};

	return cp_oauth_redirect(url, idp->authorization_endpoint, p,
	    sizeof(p) / sizeof(p[0]));
}

const char *
cp_idp_answer(const struct cp_idp *idp, const struct cp_form *f,
    const char *where, const char **code, const char **error)
{
	const char *iss = cp_form_get(f, "iss");

	*code = cp_form_get(f, "code");
	*error = cp_form_get(f, "error");
	if ((iss != NULL && strcmp(iss, idp->issuer) != 0) ||
	    (iss == NULL && idp->iss_parameter_supported)) {
		cp_log_security("%s: iss %s the IdP's issuer", where,
		    iss ? "differs from" : "missing although advertised by");
		return "The answer did not come from the expected identity provider "
		    "(iss mismatch).";
	}
	if (*code != NULL && *error != NULL)
		return "The identity provider's answer carries both a code and an error.";
	if (*code == NULL && *error == NULL)
		return "The identity provider's answer carries neither a code nor an error.";
	return NULL;
}

enum cp_status
cp_idp_code_form(const struct cp_config *cfg, const char *code,
    const char *redirect_uri, const char *verifier, struct cp_buf *form)
{
	enum cp_status rc;

	if ((rc = cp_form_add(form, "grant_type", "authorization_code")) != CP_OK ||
	    (rc = cp_form_add(form, "code", code)) != CP_OK ||
	    (rc = cp_form_add(form, "redirect_uri", redirect_uri)) != CP_OK ||
	    (rc = cp_form_add(form, "client_id", cfg->idp_client_id)) != CP_OK)
		return rc;
	return cp_form_add(form, "code_verifier", verifier);
}

enum cp_status
cp_idp_refresh_form(const struct cp_config *cfg, const char *refresh_token,
    const char *scope, struct cp_buf *form)
{
	enum cp_status rc;

	if ((rc = cp_form_add(form, "grant_type", "refresh_token")) != CP_OK ||
	    (rc = cp_form_add(form, "refresh_token", refresh_token)) != CP_OK ||
	    (rc = cp_form_add(form, "client_id", cfg->idp_client_id)) != CP_OK)
		return rc;
	return cp_form_add(form, "scope", scope);
}

enum cp_status
cp_idp_exchange(const struct cp_config *cfg, const struct cp_idp *idp,
    const struct cp_buf *form, long *status, json_object **body)
{
	struct cp_http_response resp;
	enum cp_status rc;

	*status = 0;
	*body = NULL;
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&resp.body, CP_HTTP_MAX_BODY);
	rc = cp_idp_token(cfg, idp, cp_buf_cstr(form), form->len, &resp);
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP token endpoint failed: %s", cp_status_str(rc));
		goto out;
	}
	*status = resp.status;
	if (cp_json_parse_object(cp_buf_cstr(&resp.body), resp.body.len, body) != CP_OK)
		*body = NULL;
out:
	/* The answer holds the IdP's tokens. */
	cp_buf_wipe_free(&resp.body);
	return rc;
}

enum cp_status
cp_idp_id_token(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, const char *id_token, const char *nonce,
    json_object **claims)
{
	struct cp_jwt_expect expect;

	memset(&expect, 0, sizeof(expect));
	expect.issuer = cfg->idp_issuer;
	expect.audience = cfg->idp_client_id;
	expect.nonce = nonce;
	return cp_jwt_verify(cfg, st, idp, id_token, strlen(id_token), &expect, claims);
}
