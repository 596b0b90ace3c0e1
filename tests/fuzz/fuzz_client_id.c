/* Fuzz target: client_id checks, client_allow, redirect URI rules and
 * matching, and Cache-Control parsing (all hostile network input).  The
 * input's first line is the client_id; the rest is a requested
 * redirect_uri. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cimd.h"
#include "redirect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *allow[] = { "https://claude.ai/", "https://127.0.0.1:8443/",
	    "https://vscode.dev/oauth/client-metadata.json" };
	static const char *const registered[] = { "http://127.0.0.1:33418/",
	    "http://localhost/callback", "http://[::1]/cb", "https://app.example/cb?x=1" };
	struct cp_config cfg;
	struct cp_cimd_doc doc;
	const uint8_t *nl;
	size_t idlen;
	char *s;
	bool no_store;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	nl = memchr(data, '\n', size);
	idlen = nl != NULL ? (size_t)(nl - data) : size;
	s[idlen] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	cfg.client_allow.v = allow;
	cfg.client_allow.n = sizeof(allow) / sizeof(allow[0]);
	if (cp_client_id_check(s, idlen, NULL) == CP_OK)
		(void)cp_client_allowed(&cfg, s);
	(void)cp_cimd_cache_ttl(s, s, 0, &no_store);
	if (nl != NULL) {
		const char *req = s + idlen + 1;

		memset(&doc, 0, sizeof(doc));
		doc.redirect_uris = (char **)(uintptr_t)registered;
		doc.redirect_uris_n = sizeof(registered) / sizeof(registered[0]);
		(void)cp_redirect_uri_check(req, NULL);
		(void)cp_redirect_uri_match(&doc, req);
	}
	free(s);
	return 0;
}
