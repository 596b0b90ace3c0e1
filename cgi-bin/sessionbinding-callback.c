/*
 * /sessionbinding/callback: where AgentCore sends the browser after the
 * user consented at the downstream service; checks the session binding
 * and starts the IdP login that proves who the user is.  The logic is in lib/handle/sessionbinding-callback.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"
#include "sbind.h"

static const struct cp_endpoint endpoint = {
	.name = "sessionbinding-callback",
	.path = CP_SB_CALLBACK_PATH,
	.allow = "GET",
	.handle = cp_sbind_callback,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
