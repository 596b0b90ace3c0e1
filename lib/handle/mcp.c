/*
 * The MCP endpoint (mcp_path): checks the bearer token, keeps each MCP
 * session to the user who opened it (lib/mcpsession.c), then relays the
 * request to the gateway and streams the answer back (lib/relay.c),
 * storing a session binding for each URL elicitation in it that points
 * at AgentCore (lib/elicit.c, lib/binding.c).
 *
 * Runs on many threads at once (lib/relayd.h): each request has a relay
 * (libcurl handles) of its own while it runs, and holds the keys and
 * store it took with cp_ctx_login (ctx.h) until it ends.  The store
 * serialises its own calls (store_bdb.c, store_pg.c), so a thread that
 * waits on the IdP for a JWKS holds no lock the others need.  A
 * standalone GET stream, and a 2026-07-28 subscriptions/listen POST,
 * takes a max_streams slot; tool calls do not.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "audit.h"
#include "bearer.h"
#include "ctx.h"
#include "binding.h"
#include "elicit.h"
#include "endpoint.h"
#include "handle/mcp.h"
#include "limits.h"
#include "log.h"
#include "login.h"
#include "mcphdr.h"
#include "mcpsession.h"
#include "metadata.h"
#include "metrics.h"
#include "relay.h"
#include "relayd.h"
#include "sbind.h"

/* JSON-RPC method of the 2026-07-28 long-lived POST (MCP "subscriptions"):
 * its answer is a stream like the standalone GET's, and counted as one. */
#define MCP_LISTEN_METHOD "subscriptions/listen"

/* Relays not in use, most recently used on top: a request takes the
 * top one, whose connection to the gateway is the likeliest to be still
 * open, so consecutive requests reuse it whichever thread serves them.
 * There are never more relays than requests were once in flight. */
struct idle_relay {
	struct idle_relay *next;
	struct cp_relay *relay;
};
static struct idle_relay *idle_relays;
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;

/* A relay for one request, made when none is idle; NULL when out of memory. */
static struct cp_relay *
relay_take(void)
{
	struct idle_relay *top;
	struct cp_relay *r = NULL;

	pthread_mutex_lock(&idle_mu);
	if ((top = idle_relays) != NULL)
		idle_relays = top->next;
	pthread_mutex_unlock(&idle_mu);
	if (top != NULL) {
		r = top->relay;
		free(top);
	} else if (cp_relay_new(&r) != CP_OK)
		r = NULL;
	return r;
}

static void
relay_give(struct cp_relay *r)
{
	struct idle_relay *top = malloc(sizeof(*top));

	if (top == NULL) {
		cp_relay_free(r);
		return;
	}
	top->relay = r;
	pthread_mutex_lock(&idle_mu);
	top->next = idle_relays;
	idle_relays = top;
	pthread_mutex_unlock(&idle_mu);
}

/* The longest JSON-RPC method or tool name an audit line carries; a
 * longer one is cut (audit.h cuts fields again to keep a line whole). */
#define MCP_AUDIT_NAME 128

/* One relayed request, as the relay's callbacks need it. */
struct mcp_call {
	struct cp_req *req;
	struct cp_login *lg;
	const char *user_id;            /* the token's idp_user_claim */
	const char *session_id;         /* the request's Mcp-Session-Id, or NULL */
	bool session_known;             /* ... recorded as user_id's */
	bool stream;                    /* holds a max_streams slot */
	bool refused;                   /* answered by the proxy, not relayed */
	struct cp_str token;
	struct cp_buf client;           /* the token's CIMD client_id, for the audit */
	char method[MCP_AUDIT_NAME];    /* a POST's JSON-RPC method, for the audit */
	char tool[MCP_AUDIT_NAME];      /* ... and params.name of a tools/call */
};

