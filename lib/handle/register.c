/*
 * /register: dynamic client registration is refused, for every method
 * (doc/protocol.md 12; RFC 7591 section 3.2.2 error format).  Clients name
 * themselves with a Client ID Metadata Document instead.
 */
#include "config.h"

#include "handle.h"
#include "response.h"

enum cp_status
cp_register_handle(struct cp_req *req)
{
	return cp_resp_oauth_error(req, 400, "invalid_client_metadata",
	    "dynamic client registration is disabled; use a Client ID Metadata "
	    "Document URL as client_id");
}
