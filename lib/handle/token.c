/*
 * POST /token (RFC 6749 3.2): the authorization_code and refresh_token
 * grants of CIMD clients, public (none) or authenticated by a signed
 * client_assertion (private_key_jwt, client_auth.h), each unwrapping our
 * own sealed envelope and forwarding to the IdP with the static IdP
 * client.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit.h"
#include "bearer.h"
#include "cimd.h"
#include "client_auth.h"
#include "consent.h"
#include "form.h"
#include "idp_login.h"
#include "jsonparse.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "metrics.h"
#include "oauth.h"
#include "params.h"
#include "refresh.h"
#include "response.h"
#include "handle.h"
#include "revoke.h"

#define CP_GRANT_HEX_LEN    (2 * CP_SEAL_ID_LEN)
#define CP_REVOKED_KEY      "revoked-grant:"

/*
 * A grant is the chain of tokens one authorization code started: every
 * refresh envelope carries the code's once-only id (hex), rotation keeps
 * it.  RFC 6749 4.1.2 / OAuth 2.1 4.1.3: a code used twice should revoke
 * what it issued, so the replay records the grant as revoked (in the
 * once-only namespace) for as long as any of its refresh envelopes can
 * live.  The IdP's access tokens cannot be recalled from here; they
 * expire on their own.
 */
/* Builds the store key of a revoked grant into key (a fixed-size array). */
static size_t
revoked_key(const char *grant, char key[sizeof(CP_REVOKED_KEY) + CP_GRANT_HEX_LEN])
{
	size_t n = strnlen(grant, CP_GRANT_HEX_LEN);

	memcpy(key, CP_REVOKED_KEY, sizeof(CP_REVOKED_KEY) - 1);
	memcpy(key + sizeof(CP_REVOKED_KEY) - 1, grant, n);
	return sizeof(CP_REVOKED_KEY) - 1 + n;
}

/* Records grant as revoked.  CP_OK also when it already was. */
static enum cp_status
grant_revoke(struct cp_login *lg, const char *grant)
{
	char key[sizeof(CP_REVOKED_KEY) + CP_GRANT_HEX_LEN];
	enum cp_status rc;

	rc = cp_store_once(lg->st, key, revoked_key(grant, key), time(NULL) + CP_REFRESH_TTL);
	return rc == CP_ERR_REPLAY ? CP_OK : rc;
}

/* CP_OK when grant is live, CP_ERR_DENIED when revoked, CP_ERR_STORE. */
static enum cp_status
grant_check(struct cp_login *lg, const char *grant)
{
	char key[sizeof(CP_REVOKED_KEY) + CP_GRANT_HEX_LEN];
	struct cp_buf v;
	enum cp_status rc;

	cp_buf_init(&v, 1);
	rc = cp_store_get(lg->st, CP_NS_ONCE, key, revoked_key(grant, key), &v, NULL);
	cp_buf_free(&v);
	if (rc == CP_OK)
		return CP_ERR_DENIED;
	return rc == CP_ERR_NOT_FOUND ? CP_OK : rc;
}

/* The error of this thread's refused request, for its audit line: one
 * of the registered codes fail() was given (static strings). */
static _Thread_local const char *refused_error;

/* One error answer: RFC 6749 5.2. */
static enum cp_status
fail(struct cp_req *req, int status, const char *error, const char *why)
{
	refused_error = error;
	return cp_resp_oauth_error(req, status, error, why);
}

/* The user the IdP's fresh access token names (idp_user_claim), verified
 * as /mcp would (bearer.h), for the audit line; NULL when it cannot be
 * told, and the line then names no user.  Caller frees. */
static char *
token_user(struct cp_login *lg, const char *access_token)
{
	json_object *claims = NULL;
	const char *u;
	char *user = NULL;

	if (cp_bearer_verify(lg->cfg, lg->st, cp_str_c(access_token), &claims) == CP_OK &&
	    (u = cp_login_str(claims, lg->cfg->idp_user_claim)) != NULL)
		user = cp_strndup(u, strlen(u));
	json_object_put(claims);
	return user;
}

