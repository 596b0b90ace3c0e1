/*
 * Outbound HTTP for the IdP and AgentCore: libcurl with a total deadline,
 * tls_ca_file honoured, no redirects, a cap on the response body, and no
 * cookies.  (Client-document fetches have stricter rules: cimd.c.)
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

#define CP_HTTP_TIMEOUT_MS      10000   /* whole transfer */
#define CP_HTTP_CONNECT_MS      5000
#define CP_HTTP_MAX_BODY        (256 * 1024)

struct cp_http_response {
	long status;
	struct cp_buf body;         /* capped at CP_HTTP_MAX_BODY */
	char content_type[128];
	char request_id[128];       /* x-amzn-RequestId, when sent */
};

/* GET url.  CP_ERR_TIMEOUT, CP_ERR_FETCH (network/TLS), CP_ERR_LIMIT
 * (body too large); any HTTP status is CP_OK with resp->status set.
 * The caller frees resp->body. */
enum cp_status cp_http_get(const struct cp_config *cfg, const char *url,
    struct cp_http_response *resp);

/* POST an application/x-www-form-urlencoded body. */
enum cp_status cp_http_post_form(const struct cp_config *cfg, const char *url,
    const char *body, size_t len, struct cp_http_response *resp);

#endif
