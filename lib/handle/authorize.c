/*
 * /authorize (RFC 6749 4.1.1; the login flow of README).
 *
 * GET /authorize checks the client and its redirect_uri (errors: a 400
 * page, never a redirect), then the request (errors: a redirect to the
 * client), binds the browser with a __Host- cookie, asks for consent and
 * sends the browser to the IdP with a sealed state.  POST /authorize is
 * the consent form's answer.  /callback (handle/callback.c) takes the
 * IdP's answer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "handle.h"
#include "cimd_page.h"
#include "client.h"
#include "audit.h"
#include "consent.h"
#include "form.h"
#include "idp_login.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "oauth.h"
#include "redirect.h"
#include "params.h"
#include "response.h"
#include "client_auth.h"

/*
 * The validated authorization request travels as a flat JSON object,
 * sealed in the consent form (CP_SEAL_CSRF) and in the IdP state
 * (CP_SEAL_AUTHZ_STATE): client_id, redirect_uri (exactly as requested,
 * for the /token comparison of RFC 6749 4.1.3), state (only if sent),
 * scope, resource, code_challenge, login_hint, browser (the browser id
 * as base64url), doc_hash and, for a private_key_jwt client, client_auth
 * (client_auth.h).  The IdP state drops login_hint and, when
 * the user approved under consent = remember, adds consent = "remember":
 * the approval is stored only once the login succeeds (/callback renews
 * the cookie, the code carries the choice, /token stores it after the
 * IdP accepted the code), so approving and walking away stores nothing.
 */

/* The IdP state's content: the request without login_hint, which is for
 * the IdP, not for the state, and with the consent mark when remember
 * (an approval to store once the login succeeds).  The caller puts *st. */
static enum cp_status
idp_state(json_object *areq, bool remember, json_object **st)
{
	*st = NULL;
	if (json_object_deep_copy(areq, st, NULL) != 0)
		return CP_ERR_NOMEM;
	json_object_object_del(*st, "login_hint");
	if (remember)
		return cp_login_set(*st, "consent", CP_CONSENT_REMEMBER_MARK);
	return CP_OK;
}

/* Sends the browser to the IdP (doc/protocol.md 8.10, 10.1): the static IdP
 * client, our callback, the client's own S256 challenge, and a sealed
 * state that carries the request (and remember: see idp_state).
 * resource goes only to an IdP whose quirks allow it (idp_login.c). */
static enum cp_status
to_idp(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    json_object *areq, bool remember, int status)
{
	const struct cp_config *cfg = lg->cfg;
	char callback[CP_MAX_URL + 16];
	struct cp_idp_authz a;
	struct cp_buf state, url;
	json_object *st = NULL;
	enum cp_status rc = CP_ERR_NOMEM;

	memset(&a, 0, sizeof(a));
	cp_buf_init(&state, CP_MAX_SEALED_STATE);
	cp_buf_init(&url, CP_MAX_REDIRECT);
	if ((rc = idp_state(areq, remember, &st)) != CP_OK ||
	    (rc = cp_login_seal(lg, CP_SEAL_AUTHZ_STATE, st,
	    time(NULL) + CP_AUTHZ_STATE_TTL, &state, NULL)) != CP_OK)
		goto out;
	snprintf(callback, sizeof(callback), "%s/callback", cfg->public_url);
	a.redirect_uri = callback;
	a.scope = cp_login_str(areq, "scope");
	a.state = cp_buf_cstr(&state);
	a.code_challenge = cp_login_str(areq, "code_challenge");
	a.login_hint = cp_login_str(areq, "login_hint");
	a.resource = cp_login_str(areq, "resource");
	rc = cp_idp_authz_url(cfg, idp, &a, &url);
	if (rc == CP_OK)
		rc = cp_redirect_send(req, status, cp_buf_cstr(&url));
out:
	json_object_put(st);
	cp_buf_free(&state);
	cp_buf_free(&url);
	return rc;
}

/* IdP discovery for a request whose redirect_uri is trusted: a failure
 * goes back to the client (RFC 6749 4.1.2.1 temporarily_unavailable),
 * except the store's, which is ours to show. */
static enum cp_status
discover(struct cp_req *req, struct cp_login *lg, struct cp_idp *idp,
    json_object *areq, int status, bool *sent)
{
	enum cp_status rc = cp_idp_discover(lg->cfg, lg->st, idp);

	*sent = false;
	if (rc == CP_OK || rc == CP_ERR_NOMEM)
		return rc;
	*sent = true;
	if (rc == CP_ERR_STORE)
		return cp_login_page_store(req);
	cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
	return cp_redirect_error(req, status, cp_login_str(areq, "redirect_uri"),
	    "temporarily_unavailable", "the identity provider is unreachable",
	    cp_login_str(areq, "state"));
}

