/*
 * /token: the authorization_code and refresh_token grants, forwarded to
 * the IdP through our sealed envelopes.  The logic is in lib/token.c.
 */
#include "config.h"

#include "endpoint.h"
#include "token.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, "/token"))
		return cp_resp_not_found(req);
	return cp_token_handle(req);
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