/* Counts and audits tokens issued: a code's exchange is also the end of
 * a login (the IdP accepted the code /callback carried). */
static void
audit_issued(struct cp_login *lg, const char *client_id, bool code, json_object *idp)
{
	char *user = token_user(lg, cp_login_str(idp, "access_token"));
	json_object *ttl;

	if (code) {
		cp_metrics_inc(CP_M_LOGIN_COMPLETED);
		cp_audit(lg->cfg, lg->keys, &(struct cp_audit_event){
		    .kind = CP_AUDIT_LOGIN, .user = user, .client_id = client_id });
	}
	cp_metrics_inc(code ? CP_M_TOKEN_ISSUED : CP_M_TOKEN_REFRESHED);
	cp_audit(lg->cfg, lg->keys, &(struct cp_audit_event){
	    .kind = code ? CP_AUDIT_TOKEN_ISSUED : CP_AUDIT_TOKEN_REFRESHED,
	    .user = user, .client_id = client_id });
	/* So the relay's audit lines can name the client application. */
	cp_audit_token_client_put(lg->cfg, lg->st, cp_login_str(idp, "access_token"),
	    client_id, json_object_object_get_ex(idp, "expires_in", &ttl) &&
	    json_object_is_type(ttl, json_type_int) ? (long)json_object_get_int64(ttl) : 0);
	free(user);
}

/* RFC 6749 2.3 and 5.2: no client has a secret; one that tries to
 * authenticate with one gets invalid_client, with a challenge for the
 * scheme it used. */
static enum cp_status
fail_client_auth(struct cp_req *req)
{
	cp_resp_header(req, "WWW-Authenticate", "Basic realm=\"cimd-proxy\"");
	return fail(req, 401, "invalid_client",
	    "clients of this server authenticate with none or private_key_jwt; "
	    "send no client secret or Authorization header");
}

/* A client_assertion refused (RFC 6749 5.2: invalid_client, 401).  No
 * WWW-Authenticate: the client used no HTTP authentication scheme that
 * a challenge could name. */
static enum cp_status
fail_assertion(struct cp_req *req, const char *client_id, const char *why)
{
	cp_log_security("client authentication failed (client %.200s): %s", client_id, why);
	return fail(req, 401, "invalid_client", why);
}

/* The checked key set of client_id's document as /token sees it now
 * (cached, else fetched: cimd.h).  false when the answer was sent. */
static bool
client_jwks(struct cp_req *req, struct cp_login *lg, const char *client_id,
    json_object **jwks, enum cp_status *rc)
{
	struct cp_cimd_doc doc;
	enum cp_cimd_source src;
	const char *why = NULL;
	enum cp_status r;

	r = cp_cimd_resolve(lg->cfg, lg->st, client_id, &doc, &src, &why);
	if (r == CP_OK && doc.auth != CP_CLIENT_AUTH_PRIVATE_KEY_JWT) {
		r = CP_ERR_INVALID;
		why = "the client's document no longer says private_key_jwt";
	}
	if (r == CP_OK)
		r = cp_cimd_jwks(lg->cfg, lg->st, &doc, jwks, &why);
	cp_cimd_doc_free(&doc);
	if (r == CP_OK)
		return true;
	if (r == CP_ERR_NOMEM)
		*rc = r;
	else if (r == CP_ERR_STORE || cp_cimd_failure_transient(r))
		*rc = fail(req, 503, "temporarily_unavailable",
		    "the client's keys cannot be had right now");
	else
		*rc = fail_assertion(req, client_id, why != NULL ? why : cp_status_str(r));
	return false;
}

/*
 * Client authentication (RFC 6749 3.2.1; RFC 7521 4.2; RFC 7523 3) by
 * the method env was bound to at /authorize (client_auth; absent: none).
 * A public client may not present an assertion, and a private_key_jwt
 * client may not leave it out: either way invalid_client, 401.  The
 * assertion's jti is spent only once everything else about it passed.
 * True when the client is authenticated; false when the answer (into
 * *rc) was sent.  Nothing the request carries is spent on a refusal.
 */