/*
 * The request must survive its trips sealed: in the IdP state it comes
 * back through a /callback query (CP_MAX_SEALED_STATE), in the consent
 * form as one form value (CP_MAX_PARAM_VALUE).  JSON escaping can double
 * a value, so the envelopes themselves are measured, the state as large
 * as an approval can make it, before the user is asked anything.  When
 * one does not fit, the client hears which of its values to shorten
 * (invalid_request, with its state: at most CP_MAX_STATE, it still fits
 * a redirect).  *sent says whether this answered.
 */
static enum cp_status
check_fits(struct cp_req *req, json_object *areq, bool *sent)
{
	json_object *st = NULL;
	const char *state = cp_login_str(areq, "state");
	const char *why;
	size_t st_len, form_len;
	enum cp_status rc;

	*sent = false;
	if ((rc = idp_state(areq, req->cfg->consent == CP_CONSENT_REMEMBER,
	    &st)) != CP_OK)
		goto out;
	rc = CP_ERR_NOMEM;
	if ((st_len = cp_login_sealed_len(st)) == 0 ||
	    (form_len = cp_login_sealed_len(areq)) == 0)
		goto out;
	rc = CP_OK;
	if (st_len <= CP_MAX_SEALED_STATE && form_len <= CP_MAX_PARAM_VALUE)
		goto out;
	if (st_len <= CP_MAX_SEALED_STATE) {
		/* Only the form's copy is over, and it differs by login_hint. */
		why = "login_hint is too long to carry through the consent form with this "
		    "request; send a shorter login_hint";
	} else {
		why = "the sign-in request is too long to carry through the identity "
		    "provider (client_id, redirect_uri and scope leave no room once sealed)";
		if (state != NULL) {
			json_object_object_del(st, "state");
			rc = CP_ERR_NOMEM;
			if ((st_len = cp_login_sealed_len(st)) == 0)
				goto out;
			if (st_len <= CP_MAX_SEALED_STATE)
				why = "state is too long to carry through the identity provider "
				    "once encoded and sealed with this request; send a shorter state";
		}
	}
	cp_log(CP_LOG_INFO, "authorize: request too long to seal (client %.200s): %s",
	    cp_login_str(areq, "client_id"), why);
	*sent = true;
	rc = cp_redirect_error(req, 302, cp_login_str(areq, "redirect_uri"),
	    "invalid_request", why, state);
out:
	json_object_put(st);
	return rc;
}

/* The consent form's origin list for form-action: the IdP's origin. */
static void
idp_origin(const struct cp_idp *idp, char *out, size_t outlen)
{
	const char *u = idp->authorization_endpoint;
	const char *p = strstr(u, "://");
	const char *slash = p ? strchr(p + 3, '/') : NULL;
	size_t n = slash ? (size_t)(slash - u) : strlen(u);

	if (n >= outlen)
		n = 0;
	memcpy(out, u, n);
	out[n] = '\0';
}

/* The audit line of a decided request (rc: how answering it went). */
static void
audit_decided(const struct cp_login *lg, json_object *areq, enum cp_status rc,
    enum cp_audit_consent consent)
{
	if (rc != CP_OK)
		return;
	cp_audit(lg->cfg, lg->keys, &(struct cp_audit_event){
	    .kind = CP_AUDIT_AUTHORIZE, .client_id = cp_login_str(areq, "client_id"),
	    .redirect_uri = cp_login_str(areq, "redirect_uri"), .consent = consent });
}

/* Shows the consent page carrying the request sealed for the form. */
static enum cp_status
ask(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    json_object *areq, const struct cp_client *c)
{
	struct cp_buf token;
	struct cp_consent_view v;
	char origin[CP_MAX_URL + 1];
	enum cp_status rc;

	cp_buf_init(&token, CP_MAX_PARAM_VALUE);
	rc = cp_login_seal(lg, CP_SEAL_CSRF, areq, time(NULL) + CP_CSRF_TTL, &token, NULL);
	if (rc != CP_OK)
		goto out;
	idp_origin(idp, origin, sizeof(origin));
	memset(&v, 0, sizeof(v));
	v.client_id = cp_login_str(areq, "client_id");
	v.client_name = c->doc.client_name;
	v.operator_registered = c->doc.operator_registered;     /* client_static.h */
	v.client_uri = c->doc.client_uri;
	v.redirect_uri = cp_login_str(areq, "redirect_uri");
	v.scope = cp_login_str(areq, "scope");
	v.request = cp_buf_cstr(&token);
	v.form_origin = origin;
	rc = cp_consent_page(req, &v);
out:
	cp_buf_free(&token);
	return rc;
}

