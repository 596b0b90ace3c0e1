/*
 * AgentCore Identity's CompleteResourceTokenAuth (doc/agentcore-okta.md 1):
 *
 *   POST <agentcore_endpoint>/identities/CompleteResourceTokenAuth
 *   Content-Type: application/json
 *   {"sessionUri":"urn:ietf:params:oauth:request_uri:...",
 *    "userIdentifier":{"userToken":"<the bearer token that started it>"}}
 *
 * signed with AWS SigV4 for service "bedrock-agentcore" in
 * agentcore_region by libcurl (CURLOPT_AWS_SIGV4), with the AWS
 * credentials of the program's environment.  200 with an empty body means
 * done; errors come the restJson1 way (x-amzn-ErrorType, x-amzn-RequestId).
 */
#ifndef CP_AGENTCORE_H
#define CP_AGENTCORE_H

#include <stddef.h>

#include "conf.h"
#include "http.h"
#include "status.h"

#define CP_AGENTCORE_PATH       "/identities/CompleteResourceTokenAuth"
#define CP_AGENTCORE_SERVICE    "bedrock-agentcore"     /* SigV4 signing name */
#define CP_AGENTCORE_TIMEOUT_MS 8000    /* the whole call; a person is waiting */
#define CP_AGENTCORE_MAX_TOKEN  131072  /* userToken length bound of the API model */
#define CP_AGENTCORE_MAX_BODY   (CP_AGENTCORE_MAX_TOKEN + 2048)

/* AWS credentials, borrowed from an environment; never logged. */
struct cp_aws_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;      /* NULL when unset or empty */
};

/*
 * Finds AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN:
 * in the process environment (lighttpd bin-environment /
 * bin-copy-environment, Apache FcgidInitialEnv), else among the
 * request's CGI variables envp (Apache PassEnv / SetEnv hand them to a
 * FastCGI program per request, not as process environment; envp may be
 * NULL).  All three come from the same place.  CP_ERR_CONFIG when the
 * key id or the secret is missing or empty, or one of the three is not
 * visible ASCII (http.h cp_http_visible); *missing then names the
 * variable(s) for the operator's log line.
 */
enum cp_status cp_aws_creds_get(char **envp, struct cp_aws_creds *creds,
    const char **missing);

/* What AgentCore answered. */
struct cp_agentcore_answer {
	long status;                /* HTTP status */
	char request_id[128];       /* x-amzn-RequestId, "" when absent */
	char error_type[128];       /* x-amzn-ErrorType (or the body's __type), "" */
};

/*
 * Calls CompleteResourceTokenAuth for session_uri with user_token[0..len)
 * (the stored bearer token) within timeout_ms (0: CP_AGENTCORE_TIMEOUT_MS).
 * CP_OK whenever AgentCore answered, whatever the status (see ans);
 * CP_ERR_TIMEOUT past the deadline, CP_ERR_FETCH when unreachable (TLS,
 * connection), CP_ERR_DENIED for an endpoint that is neither https nor
 * http to loopback, CP_ERR_INVALID for an unusable credential, CP_ERR_LIMIT
 * for a token over CP_AGENTCORE_MAX_TOKEN.  The token is wiped from every
 * buffer this function made and never logged.
 */
enum cp_status cp_agentcore_complete(const struct cp_config *cfg,
    const struct cp_aws_creds *creds, const char *session_uri,
    const char *user_token, size_t len, long timeout_ms,
    struct cp_agentcore_answer *ans);

#endif
