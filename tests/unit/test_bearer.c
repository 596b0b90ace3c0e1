/*
 * The Authorization header syntax the MCP endpoint accepts (RFC 6750
 * section 2.1), and which tokens are refused without asking the IdP.
 * Verification itself is tested against the IdP stand-in
 * (tests/integration/relay.test) and in test_jwt; here, what the
 * configuration makes /mcp ask of a token, with tokens jose signed (the
 * jwt fuzz seeds).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "bearer.h"
#include "jsonparse.h"
#include "../fuzz/jwt_jwks.h"
#include "../tap.h"

/* A seed of tests/fuzz/corpus/jwt into tok (NUL-terminated); its length. */
static size_t
seed(const char *name, char *tok, size_t cap)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/jwt/%s", top ? top : ".", name);
	if ((f = fopen(path, "rb")) != NULL) {
		n = fread(tok, 1, cap - 1, f);
		fclose(f);
	}
	tok[n] = '\0';
	return n;
}

/* The expectations cp_bearer_verify builds from the configuration, on
 * real tokens: an Okta-shaped access token (aud api://cimd-proxy-test,
 * cid cimd-proxy-test; RS256 without typ, ES256 with typ at+jwt) and an
 * ID token (aud cimd-proxy-test). */
static void
test_expect(void)
{
	static const struct {
		const char *audience, *client_id, *token;
		enum cp_status want;
		const char *what;
	} cases[] = {
		{ FUZZ_JWT_AUDIENCE, FUZZ_JWT_CLIENT_ID, "rs256-at", CP_OK, "our audience and client" },
		{ FUZZ_JWT_AUDIENCE, FUZZ_JWT_CLIENT_ID, "es256-typ", CP_OK, "header typ at+jwt" },
		{ "api://other", FUZZ_JWT_CLIENT_ID, "rs256-at", CP_ERR_INVALID, "another audience" },
		{ FUZZ_JWT_AUDIENCE, FUZZ_JWT_CLIENT_ID, "rs256-id", CP_ERR_INVALID,
		  "an ID token (its aud is the client)" },
		{ FUZZ_JWT_AUDIENCE, "0oa-other", "rs256-at", CP_ERR_INVALID,
		  "cid is not idp_client_id" },
		{ "any", FUZZ_JWT_CLIENT_ID, "rs256-at", CP_OK, "idp_audience = any" },
		{ "any", "0oa-other", "es256-at", CP_ERR_INVALID,
		  "idp_audience = any still checks cid" },
	};
	struct cp_jwt_expect expect;
	struct cp_config cfg;
	json_object *jwks, *claims;
	char conf[1024], err[512], tok[CP_JWT_MAX_LEN + 1];
	enum cp_status rc;
	size_t i, n;

	if (cp_json_parse_object(fuzz_jwt_jwks, sizeof(fuzz_jwt_jwks) - 1, &jwks) != CP_OK) {
		ok(0, "fuzz JWKS");
		return;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(conf, sizeof(conf), "public_url = https://proxy.example\n"
		    "idp_issuer = %s\nidp_client_id = %s\nidp_audience = %s\n"
		    "gateway_url = https://gw.example/mcp\nkey_file = /k\nbinding = off\n",
		    FUZZ_JWT_ISSUER, cases[i].client_id, cases[i].audience);
		if (cp_conf_parse("t.conf", conf, strlen(conf), &cfg, err, sizeof(err)) != CP_OK) {
			ok(0, "config: %s", err);
			continue;
		}
		n = seed(cases[i].token, tok, sizeof(tok));
		cp_bearer_expect(&cfg, FUZZ_JWT_NOW, &expect);
		rc = cp_jwt_verify_jwks(jwks, tok, n, &expect, &claims);
		is_int(rc, cases[i].want, "%s: %s -> %s", cases[i].token, cases[i].what,
		    cp_status_str(cases[i].want));
		json_object_put(claims);
		cp_conf_free(&cfg);
	}
	json_object_put(jwks);
}

/* With the IdP unreachable, a token no key could make good is still
 * judged bad (401), and only a well-formed one is "could not check"
 * (503). */
static void
test_idp_down(void)
{
	static const char conf[] = "public_url = https://proxy.example\n"
	    "idp_issuer = http://127.0.0.1:1/oauth2/default\nidp_client_id = cid\n"
	    "idp_audience = api://default\n"
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
	test_expect();
	gnutls_global_deinit();
	curl_global_cleanup();
	return tap_done();
}
