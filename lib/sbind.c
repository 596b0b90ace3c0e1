#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "agentcore.h"
#include "binding.h"
#include "consent.h"
#include "endpoint.h"
#include "form.h"
#include "idp.h"
#include "jsonparse.h"
#include "jwt.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "response.h"
#include "sbind.h"

#define CP_SB_MAX_IDP_FORM  8192    /* the token request we POST to the IdP */
#define CP_SB_LOG_URI       48      /* bytes of a session URI a log line shows */

/* ---- the transaction record ------------------------------------------ */

static bool
unreserved_text(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

static bool
tx_valid(const struct cp_sbind_tx *tx)
{
	return cp_elicit_session_uri_ok(tx->session_uri, strlen(tx->session_uri)) &&
	    cp_pkce_verifier_ok(tx->verifier, strlen(tx->verifier)) &&
	    unreserved_text(tx->nonce, 1, CP_SB_MAX_NONCE) &&
	    tx->attempt >= 1 && tx->attempt <= CP_SB_MAX_ATTEMPTS;
}

enum cp_status
cp_sbind_tx_encode(const struct cp_sbind_tx *tx, struct cp_buf *out)
{
	/* Every field is unreserved text (checked), so no JSON escaping. */
	if (!tx_valid(tx))
		return CP_ERR_INVALID;
	return cp_buf_printf(out, "{\"v\":1,\"session_uri\":\"%s\",\"verifier\":\"%s\","
	    "\"nonce\":\"%s\",\"attempt\":%d}", tx->session_uri, tx->verifier,
	    tx->nonce, tx->attempt);
}

/* Copies the string member key of o into dst; false when absent, not a
 * string, or too long. */
static bool
copy_member(json_object *o, const char *key, char *dst, size_t dstlen)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(v);
	if (n >= dstlen || memchr(json_object_get_string(v), '\0', n) != NULL)
		return false;
	memcpy(dst, json_object_get_string(v), n + 1);
	return true;
}

enum cp_status
cp_sbind_tx_decode(const char *s, size_t len, struct cp_sbind_tx *tx)
{
	json_object *o = NULL, *v;
	enum cp_status rc = CP_ERR_SYNTAX;

	memset(tx, 0, sizeof(*tx));
	if (len > CP_SB_MAX_TX)
		goto out;
	/* Strict: a member twice is refused, not resolved (jsonparse.h). */
	if ((rc = cp_json_parse_object(s, len, &o)) != CP_OK) {
		if (rc != CP_ERR_NOMEM)
			rc = CP_ERR_SYNTAX;
		goto out;
	}
	rc = CP_ERR_SYNTAX;
	if (json_object_object_length(o) != 5 ||
	    !json_object_object_get_ex(o, "v", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != 1 ||
	    !copy_member(o, "session_uri", tx->session_uri, sizeof(tx->session_uri)) ||
	    !copy_member(o, "verifier", tx->verifier, sizeof(tx->verifier)) ||
	    !copy_member(o, "nonce", tx->nonce, sizeof(tx->nonce)) ||
	    !json_object_object_get_ex(o, "attempt", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 || json_object_get_int64(v) > CP_SB_MAX_ATTEMPTS)
		goto out;
	tx->attempt = (int)json_object_get_int64(v);
	if (tx_valid(tx))
		rc = CP_OK;
out:
	if (rc != CP_OK)
		memset(tx, 0, sizeof(*tx));
	json_object_put(o);
	return rc;
}

/* ---- small helpers the tests see -------------------------------------- */

void
cp_sbind_user_hash(const char *user_id, char out[CP_SB_USER_HASH_LEN + 1])
{
	unsigned char d[32];

	out[0] = '\0';
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, user_id, strlen(user_id), d) < 0)
		return;
	cp_hex(d, CP_SB_USER_HASH_LEN / 2, out);
}