static bool
client_authenticated(struct cp_req *req, struct cp_login *lg, const struct cp_form *f,
    json_object *env, enum cp_status *rc)
{
	const char *client_id = cp_form_get(f, "client_id");
	const char *type = cp_form_get(f, "client_assertion_type");
	const char *assertion = cp_form_get(f, "client_assertion");
	const char *method = cp_login_str(env, "client_auth");
	char endpoint[CP_MAX_URL + 16];
	struct cp_assertion_expect e = { .client_id = client_id, .issuer = lg->cfg->public_url };
	json_object *jwks = NULL, *claims = NULL;
	const char *why = NULL;
	enum cp_status r;
	bool ok = false;

	if (method == NULL) {
		if (type == NULL && assertion == NULL)
			return true;
		*rc = fail_assertion(req, client_id, "this client is public "
		    "(token_endpoint_auth_method none); send no client_assertion");
		return false;
	}
	if (strcmp(method, cp_client_auth_str(CP_CLIENT_AUTH_PRIVATE_KEY_JWT)) != 0) {
		*rc = fail(req, 500, "server_error", "the grant names an unknown auth method");
		return false;
	}
	if (type == NULL || assertion == NULL || strcmp(type, CP_ASSERTION_TYPE) != 0) {
		*rc = fail_assertion(req, client_id, "this client authenticates with "
		    "private_key_jwt: send client_assertion_type " CP_ASSERTION_TYPE
		    " and a client_assertion (RFC 7523 section 2.2)");
		return false;
	}
	snprintf(endpoint, sizeof(endpoint), "%s/token", lg->cfg->public_url);
	e.endpoint = endpoint;
	if (!client_jwks(req, lg, client_id, &jwks, rc))
		goto out;
	if ((r = cp_assertion_verify(jwks, assertion, &e, &claims, &why)) != CP_OK) {
		*rc = fail_assertion(req, client_id, why);
		goto out;
	}
	r = cp_assertion_spend(lg->st, client_id, claims);
	if (r == CP_ERR_REPLAY) {
		*rc = fail_assertion(req, client_id, "the client_assertion's jti was used before");
		goto out;
	}
	if (r != CP_OK) {
		*rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		goto out;
	}
	ok = true;
out:
	json_object_put(claims);
	json_object_put(jwks);
	return ok;
}

/*
 * Called once the IdP accepted the code env wraps: the login succeeded.
 * If the user approved the client under consent = remember, that
 * approval is stored now, never earlier: a /callback can be forged with
 * any code, an exchange cannot.  It lasts CP_CONSENT_TTL from the code's
 * sealing, when /callback renewed the browser's cookie (env's expires
 * minus CP_CODE_TTL), so it never outlives the cookie.  A store failure
 * only means the page shows again; the client has its tokens.
 */
static void
remember_consent(struct cp_login *lg, json_object *env, time_t expires)
{
	const char *browser = cp_login_str(env, "consent_browser");
	const char *doc_hash = cp_login_str(env, "consent_doc_hash");
	const char *client_id = cp_login_str(env, "client_id");

	if (lg->cfg->consent != CP_CONSENT_REMEMBER || browser == NULL ||
	    doc_hash == NULL || client_id == NULL)
		return;
	if (cp_consent_record(lg, browser, client_id, doc_hash,
	    expires - CP_CODE_TTL + CP_CONSENT_TTL) != CP_OK)
		cp_log(CP_LOG_WARN, "could not remember consent (client %.200s); "
		    "the page will show again", client_id);
}

/*
 * What a grant's refresh envelopes carry besides the IdP's refresh
 * token: the grant's id (NULL in envelopes sealed before grants were
 * recorded) and the scope the resource owner granted (RFC 6749 6: a
 * refresh may ask for no more, and a rotated refresh token keeps exactly
 * that scope).  When from_answer is set, the IdP's answer names the
 * grant if it carries a scope (RFC 6749 5.1), and scope is the fallback.
 * code is the envelope of the code being exchanged (NULL on refresh),
 * sealed to expire at code_expires.
 */