/* 401 with the proxy's challenge (doc/protocol.md 2.1); error NULL when no
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
	struct cp_buf host;
	bool refreshed = false, trusted;
	enum cp_status rc;

	cp_metrics_inc(CP_M_ELICITATIONS);
	cp_buf_init(&host, CP_MAX_URL);
	trusted = cp_elicit_host_trusted(cfg, e->url, &host);
	cp_audit(cfg, call->lg->keys, &(struct cp_audit_event){
	    .kind = CP_AUDIT_ELICITATION, .user = call->user_id,
	    .client_id = call->client.len ? cp_buf_cstr(&call->client) : NULL,
	    .host = cp_buf_cstr(&host) });
	if (cfg->binding == CP_BINDING_OFF) {
		cp_log(CP_LOG_INFO, "URL elicitation %.64s relayed; binding = off", e->elicitation_id);
		cp_buf_free(&host);
		return;
	}
	if (!trusted) {
		cp_log(CP_LOG_WARN, "URL elicitation %.64s points at %.128s, not at AgentCore "
		    "(agentcore_endpoint, agentcore_region, elicitation_host): relayed, "
		    "no binding stored", e->elicitation_id, cp_buf_cstr(&host));
		cp_buf_free(&host);
		return;
	}
	cp_buf_free(&host);
	rc = cp_binding_put(call->lg->st, call->lg->keys, e->session_uri, call->user_id,
	    call->token.ptr, call->token.len, time(NULL), &refreshed);
	cp_sbind_user_hash(call->user_id, who);
	switch (rc) {
	case CP_OK:
		cp_log(CP_LOG_INFO, "URL elicitation %.64s: binding %s for %.64s",
		    e->elicitation_id, refreshed ? "refreshed" : "stored", call->user_id);
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

/* The gateway's answer, before the client sees it: a session it opened
 * becomes the requesting user's. */
static enum cp_status
on_answer(void *arg, int status, const char *session_id)
{
	struct mcp_call *call = arg;
	char who[CP_SB_USER_HASH_LEN + 1];
	enum cp_status rc;

	if (status < 200 || status > 299 || session_id == NULL ||
	    (call->session_known && strcmp(session_id, call->session_id) == 0))
		return CP_OK;
	rc = cp_mcpsession_claim(call->lg->st, call->lg->keys, session_id, call->user_id,
	    time(NULL));
	if (rc == CP_ERR_DENIED) {
		cp_sbind_user_hash(call->user_id, who);
		cp_log_security("the gateway answered user %s with the Mcp-Session-Id of "
		    "another user's session; answer withheld", who);
	} else if (rc != CP_OK)
		cp_log(CP_LOG_ERROR, "Mcp-Session-Id owner not recorded: %s; answer withheld",
		    cp_status_str(rc));
	return rc;
}

/* The user the token names (idp_user_claim), or NULL. */
static const char *
user_of(const struct cp_config *cfg, json_object *claims)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, cfg->idp_user_claim, &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
		return NULL;
	return json_object_get_string(v);
}

/* Checks that the request's MCP session, if any, is the user's.  Returns
 * CP_OK to go on; otherwise an answer was sent (or must be: rc). */
static enum cp_status
session_check(struct mcp_call *call, bool *answered)
{
	struct cp_req *req = call->req;
	char who[CP_SB_USER_HASH_LEN + 1];
	enum cp_status rc;

	*answered = false;
	if ((call->session_id = cp_req_header(req, "Mcp-Session-Id")) == NULL)
		return CP_OK;
	rc = cp_mcpsession_check(call->lg->st, call->lg->keys, call->session_id,
	    call->user_id, time(NULL));
	if (rc == CP_OK || rc == CP_ERR_NOT_FOUND) {
		call->session_known = rc == CP_OK;
		return CP_OK;
	}
	*answered = true;
	if (rc == CP_ERR_DENIED) {
		cp_sbind_user_hash(call->user_id, who);
		cp_log_security("user %s sent the Mcp-Session-Id of another user's session; "
		    "answered 404, not relayed", who);
		/* What the session's server answers for a session it does not
		 * know (MCP transports, "Session Management"). */
		return cp_relay_error(req, 404, -32001, "Session not found");
	}
	cp_log(CP_LOG_ERROR, "Mcp-Session-Id owner not checked: %s", cp_status_str(rc));
	return cp_relay_error(req, 503, -32603, "the proxy cannot reach its state store");
}