int
cp_sbind_agentcore_page(enum cp_status rc, long http_status)
{
	if (rc == CP_ERR_TIMEOUT)
		return 504;
	if (rc == CP_ERR_FETCH)
		return 502;
	if (rc != CP_OK)
		return 500;
	if (http_status == 200)
		return 200;
	if (http_status == 429)
		return 503;
	return 502;
}

enum cp_status
cp_sbind_page_html(struct cp_buf *b, const char *text, const char *detail)
{
	enum cp_status rc;

	if ((rc = cp_buf_adds(b, "<p>")) != CP_OK ||
	    (rc = cp_html_escape(b, text)) != CP_OK ||
	    (rc = cp_buf_adds(b, "</p>")) != CP_OK || detail == NULL)
		return rc;
	if ((rc = cp_buf_adds(b, "\n<p><code>")) != CP_OK ||
	    (rc = cp_html_escape(b, detail)) != CP_OK)
		return rc;
	return cp_buf_adds(b, "</code></p>");
}

/* ---- pages -------------------------------------------------------------- */

#define RETRY "Go back to your editor and retry the tool call to get a new link."

/* One session-binding page; the default HTML security headers (CSP with
 * frame-ancestors 'none', X-Frame-Options, no-store) come with it. */
static enum cp_status
page(struct cp_req *req, int status, const char *title, const char *text,
    const char *detail)
{
	struct cp_buf body;
	enum cp_status rc;

	cp_buf_init(&body, CP_MAX_JSON_BODY);
	if ((rc = cp_sbind_page_html(&body, text, detail)) == CP_OK)
		rc = cp_resp_html(req, status, title, cp_buf_cstr(&body));
	cp_buf_free(&body);
	return rc;
}

static enum cp_status
page_store(struct cp_req *req)
{
	return page(req, 503, "Connecting is unavailable", "This server cannot reach its "
	    "state store right now. Try the link again in a minute.", NULL);
}

static enum cp_status
page_bad_link(struct cp_req *req)
{
	return page(req, 400, "This link is not valid", "The link does not carry one "
	    "valid AgentCore session. " RETRY, NULL);
}

static enum cp_status
page_bad_state(struct cp_req *req, const char *text)
{
	return page(req, 400, "Connecting could not be completed", text, NULL);
}

static enum cp_status
page_gone(struct cp_req *req, const char *why)
{
	return page(req, 410, "This link has expired", why, NULL);
}

/* The IdP's discovery document into idp.  Otherwise sends the error page
 * (503 store, 502 unreachable), sets *sent and returns how sending went. */
static enum cp_status
idp_or_page(struct cp_req *req, struct cp_login *lg, struct cp_idp *idp, bool *sent)
{
	enum cp_status rc = cp_login_idp(lg, idp);

	*sent = rc != CP_OK;
	if (rc == CP_ERR_STORE)
		return page_store(req);
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		return page(req, 502, "Connecting could not be completed",
		    "The identity provider is unreachable. Try the link again in a minute.",
		    NULL);
	}
	return CP_OK;
}

/* Short, log-safe form of a session URI (a page never shows it). */
static const char *
log_uri(const char *session_uri)
{
	size_t plen = strlen(CP_ELICIT_SESSION_URI_PREFIX);

	return strlen(session_uri) > plen ? session_uri + plen : session_uri;
}

/* ---- /sessionbinding/callback ------------------------------------------ */

/* This browser's id (the cookie's, else a new one) with a fresh cookie
 * queued on req: Secure, HttpOnly, SameSite=Lax (the IdP's redirect back
 * is a top-level GET), Path=/, no Domain (RFC 6265bis 4.1.3.2). */
