/*
 * /callback: the IdP's authorization response; opens our sealed state
 * and hands the client a code of its own.  The logic is in
 * lib/authorize.c.
 */
#include "config.h"

#include "authorize.h"
#include "endpoint.h"

static enum cp_status
handle(struct cp_req *req)
{
	if (!cp_req_path_is(req, "/callback"))
		return cp_resp_not_found(req);
	return cp_callback_handle(req);
}

static const struct cp_endpoint endpoint = {
	.name = "callback",
	.allow = "GET",
	.handle = handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