/* doc/protocol.md 9: skip the page only for a remembered approval of this
 * very document, and only on a navigation the user started (a cross-site
 * page cannot replay it: Sec-Fetch-Site is set by the browser). */
static bool
consent_skippable(struct cp_req *req, struct cp_login *lg, json_object *areq)
{
	const char *site = cp_req_header(req, "Sec-Fetch-Site");

	switch (lg->cfg->consent) {
	case CP_CONSENT_OFF:
		return true;
	case CP_CONSENT_ALWAYS:
		return false;
	case CP_CONSENT_REMEMBER:
		break;
	}
	if (site == NULL || (strcmp(site, "none") != 0 && strcmp(site, "same-origin") != 0))
		return false;
	return cp_consent_remembered(lg, cp_login_str(areq, "browser"),
	    cp_login_str(areq, "client_id"), cp_login_str(areq, "doc_hash"));
}

static bool
is_code(const struct cp_config *cfg, const char *v)
{
	(void)cfg;
	return strcmp(v, "code") == 0;
}

static bool
is_s256(const struct cp_config *cfg, const char *v)
{
	(void)cfg;
	return strcmp(v, "S256") == 0;
}

static bool
challenge_ok(const struct cp_config *cfg, const char *v)
{
	(void)cfg;
	return cp_pkce_challenge_ok(v, strlen(v));
}

static bool
scope_offered(const struct cp_config *cfg, const char *v)
{
	struct cp_buf scope;
	bool ok;

	cp_buf_init(&scope, CP_MAX_SCOPE + 1);
	ok = cp_oauth_scope(cfg, v, &scope) == CP_OK;
	cp_buf_free(&scope);
	return ok;
}

static bool
login_hint_ok(const struct cp_config *cfg, const char *v)
{
	(void)cfg;
	return cp_oauth_login_hint_ok(v);
}

/* /authorize's parameters once client_id, redirect_uri and state passed,
 * checked in this order; the first failure is a redirect to the client
 * with its error (RFC 6749 4.1.2.1). */
static const struct cp_param_spec authorize_params[] = {
	{ "response_type", true, 0, is_code,
	  "invalid_request", "response_type is required",
	  "unsupported_response_type", "only response_type=code is supported" },
	/* RFC 9700 2.1.1, OAuth 2.1: PKCE is mandatory. */
	{ "code_challenge", true, 0, challenge_ok,
	  "invalid_request", "code_challenge is required (PKCE S256)",
	  "invalid_request", "code_challenge must be 43 base64url characters (RFC 7636 4.2)" },
	/* RFC 7636 4.3: missing means plain, which we refuse. */
	{ "code_challenge_method", true, 0, is_s256,
	  "invalid_request", "code_challenge_method must be S256",
	  "invalid_request", "code_challenge_method must be S256" },
	/* RFC 8707 2. */
	{ "resource", false, 0, cp_oauth_resource_ok, NULL, NULL,
	  "invalid_target", "resource must be this server's MCP URL" },
	/* RFC 6749 3.3. */
	{ "scope", false, CP_MAX_SCOPE, scope_offered, NULL, NULL,
	  "invalid_scope", "a requested scope is not offered by this server" },
	{ "login_hint", false, 0, login_hint_ok, NULL, NULL,
	  "invalid_request", "login_hint must be 1-256 visible ASCII characters" },
};

/*
 * The request checks once redirect_uri is trusted (doc/protocol.md 8.6-8.9):
 * state's length, then authorize_params; each failure is a redirect to
 * the client.  On success *areq holds the
 * request to seal.  Returns CP_OK with *areq NULL when it answered.
 */
