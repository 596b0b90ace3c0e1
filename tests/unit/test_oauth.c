#include "config.h"

#include <string.h>

#include "conf.h"
#include "oauth.h"
#include "../tap.h"

static const char conf[] =
	"public_url = https://mcp.example.com\n"
	"idp_issuer = https://example.okta.com/oauth2/default\n"
	"idp_client_id = 0oa1\n"
	"idp_audience = api://default\n"
	"idp_scopes = openid offline_access mcp:tools\n"
	"gateway_url = https://gw.example.com/mcp\n"
	"key_file = /etc/cimd-proxy/keys\n"
	"binding = off\n";

/* RFC 7636 appendix B. */
static const char rfc_verifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

static void
pkce(void)
{
	char longv[CP_PKCE_VERIFIER_MAX + 2];

	ok(cp_pkce_challenge_ok(rfc_challenge, strlen(rfc_challenge)), "RFC 7636 B challenge is well-formed");
	ok(!cp_pkce_challenge_ok(rfc_challenge, 42), "42-char challenge refused");
	ok(!cp_pkce_challenge_ok("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", 43), "'+' (base64, not base64url) refused");
	ok(!cp_pkce_challenge_ok("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=", 43), "padding refused");
	ok(!cp_pkce_challenge_ok(NULL, 0), "NULL challenge refused");

	ok(cp_pkce_verifier_ok(rfc_verifier, strlen(rfc_verifier)), "RFC 7636 B verifier is well-formed");
	ok(cp_pkce_verifier_ok("abc.def~ghi_jkl-mno0123456789abcdefghijklmnopq", 46), "unreserved . ~ allowed");
	ok(!cp_pkce_verifier_ok(rfc_verifier, 42), "42-char verifier refused");
	memset(longv, 'a', sizeof(longv));
	ok(cp_pkce_verifier_ok(longv, CP_PKCE_VERIFIER_MAX), "128-char verifier allowed");
	ok(!cp_pkce_verifier_ok(longv, CP_PKCE_VERIFIER_MAX + 1), "129-char verifier refused");
	ok(!cp_pkce_verifier_ok("dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk", 43), "'+' and '/' refused in verifier");
	ok(!cp_pkce_verifier_ok("dBjftJeZ4CVP mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43), "space refused in verifier");

	ok(cp_pkce_verify(rfc_verifier, strlen(rfc_verifier), rfc_challenge, strlen(rfc_challenge)),
	    "S256 of the RFC 7636 B verifier matches its challenge");
	ok(!cp_pkce_verify("eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, rfc_challenge, 43),
	    "another verifier does not match");
	ok(!cp_pkce_verify(rfc_challenge, 43, rfc_challenge, 43), "the challenge itself (plain) does not match");
	ok(!cp_pkce_verify(rfc_verifier, 43, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", 43),
	    "a challenge differing in the last char does not match");
}

static void
redirect_is(const char *uri, const struct cp_oauth_param *p, size_t n, const char *want,
    const char *what)
{
	struct cp_buf b;

	cp_buf_init(&b, CP_MAX_REDIRECT);
	ok(cp_oauth_redirect(&b, uri, p, n) == CP_OK, "%s: built", what);
	is_str(cp_buf_cstr(&b), want, "%s", what);
	cp_buf_free(&b);
}

static void
redirects(void)
{
	struct cp_oauth_param p[] = {
		{ "code", "abc" }, { "state", "a b&c=d/é" }, { "iss", "https://mcp.example.com" },
	};
	struct cp_oauth_param nostate[] = {
		{ "error", "access_denied" }, { "state", NULL }, { "iss", "https://mcp.example.com" },
	};
	struct cp_buf b;
	char big[CP_MAX_STATE * 4];

	redirect_is("http://127.0.0.1:9300/callback", p, 3,
	    "http://127.0.0.1:9300/callback?code=abc&state=a%20b%26c%3Dd%2F%C3%A9&iss=https%3A%2F%2Fmcp.example.com",
	    "no query: '?' then encoded values");
	redirect_is("https://app.example/cb?tenant=7", p, 1,
	    "https://app.example/cb?tenant=7&code=abc", "existing query: '&'");
	redirect_is("https://app.example/cb?", p, 1,
	    "https://app.example/cb?code=abc", "trailing '?': no extra separator");
	redirect_is("https://app.example/cb", nostate, 3,
	    "https://app.example/cb?error=access_denied&iss=https%3A%2F%2Fmcp.example.com",
	    "absent state is left out, never added");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p[1].value = big;
	cp_buf_init(&b, CP_MAX_REDIRECT);
	ok(cp_oauth_redirect(&b, "https://a.example/cb", p, 3) == CP_OK, "CP_MAX_STATE*4 bytes of state fits");
	cp_buf_free(&b);
	memset(big, '%', sizeof(big) - 1);
	cp_buf_init(&b, CP_MAX_REDIRECT * 2);
	ok(cp_oauth_redirect(&b, "https://a.example/cb", p, 3) == CP_ERR_LIMIT, "over CP_MAX_REDIRECT refused");
	ok(b.data == NULL && b.len == 0, "refused redirect leaves no half-built URL");
}

static void
errors(void)
{
	struct cp_buf b;
	char longd[400];

	is_str(cp_oauth_authz_error("access_denied"), "access_denied", "access_denied passes");
	is_str(cp_oauth_authz_error("login_required"), "login_required", "OIDC login_required passes");
	is_str(cp_oauth_authz_error("interaction_required"), "interaction_required", "OIDC interaction_required passes");
	is_str(cp_oauth_authz_error("evil<script>"), "server_error", "unregistered code becomes server_error");
	is_str(cp_oauth_authz_error("access_denied "), "server_error", "near miss becomes server_error");
	is_str(cp_oauth_authz_error(NULL), "server_error", "NULL becomes server_error");
	is_str(cp_oauth_token_error("invalid_grant"), "invalid_grant", "invalid_grant passes");
	is_str(cp_oauth_token_error("invalid_target"), "invalid_target", "invalid_target passes");
	is_str(cp_oauth_token_error("login_required"), "invalid_grant", "authz-only code is not a token error");
	is_str(cp_oauth_token_error("x"), "invalid_grant", "unknown token error becomes invalid_grant");

	cp_buf_init(&b, 1000);
	ok(cp_oauth_clean_description(&b, "End-User \"said\" no\\\r\n\x01\xc3\xa9!") == CP_OK, "description cleaned");
	is_str(cp_buf_cstr(&b), "End-User said no!", "quotes, backslash, controls and non-ASCII dropped");
	cp_buf_free(&b);
	memset(longd, 'd', sizeof(longd) - 1);
	longd[sizeof(longd) - 1] = '\0';
	cp_buf_init(&b, 1000);
	cp_oauth_clean_description(&b, longd);
	is_int(b.len, CP_MAX_ERROR_DESC, "description capped at CP_MAX_ERROR_DESC");
	cp_buf_free(&b);
}

static void
scope_is(const struct cp_config *cfg, const char *scope, enum cp_status want_rc,
    const char *want, const char *what)
{
	struct cp_buf b;
	enum cp_status rc;

	cp_buf_init(&b, CP_MAX_SCOPE);
	rc = cp_oauth_scope(cfg, scope, &b);
	is_int(rc, want_rc, "%s: status", what);
	if (want != NULL)
		is_str(cp_buf_cstr(&b), want, "%s", what);
	cp_buf_free(&b);
}

/* cp_oauth_scope, then cp_oauth_scope_refreshable: what the IdP is
 * asked for. */
static void
idp_scope_is(const struct cp_config *cfg, const char *scope, const char *want,
    const char *what)
{
	struct cp_buf b;

	cp_buf_init(&b, CP_MAX_SCOPE + 32);
	is_int(cp_oauth_scope(cfg, scope, &b), CP_OK, "%s: accepted", what);
	is_int(cp_oauth_scope_refreshable(cfg, &b), CP_OK, "%s: refreshable", what);
	is_str(cp_buf_cstr(&b), want, "%s", what);
	cp_buf_free(&b);
}

static void
checks(const struct cp_config *cfg)
{
	scope_is(cfg, NULL, CP_OK, "openid offline_access mcp:tools", "no scope means idp_scopes");
	scope_is(cfg, "mcp:tools", CP_OK, "mcp:tools", "one known scope");
	scope_is(cfg, "openid mcp:tools", CP_OK, "openid mcp:tools", "two known scopes");
	scope_is(cfg, "openid admin", CP_ERR_INVALID, NULL, "unknown scope refused");
	scope_is(cfg, "openid  mcp:tools", CP_ERR_INVALID, NULL, "double space refused");
	scope_is(cfg, " openid", CP_ERR_INVALID, NULL, "leading space refused");
	scope_is(cfg, "openid ", CP_ERR_INVALID, NULL, "trailing space refused");
	scope_is(cfg, "mcp:tool", CP_ERR_INVALID, NULL, "prefix of a known scope refused");
	/* SEP-2207: clients read no offline_access in the resource's
	 * metadata; the IdP is still asked for it. */
	idp_scope_is(cfg, "openid mcp:tools", "openid mcp:tools offline_access",
	    "a scope without offline_access gets it for the IdP");
	idp_scope_is(cfg, "offline_access mcp:tools", "offline_access mcp:tools",
	    "a scope with offline_access is left as it is");
	idp_scope_is(cfg, NULL, "openid offline_access mcp:tools",
	    "no scope: idp_scopes, which holds it already");

	/* RFC 6749 6: a refresh may ask for the grant or less, never more. */
	ok(cp_oauth_scope_within("openid", "openid offline_access"), "a subset of the grant");
	ok(cp_oauth_scope_within("offline_access openid", "openid offline_access"),
	    "the whole grant, in another order");
	ok(!cp_oauth_scope_within("openid mcp:tools", "openid offline_access"),
	    "one scope outside the grant refused");
	ok(!cp_oauth_scope_within("mcp:tool", "mcp:tools"), "a prefix of a granted scope refused");
	ok(!cp_oauth_scope_within("mcp:tools", "mcp:tool"), "a scope the grant has a prefix of refused");
	ok(!cp_oauth_scope_within("openid", ""), "nothing granted: refused");
	ok(!cp_oauth_scope_within("openid", NULL), "unknown grant: refused");
	ok(!cp_oauth_scope_within("openid  openid", "openid"), "an empty token refused");
	ok(cp_oauth_scope_within("openid", "openid  mcp:tools "), "stray spaces in the grant are skipped");

	ok(cp_oauth_resource_ok(cfg, "https://mcp.example.com/mcp"), "resource = MCP URL");
	ok(cp_oauth_resource_ok(cfg, "https://mcp.example.com/mcp/"), "one trailing slash tolerated");
	ok(!cp_oauth_resource_ok(cfg, "https://mcp.example.com/mcp//"), "two trailing slashes refused");
	ok(!cp_oauth_resource_ok(cfg, "https://mcp.example.com/mcpx"), "longer path refused");
	ok(!cp_oauth_resource_ok(cfg, "https://mcp.example.com/mc"), "shorter path refused");
	ok(!cp_oauth_resource_ok(cfg, "https://other.example/mcp"), "other host refused");

	ok(cp_oauth_login_hint_ok("alice@example.test"), "login_hint email ok");
	ok(!cp_oauth_login_hint_ok("alice smith"), "login_hint with space refused");
	ok(!cp_oauth_login_hint_ok(""), "empty login_hint refused");
}

int
main(void)
{
	struct cp_config cfg;
	char err[512];

	ok(cp_conf_parse("t", conf, strlen(conf), &cfg, err, sizeof(err)) == CP_OK,
	    "config parses: %s", err);
	pkce();
	redirects();
	errors();
	checks(&cfg);
	cp_conf_free(&cfg);
	return tap_done();
}