static enum cp_status
sb_cookie_set(struct cp_req *req, struct cp_login *lg, uint8_t id[CP_BROWSER_ID_LEN])
{
	enum cp_status rc;

	rc = cp_browser_get(req, lg, CP_SB_COOKIE, id);
	if (rc == CP_ERR_NOMEM)
		return rc;
	if (rc != CP_OK && (rc = cp_random(id, CP_BROWSER_ID_LEN)) != CP_OK)
		return rc;
	return cp_browser_set(req, lg, CP_SB_COOKIE, CP_SB_STATE_TTL, id);
}

/* n random bytes as base64url text into dst (a verifier or nonce). */
static enum cp_status
random_text(char *dst, size_t dstlen)
{
	uint8_t r[CP_SB_SECRET_BYTES];
	struct cp_buf b;
	enum cp_status rc;

	cp_buf_init(&b, dstlen - 1);
	if ((rc = cp_random(r, sizeof(r))) == CP_OK &&
	    (rc = cp_b64url_encode(r, sizeof(r), &b)) == CP_OK)
		memcpy(dst, b.data, b.len + 1);
	cp_buf_wipe_free(&b);
	memset(r, 0, sizeof(r));
	return rc;
}

/* BASE64URL(SHA256(verifier)) (RFC 7636 4.2) appended to out. */
static enum cp_status
challenge_of(const char *verifier, struct cp_buf *out)
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), d) < 0)
		return CP_ERR_CRYPTO;
	return cp_b64url_encode(d, sizeof(d), out);
}

/*
 * Starts (attempt 1) or restarts (attempt 2) the IdP login for
 * session_uri: a new verifier, nonce and sealed state whose id keys the
 * transaction record, the browser cookie, and the redirect.  Attempt 1
 * asks for prompt=none (OIDC Core 3.1.2.1): the user signed in moments
 * ago to use the tool, so no page should show.
 */
static enum cp_status
to_idp(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    const char *session_uri, int attempt)
{
	const struct cp_config *cfg = lg->cfg;
	struct cp_sbind_tx tx;
	struct cp_buf state, url, record, challenge, browser, redirect_uri;
	uint8_t bid[CP_BROWSER_ID_LEN], id[CP_SEAL_ID_LEN];
	json_object *st = NULL;
	time_t expires = time(NULL) + CP_SB_STATE_TTL;
	enum cp_status rc;

	memset(&tx, 0, sizeof(tx));
	cp_buf_init(&state, CP_MAX_PARAM_VALUE);
	cp_buf_init(&url, CP_MAX_REDIRECT);
	cp_buf_init(&record, CP_SB_MAX_TX);
	cp_buf_init(&challenge, CP_PKCE_CHALLENGE_LEN);
	cp_buf_init(&browser, 64);
	cp_buf_init(&redirect_uri, CP_MAX_URL + sizeof(CP_SB_IDP_CALLBACK_PATH));
	if (strlen(session_uri) >= sizeof(tx.session_uri)) {
		rc = CP_ERR_INTERNAL;
		goto out;
	}
	memcpy(tx.session_uri, session_uri, strlen(session_uri) + 1);
	tx.attempt = attempt;
	rc = CP_ERR_NOMEM;
	if ((st = json_object_new_object()) == NULL)
		goto out;
	if ((rc = random_text(tx.verifier, sizeof(tx.verifier))) != CP_OK ||
	    (rc = random_text(tx.nonce, sizeof(tx.nonce))) != CP_OK ||
	    (rc = challenge_of(tx.verifier, &challenge)) != CP_OK ||
	    (rc = sb_cookie_set(req, lg, bid)) != CP_OK ||
	    (rc = cp_browser_text(bid, &browser)) != CP_OK ||
	    (rc = cp_login_set(st, "browser", cp_buf_cstr(&browser))) != CP_OK ||
	    (rc = cp_login_seal(lg, CP_SEAL_SB_STATE, st, expires, &state, id)) != CP_OK ||
	    (rc = cp_sbind_tx_encode(&tx, &record)) != CP_OK)
		goto out;
	rc = cp_store_put(lg->st, CP_NS_SBTX, id, sizeof(id), record.data, record.len,
	    expires);
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc != CP_OK ||
	    (rc = cp_buf_printf(&redirect_uri, "%s" CP_SB_IDP_CALLBACK_PATH,
	    cfg->public_url)) != CP_OK)
		goto out;
	{
		struct cp_oauth_param p[] = {
			{ "response_type", "code" },
			{ "client_id", cfg->idp_client_id },
			{ "redirect_uri", cp_buf_cstr(&redirect_uri) },
			{ "scope", "openid" },
			{ "prompt", attempt == 1 ? "none" : NULL },
			{ "state", cp_buf_cstr(&state) },
			{ "nonce", tx.nonce },
			{ "code_challenge", cp_buf_cstr(&challenge) },
			{ "code_challenge_method", "S256" },
		};
		rc = cp_oauth_redirect(&url, idp->authorization_endpoint, p,
		    sizeof(p) / sizeof(p[0]));
	}
	if (rc == CP_OK) {
		cp_log(CP_LOG_INFO, "session %.*s: IdP login, attempt %d", CP_SB_LOG_URI,
		    log_uri(session_uri), attempt);
		rc = cp_login_redirect(req, 302, cp_buf_cstr(&url));
	}
