/*
 * GET /sessionbinding/callback: AgentCore's return redirect with the
 * session URI of a pending binding; starts the IdP login that proves
 * the user at the browser is the one the binding was made for.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agentcore.h"
#include "binding.h"
#include "browser.h"
#include "endpoint.h"
#include "form.h"
#include "handle.h"
#include "idp.h"
#include "jsonparse.h"
#include "jwt.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "response.h"
#include "sbind.h"

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
	if ((rc = cp_sbind_begin(req, &f, &lg, false)) != CP_OK || lg == NULL)
		goto out;
	/* doc/agentcore-okta.md 2: AgentCore's return redirect carries only
	 * session_id, the session URI (form.h decoded it). */
	session_uri = cp_form_get(&f, "session_id");
	if (session_uri == NULL || !cp_elicit_session_uri_ok(session_uri, strlen(session_uri))) {
		rc = cp_sbind_page_bad_link(req);
		goto out;
	}
	rc = cp_binding_get(lg->st, lg->keys, session_uri, time(NULL), &b);
	if (rc == CP_ERR_NOMEM)
		goto out;
	if (rc == CP_ERR_STORE) {
		rc = cp_sbind_page_store(req);
		goto out;
	}
	if (rc == CP_ERR_NOT_FOUND) {
		/* doc/agentcore-okta.md 2: console-started flows and other proxies'
		 * sessions land here too; never call AgentCore for them. */
		cp_log(CP_LOG_INFO, "session %.*s: no binding", CP_SB_LOG_URI,
		    cp_sbind_log_uri(session_uri));
		rc = cp_sbind_page(req, 404, "This link is unknown", "This server has no pending "
		    "connection for this link. " CP_SB_RETRY, NULL);
		goto out;
	}
	if (rc != CP_OK || b.consumed) {
		if (rc != CP_OK && rc != CP_ERR_EXPIRED)
			cp_log(CP_LOG_ERROR, "session %.*s: binding unreadable: %s",
			    CP_SB_LOG_URI, cp_sbind_log_uri(session_uri), cp_status_str(rc));
		rc = cp_sbind_page_gone(req, b.consumed ? "This link was already used. " CP_SB_RETRY :
		    "This link is no longer valid. " CP_SB_RETRY);
		goto out;
	}
	if ((rc = cp_sbind_idp_or_page(req, lg, &idp, &sent)) != CP_OK || sent)
		goto out;
	rc = cp_sbind_to_idp(req, lg, &idp, session_uri, 1);
out:
	cp_idp_free(&idp);
	cp_binding_free(&b);
	cp_form_free(&f);
	return rc;
}
