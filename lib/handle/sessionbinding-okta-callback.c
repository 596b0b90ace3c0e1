/*
 * GET /sessionbinding/okta-callback: the IdP's return to a session
 * binding.  Exchanges the code, checks the ID token's sub against the
 * binding's user, and completes the binding at AgentCore.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agentcore.h"
#include "audit.h"
#include "binding.h"
#include "browser.h"
#include "endpoint.h"
#include "form.h"
#include "handle.h"
#include "idp.h"
#include "idp_login.h"
#include "jsonparse.h"
#include "jwt.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "metrics.h"
#include "response.h"
#include "sbind.h"

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
	struct cp_buf form, redirect_uri;
	json_object *body = NULL, *claims = NULL;
	const char *id_token, *s, *why = "The identity provider could not confirm who you are.";
	long status;
	enum cp_status rc;

	*sub = NULL;
	cp_buf_init(&form, CP_IDP_MAX_FORM);
	cp_buf_init(&redirect_uri, CP_MAX_URL + sizeof(CP_SB_IDP_CALLBACK_PATH));
	if ((rc = cp_buf_printf(&redirect_uri, "%s" CP_SB_IDP_CALLBACK_PATH,
	    cfg->public_url)) != CP_OK ||
	    (rc = cp_idp_code_form(cfg, code, cp_buf_cstr(&redirect_uri), tx->verifier,
	    &form)) != CP_OK)
		goto out;
	if (cp_idp_exchange(cfg, idp, &form, &status, &body) != CP_OK) {
		why = "The identity provider is unreachable. " CP_SB_RETRY;
		goto fail;
	}
	if (status != 200 || body == NULL ||
	    (id_token = cp_login_str(body, "id_token")) == NULL) {
		cp_log(CP_LOG_ERROR, "IdP token endpoint answered HTTP %ld%s%s", status,
		    body && cp_login_str(body, "error") ? ": " : (body ? " without an id_token" :
		    " without a JSON object"), body && cp_login_str(body, "error") ?
		    cp_oauth_token_error(cp_login_str(body, "error")) : "");
		why = "The identity provider refused to confirm who you are. " CP_SB_RETRY;
		goto fail;
	}
	rc = cp_idp_id_token(cfg, lg->st, idp, id_token, tx->nonce, &claims);
	if (rc != CP_OK) {
		cp_log(CP_LOG_WARN, "session %.*s: ID token refused: %s", CP_SB_LOG_URI,
		    cp_sbind_log_uri(tx->session_uri), cp_status_str(rc));
		goto fail;
	}
	if ((s = cp_login_str(claims, "sub")) == NULL || *s == '\0') {
		cp_log(CP_LOG_WARN, "session %.*s: ID token without sub", CP_SB_LOG_URI,
		    cp_sbind_log_uri(tx->session_uri));
		goto fail;
	}
	rc = CP_ERR_NOMEM;
	if ((*sub = cp_strndup(s, strlen(s))) == NULL)
		goto out;
	rc = CP_OK;
	goto out;
fail:
	rc = cp_sbind_page(req, 502, "Connecting could not be completed", why, NULL);
out:
	json_object_put(body);
	json_object_put(claims);
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
		    CP_SB_LOG_URI, cp_sbind_log_uri(session_uri), ans.request_id[0] ? ans.request_id : "-");
		return cp_sbind_page(req, 200, "Connected", "The connection is complete. Return to "
		    "your editor and retry the tool call.", NULL);
	}
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "session %.*s: AgentCore CompleteResourceTokenAuth: %s",
		    CP_SB_LOG_URI, cp_sbind_log_uri(session_uri), cp_status_str(rc));
		return cp_sbind_page(req, status, "Connecting could not be completed",
		    rc == CP_ERR_TIMEOUT ? "AgentCore did not answer in time. " CP_SB_RETRY :
		    rc == CP_ERR_FETCH ? "AgentCore could not be reached. " CP_SB_RETRY :
		    "This server could not call AgentCore. " CP_SB_RETRY, NULL);
	}
	cp_log(CP_LOG_ERROR, "session %.*s: AgentCore CompleteResourceTokenAuth answered "
	    "HTTP %ld %s (request %s)", CP_SB_LOG_URI, cp_sbind_log_uri(session_uri), ans.status,
	    ans.error_type[0] ? ans.error_type : "-", ans.request_id[0] ? ans.request_id : "-");
	return cp_sbind_page(req, status, "Connecting could not be completed",
	    ans.status == 429 ? "AgentCore is busy (throttled). " CP_SB_RETRY :
	    ans.status == 403 ? "AgentCore refused the session (invalid or expired). " CP_SB_RETRY :
	    ans.status == 400 ? "AgentCore rejected the request as invalid. " CP_SB_RETRY :
	    ans.status >= 500 ? "AgentCore had an internal error. " CP_SB_RETRY :
	    "AgentCore answered unexpectedly. " CP_SB_RETRY,
	    ans.request_id[0] ? ans.request_id : NULL);
}

/* Counts and audits a binding's outcome; other is the browser's user
 * when it is not the binding's. */
