/*
 * The MCP endpoint (mcp_path): checks the bearer token, then relays the
 * request to the gateway and streams the answer back (lib/relay.c),
 * storing a session binding for each URL elicitation in it that points
 * at AgentCore (lib/elicit.c, lib/binding.c).
 *
 * One request per process: a long SSE stream holds its process, so the
 * web server must allow enough /mcp processes (see the snippets).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bearer.h"
#include "binding.h"
#include "elicit.h"
#include "endpoint.h"
#include "limits.h"
#include "log.h"
#include "metadata.h"
#include "relay.h"
#include "sbind.h"
#include "seal.h"
#include "store.h"

/* Per-process resources, reused across FastCGI requests. */
static struct cp_relay *relay;
static struct cp_store *store;
static struct cp_keys *keys;

/* What an elicitation needs to become a binding. */
struct mcp_call {
	struct cp_req *req;
	json_object *claims;
	struct cp_str token;
};

static enum cp_status
resources(const struct cp_config *cfg)
{
	char err[512];
	enum cp_status rc;

	if (relay == NULL && (rc = cp_relay_new(&relay)) != CP_OK)
		return rc;
	if (store == NULL && (rc = cp_store_open(cfg, &store)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "store: cannot open: %s", cp_status_str(rc));
		return CP_ERR_STORE;
	}
	if (keys == NULL && cfg->binding != CP_BINDING_OFF &&
	    cp_keys_load(cfg->key_file, &keys, err, sizeof(err)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "key_file: %s", err);
		return CP_ERR_CONFIG;
	}
	return CP_OK;
}

/* 401 with the proxy's challenge (PROTOCOL.md 2.1); error NULL when no
 * token was sent at all. */
static enum cp_status
unauthorized(struct cp_req *req, const char *error, const char *description)
{
	struct cp_buf challenge;
	enum cp_status rc;

	cp_buf_init(&challenge, CP_MAX_URL * 2);
	if ((rc = cp_metadata_challenge(req->cfg, error, &challenge)) == CP_OK)
		rc = cp_resp_header(req, "WWW-Authenticate", cp_buf_cstr(&challenge));
	cp_buf_free(&challenge);
	if (rc != CP_OK)
		return rc;
	return cp_resp_oauth_error(req, 401, "invalid_token", description);
}

static void
on_elicitation(void *arg, const struct cp_elicitation *e)
{
	struct mcp_call *call = arg;
	const struct cp_config *cfg = call->req->cfg;
	char who[CP_SB_USER_HASH_LEN + 1];
	const char *user_id;
	struct cp_buf host;
	bool refreshed = false;
	json_object *v;
	enum cp_status rc;

	if (cfg->binding == CP_BINDING_OFF) {
		cp_log(CP_LOG_INFO, "URL elicitation %.64s relayed; binding = off", e->elicitation_id);
		return;
	}
	if (!json_object_object_get_ex(call->claims, cfg->idp_user_claim, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		cp_log(CP_LOG_WARN, "URL elicitation %.64s: the token has no string %s claim; "
		    "no binding stored", e->elicitation_id, cfg->idp_user_claim);
		return;
	}
	user_id = json_object_get_string(v);
	cp_buf_init(&host, CP_MAX_URL);
	if (!cp_elicit_host_trusted(cfg, e->url, &host)) {
		cp_log(CP_LOG_WARN, "URL elicitation %.64s points at %.128s, not at AgentCore "
		    "(agentcore_endpoint, agentcore_region, elicitation_host): relayed, "
		    "no binding stored", e->elicitation_id, cp_buf_cstr(&host));
		cp_buf_free(&host);
		return;
	}
	cp_buf_free(&host);
	rc = cp_binding_put(store, keys, e->session_uri, user_id, call->token.ptr,
	    call->token.len, time(NULL), &refreshed);
	cp_sbind_user_hash(user_id, who);
	switch (rc) {
	case CP_OK:
		cp_log(CP_LOG_INFO, "URL elicitation %.64s: binding %s for %.64s",
		    e->elicitation_id, refreshed ? "refreshed" : "stored", user_id);
		break;
	case CP_ERR_DENIED:
		cp_log_security("URL elicitation %.64s for user %s names a session URI bound "
		    "to another user; the binding was not changed", e->elicitation_id, who);
		break;
	case CP_ERR_REPLAY:
		cp_log(CP_LOG_WARN, "URL elicitation %.64s names a session URI whose binding "
		    "was already completed; it stays used", e->elicitation_id);
		break;
	default:
		cp_log(CP_LOG_ERROR, "URL elicitation %.64s: binding not stored: %s",
		    e->elicitation_id, cp_status_str(rc));
	}
}

static enum cp_status
handle(struct cp_req *req)
{
	struct mcp_call call;
	struct cp_form query;
	enum cp_status rc;

	memset(&call, 0, sizeof(call));
	call.req = req;
	if (!cp_req_path_is(req, req->cfg->mcp_path))
		return cp_resp_not_found(req);
	/* Tokens go in the header only (MCP-A "Token Requirements", RFC
	 * 6750 section 2.3 is not offered). */
	if ((rc = cp_req_query_form(req, &query)) != CP_OK || cp_form_has(&query, "access_token")) {
		cp_form_free(&query);
		return cp_resp_oauth_error(req, 400, "invalid_request", rc != CP_OK ?
		    "malformed query string" : "access tokens are accepted in the Authorization header only");
	}
	cp_form_free(&query);
	rc = cp_bearer_token(cp_req_header(req, "Authorization"), &call.token);
	if (rc == CP_ERR_NOT_FOUND)
		return unauthorized(req, NULL,
		    "a bearer token is required; see the resource_metadata in WWW-Authenticate");
	if (rc != CP_OK)
		return unauthorized(req, "invalid_token", "malformed bearer token");
	if ((rc = resources(req->cfg)) != CP_OK)
		return cp_resp_oauth_error(req, 503, "temporarily_unavailable",
		    "the proxy cannot reach its state store");
	if ((rc = cp_bearer_verify(req->cfg, store, call.token, &call.claims)) != CP_OK) {
		if (cp_bearer_unavailable(rc)) {
			cp_log(CP_LOG_ERROR, "cannot verify tokens: %s", cp_status_str(rc));
			return cp_resp_oauth_error(req, 503, "temporarily_unavailable",
			    "the identity provider cannot be reached to check the token");
		}
		cp_log(CP_LOG_INFO, "bearer token refused: %s", cp_status_str(rc));
		return unauthorized(req, "invalid_token", "the access token is not valid");
	}
	rc = cp_relay_run(relay, req, on_elicitation, &call);
	json_object_put(call.claims);
	return rc;
}

static const struct cp_endpoint endpoint = {
	.name = "mcp",
	.allow = "GET, POST, DELETE",
	.cors = true,
	.origin_must_match = true,
	.handle = handle,
};

int
main(int argc, char **argv)
{
	int status = cp_endpoint_main(argc, argv, &endpoint);

	/* The relay is left to exit: libcurl is already cleaned up here. */
	cp_store_close(store);
	cp_keys_free(keys);
	return status;
}
