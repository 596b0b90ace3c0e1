#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authorize.h"
#include "cimd_page.h"
#include "consent.h"
#include "form.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "oauth.h"
#include "response.h"

#define CP_MAX_WHY          512     /* a sentence for an error page */

/*
 * The validated authorization request travels as a flat JSON object,
 * sealed in the consent form (CP_SEAL_CSRF) and in the IdP state
 * (CP_SEAL_AUTHZ_STATE): client_id, redirect_uri (exactly as requested,
 * for the /token comparison of RFC 6749 4.1.3), state (only if sent),
 * scope, resource, code_challenge, login_hint, browser (the browser id
 * as base64url) and doc_hash.  The IdP state drops login_hint and, when
 * the user approved under consent = remember, adds consent = "remember":
 * the approval is stored only once the login succeeds (/callback renews
 * the cookie, the code carries the choice, /token stores it after the
 * IdP accepted the code), so approving and walking away stores nothing.
 */

#define CP_CONSENT_REMEMBER_MARK "remember"

static enum cp_status
page(struct cp_req *req, int status, const char *title, const char *text)
{
	return cp_resp_page(req, status, title, text);
}

static enum cp_status
page_store(struct cp_req *req)
{
	return page(req, 503, "Sign-in is unavailable",
	    "This server cannot reach its state store right now. Try again in a minute.");
}

/* The page for a query or form we refuse to read (RFC 6749 3.1: no
 * parameter twice; form.h: no bad encoding or control bytes), or a form
 * that did not arrive by the body deadline (408). */
static enum cp_status
page_bad_params(struct cp_req *req, enum cp_status rc)
{
	if (rc == CP_ERR_TIMEOUT) {
		cp_log(CP_LOG_INFO, "consent form body not in within %d s", CP_BODY_SECONDS);
		return page(req, 408, "Sign-in form too slow", "The form did not arrive in "
		    "time. Start the sign-in again from your application.");
	}
	return page(req, 400, "Bad sign-in request",
	    rc == CP_ERR_DUPLICATE ? "A parameter of the sign-in request was sent more than "
	    "once, so the request was refused. Start the sign-in again from your application." :
	    rc == CP_ERR_LIMIT ? "The sign-in request is too large. Start the sign-in again "
	    "from your application." :
	    rc == CP_ERR_INVALID ? "The form must be sent as application/x-www-form-urlencoded." :
	    "The sign-in request is malformed (bad encoding or control characters). "
	    "Start the sign-in again from your application.");
}

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

/* Sends the browser to the IdP (PROTOCOL.md 8.10, 10.1): the static IdP
 * client, our callback, the client's own S256 challenge, and a sealed
 * state that carries the request (and remember: see idp_state).
 * resource is not forwarded (Okta rejects it; PROTOCOL.md Open Q 11). */
