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
#include "browser.h"
#include "form.h"
#include "idp.h"
#include "idp_login.h"
#include "jsonparse.h"
#include "jwt.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "redirect.h"
#include "response.h"
#include "sbind.h"


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

/* One session-binding page; the default HTML security headers (CSP with
 * frame-ancestors 'none', X-Frame-Options, no-store) come with it. */
enum cp_status
cp_sbind_page(struct cp_req *req, int status, const char *title, const char *text,
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

enum cp_status
cp_sbind_page_store(struct cp_req *req)
{
	return cp_sbind_page(req, 503, "Connecting is unavailable", "This server cannot reach its "
	    "state store right now. Try the link again in a minute.", NULL);
}

enum cp_status
cp_sbind_page_bad_link(struct cp_req *req)
{
	return cp_sbind_page(req, 400, "This link is not valid", "The link does not carry one "
	    "valid AgentCore session. " CP_SB_RETRY, NULL);
}

enum cp_status
cp_sbind_page_bad_state(struct cp_req *req, const char *text)
{
	return cp_sbind_page(req, 400, "Connecting could not be completed", text, NULL);
}

enum cp_status
cp_sbind_page_gone(struct cp_req *req, const char *why)
{
	return cp_sbind_page(req, 410, "This link has expired", why, NULL);
}

/* The IdP's discovery document into idp.  Otherwise sends the error page
 * (503 store, 502 unreachable), sets *sent and returns how sending went. */
enum cp_status
cp_sbind_idp_or_page(struct cp_req *req, struct cp_login *lg, struct cp_idp *idp, bool *sent)
{
	enum cp_status rc = cp_idp_discover(lg->cfg, lg->st, idp);

	*sent = rc != CP_OK;
	if (rc == CP_ERR_STORE)
		return cp_sbind_page_store(req);
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		return cp_sbind_page(req, 502, "Connecting could not be completed",
		    "The identity provider is unreachable. Try the link again in a minute.",
		    NULL);
	}
	return CP_OK;
}

/* Short, log-safe form of a session URI (a page never shows it). */
const char *
cp_sbind_log_uri(const char *session_uri)
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
enum cp_status
cp_sbind_to_idp(struct cp_req *req, struct cp_login *lg, const struct cp_idp *idp,
    const char *session_uri, int attempt)
{
	const struct cp_config *cfg = lg->cfg;
	struct cp_sbind_tx tx;
	struct cp_idp_authz a;
	struct cp_buf state, url, record, challenge, browser, redirect_uri;
	uint8_t bid[CP_BROWSER_ID_LEN], id[CP_SEAL_ID_LEN];
	json_object *st = NULL;
	time_t expires = time(NULL) + CP_SB_STATE_TTL;
	enum cp_status rc;

	memset(&tx, 0, sizeof(tx));
	memset(&a, 0, sizeof(a));
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
		rc = cp_sbind_page_store(req);
		goto out;
	}
	if (rc != CP_OK ||
	    (rc = cp_buf_printf(&redirect_uri, "%s" CP_SB_IDP_CALLBACK_PATH,
	    cfg->public_url)) != CP_OK)
		goto out;
	a.redirect_uri = cp_buf_cstr(&redirect_uri);
	a.scope = "openid";
	a.prompt = attempt == 1 ? "none" : NULL;
	a.state = cp_buf_cstr(&state);
	a.nonce = tx.nonce;
	a.code_challenge = cp_buf_cstr(&challenge);
	rc = cp_idp_authz_url(cfg, idp, &a, &url);
	if (rc == CP_OK) {
		cp_log(CP_LOG_INFO, "session %.*s: IdP login, attempt %d", CP_SB_LOG_URI,
		    cp_sbind_log_uri(session_uri), attempt);
		rc = cp_redirect_send(req, 302, cp_buf_cstr(&url));
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
enum cp_status
cp_sbind_begin(struct cp_req *req, struct cp_form *f, struct cp_login **lg, bool from_idp)
{
	enum cp_status rc;

	*lg = NULL;
	if ((rc = cp_req_query_form(req, f)) != CP_OK) {
		if (rc == CP_ERR_NOMEM)
			return rc;
		return from_idp ? cp_sbind_page_bad_state(req, "The identity provider's answer is "
		    "malformed (a parameter twice, bad encoding or control characters). "
		    CP_SB_RETRY) : cp_sbind_page_bad_link(req);
	}
	rc = cp_ctx_login(req, lg);
	if (rc == CP_ERR_STORE) {
		*lg = NULL;
		return cp_sbind_page_store(req);
	}
	return rc;
}
