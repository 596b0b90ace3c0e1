/*
 * /sessionbinding/okta-callback: the IdP's answer to the session-binding
 * login; verifies the ID token against the binding's user and completes
 * the session with AgentCore.  The logic is in lib/handle/sessionbinding-okta-callback.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"
#include "sbind.h"

static const struct cp_endpoint endpoint = {
	.name = "sessionbinding-okta-callback",
	.path = CP_SB_IDP_CALLBACK_PATH,
	.allow = "GET",
	.handle = cp_sbind_idp_callback,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