static enum cp_status
check_request(struct cp_req *req, struct cp_login *lg, const struct cp_form *f,
    const struct cp_client *c, const char *redirect_uri, json_object **areq)
{
	const struct cp_config *cfg = lg->cfg;
	const char *state = cp_form_get(f, "state");
	const char *challenge = cp_form_get(f, "code_challenge");
	const char *resource = cp_form_get(f, "resource");
	const char *login_hint = cp_form_get(f, "login_hint");
	struct cp_param_fault fault;
	char why[CP_MAX_WHY];
	struct cp_buf scope;
	json_object *o = NULL;
	enum cp_status rc;

	*areq = NULL;
	cp_buf_init(&scope, CP_MAX_SCOPE + 1);
	if (state != NULL && strlen(state) > CP_MAX_STATE) {
		char why_state[CP_MAX_WHY];

		/* Too long to echo: answered without it. */
		snprintf(why_state, sizeof(why_state), "state is too long (over %d characters)",
		    CP_MAX_STATE);
		rc = cp_redirect_error(req, 302, redirect_uri, "invalid_request",
		    why_state, NULL);
		goto out;
	}
	if (!cp_params_check(authorize_params, sizeof(authorize_params) /
	    sizeof(authorize_params[0]), cfg, f, &fault)) {
		rc = cp_redirect_error(req, 302, redirect_uri, cp_param_error(&fault),
		    cp_param_why(&fault, why, sizeof(why)), state);
		goto out;
	}
	if (cp_oauth_scope(cfg, cp_form_get(f, "scope"), &scope) != CP_OK) {
		rc = cp_redirect_error(req, 302, redirect_uri, "invalid_scope",
		    "a requested scope is not offered by this server", state);
		goto out;
	}
	if ((rc = cp_oauth_scope_refreshable(cfg, &scope)) != CP_OK)
		goto out;
	rc = CP_ERR_NOMEM;
	if ((o = json_object_new_object()) == NULL)
		goto out;
	if ((rc = cp_login_set(o, "client_id", c->doc.client_id)) != CP_OK ||
	    (rc = cp_login_set(o, "redirect_uri", redirect_uri)) != CP_OK ||
	    (rc = cp_login_set(o, "state", state)) != CP_OK ||
	    (rc = cp_login_set(o, "scope", cp_buf_cstr(&scope))) != CP_OK ||
	    (rc = cp_login_set(o, "resource", resource)) != CP_OK ||
	    (rc = cp_login_set(o, "code_challenge", challenge)) != CP_OK ||
	    (rc = cp_login_set(o, "login_hint", login_hint)) != CP_OK ||
	    (rc = cp_login_set(o, "doc_hash", c->doc_hash)) != CP_OK)
		goto out;
	/* The auth method /token will demand is bound here, so a document
	 * changed later cannot make the code's client public. */
	if (c->doc.auth != CP_CLIENT_AUTH_NONE &&
	    (rc = cp_login_set(o, "client_auth", cp_client_auth_str(c->doc.auth))) != CP_OK)
		goto out;
	*areq = o;
	o = NULL;
out:
	json_object_put(o);
	cp_buf_free(&scope);
	return rc;
}

static enum cp_status
authorize_get(struct cp_req *req)
{
	struct cp_form f;
	struct cp_login *lg;
	struct cp_client c;
	struct cp_idp idp;
	struct cp_buf browser;
	uint8_t bid[CP_BROWSER_ID_LEN];
	json_object *areq = NULL;
	const char *client_id, *redirect_uri;
	char why[CP_MAX_WHY];
	bool sent;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	memset(&idp, 0, sizeof(idp));
	cp_buf_init(&browser, 64);
	if ((rc = cp_login_begin(req, &f, false, &lg)) != CP_OK || lg == NULL)
		goto out;
	/* RFC 6749 4.1.2.1: until redirect_uri is trusted, tell the user,
	 * never redirect. */
	if ((client_id = cp_form_get(&f, "client_id")) == NULL) {
		rc = cp_resp_page(req, 400, "Unknown application",
		    "The sign-in request names no client_id. The application must identify "
		    "itself with the URL of its client metadata document.");
		goto out;
	}
	rc = cp_client_get(lg, client_id, &c, why, sizeof(why));
	if (rc == CP_ERR_STORE) {
		rc = cp_login_page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = cp_cimd_failure_page(req, rc, why);
		goto out;
	}
	if ((redirect_uri = cp_form_get(&f, "redirect_uri")) == NULL) {
		rc = cp_resp_page(req, 400, "Bad sign-in request",
		    "The sign-in request has no redirect_uri. The application must say where "
		    "the result goes; ask its developer to send redirect_uri.");
		goto out;
	}
	if (!cp_client_redirect_ok(&c, redirect_uri)) {
		snprintf(why, sizeof(why), "The redirect_uri of this sign-in request is not "
		    "listed in the application's client metadata document (%.200s), so the "
		    "result will not be sent there. Ask the application's developer to "
		    "register it.", client_id);
		rc = cp_resp_page(req, 400, "Bad sign-in request", why);
		goto out;
	}
	if ((rc = check_request(req, lg, &f, &c, redirect_uri, &areq)) != CP_OK ||
	    areq == NULL)
		goto out;
	if ((rc = cp_browser_ensure(req, lg, bid)) != CP_OK ||
	    (rc = cp_browser_text(bid, &browser)) != CP_OK ||
	    (rc = cp_login_set(areq, "browser", cp_buf_cstr(&browser))) != CP_OK)
		goto out;
	if ((rc = check_fits(req, areq, &sent)) != CP_OK || sent)
		goto out;
	if ((rc = discover(req, lg, &idp, areq, 302, &sent)) != CP_OK || sent)
		goto out;
	if (consent_skippable(req, lg, areq)) {
		rc = to_idp(req, lg, &idp, areq, false, 302);
		audit_decided(lg, areq, rc, lg->cfg->consent == CP_CONSENT_OFF ?
		    CP_AUDIT_CONSENT_SKIPPED : CP_AUDIT_CONSENT_REMEMBERED);
	} else {
		rc = ask(req, lg, &idp, areq, &c);
		audit_decided(lg, areq, rc, CP_AUDIT_CONSENT_SHOWN);
	}
out:
	json_object_put(areq);
	cp_client_free(&c);
	cp_idp_free(&idp);
	cp_buf_free(&browser);
	cp_form_free(&f);
	return rc;
}

