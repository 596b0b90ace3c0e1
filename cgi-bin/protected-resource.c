/*
 * GET /.well-known/oauth-protected-resource[<mcp_path>]: RFC 9728
 * metadata naming the proxy as the MCP resource's authorization server.
 * Clients try the path-inserted form first (doc/protocol.md 1.3).
 * The logic is in lib/handle/protected-resource.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "protected-resource",
	.path_ok = cp_protected_resource_path,
	.allow = "GET, HEAD",
	.cors = true,
	.handle = cp_protected_resource_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