out:
	json_object_put(st);
	cp_buf_free(&state);
	cp_buf_wipe_free(&url);
	cp_buf_wipe_free(&record);
	cp_buf_free(&challenge);
	cp_buf_free(&browser);
	cp_buf_free(&redirect_uri);
	memset(&tx, 0, sizeof(tx));
	return rc;
}

/* Query parsing (form.h: no parameter twice, no bad encoding) and the
 * per-process resources both endpoints start with.  Returns CP_OK with
 * *lg NULL when it already answered. */
static enum cp_status
begin(struct cp_req *req, struct cp_form *f, struct cp_login **lg, bool from_idp)
{
	enum cp_status rc;

	*lg = NULL;
	if ((rc = cp_req_query_form(req, f)) != CP_OK) {
		if (rc == CP_ERR_NOMEM)
			return rc;
		return from_idp ? page_bad_state(req, "The identity provider's answer is "
		    "malformed (a parameter twice, bad encoding or control characters). "
		    RETRY) : page_bad_link(req);
	}
	rc = cp_ctx_login(req, lg);
	if (rc == CP_ERR_STORE) {
		*lg = NULL;
		return page_store(req);
	}
	return rc;
}

enum cp_status
cp_sbind_callback(struct cp_req *req)
{
	struct cp_form f;
	struct cp_login *lg;
	struct cp_binding_record b;
	struct cp_idp idp;
	const char *session_uri;
	bool sent;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	memset(&b, 0, sizeof(b));
	memset(&idp, 0, sizeof(idp));
	if (req->cfg->binding == CP_BINDING_OFF)
		return cp_resp_not_found(req);
	if ((rc = begin(req, &f, &lg, false)) != CP_OK || lg == NULL)
		goto out;
	/* AGENTCORE-OKTA.md 2: AgentCore's return redirect carries only
	 * session_id, the session URI (form.h decoded it). */
	session_uri = cp_form_get(&f, "session_id");
	if (session_uri == NULL || !cp_elicit_session_uri_ok(session_uri, strlen(session_uri))) {
		rc = page_bad_link(req);
		goto out;
	}
	rc = cp_binding_get(lg->st, lg->keys, session_uri, time(NULL), &b);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc == CP_ERR_NOT_FOUND) {
		/* AGENTCORE-OKTA.md 2: console-started flows and other proxies'
		 * sessions land here too; never call AgentCore for them. */
		cp_log(CP_LOG_INFO, "session %.*s: no binding", CP_SB_LOG_URI,
		    log_uri(session_uri));
		rc = page(req, 404, "This link is unknown", "This server has no pending "
		    "connection for this link. " RETRY, NULL);
		goto out;
	}
	if (rc != CP_OK || b.consumed) {
		if (rc != CP_OK && rc != CP_ERR_EXPIRED)
			cp_log(CP_LOG_ERROR, "session %.*s: binding unreadable: %s",
			    CP_SB_LOG_URI, log_uri(session_uri), cp_status_str(rc));
		rc = page_gone(req, b.consumed ? "This link was already used. " RETRY :
		    "This link is no longer valid. " RETRY);
		goto out;
	}
	if ((rc = idp_or_page(req, lg, &idp, &sent)) != CP_OK || sent)
		goto out;
	rc = to_idp(req, lg, &idp, session_uri, 1);
