/*
 * The endpoint handlers, one file each in lib/handle/ named after the
 * program that serves it (cgi-bin/<name>.c declares the endpoint and
 * names its handler).  Each sends exactly one response and returns
 * non-OK only when nothing could be sent (the accept loop then answers
 * 500).  By the time a handler runs, endpoint.c has checked the path,
 * the method, the Origin and the configuration; a handler that needs
 * keys and store takes them with cp_ctx_login (ctx.h).
 */
#ifndef CP_HANDLE_H
#define CP_HANDLE_H

#include <stdbool.h>

#include "request.h"
#include "status.h"

/* GET /.well-known/oauth-protected-resource[<mcp_path>] (RFC 9728). */
enum cp_status cp_protected_resource_handle(struct cp_req *req);
/* True for the two paths cp_protected_resource_handle serves. */
bool cp_protected_resource_path(const struct cp_req *req);

/* GET /.well-known/oauth-authorization-server (RFC 8414). */
enum cp_status cp_authorization_server_handle(struct cp_req *req);

/* /register: dynamic client registration (RFC 7591) is refused. */
enum cp_status cp_register_handle(struct cp_req *req);

/* GET or POST /authorize (handle/authorize.c). */
enum cp_status cp_authorize_handle(struct cp_req *req);

/* GET /callback (handle/callback.c). */
enum cp_status cp_callback_handle(struct cp_req *req);

/* POST /token: one JSON response (RFC 6749 5.1, 5.2) (handle/token.c). */
enum cp_status cp_token_handle(struct cp_req *req);

/* GET /sessionbinding/callback (handle/sessionbinding-callback.c). */
enum cp_status cp_sbind_callback(struct cp_req *req);

/* GET /sessionbinding/okta-callback
 * (handle/sessionbinding-okta-callback.c). */
enum cp_status cp_sbind_idp_callback(struct cp_req *req);

#endif