static void
audit_binding(const struct cp_login *lg, enum cp_audit_kind kind, const char *user,
    const char *other, const char *reason, int status)
{
	cp_metrics_inc(kind == CP_AUDIT_BINDING_COMPLETED ? CP_M_BINDING_COMPLETED :
	    other != NULL ? CP_M_BINDING_REFUSED : CP_M_BINDING_FAILED);
	cp_audit(lg->cfg, lg->keys, &(struct cp_audit_event){ .kind = kind, .user = user,
	    .other_user = other, .reason = reason, .http_status = status });
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
		rc = rc == CP_ERR_STORE ? cp_sbind_page_store(req) : rc;
		goto out;
	}
	if (rc != CP_OK || b.consumed) {
		rc = cp_sbind_page_gone(req, b.consumed ? "This link was already used. " CP_SB_RETRY :
		    "This link is no longer valid. " CP_SB_RETRY);
		goto out;
	}
	/* doc/design.md flow 3, doc/agentcore-okta.md 2: the browser's user must be
	 * the user the bearer token was issued to. */
	if (!cp_secret_eq(sub, strlen(sub), b.user_id, strlen(b.user_id))) {
		cp_sbind_user_hash(b.user_id, h1);
		cp_sbind_user_hash(sub, h2);
		cp_log_security("session binding refused: bound to user %s, browser signed in "
		    "as user %s (SHA-256 prefixes; session %.*s)", h1, h2, CP_SB_LOG_URI,
		    cp_sbind_log_uri(session_uri));
		rc = cp_sbind_page(req, 403, "Wrong account", "You are signed in as a different user "
		    "than the one who asked for this connection, so it was refused. Sign in "
		    "as that user and open the link again.", NULL);
		audit_binding(lg, CP_AUDIT_BINDING_REFUSED, b.user_id, sub, "user mismatch", 403);
		goto out;
	}
	if (cp_aws_creds_get(req->envp, &creds, &missing) != CP_OK) {
		cp_log(CP_LOG_ERROR, "AWS credentials unusable: %s missing, empty or not "
		    "visible ASCII; set it in the programs' environment (README: session "
		    "binding)", missing);
		rc = cp_sbind_page(req, 500, "Connecting is not configured", "This server has no AWS "
		    "credentials to complete the connection. Tell its operator.", NULL);
		goto out;
	}
	cp_binding_free(&b);
	rc = cp_binding_consume(lg->st, lg->keys, session_uri, time(NULL), &b);
	if (rc == CP_ERR_STORE) {
		rc = cp_sbind_page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		if (rc == CP_ERR_NOMEM)
			goto out;
		/* Another browser won the compare-and-swap. */
		cp_log(CP_LOG_INFO, "session %.*s: another browser completed it first",
		    CP_SB_LOG_URI, cp_sbind_log_uri(session_uri));
		rc = cp_sbind_page_gone(req, "This link was already used. " CP_SB_RETRY);
		goto out;
	}
	/* The record consumed is the one compared above unless the relay
	 * replaced it in between; then refuse rather than complete. */
	if (!cp_secret_eq(sub, strlen(sub), b.user_id, strlen(b.user_id))) {
		cp_log_security("session binding replaced while being completed; refused "
		    "(session %.*s)", CP_SB_LOG_URI, cp_sbind_log_uri(session_uri));
		rc = cp_sbind_page(req, 403, "Wrong account", "This connection now belongs to another "
		    "user, so it was refused. " CP_SB_RETRY, NULL);
		audit_binding(lg, CP_AUDIT_BINDING_REFUSED, b.user_id, sub,
		    "binding replaced while being completed", 403);
		goto out;
	}
	rc = complete(req, lg, &creds, session_uri, &b);
	if (rc == CP_OK && req->status == 200)
		audit_binding(lg, CP_AUDIT_BINDING_COMPLETED, sub, NULL, NULL, 200);
	else if (rc == CP_OK)
		audit_binding(lg, CP_AUDIT_BINDING_REFUSED, sub, NULL,
		    "AgentCore did not complete it", req->status);
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
		return cp_sbind_to_idp(req, lg, idp, tx->session_uri, tx->attempt + 1);
	cp_buf_init(&shown, CP_MAX_ERROR_DESC + 1);
	/* RFC 6749 4.1.2.1 error characters only; escaped again on the page. */
	if ((rc = cp_oauth_clean_description(&shown, error)) == CP_OK) {
		cp_log(CP_LOG_INFO, "session %.*s: IdP answered %s on attempt %d",
		    CP_SB_LOG_URI, cp_sbind_log_uri(tx->session_uri), cp_buf_cstr(&shown), tx->attempt);
		rc = cp_sbind_page(req, 400, "Sign-in failed", "The identity provider did not sign you "
		    "in, so the connection was not made. " CP_SB_RETRY, cp_buf_cstr(&shown));
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
	if ((rc = cp_sbind_begin(req, &f, &lg, true)) != CP_OK || lg == NULL)
		goto out;
	if ((state = cp_form_get(&f, "state")) == NULL) {
		rc = cp_sbind_page_bad_state(req, "The identity provider's answer carries no state. " CP_SB_RETRY);
		goto out;
	}
	rc = cp_login_open(lg, CP_SEAL_SB_STATE, state, time(NULL), &st, id, NULL);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		if (rc != CP_ERR_EXPIRED)
			cp_log_security("session-binding callback with a state we did not seal (%s)",
			    cp_status_str(rc));
		rc = cp_sbind_page_bad_state(req, rc == CP_ERR_EXPIRED ? "Signing in took too long. " CP_SB_RETRY :
		    "The sign-in state is not valid. " CP_SB_RETRY);
		goto out;
	}
	/* MCP-BP "OAuth State Parameter Validation": bound to this browser. */
	if (!cp_browser_is(req, lg, CP_SB_COOKIE, cp_login_str(st, "browser"))) {
		cp_log_security("session-binding state presented by another browser");
		rc = cp_sbind_page_bad_state(req, "This sign-in was started in a different browser. "
		    "Open the link again in this browser.");
		goto out;
	}
	/* RFC 9207 2.4: mix-up defence; checked before the record is taken,
	 * so a forged answer cannot spend the user's transaction. */
	if ((rc = cp_sbind_idp_or_page(req, lg, &idp, &sent)) != CP_OK || sent)
		goto out;
	if ((bad = cp_idp_answer(&idp, &f, "session-binding callback", &code,
	    &error)) != NULL) {
		rc = cp_sbind_page_bad_state(req, bad);
		goto out;
	}
	/* Once only: the record is taken (read and deleted atomically). */
	rc = cp_store_take(lg->st, CP_NS_SBTX, id, sizeof(id), &record);
	if (rc == CP_ERR_STORE) {
		rc = cp_sbind_page_store(req);
		goto out;
	}
	if (rc == CP_OK)
		rc = cp_sbind_tx_decode(record.data, record.len, &tx);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc != CP_OK) {
		cp_log_security("session-binding state replayed or its record unreadable (%s)",
		    cp_status_str(rc));
		rc = cp_sbind_page_bad_state(req, "This sign-in answer was already used. " CP_SB_RETRY);
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