out:
	cp_idp_free(&idp);
	cp_binding_free(&b);
	cp_form_free(&f);
	return rc;
}

/* ---- /sessionbinding/okta-callback -------------------------------------- */

/*
 * Exchanges code (RFC 6749 4.1.3, RFC 7636 4.5: the same redirect_uri and
 * the stored verifier) and verifies the ID token (OIDC Core 3.1.3.7: iss,
 * aud = our client id, exp, nonce; jwt.h: signature, alg allowlist).  On
 * success *sub holds the ID token's sub (caller frees); otherwise the 502
 * page was sent and *sub is NULL.
 */
static enum cp_status
id_token_sub(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    const struct cp_sbind_tx *tx, const char *code, char **sub)
{
	const struct cp_config *cfg = lg->cfg;
	struct cp_http_response resp;
	struct cp_jwt_expect expect;
	struct cp_buf form, redirect_uri;
	json_object *body = NULL, *claims = NULL;
	const char *id_token, *s, *why = "The identity provider could not confirm who you are.";
	enum cp_status rc;

	*sub = NULL;
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&resp.body, CP_HTTP_MAX_BODY);
	cp_buf_init(&form, CP_SB_MAX_IDP_FORM);
	cp_buf_init(&redirect_uri, CP_MAX_URL + sizeof(CP_SB_IDP_CALLBACK_PATH));
	if ((rc = cp_buf_printf(&redirect_uri, "%s" CP_SB_IDP_CALLBACK_PATH,
	    cfg->public_url)) != CP_OK ||
	    (rc = cp_form_add(&form, "grant_type", "authorization_code")) != CP_OK ||
	    (rc = cp_form_add(&form, "code", code)) != CP_OK ||
	    (rc = cp_form_add(&form, "redirect_uri", cp_buf_cstr(&redirect_uri))) != CP_OK ||
	    (rc = cp_form_add(&form, "client_id", cfg->idp_client_id)) != CP_OK ||
	    (rc = cp_form_add(&form, "code_verifier", tx->verifier)) != CP_OK)
		goto out;
	rc = cp_idp_token(cfg, idp, cp_buf_cstr(&form), form.len, &resp);
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP token endpoint failed: %s", cp_status_str(rc));
		why = "The identity provider is unreachable. " RETRY;
		goto fail;
	}
	if (cp_json_parse_object(cp_buf_cstr(&resp.body), resp.body.len, &body) != CP_OK)
		body = NULL;
	if (resp.status != 200 || body == NULL ||
	    (id_token = cp_login_str(body, "id_token")) == NULL) {
		cp_log(CP_LOG_ERROR, "IdP token endpoint answered HTTP %ld%s%s", resp.status,
		    body && cp_login_str(body, "error") ? ": " : (body ? " without an id_token" :
		    " without a JSON object"), body && cp_login_str(body, "error") ?
		    cp_oauth_token_error(cp_login_str(body, "error")) : "");
		why = "The identity provider refused to confirm who you are. " RETRY;
		goto fail;
	}
	memset(&expect, 0, sizeof(expect));
	expect.issuer = cfg->idp_issuer;
	expect.audience = cfg->idp_client_id;
	expect.nonce = tx->nonce;
	rc = cp_jwt_verify(cfg, lg->st, idp, id_token, strlen(id_token), &expect, &claims);
	if (rc != CP_OK) {
		cp_log(CP_LOG_WARN, "session %.*s: ID token refused: %s", CP_SB_LOG_URI,
		    log_uri(tx->session_uri), cp_status_str(rc));
		goto fail;
	}
	if ((s = cp_login_str(claims, "sub")) == NULL || *s == '\0') {
		cp_log(CP_LOG_WARN, "session %.*s: ID token without sub", CP_SB_LOG_URI,
		    log_uri(tx->session_uri));
		goto fail;
	}
	rc = CP_ERR_NOMEM;
	if ((*sub = cp_strndup(s, strlen(s))) == NULL)
		goto out;
	rc = CP_OK;
	goto out;