/* Takes a max_streams slot for call's user; CP_ERR_LIMIT (with
 * Retry-After queued) at a cap. */
static enum cp_status
stream_enter(struct mcp_call *call)
{
	char seconds[16];
	unsigned retry;

	if (cp_relayd_stream_enter(call->req->cfg, call->user_id, &retry) != CP_OK) {
		cp_metrics_inc(CP_M_STREAMS_REFUSED);
		snprintf(seconds, sizeof(seconds), "%u", retry);
		cp_resp_header(call->req, "Retry-After", seconds);
		return CP_ERR_LIMIT;
	}
	call->stream = true;
	cp_metrics_add(CP_M_STREAMS_OPEN, 1);
	return CP_OK;
}

/* The MCP 2026-07-28 request metadata headers against msg, the body
 * the proxy reads its method and tool name from (doc/protocol.md 13.13):
 * on a mismatch the client gets 400 HeaderMismatch with the request's id
 * and nothing goes upstream.  CP_OK to go on; CP_ERR_DENIED once answered. */
static enum cp_status
headers_check(struct mcp_call *call, json_object *msg)
{
	struct cp_req *req = call->req;
	struct cp_mcphdr h = {
		.method = cp_req_header(req, "Mcp-Method"),
		.name = cp_req_header(req, "Mcp-Name"),
		.version = cp_req_header(req, "MCP-Protocol-Version"),
		.method_bad = cp_req_header_bad(req, "Mcp-Method"),
		.name_bad = cp_req_header_bad(req, "Mcp-Name"),
	};
	json_object *id = NULL;
	const char *why;

	if ((why = cp_mcphdr_check(&h, msg)) == NULL)
		return CP_OK;
	cp_log(CP_LOG_INFO, "MCP request refused, not relayed: %s", why);
	json_object_object_get_ex(msg, "id", &id);
	if (cp_relay_error_id(req, CP_MCP_HEADER_MISMATCH_STATUS, id, CP_MCP_HEADER_MISMATCH,
	    why) != CP_OK)
		return CP_ERR_IO;
	call->refused = true;
	return CP_ERR_DENIED;
}

/* A POST body, read before it goes upstream: its Mcp-* headers must
 * agree with it, and a subscriptions/listen request is a stream and
 * needs a slot. */
static enum cp_status
on_request(void *arg, const char *body, size_t len)
{
	struct mcp_call *call = arg;
	json_object *msg = cp_mcphdr_body(body, len), *m = NULL, *p, *n;
	enum cp_status rc;
	bool listen;

	if ((rc = headers_check(call, msg)) != CP_OK) {
		json_object_put(msg);
		return rc;
	}
	listen = msg && json_object_object_get_ex(msg, "method", &m) &&
	    json_object_is_type(m, json_type_string) &&
	    strcmp(json_object_get_string(m), MCP_LISTEN_METHOD) == 0;
	if (m != NULL && json_object_is_type(m, json_type_string)) {
		snprintf(call->method, sizeof(call->method), "%s", json_object_get_string(m));
		if (strcmp(call->method, "tools/call") == 0 &&
		    json_object_object_get_ex(msg, "params", &p) &&
		    json_object_object_get_ex(p, "name", &n) &&
		    json_object_is_type(n, json_type_string))
			snprintf(call->tool, sizeof(call->tool), "%s", json_object_get_string(n));
	}
	json_object_put(msg);
	return listen ? stream_enter(call) : CP_OK;
}

/* Counts a request the gateway was asked, with its latency when it is
 * not a stream (a stream's time is its life, not the gateway's), and
 * writes the audit line of a POST that named a JSON-RPC method. */
