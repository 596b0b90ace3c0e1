/*
 * GET /.well-known/oauth-protected-resource[<mcp_path>]: RFC 9728
 * metadata naming the proxy as the MCP resource's authorization server.
 * Clients try the path-inserted form first (PROTOCOL.md 1.3).
 */
#include "config.h"

#include "endpoint.h"
#include "metadata.h"

static enum cp_status
handle(struct cp_req *req)
{
	const struct cp_config *cfg = req->cfg;
	json_object *doc;
	enum cp_status rc;

	if (!cp_req_path_is(req, "/.well-known/oauth-protected-resource") &&
	    !(cp_str_has_prefix(req->path, "/.well-known/oauth-protected-resource") &&
	    cp_str_eq_c((struct cp_str){ req->path.ptr + 37, req->path.len - 37 },
	    cfg->mcp_path)))
		return cp_resp_not_found(req);
	if ((doc = cp_metadata_protected_resource(cfg)) == NULL)
		return CP_ERR_NOMEM;
	cp_resp_header(req, "Cache-Control", "public, max-age=300");
	rc = cp_resp_json(req, 200, doc);
	json_object_put(doc);
	return rc;
}

static const struct cp_endpoint endpoint = {
	.name = "protected-resource",
	.allow = "GET, HEAD",
	.cors = true,
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