fail:
	rc = page(req, 502, "Connecting could not be completed", why, NULL);
out:
	json_object_put(body);
	json_object_put(claims);
	cp_buf_wipe_free(&resp.body);
	cp_buf_wipe_free(&form);
	cp_buf_free(&redirect_uri);
	return rc;
}

/* The AgentCore call on a consumed binding, and its page. */
static enum cp_status
complete(struct cp_req *req, struct cp_login *lg, const struct cp_aws_creds *creds,
    const char *session_uri, const struct cp_binding_record *b)
{
	struct cp_agentcore_answer ans;
	enum cp_status rc;
	int status;

	rc = cp_agentcore_complete(lg->cfg, creds, session_uri, b->token.data,
	    b->token.len, 0, &ans);
	status = cp_sbind_agentcore_page(rc, ans.status);
	if (status == 200) {
		cp_log(CP_LOG_INFO, "session %.*s: completed (AgentCore request %s)",
		    CP_SB_LOG_URI, log_uri(session_uri), ans.request_id[0] ? ans.request_id : "-");
		return page(req, 200, "Connected", "The connection is complete. Return to "
		    "your editor and retry the tool call.", NULL);
	}
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "session %.*s: AgentCore CompleteResourceTokenAuth: %s",
		    CP_SB_LOG_URI, log_uri(session_uri), cp_status_str(rc));
		return page(req, status, "Connecting could not be completed",
		    rc == CP_ERR_TIMEOUT ? "AgentCore did not answer in time. " RETRY :
		    rc == CP_ERR_FETCH ? "AgentCore could not be reached. " RETRY :
		    "This server could not call AgentCore. " RETRY, NULL);
	}
	cp_log(CP_LOG_ERROR, "session %.*s: AgentCore CompleteResourceTokenAuth answered "
	    "HTTP %ld %s (request %s)", CP_SB_LOG_URI, log_uri(session_uri), ans.status,
	    ans.error_type[0] ? ans.error_type : "-", ans.request_id[0] ? ans.request_id : "-");
	return page(req, status, "Connecting could not be completed",
	    ans.status == 429 ? "AgentCore is busy (throttled). " RETRY :
	    ans.status == 403 ? "AgentCore refused the session (invalid or expired). " RETRY :
	    ans.status == 400 ? "AgentCore rejected the request as invalid. " RETRY :
	    ans.status >= 500 ? "AgentCore had an internal error. " RETRY :
	    "AgentCore answered unexpectedly. " RETRY,
	    ans.request_id[0] ? ans.request_id : NULL);
}

/*
 * After the IdP proved who the browser's user is (sub): the binding must
 * still be pending and belong to sub, the credentials must be there, and
 * only then is it consumed (exactly one winner) and completed.
 */