struct grant_info {
	const char *id;
	const char *scope;
	const char *client_auth;    /* bound at /authorize; NULL: none */
	bool from_answer;
	json_object *code;
	time_t code_expires;
};

/*
 * Builds our success answer from the IdP's (RFC 6749 5.1): the access
 * token and its metadata pass through, the refresh token is replaced by
 * an envelope bound to client_id (RFC 6749 6: a refresh token works only
 * for the client it was issued to) and carrying g, the ID token is
 * dropped (its aud is the IdP client, not this client; doc/protocol.md
 * 17.16).  A code's exchange stores its login's consent first.
 */
static enum cp_status
answer_tokens(struct cp_req *req, struct cp_login *lg, const char *client_id,
    const struct grant_info *g, json_object *idp)
{
	static const char *const pass[] = { "access_token", "token_type",
	    "expires_in", "scope" };
	json_object *out = NULL, *v;
	struct cp_buf env;
	const char *rt, *scope = g->scope;
	size_t i;
	enum cp_status rc = CP_ERR_NOMEM;

	cp_buf_init(&env, CP_MAX_JSON_BODY);
	if (cp_login_str(idp, "access_token") == NULL ||
	    cp_login_str(idp, "token_type") == NULL) {
		cp_log(CP_LOG_ERROR, "IdP token response lacks access_token or token_type");
		rc = fail(req, 502, "server_error", "the identity provider's answer was unusable");
		goto out;
	}
	if ((out = json_object_new_object()) == NULL)
		goto out;
	for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		if (!json_object_object_get_ex(idp, pass[i], &v))
			continue;
		if (json_object_object_add(out, pass[i], json_object_get(v)) != 0) {
			json_object_put(v);
			goto out;
		}
	}
	if ((rt = cp_login_str(idp, "refresh_token")) != NULL) {
		json_object *plain = json_object_new_object();

		if (plain == NULL)
			goto out;
		if (g->from_answer && cp_login_str(idp, "scope") != NULL)
			scope = cp_login_str(idp, "scope");
		rc = cp_login_set(plain, "idp_rt", rt);
		if (rc == CP_OK)
			rc = cp_login_set(plain, "client_id", client_id);
		if (rc == CP_OK)
			rc = cp_login_set(plain, "grant", g->id);
		if (rc == CP_OK)
			rc = cp_login_set(plain, "scope", scope);
		if (rc == CP_OK)
			rc = cp_login_set(plain, "client_auth", g->client_auth);
		/* revoke.h: whose grant, for revoke --user. */
		if (rc == CP_OK)
			rc = cp_revoke_user_set(lg->cfg, lg->st, idp, plain);
		if (rc == CP_OK)
			rc = cp_login_seal(lg, CP_SEAL_REFRESH, plain,
			    time(NULL) + CP_REFRESH_TTL, &env, NULL);
		json_object_put(plain);
		if (rc != CP_OK)
			goto out;
		if ((rc = cp_login_set(out, "refresh_token", cp_buf_cstr(&env))) != CP_OK)
			goto out;
	}
	if (g->code != NULL)
		remember_consent(lg, g->code, g->code_expires);
	rc = cp_resp_json(req, 200, out);
	if (rc == CP_OK)
		audit_issued(lg, client_id, g->code != NULL, idp);
out:
	json_object_put(out);
	cp_buf_wipe_free(&env);
	return rc;
}

/*
 * POSTs form to the IdP token endpoint once (a refresh grant must never
 * be retried: Okta rotates refresh tokens and treats reuse as theft) and
 * answers the client from the result.
 */
