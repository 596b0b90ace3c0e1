/*
 * /register: dynamic client registration is refused, for every method
 * (doc/protocol.md 12; RFC 7591 section 3.2.2 error format).  Clients name
 * themselves with a Client ID Metadata Document instead.
 * The logic is in lib/handle/register.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "register",
	.path = "/register",
	.handle = cp_register_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
