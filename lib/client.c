#include "config.h"

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "redirect.h"
#include "seal.h"

enum cp_status
cp_client_get(struct cp_login *lg, const char *client_id,
    struct cp_client *c, char *why, size_t whylen)
{
	enum cp_cimd_source src = CP_CIMD_SRC_NONE;
	const char *reason = NULL;
	struct cp_buf hash;
	enum cp_status rc;

	memset(c, 0, sizeof(*c));
	rc = cp_cimd_resolve(lg->cfg, lg->st, client_id, &c->doc, &src, &reason);
	if (rc == CP_ERR_STORE || rc == CP_ERR_NOMEM)
		return rc;
	if (rc != CP_OK) {
		cp_log(CP_LOG_INFO, "client %.200s refused: %s (%s)", client_id,
		    reason ? reason : "-", cp_status_str(rc));
		snprintf(why, whylen, "%s %.200s: %s.",
		    rc == CP_ERR_DENIED ? "This server does not accept the application" :
		    rc == CP_ERR_NOT_FOUND ? "The application's client metadata document is gone" :
		    rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT || rc == CP_ERR_UPSTREAM ?
		    "The application's client metadata document could not be fetched" :
		    "The application's client_id or client metadata document is not acceptable",
		    client_id, reason ? reason : cp_status_str(rc));
		return rc;
	}
	cp_log(CP_LOG_DEBUG, "client %.200s from %s", client_id, cp_cimd_source_str(src));
	cp_buf_init(&hash, sizeof(c->doc_hash) - 1);
	if ((rc = cp_b64url_encode(c->doc.hash, sizeof(c->doc.hash), &hash)) == CP_OK)
		memcpy(c->doc_hash, hash.data, hash.len + 1);
	cp_buf_free(&hash);
	return rc;
}

void
cp_client_free(struct cp_client *c)
{
	cp_cimd_doc_free(&c->doc);
	memset(c, 0, sizeof(*c));
}

bool
cp_client_redirect_ok(const struct cp_client *c, const char *redirect_uri)
{
	return cp_redirect_uri_match(&c->doc, redirect_uri);
}