static enum cp_status
forward(struct cp_req *req, struct cp_login *lg, const char *client_id,
    const struct grant_info *g, const struct cp_buf *form)
{
	struct cp_idp idp;
	struct cp_buf desc;
	json_object *body = NULL;
	long status;
	enum cp_status rc;

	memset(&idp, 0, sizeof(idp));
	cp_buf_init(&desc, CP_MAX_ERROR_DESC + 1);
	rc = cp_idp_discover(lg->cfg, lg->st, &idp);
	if (rc == CP_ERR_STORE) {
		rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		goto out;
	}
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		rc = fail(req, 502, "server_error", "the identity provider is unreachable");
		goto out;
	}
	if (cp_idp_exchange(lg->cfg, &idp, form, &status, &body) != CP_OK) {
		rc = fail(req, 502, "server_error", "the identity provider is unreachable");
		goto out;
	}
	if (status == 200 && body != NULL) {
		rc = answer_tokens(req, lg, client_id, g, body);
		goto out;
	}
	if (status >= 400 && status < 500 && body != NULL &&
	    cp_login_str(body, "error") != NULL) {
		/* The IdP's verdict on the grant is the client's to see, in
		 * the registered vocabulary only (RFC 6749 5.2). */
		cp_log(CP_LOG_INFO, "IdP refused the grant: %s (HTTP %ld)",
		    cp_oauth_token_error(cp_login_str(body, "error")), status);
		if ((rc = cp_oauth_clean_description(&desc,
		    cp_login_str(body, "error_description"))) != CP_OK)
			goto out;
		rc = fail(req, 400, g->code == NULL ?
		    cp_refresh_idp_error(cp_login_str(body, "error")) :
		    cp_oauth_token_error(cp_login_str(body, "error")),
		    desc.len ? cp_buf_cstr(&desc) : NULL);
		goto out;
	}
	cp_log(CP_LOG_ERROR, "IdP token endpoint answered HTTP %ld%s", status,
	    body ? "" : " without a JSON object");
	rc = fail(req, 502, "server_error", "the identity provider answered unexpectedly");
out:
	json_object_put(body);
	cp_buf_free(&desc);
	cp_idp_free(&idp);
	return rc;
}

static bool
grant_type_ok(const struct cp_config *cfg, const char *v)
{
	(void)cfg;
	return strcmp(v, "authorization_code") == 0 || strcmp(v, "refresh_token") == 0;
}

#define REQUIRED(name) { name, true, 0, NULL, "invalid_request", NULL, NULL, NULL }
/* RFC 7523 2.2: optional here; client_authenticated decides who needs them. */
#define ASSERTION_PARAMS \
	{ "client_assertion_type", false, sizeof(CP_ASSERTION_TYPE) - 1, NULL, NULL, NULL, \
	  "invalid_client", "client_assertion_type must be " CP_ASSERTION_TYPE }, \
	{ "client_assertion", false, CP_ASSERTION_MAX_LEN, NULL, NULL, NULL, \
	  "invalid_client", "client_assertion is too long" }

/* /token's parameters (RFC 6749 3.2, 4.1.3, 6; RFC 7636 4.5), checked
 * in order: first the grant type, then those of the grant. */
static const struct cp_param_spec token_params[] = {
	{ "grant_type", true, 0, grant_type_ok, "invalid_request", NULL,
	  "unsupported_grant_type", "only authorization_code and refresh_token are supported" },
};
static const struct cp_param_spec code_params[] = {
	REQUIRED("code"), REQUIRED("redirect_uri"), REQUIRED("client_id"),
	REQUIRED("code_verifier"), ASSERTION_PARAMS,
};
static const struct cp_param_spec refresh_params[] = {
	REQUIRED("refresh_token"), REQUIRED("client_id"), ASSERTION_PARAMS,
};

/* Checks f against params[0..n): true when it passed, else the answer
 * (invalid_request naming a missing parameter; invalid_client, 401, for
 * a client authentication parameter: RFC 6749 5.2) was sent into *rc. */
