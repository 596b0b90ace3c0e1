/*
 * The MCP endpoint (mcp_path).  Without a bearer token: 401 whose
 * challenge names the proxy's protected-resource metadata (PROTOCOL.md
 * 2.1), which is how clients discover where to log in.
 */
#include "config.h"

#include <strings.h>

#include "endpoint.h"
#include "limits.h"
#include "metadata.h"

static enum cp_status
handle(struct cp_req *req)
{
	const char *auth = cp_req_header(req, "Authorization");
	struct cp_buf challenge;
	enum cp_status rc;

	if (!cp_req_path_is(req, req->cfg->mcp_path))
		return cp_resp_not_found(req);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
		cp_buf_init(&challenge, CP_MAX_URL * 2);
		if ((rc = cp_metadata_challenge(req->cfg, NULL, &challenge)) != CP_OK)
			return rc;
		rc = cp_resp_header(req, "WWW-Authenticate", cp_buf_cstr(&challenge));
		cp_buf_free(&challenge);
		if (rc != CP_OK)
			return rc;
		return cp_resp_oauth_error(req, 401, "invalid_token",
		    "a bearer token is required; see the resource_metadata in WWW-Authenticate");
	}
	return cp_resp_not_implemented(req, "MCP relay");
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
	return cp_endpoint_main(argc, argv, &endpoint);
}
