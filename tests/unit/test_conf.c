#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "../tap.h"

#define BASE_NO_AUD \
	"# a comment\n" \
	"public_url = https://mcp.example.com\n" \
	"idp_issuer = https://example.okta.com/oauth2/default\n" \
	"idp_client_id = 0oa1abc\n" \
	"gateway_url = https://gw-1.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp\n" \
	"key_file = /etc/cimd-proxy/keys\n" \
	"agentcore_region = us-east-1\n"
#define BASE BASE_NO_AUD "idp_audience = api://default\n"
#define GW_BASE \
	"public_url = https://mcp.example.com\nidp_issuer = https://i.example\n" \
	"idp_client_id = c\nidp_audience = api://default\nkey_file = /k\nbinding = off\n"

/* Each case is BASE plus extra lines (or a replacement text), and the
 * error line it must produce (a substring), or NULL for success. */
struct conf_case {
	const char *text;
	const char *want_err;
};

static const struct conf_case cases[] = {
	{ BASE, NULL },
	{ BASE "mcp_path = /tools/mcp\n", NULL },
	{ BASE "client_allow = https://vscode.dev/oauth/client-metadata.json\n"
	       "client_allow = https://claude.ai/\n", NULL },
	{ BASE "client_pin = https://claude.ai/oauth/x /etc/cimd-proxy/pins/x.json\n", NULL },
	{ BASE "fetch_allow_private = 127.0.0.0/8\nfetch_allow_private = fd00::/8\n", NULL },
	{ BASE "cors_allow_origin = *\ncors_allow_origin = https://app.example.com\n", NULL },
	{ BASE "consent = always\nbinding = off\nlog_level = debug\n", NULL },
	{ BASE "store = postgresql:host=db dbname=cimd\n", NULL },
	{ BASE_NO_AUD "  idp_audience   =   api://default  \r\n", NULL },
	{ BASE_NO_AUD "idp_audience = any\n", NULL },
	{ BASE "elicitation_host = bedrock-agentcore.us-west-2.amazonaws.com\n"
	       "elicitation_host = 127.0.0.1:8443\nelicitation_host = [::1]:9\n", NULL },
	{ BASE "elicitation_host = https://a.example\n", "elicitation_host: must be a host name" },
	{ BASE "elicitation_host = a.example/path\n", "elicitation_host: must be a host name" },
	{ BASE "elicitation_host = u@a.example\n", "elicitation_host: must be a host name" },
	{ BASE "elicitation_host = a.example:x\n", "elicitation_host: must be a host name" },
	{ BASE "elicitation_host = a.example?q\n", "elicitation_host: must be a host name" },
	{ BASE "elicitation_host = a example\n", "elicitation_host: must be a host name" },
	{ "public_url = http://127.0.0.1:8080\nidp_issuer = https://127.0.0.1:9100\n"
	  "idp_client_id = c\nidp_audience = a\ngateway_url = http://127.0.0.1:9200/mcp\n"
	  "key_file = /k\nbinding = off\n", NULL },
	/* gateway_url: https anywhere, plain http only to a loopback host */
	{ GW_BASE "gateway_url = https://gw.example.com/mcp\n", NULL },
	{ GW_BASE "gateway_url = https://10.0.0.5:8443/mcp\n", NULL },
	{ GW_BASE "gateway_url = http://127.0.0.1:9200/mcp\n", NULL },
	{ GW_BASE "gateway_url = http://127.45.6.7/mcp\n", NULL },
	{ GW_BASE "gateway_url = http://[::1]:9200/mcp\n", NULL },
	{ GW_BASE "gateway_url = http://localhost:9200/mcp\n", NULL },
	{ GW_BASE "gateway_url = http://gw.example.com/mcp\n",
	  "t:7: gateway_url: must be an https URL (plain http only to a loopback host" },
	{ GW_BASE "gateway_url = http://10.0.0.5:9200/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = http://128.0.0.1/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = http://[::2]/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = http://[::ffff:127.0.0.1]/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = http://localhost.example.com/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = http://127.0.0.1.example.com/mcp\n", "gateway_url: must be an https URL" },
	{ GW_BASE "gateway_url = ftp://127.0.0.1/mcp\n", "gateway_url: must be an http or https URL" },
	/* missing and unknown keys */
	{ "public_url = https://a.example\n", "idp_issuer: is required but missing" },
	/* idp_audience is required, and the error says what Okta calls it */
	{ BASE_NO_AUD, "t: idp_audience: is required but missing: the aud of the access "
	  "tokens your IdP issues for the MCP gateway" },
	{ BASE_NO_AUD, "Okta calls it the authorization server's Audience (Security > API > "
	  "Authorization Servers, Settings tab), e.g. api://default. 'idp_audience = any' "
	  "accepts any audience" },
	{ BASE "colour = blue\n", "t:9: colour: unknown key" },
	{ BASE "public_url = https://b.example\n", "public_url: is given more than once" },
	{ BASE_NO_AUD "idp_audience =\n", "idp_audience: has an empty value" },
	{ BASE "idp_audience = any\n", "idp_audience: is given more than once" },
	{ BASE "garbage\n", "t:9: garbage: expected 'key = value'" },
	/* bad values, one per key */
	{ "public_url = http://mcp.example.com\n", "public_url: must be an https URL" },
	{ "public_url = https://mcp.example.com/base\n", "public_url: must be an origin with no path" },
	{ "public_url = https://u:p@mcp.example.com\n", "public_url: must not contain a user name" },
	{ "public_url = https://mcp.example.com/?x\n", "public_url: must not contain a query" },
	{ "public_url = not a url\n", "public_url: must be an absolute URL" },
	{ BASE "mcp_path = mcp\n", "mcp_path: must be an absolute path" },
	{ BASE "mcp_path = /a/../b\n", "mcp_path: must not contain empty or dot segments" },
	{ BASE "mcp_path = /a%2e\n", "mcp_path: may contain only" },
	{ BASE "idp_user_claim = a b\n", "idp_user_claim: may contain only" },
	{ BASE "gateway_protocol_version = latest\n", "gateway_protocol_version: must be an MCP protocol version" },
	{ BASE "client_allow = http://vscode.dev/x\n", "client_allow: must be an https URL" },
	{ BASE "client_pin = https://claude.ai/x\n", "client_pin: must be '<client_id> <file>'" },
	{ BASE "client_pin = https://claude.ai/x relative.json\n", "client_pin: must be an absolute file path" },
	{ BASE "consent = maybe\n", "consent: must be one of" },
	{ BASE "store = redis:x\n", "store: must be bdb:<directory> or postgresql:<conninfo>" },
	{ BASE "store = bdb:relative\n", "store: bdb: needs an absolute directory" },
	{ BASE "binding = yes\n", "binding: must be one of" },
	{ "agentcore_region = US_EAST\n", "agentcore_region: must be an AWS region name" },
	{ BASE "tls_ca_file = ca.pem\n", "tls_ca_file: must be an absolute file path" },
	{ BASE "fetch_allow_private = 10.1.2.3/8\n", "fetch_allow_private: must be a CIDR block" },
	{ BASE "fetch_allow_private = 10.0.0.0/33\n", "fetch_allow_private: must be a CIDR block" },
	{ BASE "cors_allow_origin = https://a.example/\n", "cors_allow_origin: must be an origin without a trailing /" },
	{ BASE "log_level = loud\n", "log_level: must be one of" },
	{ BASE "stream_max_seconds = 0\n", "stream_max_seconds: must be between 1 and" },
	{ BASE "heartbeat_seconds = -1\n", "heartbeat_seconds: must be a whole number" },
	{ BASE "idp_client_id = a\x01\n", "contains a control character" },
	/* binding = agentcore (the default) needs a region */
	{ "public_url = https://a.example\nidp_issuer = https://i.example\nidp_client_id = c\n"
	  "idp_audience = a\ngateway_url = https://g.example/mcp\nkey_file = /k\n",
	  "agentcore_region: is required when binding = agentcore" },
};

