/*
 * /register: dynamic client registration is refused, for every method
 * (PROTOCOL.md 12; RFC 7591 section 3.2.2 error format).  Clients name
 * themselves with a Client ID Metadata Document instead.
 */
#include "config.h"

#include "endpoint.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, "/register"))
		return cp_resp_not_found(req);
	return cp_resp_oauth_error(req, 400, "invalid_client_metadata",
	    "dynamic client registration is disabled; use a Client ID Metadata "
	    "Document URL as client_id");
}

static const struct cp_endpoint endpoint = {
	.name = "register",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
