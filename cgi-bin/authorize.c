/*
 * /authorize: GET starts a CIMD login (client checks, consent, redirect
 * to the IdP); POST is the consent form's answer.  The logic is in
 * lib/authorize.c.
 */
#include "config.h"

#include "authorize.h"
#include "endpoint.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, "/authorize"))
		return cp_resp_not_found(req);
	return cp_authorize_handle(req);
}

static const struct cp_endpoint endpoint = {
	.name = "authorize",
	.allow = "GET, POST",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
