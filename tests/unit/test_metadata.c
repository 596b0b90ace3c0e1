#include "config.h"

#include <string.h>

#include "conf.h"
#include "metadata.h"
#include "../tap.h"

static const char conf[] =
	"public_url = https://mcp.example.com/\n"
	"idp_issuer = https://example.okta.com/oauth2/default\n"
	"idp_client_id = 0oa1\n"
	"idp_audience = api://default\n"
	"idp_scopes = openid  offline_access mcp:tools\n"
	"gateway_url = https://gw.example.com/mcp\n"
	"key_file = /etc/cimd-proxy/keys\n"
	"binding = off\n";

static const char only[] =
	"public_url = https://mcp.example.com/\n"
	"idp_issuer = https://example.okta.com/oauth2/default\n"
	"idp_client_id = 0oa1\n"
	"idp_audience = api://default\n"
	"idp_scopes = offline_access\n"
	"gateway_url = https://gw.example.com/mcp\n"
	"key_file = /etc/cimd-proxy/keys\n"
	"binding = off\n";

static const char *
member(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
}

int
main(void)
{
	struct cp_config cfg;
	char err[512];
	json_object *o;
	struct cp_buf b;

	ok(cp_conf_parse("t", conf, strlen(conf), &cfg, err, sizeof(err)) == CP_OK,
	    "config parses: %s", err);

	o = cp_metadata_protected_resource(&cfg);
	ok(o != NULL, "PRM built");
	is_str(member(o, "resource"), "\"https://mcp.example.com/mcp\"", "PRM resource = public_url + mcp_path");
	is_str(member(o, "authorization_servers"), "[\"https://mcp.example.com\"]", "PRM names the proxy as AS");
	is_str(member(o, "scopes_supported"), "[\"openid\",\"mcp:tools\"]",
	    "PRM scopes without offline_access (SEP-2207)");
	is_str(member(o, "bearer_methods_supported"), "[\"header\"]", "PRM bearer methods");
	json_object_put(o);

	o = cp_metadata_authorization_server(&cfg);
	ok(o != NULL, "AS metadata built");
	is_str(member(o, "issuer"), "\"https://mcp.example.com\"", "issuer byte for byte, no slash");
	is_str(member(o, "authorization_endpoint"), "\"https://mcp.example.com/authorize\"", "authorize endpoint");
	is_str(member(o, "token_endpoint"), "\"https://mcp.example.com/token\"", "token endpoint");
	is_str(member(o, "response_types_supported"), "[\"code\"]", "response types");
	is_str(member(o, "grant_types_supported"), "[\"authorization_code\",\"refresh_token\"]", "grant types");
	is_str(member(o, "code_challenge_methods_supported"), "[\"S256\"]", "S256 only");
	is_str(member(o, "token_endpoint_auth_methods_supported"), "[\"none\",\"private_key_jwt\"]", "auth none and private_key_jwt");
	is_str(member(o, "token_endpoint_auth_signing_alg_values_supported"), "[\"RS256\",\"ES256\",\"PS256\"]", "assertion algs");
	is_str(member(o, "client_id_metadata_document_supported"), "true", "CIMD supported");
	is_str(member(o, "authorization_response_iss_parameter_supported"), "true", "iss supported");
	ok(member(o, "registration_endpoint") == NULL, "no registration_endpoint");
	is_str(member(o, "scopes_supported"), "[\"openid\",\"offline_access\",\"mcp:tools\"]",
	    "AS scopes keep offline_access");
	json_object_put(o);

	cp_buf_init(&b, 1000);
	ok(cp_metadata_challenge(&cfg, NULL, &b) == CP_OK, "challenge built");
	is_str(cp_buf_cstr(&b), "Bearer resource_metadata=\"https://mcp.example.com/.well-known/"
	    "oauth-protected-resource/mcp\", scope=\"openid mcp:tools\"",
	    "challenge without error");
	cp_buf_reset(&b);
	cp_metadata_challenge(&cfg, "invalid_token", &b);
	ok(strncmp(cp_buf_cstr(&b), "Bearer error=\"invalid_token\", resource_metadata=", 48) == 0,
	    "challenge with error");
	cp_buf_free(&b);
	cp_conf_free(&cfg);

	/* Only offline_access: the challenge names no scope at all, and the
	 * PRM an empty list. */
	ok(cp_conf_parse("t", only, strlen(only), &cfg, err, sizeof(err)) == CP_OK,
	    "config parses: %s", err);
	cp_buf_init(&b, 1000);
	ok(cp_metadata_challenge(&cfg, NULL, &b) == CP_OK, "challenge built");
	ok(strstr(cp_buf_cstr(&b), "scope=") == NULL, "no scope= when only offline_access");
	o = cp_metadata_protected_resource(&cfg);
	is_str(member(o, "scopes_supported"), "[]", "PRM scopes empty");
	json_object_put(o);
	o = cp_metadata_authorization_server(&cfg);
	is_str(member(o, "scopes_supported"), "[\"offline_access\"]", "AS scopes");
	json_object_put(o);
	cp_buf_free(&b);
	cp_conf_free(&cfg);
	return tap_done();
}
