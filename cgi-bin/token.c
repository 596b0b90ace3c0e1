/*
 * /token: the authorization_code and refresh_token grants, forwarded to
 * the IdP through our sealed envelopes.  The logic is in lib/handle/token.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "token",
	.path = "/token",
	.allow = "POST",
	.handle = cp_token_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