static bool
params_ok(struct cp_req *req, const struct cp_param_spec *params, size_t n,
    const struct cp_form *f, enum cp_status *rc)
{
	struct cp_param_fault fault;
	char why[96];

	if (cp_params_check(params, n, req->cfg, f, &fault))
		return true;
	*rc = fail(req, strcmp(cp_param_error(&fault), "invalid_client") == 0 ? 401 : 400,
	    cp_param_error(&fault), cp_param_why(&fault, why, sizeof(why)));
	return false;
}

/* Opening an envelope failed: the grant is bad, or we are. */
static enum cp_status
fail_open(struct cp_req *req, enum cp_status rc, const char *what)
{
	if (rc == CP_ERR_NOMEM)
		return rc;
	cp_log(CP_LOG_INFO, "%s refused: %s", what, cp_status_str(rc));
	return fail(req, 400, "invalid_grant", rc == CP_ERR_EXPIRED ?
	    "the grant has expired" : "the grant is invalid");
}

/* RFC 6749 4.1.3, RFC 7636 4.5-4.6, RFC 8707 2. */
static enum cp_status
grant_code(struct cp_req *req, struct cp_login *lg, const struct cp_form *f)
{
	const char *code = cp_form_get(f, "code");
	const char *redirect_uri = cp_form_get(f, "redirect_uri");
	const char *client_id = cp_form_get(f, "client_id");
	const char *verifier = cp_form_get(f, "code_verifier");
	const char *resource = cp_form_get(f, "resource");
	const char *bound_resource, *challenge;
	struct grant_info g;
	uint8_t id[CP_SEAL_ID_LEN];
	char grant[CP_GRANT_HEX_LEN + 1];
	time_t expires;
	json_object *env = NULL;
	struct cp_buf form;
	char callback[CP_MAX_URL + 16];
	enum cp_status rc;

	cp_buf_init(&form, CP_IDP_MAX_FORM);
	if (!params_ok(req, code_params, sizeof(code_params) / sizeof(code_params[0]),
	    f, &rc))
		goto out;
	rc = cp_login_open(lg, CP_SEAL_CODE, code, time(NULL), &env, id, &expires);
	if (rc != CP_OK) {
		rc = fail_open(req, rc, "authorization code");
		goto out;
	}
	if (!cp_str_eq_c(cp_str_c(cp_login_str(env, "client_id")), client_id) ||
	    !cp_str_eq_c(cp_str_c(cp_login_str(env, "redirect_uri")), redirect_uri)) {
		cp_log_security("authorization code presented by another client or redirect_uri (client %.200s)",
		    client_id);
		rc = fail(req, 400, "invalid_grant",
		    "the code was not issued to this client_id and redirect_uri");
		goto out;
	}
	if (!client_authenticated(req, lg, f, env, &rc))
		goto out;
	bound_resource = cp_login_str(env, "resource");
	if (resource != NULL && (bound_resource != NULL ?
	    strcmp(resource, bound_resource) != 0 :
	    !cp_oauth_resource_ok(lg->cfg, resource))) {
		rc = fail(req, 400, "invalid_target",
		    "resource differs from the one authorized");
		goto out;
	}
	if (!cp_pkce_verifier_ok(verifier, strlen(verifier))) {
		rc = fail(req, 400, "invalid_request",
		    "code_verifier must be 43-128 unreserved characters (RFC 7636 4.1)");
		goto out;
	}
	challenge = cp_login_str(env, "code_challenge");
	if (challenge == NULL || !cp_pkce_verify(verifier, strlen(verifier),
	    challenge, strlen(challenge))) {
		rc = fail(req, 400, "invalid_grant", "code_verifier does not match the code_challenge");
		goto out;
	}
	/* RFC 6749 4.1.2: a code is used once; a second use revokes the
	 * grant the first one started.  Spent only now, after everything it
	 * is bound to matched: whoever merely saw the code (a log, a
	 * referrer, a shared screen) cannot burn the real client's login
	 * with a wrong verifier, nor revoke what it issued. */
	cp_hex(id, sizeof(id), grant);
	rc = cp_store_once(lg->st, id, sizeof(id), expires);
	if (rc == CP_ERR_REPLAY) {
		cp_log_security("authorization code presented twice (client %.200s): "
		    "its refresh tokens are revoked", client_id);
		if (grant_revoke(lg, grant) != CP_OK) {
			rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
			goto out;
		}
		rc = fail(req, 400, "invalid_grant", "the authorization code was already used");
		goto out;
	}
	if (rc != CP_OK) {
		rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		goto out;
	}
	snprintf(callback, sizeof(callback), "%s/callback", lg->cfg->public_url);
	if ((rc = cp_idp_code_form(lg->cfg, cp_login_str(env, "idp_code"), callback,
	    verifier, &form)) != CP_OK)
		goto out;
	g.id = grant;
	g.scope = cp_login_str(env, "scope");
	g.client_auth = cp_login_str(env, "client_auth");
	g.from_answer = true;
	g.code = env;
	g.code_expires = expires;
	rc = forward(req, lg, client_id, &g, &form);
out:
	json_object_put(env);
	cp_buf_wipe_free(&form);
	return rc;
}