int
main(void)
{
	struct cp_config cfg;
	char err[512], path[] = "/tmp/cimd-conf-XXXXXX";
	size_t i;
	enum cp_status rc;
	FILE *f;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = cp_conf_parse("t", cases[i].text, strlen(cases[i].text), &cfg, err, sizeof(err));
		if (cases[i].want_err == NULL)
			ok(rc == CP_OK, "case %zu accepted%s%s", i, rc ? ": " : "", rc ? err : "");
		else
			ok(rc == CP_ERR_CONFIG && strstr(err, cases[i].want_err) != NULL,
			    "case %zu refused with \"%s\" (got \"%s\")", i, cases[i].want_err, err);
		cp_conf_free(&cfg);
	}

	/* Defaults and derived values. */
	rc = cp_conf_parse("t", BASE, strlen(BASE), &cfg, err, sizeof(err));
	ok(rc == CP_OK, "base parses");
	is_str(cfg.mcp_path, "/mcp", "default mcp_path");
	is_str(cfg.idp_scopes, "openid offline_access", "default scopes");
	is_str(cfg.idp_user_claim, "sub", "default user claim");
	is_str(cfg.idp_audience, "api://default", "audience as written");
	ok(!cfg.idp_audience_any, "  and checked");
	ok(cp_conf_warning(&cfg) == NULL, "no warning for a checked audience");
	ok(cfg.consent == CP_CONSENT_REMEMBER, "default consent remember");
	ok(cfg.binding == CP_BINDING_AGENTCORE, "default binding agentcore");
	ok(cfg.store_kind == CP_STORE_BDB, "default store bdb");
	is_str(cfg.agentcore_endpoint, "https://bedrock-agentcore.us-east-1.amazonaws.com",
	    "endpoint derived from region");
	is_str(cfg.resource, "https://mcp.example.com/mcp", "resource");
	is_str(cfg.prm_url, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "PRM URL");
	ok(cp_conf_scope_known(&cfg, "openid", 6) && !cp_conf_scope_known(&cfg, "open", 4),
	    "scope lookup is exact");
	cp_conf_free(&cfg);

	{
		const char *t = BASE_NO_AUD "idp_audience = any\n";
		ok(cp_conf_parse("t", t, strlen(t), &cfg, err, sizeof(err)) == CP_OK &&
		    cfg.idp_audience_any, "idp_audience = any is accepted and means any");
		ok(cp_conf_warning(&cfg) != NULL &&
		    strstr(cp_conf_warning(&cfg), "idp_audience = any: /mcp accepts access "
		    "tokens the IdP issued for any audience") != NULL, "  with a warning: %s",
		    cp_conf_warning(&cfg) ? cp_conf_warning(&cfg) : "(none)");
		cp_conf_free(&cfg);
		t = BASE_NO_AUD "idp_audience = Any\n";
		ok(cp_conf_parse("t", t, strlen(t), &cfg, err, sizeof(err)) == CP_OK &&
		    !cfg.idp_audience_any, "idp_audience = Any is an audience, not any");
		cp_conf_free(&cfg);
	}

	{
		const char *t = BASE "elicitation_host = idp-broker.example\n"
		    "elicitation_host = 127.0.0.1:8443\n";
		ok(cp_conf_parse("t", t, strlen(t), &cfg, err, sizeof(err)) == CP_OK,
		    "elicitation_host repeats");
		ok(cfg.elicitation_host.n == 2 &&
		    strcmp(cfg.elicitation_host.v[1], "127.0.0.1:8443") == 0, "  both kept, in order");
		cp_conf_free(&cfg);
	}
	{
		const char *t = BASE "cors_allow_origin = https://app.example.com\n"
		    "fetch_allow_private = 127.0.0.0/8\n";
		ok(cp_conf_parse("t", t, strlen(t), &cfg, err, sizeof(err)) == CP_OK, "lists parse");
		ok(cp_conf_cors_allowed(&cfg, "https://app.example.com"), "listed origin allowed");
		ok(!cp_conf_cors_allowed(&cfg, "https://app.example.com.evil"), "suffix not allowed");
		ok(cfg.fetch_allow_private_n == 1 && cfg.fetch_allow_private[0].prefix == 8,
		    "cidr parsed");
		cp_conf_free(&cfg);
	}

	/* Loading from the file named by CIMD_PROXY_CONF. */
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs(BASE, f);
	fclose(f);
	setenv("CIMD_PROXY_CONF", path, 1);
	is_str(cp_conf_path(), path, "CIMD_PROXY_CONF names the file");
	ok(cp_conf_load(cp_conf_path(), &cfg, err, sizeof(err)) == CP_OK, "load from file");
	cp_conf_free(&cfg);
	unlink(path);
	ok(cp_conf_load(path, &cfg, err, sizeof(err)) == CP_ERR_IO &&
	    strstr(err, "cannot open") != NULL, "missing file says so: %s", err);
	unsetenv("CIMD_PROXY_CONF");
	ok(strstr(cp_conf_path(), "/cimd-proxy.conf") != NULL, "default path");
	return tap_done();
}
