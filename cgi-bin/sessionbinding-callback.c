/*
 * /sessionbinding/callback: where AgentCore sends the browser after the
 * user consented at the downstream service; checks the session binding
 * and starts the IdP login that proves who the user is.  The logic is in
 * lib/sbind.c.
 */
#include "config.h"

#include "endpoint.h"
#include "sbind.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, CP_SB_CALLBACK_PATH))
		return cp_resp_not_found(req);
	return cp_sbind_callback(req);
}

static const struct cp_endpoint endpoint = {
	.name = "sessionbinding-callback",
	.allow = "GET",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
