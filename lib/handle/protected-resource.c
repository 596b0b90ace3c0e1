/*
 * GET /.well-known/oauth-protected-resource[<mcp_path>]: RFC 9728
 * metadata naming the proxy as the MCP resource's authorization server.
 * Clients try the path-inserted form first (doc/protocol.md 1.3).
 */
#include "config.h"

#include "conf.h"
#include "handle.h"
#include "metadata.h"
#include "response.h"

#define CP_PRM_PATH "/.well-known/oauth-protected-resource"

bool
cp_protected_resource_path(const struct cp_req *req)
{
	size_t n = sizeof(CP_PRM_PATH) - 1;

	return cp_req_path_is(req, CP_PRM_PATH) ||
	    (cp_str_has_prefix(req->path, CP_PRM_PATH) &&
	    cp_str_eq_c((struct cp_str){ req->path.ptr + n, req->path.len - n },
	    req->cfg->mcp_path));
}

enum cp_status
cp_protected_resource_handle(struct cp_req *req)
{
	return cp_resp_json_public(req, cp_metadata_protected_resource(req->cfg));
}
