/*
 * /callback: the IdP's authorization response; opens our sealed state
 * and hands the client a code of its own.  The logic is in
 * lib/handle/callback.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "callback",
	.path = "/callback",
	.allow = "GET",
	.handle = cp_callback_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
