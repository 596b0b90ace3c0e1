/*
 * /token: not built yet; answers 501 naming the endpoint so the web
 * server wiring can be tested now.
 */
#include "config.h"

#include "endpoint.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, "/token"))
		return cp_resp_not_found(req);
	return cp_resp_not_implemented(req, "/token");
}

static const struct cp_endpoint endpoint = {
	.name = "token",
	.allow = "POST",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