/* POST /authorize: the consent form's answer.  Every redirect is 303
 * (RFC 9700 4.12). */
static enum cp_status
authorize_post(struct cp_req *req)
{
	struct cp_form f;
	struct cp_login *lg;
	struct cp_idp idp;
	json_object *areq = NULL;
	const char *token, *decision;
	bool sent;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	memset(&idp, 0, sizeof(idp));
	if ((rc = cp_login_begin(req, &f, true, &lg)) != CP_OK || lg == NULL)
		goto out;
	token = cp_form_get(&f, "request");
	decision = cp_form_get(&f, "decision");
	if (token == NULL || decision == NULL ||
	    (strcmp(decision, "approve") != 0 && strcmp(decision, "deny") != 0)) {
		rc = cp_resp_page(req, 400, "Bad consent form",
		    "The consent form was incomplete. Start the sign-in again from your application.");
		goto out;
	}
	rc = cp_login_open(lg, CP_SEAL_CSRF, token, time(NULL), &areq, NULL, NULL);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		cp_log(CP_LOG_INFO, "consent form refused: %s", cp_status_str(rc));
		rc = cp_resp_page(req, 400, "Consent form expired or invalid", rc == CP_ERR_EXPIRED ?
		    "The consent form expired. Start the sign-in again from your application." :
		    "The consent form is not valid. Start the sign-in again from your application.");
		goto out;
	}
	/* MCP-BP "Consent Cookie Security": the answer must come from the
	 * browser the form was shown to. */
	if (!cp_browser_is(req, lg, CP_BROWSER_COOKIE, cp_login_str(areq, "browser"))) {
		cp_log_security("consent form posted by a different browser (client %.200s)",
		    cp_login_str(areq, "client_id"));
		rc = cp_resp_page(req, 400, "Consent form from another browser",
		    "This consent form was shown to a different browser session. Start the "
		    "sign-in again from your application, in this browser.");
		goto out;
	}
	if (strcmp(decision, "deny") == 0) {
		rc = cp_redirect_error(req, 303, cp_login_str(areq, "redirect_uri"),
		    "access_denied", "the user denied the request", cp_login_str(areq, "state"));
		audit_decided(lg, areq, rc, CP_AUDIT_CONSENT_DENIED);
		goto out;
	}
	if ((rc = discover(req, lg, &idp, areq, 303, &sent)) != CP_OK || sent)
		goto out;
	rc = to_idp(req, lg, &idp, areq, lg->cfg->consent == CP_CONSENT_REMEMBER, 303);
	audit_decided(lg, areq, rc, CP_AUDIT_CONSENT_APPROVED);
out:
	json_object_put(areq);
	cp_idp_free(&idp);
	cp_form_free(&f);
	return rc;
}

enum cp_status
cp_authorize_handle(struct cp_req *req)
{
	if (strcmp(req->method, "POST") == 0)
		return authorize_post(req);
	return authorize_get(req);
}
