/* client_static (issue 15): the configuration value's rules and the
 * document an entry stands for. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cimd.h"
#include "client_static.h"
#include "conf.h"
#include "../tap.h"

static const char conf[] =
	"public_url = https://mcp.example.com/\n"
	"idp_issuer = https://example.okta.com/oauth2/default\n"
	"idp_client_id = 0oa1\n"
	"idp_audience = api://default\n"
	"gateway_url = https://gw.example.com/mcp\n"
	"key_file = /etc/cimd-proxy/keys\n"
	"binding = off\n"
	"client_static = cursor-test http://127.0.0.1/callback  https://app.example.com/cb\n"
	"client_static = copilot-cli http://localhost:8976/\n";

int
main(void)
{
	static const struct { const char *value; bool good; const char *what; } cases[] = {
		{ "cursor http://127.0.0.1/callback", true, "loopback redirect" },
		{ "a https://app.example.com/cb http://[::1]:9/x", true, "two redirect URIs" },
		{ "cursor", false, "no redirect URI" },
		{ "cursor ", false, "only a space after the id" },
		{ " http://127.0.0.1/cb", false, "empty client_id" },
		{ "https://x.example/c http://127.0.0.1/cb", false, "a URL as client_id" },
		{ "http://x.example/c http://127.0.0.1/cb", false, "an http URL as client_id" },
		{ "cur\x01sor http://127.0.0.1/cb", false, "control byte in client_id" },
		{ "cursor http://app.example.com/cb", false, "plain http to another host" },
		{ "cursor https://app.example.com/cb#f", false, "a fragment" },
		{ "cursor javascript:alert(1)", false, "javascript:" },
		{ "cursor com.example.app:/cb", false, "a private-use scheme" },
	};
	struct cp_config cfg;
	struct cp_cimd_doc doc;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok((cp_client_static_check(cases[i].value) == NULL) == cases[i].good,
		    "%s: %s", cases[i].what, cases[i].good ? "accepted" : "refused");

	ok(cp_conf_parse("t", conf, strlen(conf), &cfg, err, sizeof(err)) == CP_OK,
	    "config with two client_static parses: %s", err);
	is_int(cfg.client_static.n, 2, "two entries");
	ok(cp_client_static_doc(&cfg, "cursor-test", &doc) == CP_OK, "cursor-test is known");
	ok(doc.operator_registered, "  operator-registered");
	is_str(doc.client_id, "cursor-test", "  client_id");
	is_int(doc.redirect_uris_n, 2, "  two redirect URIs");
	is_str(doc.redirect_uris[1], "https://app.example.com/cb", "  kept in order");
	ok(!doc.loopback_only, "  an https one: not loopback only");
	ok(doc.auth == CP_CLIENT_AUTH_NONE && doc.jwks == NULL && doc.jwks_uri == NULL,
	    "  public: token_endpoint_auth_method none, no keys");
	cp_cimd_doc_free(&doc);
	ok(cp_client_static_doc(&cfg, "copilot-cli", &doc) == CP_OK && doc.loopback_only,
	    "copilot-cli: loopback only");
	cp_cimd_doc_free(&doc);
	ok(cp_client_static_doc(&cfg, "cursor", &doc) == CP_ERR_NOT_FOUND,
	    "a prefix of a client_id is not it");
	ok(cp_client_static_doc(&cfg, "cursor-test ", &doc) == CP_ERR_NOT_FOUND,
	    "nor a longer one");
	cp_conf_free(&cfg);

	{
		char bad[sizeof(conf) + 64];

		snprintf(bad, sizeof(bad), "%sclient_static = https://x.example/c http://127.0.0.1/\n",
		    conf);
		ok(cp_conf_parse("t", bad, strlen(bad), &cfg, err, sizeof(err)) != CP_OK &&
		    strstr(err, "client_static") != NULL,
		    "a bad client_static is a configuration error naming the key: %s", err);
	}
	return tap_done();
}
