/*
 * agentcore_tool: one CompleteResourceTokenAuth call through the library
 * (cp_agentcore_complete, libcurl's SigV4), for
 * tests/integration/agentcore.test.
 *
 *   agentcore_tool ENDPOINT REGION CA_FILE|- SESSION_URI TOKEN [TIMEOUT_MS]
 *
 * Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, as in the endpoint programs.  Prints one JSON line:
 *   {"rc":"ok","status":403,"page":502,"request_id":"..","error_type":".."}
 * where page is the status /sessionbinding/okta-callback would answer.
 * Exit 0 when AgentCore answered, 1 when the call failed, 2 on usage or
 * missing credentials.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "agentcore.h"
#include "conf.h"
#include "log.h"
#include "sbind.h"

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_aws_creds creds;
	struct cp_agentcore_answer ans;
	const char *missing;
	long timeout_ms = 0;
	enum cp_status rc;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: agentcore_tool ENDPOINT REGION CA_FILE|- SESSION_URI "
		    "TOKEN [TIMEOUT_MS]\n");
		return 2;
	}
	cp_log_init("agentcore_tool");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || gnutls_global_init() < 0)
		return 2;
	if (argc == 7)
		timeout_ms = strtol(argv[6], NULL, 10);
	if (cp_aws_creds_get(NULL, &creds, &missing) != CP_OK) {
		printf("{\"rc\":\"%s\",\"missing\":\"%s\"}\n",
		    cp_status_str(CP_ERR_CONFIG), missing);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.agentcore_endpoint = argv[1];
	cfg.agentcore_region = argv[2];
	cfg.tls_ca_file = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
	rc = cp_agentcore_complete(&cfg, &creds, argv[4], argv[5], strlen(argv[5]),
	    timeout_ms, &ans);
	printf("{\"rc\":\"%s\",\"status\":%ld,\"page\":%d,\"request_id\":\"%s\","
	    "\"error_type\":\"%s\"}\n", rc == CP_OK ? "ok" : cp_status_str(rc), ans.status,
	    cp_sbind_agentcore_page(rc, ans.status), ans.request_id, ans.error_type);
	gnutls_global_deinit();
	curl_global_cleanup();
	return rc == CP_OK ? 0 : 1;
}