static enum cp_status
finish(struct cp_req *req, struct cp_login *lg, const char *session_uri, const char *sub)
{
	struct cp_binding_record b;
	struct cp_aws_creds creds;
	char h1[CP_SB_USER_HASH_LEN + 1], h2[CP_SB_USER_HASH_LEN + 1];
	const char *missing = NULL;
	enum cp_status rc;

	memset(&b, 0, sizeof(b));
	rc = cp_binding_get(lg->st, lg->keys, session_uri, time(NULL), &b);
	if (rc == CP_ERR_STORE || rc == CP_ERR_NOMEM) {
		rc = rc == CP_ERR_STORE ? page_store(req) : rc;
		goto out;
	}
	if (rc != CP_OK || b.consumed) {
		rc = page_gone(req, b.consumed ? "This link was already used. " RETRY :
		    "This link is no longer valid. " RETRY);
		goto out;
	}
	/* DESIGN.md flow 3, AGENTCORE-OKTA.md 2: the browser's user must be
	 * the user the bearer token was issued to. */
	if (!cp_secret_eq(sub, strlen(sub), b.user_id, strlen(b.user_id))) {
		cp_sbind_user_hash(b.user_id, h1);
		cp_sbind_user_hash(sub, h2);
		cp_log_security("session binding refused: bound to user %s, browser signed in "
		    "as user %s (SHA-256 prefixes; session %.*s)", h1, h2, CP_SB_LOG_URI,
		    log_uri(session_uri));
		rc = page(req, 403, "Wrong account", "You are signed in as a different user "
		    "than the one who asked for this connection, so it was refused. Sign in "
		    "as that user and open the link again.", NULL);
		goto out;
	}
	if (cp_aws_creds_get(req->envp, &creds, &missing) != CP_OK) {
		cp_log(CP_LOG_ERROR, "AWS credentials unusable: %s missing, empty or not "
		    "visible ASCII; set it in the programs' environment (README: session "
		    "binding)", missing);
		rc = page(req, 500, "Connecting is not configured", "This server has no AWS "
		    "credentials to complete the connection. Tell its operator.", NULL);
		goto out;
	}
	cp_binding_free(&b);
	rc = cp_binding_consume(lg->st, lg->keys, session_uri, time(NULL), &b);
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		if (rc == CP_ERR_NOMEM)
			goto out;
		/* Another browser won the compare-and-swap. */
		cp_log(CP_LOG_INFO, "session %.*s: another browser completed it first",
		    CP_SB_LOG_URI, log_uri(session_uri));
		rc = page_gone(req, "This link was already used. " RETRY);
		goto out;
	}
	/* The record consumed is the one compared above unless the relay
	 * replaced it in between; then refuse rather than complete. */
	if (!cp_secret_eq(sub, strlen(sub), b.user_id, strlen(b.user_id))) {
		cp_log_security("session binding replaced while being completed; refused "
		    "(session %.*s)", CP_SB_LOG_URI, log_uri(session_uri));
		rc = page(req, 403, "Wrong account", "This connection now belongs to another "
		    "user, so it was refused. " RETRY, NULL);
		goto out;
	}
	rc = complete(req, lg, &creds, session_uri, &b);
out:
	cp_binding_free(&b);
	return rc;
}

/* OIDC Core 3.1.2.6: the errors a prompt=none request ends with when the
 * user must see the IdP; worth one interactive try. */
static bool
interactive_error(const char *error)
{
	return strcmp(error, "login_required") == 0 ||
	    strcmp(error, "interaction_required") == 0 ||
	    strcmp(error, "consent_required") == 0;
}

/* The IdP's error answer: one interactive retry, else a page naming it. */
static enum cp_status
idp_error(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    const struct cp_sbind_tx *tx, const char *error)
{
	struct cp_buf shown;
	enum cp_status rc;

	if (interactive_error(error) && tx->attempt < CP_SB_MAX_ATTEMPTS)
		return to_idp(req, lg, idp, tx->session_uri, tx->attempt + 1);
	cp_buf_init(&shown, CP_MAX_ERROR_DESC + 1);
	/* RFC 6749 4.1.2.1 error characters only; escaped again on the page. */
	if ((rc = cp_oauth_clean_description(&shown, error)) == CP_OK) {
		cp_log(CP_LOG_INFO, "session %.*s: IdP answered %s on attempt %d",
		    CP_SB_LOG_URI, log_uri(tx->session_uri), cp_buf_cstr(&shown), tx->attempt);
		rc = page(req, 400, "Sign-in failed", "The identity provider did not sign you "
		    "in, so the connection was not made. " RETRY, cp_buf_cstr(&shown));
	}
	cp_buf_free(&shown);
	return rc;
}