static enum cp_status
to_idp(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    json_object *areq, bool remember, int status)
{
	const struct cp_config *cfg = lg->cfg;
	char callback[CP_MAX_URL + 16];
	struct cp_buf state, url;
	json_object *st = NULL;
	const char *login_hint = cp_login_str(areq, "login_hint");
	enum cp_status rc = CP_ERR_NOMEM;

	cp_buf_init(&state, CP_MAX_SEALED_STATE);
	cp_buf_init(&url, CP_MAX_REDIRECT);
	if ((rc = idp_state(areq, remember, &st)) != CP_OK ||
	    (rc = cp_login_seal(lg, CP_SEAL_AUTHZ_STATE, st,
	    time(NULL) + CP_AUTHZ_STATE_TTL, &state, NULL)) != CP_OK)
		goto out;
	snprintf(callback, sizeof(callback), "%s/callback", cfg->public_url);
	{
		struct cp_oauth_param p[] = {
			{ "client_id", cfg->idp_client_id },
			{ "response_type", "code" },
			{ "redirect_uri", callback },
			{ "scope", cp_login_str(areq, "scope") },
			{ "state", cp_buf_cstr(&state) },
			{ "code_challenge", cp_login_str(areq, "code_challenge") },
			{ "code_challenge_method", "S256" },
			{ "login_hint", login_hint },
		};
		rc = cp_oauth_redirect(&url, idp->authorization_endpoint, p,
		    sizeof(p) / sizeof(p[0]));
	}
	if (rc == CP_OK)
		rc = cp_login_redirect(req, status, cp_buf_cstr(&url));
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
	enum cp_status rc = cp_login_idp(lg, idp);

	*sent = false;
	if (rc == CP_OK || rc == CP_ERR_NOMEM)
		return rc;
	*sent = true;
	if (rc == CP_ERR_STORE)
		return page_store(req);
	cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
	return cp_login_redirect_error(req, status, cp_login_str(areq, "redirect_uri"),
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
	rc = cp_login_redirect_error(req, 302, cp_login_str(areq, "redirect_uri"),
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

/* Shows the consent page carrying the request sealed for the form. */
static enum cp_status
ask(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    json_object *areq, const struct cp_login_client *c)
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

/* PROTOCOL.md 9: skip the page only for a remembered approval of this
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

/*
 * The request checks once redirect_uri is trusted (PROTOCOL.md 8.6-8.9);
 * each failure is a redirect to the client.  On success *areq holds the
 * request to seal.  Returns CP_OK with *areq NULL when it answered.
 */
static enum cp_status
check_request(struct cp_req *req, struct cp_login *lg, const struct cp_form *f,
    const struct cp_login_client *c, const char *redirect_uri, json_object **areq)
{
	const struct cp_config *cfg = lg->cfg;
	const char *state = cp_form_get(f, "state");
	const char *response_type = cp_form_get(f, "response_type");
	const char *challenge = cp_form_get(f, "code_challenge");
	const char *method = cp_form_get(f, "code_challenge_method");
	const char *resource = cp_form_get(f, "resource");
	const char *login_hint = cp_form_get(f, "login_hint");
	const char *error = NULL, *why = NULL;
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
		rc = cp_login_redirect_error(req, 302, redirect_uri, "invalid_request",
		    why_state, NULL);
		goto out;
	}
	if (response_type == NULL)
		error = "invalid_request", why = "response_type is required";
	else if (strcmp(response_type, "code") != 0)
		error = "unsupported_response_type", why = "only response_type=code is supported";
	else if (challenge == NULL)
		/* RFC 9700 2.1.1, OAuth 2.1: PKCE is mandatory. */
		error = "invalid_request", why = "code_challenge is required (PKCE S256)";
	else if (!cp_pkce_challenge_ok(challenge, strlen(challenge)))
		error = "invalid_request", why = "code_challenge must be 43 base64url characters (RFC 7636 4.2)";
	else if (method == NULL || strcmp(method, "S256") != 0)
		/* RFC 7636 4.3: missing means plain, which we refuse. */
		error = "invalid_request", why = "code_challenge_method must be S256";
	else if (resource != NULL && !cp_oauth_resource_ok(cfg, resource))
		error = "invalid_target", why = "resource must be this server's MCP URL";
	else if (cp_oauth_scope(cfg, cp_form_get(f, "scope"), &scope) != CP_OK)
		error = "invalid_scope", why = "a requested scope is not offered by this server";
	else if (login_hint != NULL && !cp_oauth_login_hint_ok(login_hint))
		error = "invalid_request", why = "login_hint must be 1-256 visible ASCII characters";
	if (error != NULL) {
		rc = cp_login_redirect_error(req, 302, redirect_uri, error, why, state);
		goto out;
	}
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
	struct cp_login_client c;
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
	if ((rc = cp_req_query_form(req, &f)) != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = page_bad_params(req, rc);
		goto out;
	}
	if ((rc = cp_login_get(req->cfg, &lg)) != CP_OK) {
		if (rc == CP_ERR_STORE)
			rc = page_store(req);
		goto out;
	}
	/* RFC 6749 4.1.2.1: until redirect_uri is trusted, tell the user,
	 * never redirect. */
	if ((client_id = cp_form_get(&f, "client_id")) == NULL) {
		rc = page(req, 400, "Unknown application",
		    "The sign-in request names no client_id. The application must identify "
		    "itself with the URL of its client metadata document.");
		goto out;
	}
	rc = cp_login_client_get(lg, client_id, &c, why, sizeof(why));
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = cp_cimd_failure_page(req, rc, why);
		goto out;
	}
	if ((redirect_uri = cp_form_get(&f, "redirect_uri")) == NULL) {
		rc = page(req, 400, "Bad sign-in request",
		    "The sign-in request has no redirect_uri. The application must say where "
		    "the result goes; ask its developer to send redirect_uri.");
		goto out;
	}
	if (!cp_login_redirect_ok(&c, redirect_uri)) {
		snprintf(why, sizeof(why), "The redirect_uri of this sign-in request is not "
		    "listed in the application's client metadata document (%.200s), so the "
		    "result will not be sent there. Ask the application's developer to "
		    "register it.", client_id);
		rc = page(req, 400, "Bad sign-in request", why);
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
	if (consent_skippable(req, lg, areq))
		rc = to_idp(req, lg, &idp, areq, false, 302);
	else
		rc = ask(req, lg, &idp, areq, &c);
out:
	json_object_put(areq);
	cp_login_client_free(&c);
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
	if ((rc = cp_req_body_form(req, &f)) != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = page_bad_params(req, rc);
		goto out;
	}
	if ((rc = cp_login_get(req->cfg, &lg)) != CP_OK) {
		if (rc == CP_ERR_STORE)
			rc = page_store(req);
		goto out;
	}
	token = cp_form_get(&f, "request");
	decision = cp_form_get(&f, "decision");
	if (token == NULL || decision == NULL ||
	    (strcmp(decision, "approve") != 0 && strcmp(decision, "deny") != 0)) {
		rc = page(req, 400, "Bad consent form",
		    "The consent form was incomplete. Start the sign-in again from your application.");
		goto out;
	}
	rc = cp_login_open(lg, CP_SEAL_CSRF, token, time(NULL), &areq, NULL, NULL);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		cp_log(CP_LOG_INFO, "consent form refused: %s", cp_status_str(rc));
		rc = page(req, 400, "Consent form expired or invalid", rc == CP_ERR_EXPIRED ?
		    "The consent form expired. Start the sign-in again from your application." :
		    "The consent form is not valid. Start the sign-in again from your application.");
		goto out;
	}
	/* MCP-BP "Consent Cookie Security": the answer must come from the
	 * browser the form was shown to. */
	if (!cp_browser_is(req, lg, CP_BROWSER_COOKIE, cp_login_str(areq, "browser"))) {
		cp_log_security("consent form posted by a different browser (client %.200s)",
		    cp_login_str(areq, "client_id"));
		rc = page(req, 400, "Consent form from another browser",
		    "This consent form was shown to a different browser session. Start the "
		    "sign-in again from your application, in this browser.");
		goto out;
	}
	if (strcmp(decision, "deny") == 0) {
		rc = cp_login_redirect_error(req, 303, cp_login_str(areq, "redirect_uri"),
		    "access_denied", "the user denied the request", cp_login_str(areq, "state"));
		goto out;
	}
	if ((rc = discover(req, lg, &idp, areq, 303, &sent)) != CP_OK || sent)
		goto out;
	rc = to_idp(req, lg, &idp, areq, lg->cfg->consent == CP_CONSENT_REMEMBER, 303);
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

/* An /callback failure before the client's redirect_uri is re-checked:
 * a page (PROTOCOL.md 10.2). */
static enum cp_status
page_callback(struct cp_req *req, const char *text)
{
	return page(req, 400, "Sign-in could not be completed", text);
}

/* Re-resolves the client (cache) and re-checks the redirect_uri the
 * state carries: the document may have changed since /authorize. */
static enum cp_status
recheck_client(struct cp_req *req, struct cp_login *lg, json_object *st, bool *sent)
{
	struct cp_login_client c;
	char why[CP_MAX_WHY];
	enum cp_status rc;

	*sent = true;
	memset(&c, 0, sizeof(c));
	rc = cp_login_client_get(lg, cp_login_str(st, "client_id"), &c, why, sizeof(why));
	if (rc == CP_ERR_STORE)
		rc = page_store(req);
	else if (rc == CP_ERR_NOMEM)
		*sent = false;
	else if (rc != CP_OK)
		rc = page_callback(req, why);
	else if (!cp_login_redirect_ok(&c, cp_login_str(st, "redirect_uri")))
		rc = page_callback(req, "The application no longer lists this redirect_uri "
		    "in its client metadata document.");
	else
		*sent = false;
	cp_login_client_free(&c);
	return rc;
}

/* The success answer: our code wraps the IdP's, bound to the client,
 * the exact redirect_uri, resource, scope and challenge (PROTOCOL.md
 * 10.6).  An approval to remember rides along as consent_browser and
 * consent_doc_hash: /callback cannot tell a real IdP code from a forged
 * one, so only /token, once the IdP accepted the code, stores it.  The
 * browser's cookie is renewed here, after the code is sealed, so the
 * record (the code's sealing time plus CP_CONSENT_TTL) never outlives
 * it. */
static enum cp_status
issue_code(struct cp_req *req, struct cp_login *lg, json_object *st,
    const char *idp_code)
{
	struct cp_buf code, url;
	json_object *o = json_object_new_object();
	const char *mark = cp_login_str(st, "consent");
	bool remember = lg->cfg->consent == CP_CONSENT_REMEMBER && mark != NULL &&
	    strcmp(mark, CP_CONSENT_REMEMBER_MARK) == 0;
	enum cp_status rc = CP_ERR_NOMEM;

	cp_buf_init(&code, CP_MAX_PARAM_VALUE);
	cp_buf_init(&url, CP_MAX_REDIRECT);
	if (o == NULL)
		goto out;
	if ((rc = cp_login_set(o, "idp_code", idp_code)) != CP_OK ||
	    (rc = cp_login_set(o, "client_id", cp_login_str(st, "client_id"))) != CP_OK ||
	    (rc = cp_login_set(o, "redirect_uri", cp_login_str(st, "redirect_uri"))) != CP_OK ||
	    (rc = cp_login_set(o, "resource", cp_login_str(st, "resource"))) != CP_OK ||
	    (rc = cp_login_set(o, "scope", cp_login_str(st, "scope"))) != CP_OK ||
	    (rc = cp_login_set(o, "code_challenge", cp_login_str(st, "code_challenge"))) != CP_OK)
		goto out;
	if (remember &&
	    ((rc = cp_login_set(o, "consent_browser", cp_login_str(st, "browser"))) != CP_OK ||
	    (rc = cp_login_set(o, "consent_doc_hash", cp_login_str(st, "doc_hash"))) != CP_OK))
		goto out;
	if ((rc = cp_login_seal(lg, CP_SEAL_CODE, o, time(NULL) + CP_CODE_TTL, &code,
	    NULL)) != CP_OK)
		goto out;
	if (remember && (rc = cp_browser_renew(req, lg)) != CP_OK)
		goto out;
	{
		struct cp_oauth_param p[] = {
			{ "code", cp_buf_cstr(&code) },
			{ "state", cp_login_str(st, "state") },
			{ "iss", lg->cfg->public_url },
		};
		rc = cp_oauth_redirect(&url, cp_login_str(st, "redirect_uri"), p,
		    sizeof(p) / sizeof(p[0]));
	}
	if (rc == CP_OK)
		rc = cp_login_redirect(req, 302, cp_buf_cstr(&url));
out:
	json_object_put(o);
	cp_buf_wipe_free(&code);
	cp_buf_wipe_free(&url);
	return rc;
}

enum cp_status
cp_callback_handle(struct cp_req *req)
{
	struct cp_form f;
	struct cp_login *lg;
	struct cp_idp idp;
	struct cp_buf desc;
	json_object *st = NULL;
	const char *state, *code, *error, *bad;
	uint8_t id[CP_SEAL_ID_LEN];
	time_t expires;
	bool sent;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	memset(&idp, 0, sizeof(idp));
	cp_buf_init(&desc, CP_MAX_ERROR_DESC + 1);
	if ((rc = cp_req_query_form(req, &f)) != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = page_bad_params(req, rc);
		goto out;
	}
	if ((rc = cp_login_get(req->cfg, &lg)) != CP_OK) {
		if (rc == CP_ERR_STORE)
			rc = page_store(req);
		goto out;
	}
	if ((state = cp_form_get(&f, "state")) == NULL) {
		rc = page_callback(req, "The identity provider's answer carries no state. "
		    "Start the sign-in again from your application.");
		goto out;
	}
	rc = cp_login_open(lg, CP_SEAL_AUTHZ_STATE, state, time(NULL), &st, id, &expires);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		if (rc != CP_ERR_EXPIRED)
			cp_log_security("callback with a state we did not seal (%s)",
			    cp_status_str(rc));
		rc = page_callback(req, rc == CP_ERR_EXPIRED ?
		    "The sign-in took too long and expired. Start it again from your application." :
		    "The sign-in state is not valid. Start the sign-in again from your application.");
		goto out;
	}
	/* MCP-BP "OAuth State Parameter Validation": bound to this browser. */
	if (!cp_browser_is(req, lg, CP_BROWSER_COOKIE, cp_login_str(st, "browser"))) {
		cp_log_security("callback state bound to another browser (client %.200s)",
		    cp_login_str(st, "client_id"));
		rc = page_callback(req, "This sign-in was started in a different browser "
		    "session. Start it again from your application, in this browser.");
		goto out;
	}
	rc = cp_store_once(lg->st, id, sizeof(id), expires);
	if (rc == CP_ERR_REPLAY) {
		cp_log_security("callback state replayed (client %.200s)",
		    cp_login_str(st, "client_id"));
		rc = page_callback(req, "This sign-in answer was already used. Start the "
		    "sign-in again from your application.");
		goto out;
	}
	if (rc != CP_OK) {
		rc = page_store(req);
		goto out;
	}
	rc = cp_login_idp(lg, &idp);
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		rc = page(req, 502, "Sign-in could not be completed",
		    "The identity provider is unreachable. Try again in a minute.");
		goto out;
	}
	/* RFC 9207 2.4: mix-up defence. */
	if ((bad = cp_login_idp_answer(&idp, &f, "callback", &code, &error)) != NULL) {
		rc = page_callback(req, bad);
		goto out;
	}
	if ((rc = recheck_client(req, lg, st, &sent)) != CP_OK || sent)
		goto out;
	if (error != NULL) {
		/* PROTOCOL.md 10.4: registered codes only, a cleaned text. */
		cp_log(CP_LOG_INFO, "IdP answered %s", cp_oauth_authz_error(error));
		if ((rc = cp_oauth_clean_description(&desc,
		    cp_form_get(&f, "error_description"))) != CP_OK)
			goto out;
		rc = cp_login_redirect_error(req, 302, cp_login_str(st, "redirect_uri"),
		    cp_oauth_authz_error(error), desc.len ? cp_buf_cstr(&desc) : NULL,
		    cp_login_str(st, "state"));
		goto out;
	}
	rc = issue_code(req, lg, st, code);
out:
	json_object_put(st);
	cp_idp_free(&idp);
	cp_buf_free(&desc);
	cp_form_free(&f);
	return rc;
}
