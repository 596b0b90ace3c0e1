/*
 * GET /.well-known/oauth-authorization-server: RFC 8414 metadata.  The
 * issuer has no path, so this is the only well-known location clients
 * probe first (RFC 8414 section 3.1).
 */
#include "config.h"

#include "handle.h"
#include "metadata.h"
#include "response.h"

enum cp_status
cp_authorization_server_handle(struct cp_req *req)
{
	json_object *doc;
	enum cp_status rc;

	if ((doc = cp_metadata_authorization_server(req->cfg)) == NULL)
		return CP_ERR_NOMEM;
	cp_resp_header(req, "Cache-Control", "public, max-age=300");
	rc = cp_resp_json(req, 200, doc);
	json_object_put(doc);
	return rc;
}
