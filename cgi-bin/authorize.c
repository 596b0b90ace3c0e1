/*
 * /authorize: GET starts a CIMD login (client checks, consent, redirect
 * to the IdP); POST is the consent form's answer.  The logic is in lib/handle/authorize.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "authorize",
	.path = "/authorize",
	.allow = "GET, POST",
	.handle = cp_authorize_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
