/*
 * Outbound HTTP for the IdP and AgentCore: libcurl with a total deadline,
 * tls_ca_file honoured, no redirects, a cap on the response body, and no
 * cookies.  (Client-document fetches have stricter rules: cimd.c.)
 */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

#define CP_HTTP_TIMEOUT_MS      10000   /* whole transfer */
#define CP_HTTP_CONNECT_MS      5000
#define CP_HTTP_MAX_BODY        (256 * 1024)
#define CP_HTTP_MAX_CREDENTIAL  256     /* AWS key id, secret, region, service */
#define CP_HTTP_MAX_SESSION_TOKEN 8192  /* STS session tokens run to ~2 KB */
#define CP_HTTP_MAX_SIGNED_BODY (512 * 1024)   /* below libcurl's 1 MB Expect threshold */

/* True when s is 1 to max bytes of visible ASCII (0x21-0x7e): what a
 * SigV4 credential, region or service may be. */
bool cp_http_visible(const char *s, size_t max);

struct cp_http_response {
	long status;
	struct cp_buf body;         /* capped at CP_HTTP_MAX_BODY */
	char content_type[128];
	char request_id[128];       /* x-amzn-RequestId, when sent */
	char error_type[128];       /* x-amzn-ErrorType, when sent */
};

/* AWS Signature Version 4, computed by libcurl (CURLOPT_AWS_SIGV4), not
 * by us.  Every string is borrowed and must be visible ASCII. */
struct cp_http_sigv4 {
	const char *region;
	const char *service;            /* signing name, e.g. "bedrock-agentcore" */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;      /* NULL: none; else sent (and signed) as
					 * X-Amz-Security-Token */
};

/* GET url.  CP_ERR_TIMEOUT, CP_ERR_FETCH (network/TLS), CP_ERR_LIMIT
 * (body too large); any HTTP status is CP_OK with resp->status set.
 * The caller frees resp->body. */
enum cp_status cp_http_get(const struct cp_config *cfg, const char *url,
    struct cp_http_response *resp);

/* POST an application/x-www-form-urlencoded body. */
enum cp_status cp_http_post_form(const struct cp_config *cfg, const char *url,
    const char *body, size_t len, struct cp_http_response *resp);

/* POST an application/json body signed with sig, the whole transfer
 * within timeout_ms.  Errors as cp_http_get, plus CP_ERR_INVALID for a
 * credential holding bytes a header cannot carry (never logged) and
 * CP_ERR_LIMIT for a body over CP_HTTP_MAX_SIGNED_BODY. */
enum cp_status cp_http_post_json_sigv4(const struct cp_config *cfg,
    const char *url, const char *body, size_t len,
    const struct cp_http_sigv4 *sig, long timeout_ms,
    struct cp_http_response *resp);

/* The one way to set libcurl options (fetch.c, http.c, relay.c): sets
 * opt on curl unless an earlier option failed, so cc (a CURLcode that
 * starts CURLE_OK) holds the first failure and a list of options is
 * checked once after it. */
#define CP_CURL_SET(cc, curl, opt, value) do { \
	if ((cc) == CURLE_OK) \
		(cc) = curl_easy_setopt((curl), (opt), (value)); \
} while (0)

#endif