/* RFC 6749 6; OAuth 2.1 4.3. */
static enum cp_status
grant_refresh(struct cp_req *req, struct cp_login *lg, const struct cp_form *f)
{
	const char *rt = cp_form_get(f, "refresh_token");
	const char *client_id = cp_form_get(f, "client_id");
	const char *scope = cp_form_get(f, "scope");
	const char *grant;
	struct grant_info g;
	json_object *env = NULL;
	struct cp_buf form, scopes;
	struct cp_refresh rf = { .claimed = 0 };
	uint8_t id[CP_SEAL_ID_LEN];
	time_t expires;
	enum cp_status rc;

	cp_buf_init(&form, CP_IDP_MAX_FORM);
	cp_buf_init(&scopes, CP_MAX_SCOPE + 1);
	if (!params_ok(req, refresh_params, sizeof(refresh_params) /
	    sizeof(refresh_params[0]), f, &rc))
		goto out;
	rc = cp_login_open(lg, CP_SEAL_REFRESH, rt, time(NULL), &env, id, &expires);
	if (rc != CP_OK) {
		rc = fail_open(req, rc, "refresh token");
		goto out;
	}
	if (!cp_str_eq_c(cp_str_c(cp_login_str(env, "client_id")), client_id) ||
	    cp_login_str(env, "idp_rt") == NULL) {
		cp_log_security("refresh token presented by another client (%.200s)", client_id);
		rc = fail(req, 400, "invalid_grant", "the refresh token was not issued to this client_id");
		goto out;
	}
	if (!client_authenticated(req, lg, f, env, &rc))
		goto out;
	/* Envelopes sealed before grants were recorded carry none. */
	if ((grant = cp_login_str(env, "grant")) != NULL &&
	    (rc = grant_check(lg, grant)) != CP_OK) {
		if (rc == CP_ERR_DENIED) {
			cp_log_security("refresh token of a revoked grant presented (client %.200s)",
			    client_id);
			rc = fail(req, 400, "invalid_grant",
			    "the refresh token was revoked: its authorization code was used twice");
		} else {
			rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		}
		goto out;
	}
	/* --- operator revocation (revoke.h; cimd-proxy-admin revoke) --- */
	if ((rc = cp_revoke_check(lg->st, env, expires)) != CP_OK) {
		if (rc == CP_ERR_DENIED) {
			cp_log_security("refresh token revoked by the operator presented (client %.200s)",
			    client_id);
			rc = fail(req, 400, "invalid_grant", "the refresh token was revoked");
		} else {
			rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		}
		goto out;
	}
	/* --- end of operator revocation --- */
	if (scope != NULL && cp_oauth_scope(lg->cfg, scope, &scopes) != CP_OK) {
		rc = fail(req, 400, "invalid_scope", "a requested scope is not offered by this server");
		goto out;
	}
	/* RFC 6749 6: no scope the resource owner did not grant.  An
	 * envelope sealed before grants carried their scope is checked
	 * against idp_scopes only, as it was; the IdP still holds its own
	 * grant. */
	g.id = grant;
	g.scope = cp_login_str(env, "scope");
	g.client_auth = cp_login_str(env, "client_auth");
	if (scope != NULL && g.scope != NULL && !cp_oauth_scope_within(scope, g.scope)) {
		cp_log(CP_LOG_INFO, "refresh asked for a scope outside its grant (client %.200s)",
		    client_id);
		rc = fail(req, 400, "invalid_scope",
		    "a requested scope was not granted originally (RFC 6749 6)");
		goto out;
	}
	/* Such an envelope's successor learns the grant from the IdP's
	 * answer to a refresh that narrowed nothing. */
	g.from_answer = g.scope == NULL && scope == NULL;
	g.code = NULL;
	g.code_expires = 0;
	if ((rc = cp_idp_refresh_form(lg->cfg, cp_login_str(env, "idp_rt"), scope,
	    &form)) != CP_OK)
		goto out;
	/* refresh.h: one IdP call per envelope; repeats within
	 * refresh_grace_seconds get its answer, later ones revoke. */
	rc = cp_refresh_begin(req, lg, id, expires, client_id, &rf);
	if (rc == CP_OK && rf.reused && grant != NULL && grant_revoke(lg, grant) != CP_OK)
		cp_log(CP_LOG_ERROR, "could not revoke the grant of a reused refresh token");
	if (rc != CP_OK || rf.answered)
		goto out;
	rc = forward(req, lg, client_id, &g, &form);
out:
	cp_refresh_finish(req, lg, &rf);
	json_object_put(env);
	cp_buf_wipe_free(&form);
	cp_buf_free(&scopes);
	return rc;
}

