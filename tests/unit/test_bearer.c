/*
 * The Authorization header syntax the MCP endpoint accepts (RFC 6750
 * section 2.1), and which tokens are refused without asking the IdP.
 * Verification itself is tested against the IdP stand-in
 * (tests/integration/relay.test) and in test_jwt.
 */
#include "config.h"

#include <string.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "bearer.h"
#include "../tap.h"

/* With the IdP unreachable, a token no key could make good is still
 * judged bad (401), and only a well-formed one is "could not check"
 * (503). */
static void
test_idp_down(void)
{
	static const char conf[] = "public_url = https://proxy.example\n"
	    "idp_issuer = http://127.0.0.1:1/oauth2/default\nidp_client_id = cid\n"
	    "gateway_url = https://gw.example/mcp\nkey_file = /nonexistent\n"
	    "binding = off\nlog_level = error\n";
	static const struct { const char *token; bool unavailable; const char *what; } cases[] = {
		{ "abc.def.ghi", false, "garbage" },
		{ "eyJhbGciOiJub25lIn0.e30.", false, "alg none" },
		{ "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", false, "HS256" },
		{ "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsieCJdfQ.e30.c2lnbmF0dXJl", false, "crit header" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl", true, "well-formed RS256" },
	};
	struct cp_config cfg;
	struct cp_str t;
	json_object *claims;
	char err[256];
	enum cp_status rc;
	size_t i;

	if (cp_conf_parse("t.conf", conf, strlen(conf), &cfg, err, sizeof(err)) != CP_OK) {
		ok(0, "config: %s", err);
		return;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.ptr = cases[i].token;
		t.len = strlen(cases[i].token);
		rc = cp_bearer_verify(&cfg, NULL, t, &claims);
		ok(rc != CP_OK && cp_bearer_unavailable(rc) == cases[i].unavailable && claims == NULL,
		    "IdP unreachable, %s token: %s (%s)", cases[i].what,
		    cases[i].unavailable ? "could not check" : "bad", cp_status_str(rc));
	}
	cp_conf_free(&cfg);
}

int
main(void)
{
	static const struct { const char *auth; enum cp_status want; const char *token; } cases[] = {
		{ "Bearer abc.def.ghi", CP_OK, "abc.def.ghi" },
		{ "bearer abc", CP_OK, "abc" },
		{ "BEARER a-b_c~d+e/f==", CP_OK, "a-b_c~d+e/f==" },
		{ "Bearer   abc", CP_OK, "abc" },
		{ NULL, CP_ERR_NOT_FOUND, NULL },
		{ "Basic Zm9vOmJhcg==", CP_ERR_NOT_FOUND, NULL },
		{ "Bearer", CP_ERR_NOT_FOUND, NULL },
		{ "Bearerabc", CP_ERR_NOT_FOUND, NULL },
		{ "Bearer ", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc def", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc ", CP_ERR_SYNTAX, NULL },
		{ "Bearer a=b", CP_ERR_SYNTAX, NULL },
		{ "Bearer =abc", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc,def", CP_ERR_SYNTAX, NULL },
		{ "Bearer \"abc\"", CP_ERR_SYNTAX, NULL },
	};
	struct cp_str t;
	char got[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(cp_bearer_token(cases[i].auth, &t), cases[i].want, "\"%s\"",
		    cases[i].auth ? cases[i].auth : "(no header)");
		if (cases[i].want == CP_OK) {
			snprintf(got, sizeof(got), "%.*s", (int)t.len, t.ptr);
			is_str(got, cases[i].token, "  token");
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || gnutls_global_init() < 0)
		ok(0, "library init");
	else
		test_idp_down();
	gnutls_global_deinit();
	curl_global_cleanup();
	return tap_done();
}
