/*
 * GET /.well-known/oauth-authorization-server: RFC 8414 metadata.  The
 * issuer has no path, so this is the only well-known location clients
 * probe first (doc/protocol.md 3.1).
 * The logic is in lib/handle/authorization-server.c.
 */
#include "config.h"

#include "endpoint.h"
#include "handle/handle.h"

static const struct cp_endpoint endpoint = {
	.name = "authorization-server",
	.path = "/.well-known/oauth-authorization-server",
	.allow = "GET, HEAD",
	.cors = true,
	.handle = cp_authorization_server_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
