/*
 * GET /callback: the IdP's return from the login /authorize started.
 * Opens the sealed IdP state, re-checks the client and its redirect_uri,
 * and hands the client a sealed code wrapping the IdP's (RFC 6749 4.1.2).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "consent.h"
#include "form.h"
#include "idp_login.h"
#include "handle.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "oauth.h"
#include "redirect.h"
#include "response.h"

/* An /callback failure before the client's redirect_uri is re-checked:
 * a page (doc/protocol.md 10.2). */
static enum cp_status
page_callback(struct cp_req *req, const char *text)
{
	return cp_resp_page(req, 400, "Sign-in could not be completed", text);
}

/* Re-resolves the client (cache) and re-checks the redirect_uri the
 * state carries: the document may have changed since /authorize. */
static enum cp_status
recheck_client(struct cp_req *req, struct cp_login *lg, json_object *st, bool *sent)
{
	struct cp_client c;
	char why[CP_MAX_WHY];
	enum cp_status rc;

	*sent = true;
	memset(&c, 0, sizeof(c));
	rc = cp_client_get(lg, cp_login_str(st, "client_id"), &c, why, sizeof(why));
	if (rc == CP_ERR_STORE)
		rc = cp_login_page_store(req);
	else if (rc == CP_ERR_NOMEM)
		*sent = false;
	else if (rc != CP_OK)
		rc = page_callback(req, why);
	else if (!cp_client_redirect_ok(&c, cp_login_str(st, "redirect_uri")))
		rc = page_callback(req, "The application no longer lists this redirect_uri "
		    "in its client metadata document.");
	else
		*sent = false;
	cp_client_free(&c);
	return rc;
}

/* The success answer: our code wraps the IdP's, bound to the client,
 * the exact redirect_uri, resource, scope and challenge (doc/protocol.md
 * 10.6), and the client's auth method when it is not none (client_auth.h).  An approval to remember rides along as consent_browser and
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
	    (rc = cp_login_set(o, "code_challenge", cp_login_str(st, "code_challenge"))) != CP_OK ||
	    (rc = cp_login_set(o, "client_auth", cp_login_str(st, "client_auth"))) != CP_OK)
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
		rc = cp_redirect_send(req, 302, cp_buf_cstr(&url));
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
	if ((rc = cp_login_begin(req, &f, false, &lg)) != CP_OK || lg == NULL)
		goto out;
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
		rc = cp_login_page_store(req);
		goto out;
	}
	rc = cp_idp_discover(lg->cfg, lg->st, &idp);
	if (rc == CP_ERR_STORE) {
		rc = cp_login_page_store(req);
		goto out;
	}
	if (rc != CP_OK) {
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		rc = cp_resp_page(req, 502, "Sign-in could not be completed",
		    "The identity provider is unreachable. Try again in a minute.");
		goto out;
	}
	/* RFC 9207 2.4: mix-up defence. */
	if ((bad = cp_idp_answer(&idp, &f, "callback", &code, &error)) != NULL) {
		rc = page_callback(req, bad);
		goto out;
	}
	if ((rc = recheck_client(req, lg, st, &sent)) != CP_OK || sent)
		goto out;
	if (error != NULL) {
		/* doc/protocol.md 10.4: registered codes only, a cleaned text. */
		cp_log(CP_LOG_INFO, "IdP answered %s", cp_oauth_authz_error(error));
		if ((rc = cp_oauth_clean_description(&desc,
		    cp_form_get(&f, "error_description"))) != CP_OK)
			goto out;
		rc = cp_redirect_error(req, 302, cp_login_str(st, "redirect_uri"),
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
