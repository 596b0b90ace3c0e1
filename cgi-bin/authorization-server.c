/*
 * GET /.well-known/oauth-authorization-server: RFC 8414 metadata.  The
 * issuer has no path, so this is the only well-known location clients
 * probe first (PROTOCOL.md 3.1).
 */
#include "config.h"

#include "endpoint.h"
#include "metadata.h"

static enum cp_status
handle(struct cp_req *req)
{
	json_object *doc;
	enum cp_status rc;

	if (!cp_req_path_is(req, "/.well-known/oauth-authorization-server"))
		return cp_resp_not_found(req);
	if ((doc = cp_metadata_authorization_server(req->cfg)) == NULL)
		return CP_ERR_NOMEM;
	cp_resp_header(req, "Cache-Control", "public, max-age=300");
	rc = cp_resp_json(req, 200, doc);
	json_object_put(doc);
	return rc;
}

static const struct cp_endpoint endpoint = {
	.name = "authorization-server",
	.allow = "GET, HEAD",
	.cors = true,
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