static void
relayed(const struct mcp_call *call)
{
	struct cp_req *req = call->req;
	struct timespec now;
	uint64_t usec = 0;

	cp_metrics_inc(CP_M_RELAYED);
	if (clock_gettime(CLOCK_MONOTONIC, &now) == 0)
		usec = (uint64_t)((now.tv_sec - req->started.tv_sec) * 1000000LL +
		    (now.tv_nsec - req->started.tv_nsec) / 1000);
	if (!call->stream)
		cp_metrics_upstream(usec);
	if (call->method[0] == '\0')
		return;
	cp_audit(req->cfg, call->lg->keys, &(struct cp_audit_event){
	    .kind = CP_AUDIT_TOOL_CALL, .user = call->user_id,
	    .client_id = call->client.len ? cp_buf_cstr(&call->client) : NULL,
	    .method = call->method, .tool = call->tool[0] ? call->tool : NULL,
	    .http_status = req->status, .bytes = req->body_bytes,
	    .ms = (unsigned long)(usec / 1000) });
}

static enum cp_status
handle(struct cp_req *req)
{
	struct mcp_call call;
	struct cp_relay *relay;
	struct cp_relay_watch watch;
	struct cp_form query;
	json_object *claims = NULL;
	bool answered = false;
	enum cp_status rc, brc, src = CP_OK;

	memset(&call, 0, sizeof(call));
	call.req = req;
	cp_buf_init(&call.client, CP_MAX_URL);
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
	if ((rc = cp_ctx_login(req, &call.lg)) != CP_OK) {
			if (rc == CP_ERR_STORE)
			return cp_resp_oauth_error(req, 503, "temporarily_unavailable",
			    "the proxy cannot reach its state store");
		return cp_resp_oauth_error(req, 500, "server_error",
		    "cimd-proxy is misconfigured; the web server error log says why");
	}
	brc = cp_bearer_verify(req->cfg, call.lg->st, call.token, &claims);
	if (brc == CP_OK && (call.user_id = user_of(req->cfg, claims)) != NULL) {
		src = session_check(&call, &answered);
		cp_audit_token_client_get(req->cfg, call.lg->st, call.token, &call.client);
	}
	if ((rc = brc) != CP_OK) {
		if (cp_bearer_unavailable(rc)) {
			cp_log(CP_LOG_ERROR, "cannot verify tokens: %s", cp_status_str(rc));
			return cp_resp_oauth_error(req, 503, "temporarily_unavailable",
			    "the identity provider cannot be reached to check the token");
		}
		cp_log(CP_LOG_INFO, "bearer token refused: %s", cp_status_str(rc));
		return unauthorized(req, "invalid_token", "the access token is not valid");
	}
	/* Sessions and bindings belong to a user: a token that names none
	 * cannot have either. */
	if (call.user_id == NULL) {
		cp_log(CP_LOG_WARN, "bearer token refused: no string %s claim (idp_user_claim)",
		    req->cfg->idp_user_claim);
		rc = unauthorized(req, "invalid_token", "the access token does not name its user");
		goto out;
	}
	if ((rc = src) != CP_OK || answered)
		goto out;
	/* The standalone GET stream (MCP transports, "Listening for
	 * Messages from the Server") holds a slot; at a cap the client hears
	 * so at once, before anything goes upstream. */
	if (strcmp(req->method, "GET") == 0 && stream_enter(&call) != CP_OK) {
		rc = cp_relay_error(req, 503, -32603, "too many open streams; retry later");
		goto out;
	}
	memset(&watch, 0, sizeof(watch));
	watch.answer = on_answer;
	watch.found = on_elicitation;
	watch.request = on_request;
	watch.arg = &call;
	if ((relay = relay_take()) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	rc = cp_relay_run(relay, req, &watch);
	relay_give(relay);
	if (!call.refused)
		relayed(&call);
out:
	if (call.stream) {
		cp_relayd_stream_leave(call.user_id);
		cp_metrics_add(CP_M_STREAMS_OPEN, -1);
	}
	json_object_put(claims);
	cp_buf_free(&call.client);
	return rc;
}

const struct cp_endpoint cp_handle_mcp = {
	.name = "mcp",
	.allow = "GET, POST, DELETE",
	.cors = true,
	.origin_must_match = true,
	.handle = handle,
};