enum cp_status
cp_token_handle(struct cp_req *req)
{
	const char *auth = cp_req_header(req, "Authorization");
	const char *grant;
	struct cp_form f;
	struct cp_login *lg;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	refused_error = NULL;
	if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
		rc = fail_client_auth(req);
		goto out;
	}
	rc = cp_req_body_form(req, &f);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc == CP_ERR_TIMEOUT) {
		cp_log(CP_LOG_INFO, "token request body not in within %d s", CP_BODY_SECONDS);
		rc = fail(req, 408, "invalid_request", "the request body did not arrive in time");
		goto out;
	}
	if (rc != CP_OK) {
		/* RFC 6749 3.2: POST with a form body, no parameter twice. */
		rc = fail(req, 400, "invalid_request",
		    rc == CP_ERR_INVALID ? "the body must be application/x-www-form-urlencoded" :
		    rc == CP_ERR_DUPLICATE ? "a parameter was sent more than once" :
		    rc == CP_ERR_LIMIT ? "the request body is too large" :
		    "the request body is malformed");
		goto out;
	}
	if (cp_form_has(&f, "client_secret")) {
		rc = fail_client_auth(req);
		goto out;
	}
	if (!params_ok(req, token_params, sizeof(token_params) / sizeof(token_params[0]),
	    &f, &rc))
		goto out;
	grant = cp_form_get(&f, "grant_type");
	rc = cp_ctx_login(req, &lg);
	if (rc == CP_ERR_STORE) {
		rc = fail(req, 503, "temporarily_unavailable", "the state store is unavailable");
		goto out;
	}
	if (rc != CP_OK)
		goto out;
	if (strcmp(grant, "authorization_code") == 0)
		rc = grant_code(req, lg, &f);
	else
		rc = grant_refresh(req, lg, &f);
out:
	if (req->status >= 400) {
		cp_metrics_inc(CP_M_TOKEN_REFUSED);
		cp_audit(req->cfg, NULL, &(struct cp_audit_event){
		    .kind = CP_AUDIT_TOKEN_REFUSED, .client_id = cp_form_get(&f, "client_id"),
		    .reason = refused_error, .http_status = req->status });
	}
	cp_form_free(&f);
	return rc;
}