enum cp_status
cp_sbind_idp_callback(struct cp_req *req)
{
	struct cp_form f;
	struct cp_login *lg;
	struct cp_sbind_tx tx;
	struct cp_idp idp;
	struct cp_buf record;
	json_object *st = NULL;
	const char *state, *code, *error, *bad;
	uint8_t id[CP_SEAL_ID_LEN];
	char *sub = NULL;
	bool sent;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	memset(&tx, 0, sizeof(tx));
	memset(&idp, 0, sizeof(idp));
	cp_buf_init(&record, CP_SB_MAX_TX);
	if (req->cfg->binding == CP_BINDING_OFF)
		return cp_resp_not_found(req);
	if ((rc = begin(req, &f, &lg, true)) != CP_OK || lg == NULL)
		goto out;
	if ((state = cp_form_get(&f, "state")) == NULL) {
		rc = page_bad_state(req, "The identity provider's answer carries no state. " RETRY);
		goto out;
	}
	rc = cp_login_open(lg, CP_SEAL_SB_STATE, state, time(NULL), &st, id, NULL);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		if (rc != CP_ERR_EXPIRED)
			cp_log_security("session-binding callback with a state we did not seal (%s)",
			    cp_status_str(rc));
		rc = page_bad_state(req, rc == CP_ERR_EXPIRED ? "Signing in took too long. " RETRY :
		    "The sign-in state is not valid. " RETRY);
		goto out;
	}
	/* MCP-BP "OAuth State Parameter Validation": bound to this browser. */
	if (!cp_browser_is(req, lg, CP_SB_COOKIE, cp_login_str(st, "browser"))) {
		cp_log_security("session-binding state presented by another browser");
		rc = page_bad_state(req, "This sign-in was started in a different browser. "
		    "Open the link again in this browser.");
		goto out;
	}
	/* RFC 9207 2.4: mix-up defence; checked before the record is taken,
	 * so a forged answer cannot spend the user's transaction. */
	if ((rc = idp_or_page(req, lg, &idp, &sent)) != CP_OK || sent)
		goto out;
	if ((bad = cp_login_idp_answer(&idp, &f, "session-binding callback", &code,
	    &error)) != NULL) {
		rc = page_bad_state(req, bad);
		goto out;
	}
	/* Once only: the record is taken (read and deleted atomically). */
	rc = cp_store_take(lg->st, CP_NS_SBTX, id, sizeof(id), &record);
	if (rc == CP_ERR_STORE) {
		rc = page_store(req);
		goto out;
	}
	if (rc == CP_OK)
		rc = cp_sbind_tx_decode(record.data, record.len, &tx);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		cp_log_security("session-binding state replayed or its record unreadable (%s)",
		    cp_status_str(rc));
		rc = page_bad_state(req, "This sign-in answer was already used. " RETRY);
		goto out;
	}
	if (error != NULL) {
		rc = idp_error(req, lg, &idp, &tx, error);
		goto out;
	}
	if ((rc = id_token_sub(req, lg, &idp, &tx, code, &sub)) != CP_OK || sub == NULL)
		goto out;
	rc = finish(req, lg, tx.session_uri, sub);
out:
	free(sub);
	json_object_put(st);
	cp_idp_free(&idp);
	cp_buf_wipe_free(&record);
	memset(&tx, 0, sizeof(tx));
	cp_form_free(&f);
	return rc;
}
