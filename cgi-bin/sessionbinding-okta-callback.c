/*
 * /sessionbinding/okta-callback: the IdP's answer to the session-binding
 * login; verifies the ID token against the binding's user and completes
 * the session with AgentCore.  The logic is in lib/sbind.c.
 */
#include "config.h"

#include "endpoint.h"
#include "sbind.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, CP_SB_IDP_CALLBACK_PATH))
		return cp_resp_not_found(req);
	return cp_sbind_idp_callback(req);
}

static const struct cp_endpoint endpoint = {
	.name = "sessionbinding-okta-callback",
	.allow = "GET",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
