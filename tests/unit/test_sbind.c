/*
 * Session binding without servers: the transaction record, the
 * session_id rule, page escaping, the user hash of security log lines,
 * the AgentCore status mapping, and both handlers (run in-process as
 * plain CGI against a real Berkeley DB store) up to the point where
 * they would talk to the IdP.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "binding.h"
#include "conf.h"
#include "consent.h"
#include "login.h"
#include "sbind.h"
#include "../tap.h"

#define PREFIX "urn:ietf:params:oauth:request_uri:"
#define SESSION PREFIX "c2Vzc2lvbi1vbmU.x_y~z-1"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiIwMHVhbGljZSJ9.c2lnbmF0dXJl"
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define NONCE "n-0S6_WzA2Mj"
#define KEYS "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
/* An IdP nobody answers for, whose discovery document is in the store,
 * so the handlers get as far as the IdP's token endpoint. */
#define ISSUER "http://127.0.0.1:1/oauth2/default"
#define ISS_PARAM "&iss=http%%3A%%2F%%2F127.0.0.1%%3A1%%2Foauth2%%2Fdefault"
#define DISCOVERY "{\"issuer\":\"" ISSUER "\",\"authorization_endpoint\":\"" ISSUER \
    "/v1/authorize\",\"token_endpoint\":\"" ISSUER "/v1/token\",\"jwks_uri\":\"" ISSUER \
    "/v1/keys\",\"authorization_response_iss_parameter_supported\":true}"

static char out[65536];

/* Serves one GET of uri (with an optional Cookie header) through handler
 * as plain CGI; the response lands in out.  Returns the status. */
static int
serve(const struct cp_config *cfg, enum cp_status (*handler)(struct cp_req *),
    const char *uri, const char *cookie)
{
	char method[] = "REQUEST_METHOD=GET", u[8192], c[8192];
	char *envp[] = { method, u, cookie ? c : NULL, NULL };
	struct cp_req req;
	const char *s;
	FILE *tmp;
	size_t n;
	int saved, status = 0;

	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	snprintf(c, sizeof(c), "HTTP_COOKIE=%s", cookie ? cookie : "");
	out[0] = '\0';
	fflush(stdout);
	if ((tmp = tmpfile()) == NULL || (saved = dup(1)) < 0)
		return -1;
	dup2(fileno(tmp), 1);
	if (cp_req_init(&req, NULL, envp, cfg) == CP_OK) {
		if (handler(&req) != CP_OK && !req.began)
			printf("Status: 999 handler failed\r\n\r\n");
		cp_req_flush(&req);
	}
	cp_req_free(&req);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	if ((s = strstr(out, "Status: ")) != NULL)
		status = (int)strtol(s + 8, NULL, 10);
	return status;
}

static bool
has(const char *needle)
{
	return strstr(out, needle) != NULL;
}

/* A state for the okta-callback as to_idp seals it, its record stored
 * under the state's id; browser is the id its cookie must carry. */
static void
make_state(struct cp_login *lg, const uint8_t browser[CP_BROWSER_ID_LEN], int attempt,
    bool store_record, struct cp_buf *state)
{
	struct cp_sbind_tx tx;
	struct cp_buf text, rec;
	uint8_t id[CP_SEAL_ID_LEN];
	json_object *o = json_object_new_object();

	cp_buf_init(&text, 64);
	cp_buf_init(&rec, CP_SB_MAX_TX);
	memset(&tx, 0, sizeof(tx));
	memcpy(tx.session_uri, SESSION, sizeof(SESSION));
	memcpy(tx.verifier, VERIFIER, sizeof(VERIFIER));
	memcpy(tx.nonce, NONCE, sizeof(NONCE));
	tx.attempt = attempt;
	cp_browser_text(browser, &text);
	cp_login_set(o, "browser", cp_buf_cstr(&text));
	cp_login_seal(lg, CP_SEAL_SB_STATE, o, time(NULL) + CP_SB_STATE_TTL, state, id);
	cp_sbind_tx_encode(&tx, &rec);
	if (store_record)
		cp_store_put(lg->st, CP_NS_SBTX, id, sizeof(id), rec.data, rec.len,
		    time(NULL) + CP_SB_STATE_TTL);
	json_object_put(o);
	cp_buf_free(&text);
	cp_buf_free(&rec);
}

/* "__Host-cimd-sb=<sealed browser id>" into cookie. */
static void
make_cookie(struct cp_login *lg, const uint8_t browser[CP_BROWSER_ID_LEN],
    enum cp_seal_purpose purpose, struct cp_buf *cookie)
{
	cp_buf_adds(cookie, CP_SB_COOKIE "=");
	cp_seal(lg->keys, purpose, browser, CP_BROWSER_ID_LEN, time(NULL) + 600, cookie, NULL);
}

static void
test_record(void)
{
	struct cp_sbind_tx tx, back;
	struct cp_buf b;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\"}",
		"{\"v\":2,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":0}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":3}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":\"1\"}",
		"{\"v\":1,\"session_uri\":\"urn:x\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"short\",\"nonce\":\"" NONCE "\",\"attempt\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"a b\",\"attempt\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":1,\"x\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"nonce\":\"" NONCE "\",\"attempt\":1}",
		"{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\"" VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":1}x",
	};
	size_t i;

	memset(&tx, 0, sizeof(tx));
	memcpy(tx.session_uri, SESSION, sizeof(SESSION));
	memcpy(tx.verifier, VERIFIER, sizeof(VERIFIER));
	memcpy(tx.nonce, NONCE, sizeof(NONCE));
	tx.attempt = 2;
	cp_buf_init(&b, CP_SB_MAX_TX);
	is_int(cp_sbind_tx_encode(&tx, &b), CP_OK, "record encodes");
	is_str(cp_buf_cstr(&b), "{\"v\":1,\"session_uri\":\"" SESSION "\",\"verifier\":\""
	    VERIFIER "\",\"nonce\":\"" NONCE "\",\"attempt\":2}", "  as documented");
	is_int(cp_sbind_tx_decode(b.data, b.len, &back), CP_OK, "record decodes");
	ok(memcmp(&tx, &back, sizeof(tx)) == 0, "  to the same transaction");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(cp_sbind_tx_decode(bad[i], strlen(bad[i]), &back), CP_ERR_SYNTAX,
		    "refused record %zu", i);
		ok(back.attempt == 0 && back.session_uri[0] == '\0', "  leaves nothing behind");
	}
	tx.attempt = 3;
	cp_buf_reset(&b);
	is_int(cp_sbind_tx_encode(&tx, &b), CP_ERR_INVALID, "attempt 3 is not encoded");
	tx.attempt = 1;
	memcpy(tx.nonce, "x\"y", 4);
	is_int(cp_sbind_tx_encode(&tx, &b), CP_ERR_INVALID, "a nonce needing escapes is not encoded");
	cp_buf_free(&b);
}

static void
test_session_id(void)
{
	char uri[CP_ELICIT_MAX_SESSION_URI + 2];
	static const struct { const char *s; bool ok; } cases[] = {
		{ SESSION, true },
		{ PREFIX "a", true },
		{ PREFIX "Y2M4M2QyNDkt-._~", true },
		{ PREFIX, false },
		{ "urn:ietf:params:oauth:request_uri", false },
		{ "URN:IETF:PARAMS:OAUTH:REQUEST_URI:abc", false },
		{ PREFIX "a b", false },
		{ PREFIX "a%20b", false },
		{ PREFIX "a/b", false },
		{ PREFIX "a:b", false },
		{ PREFIX "\xc3\xa9", false },
		{ "https://example.com/?" PREFIX "a", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(cp_elicit_session_uri_ok(cases[i].s, strlen(cases[i].s)), cases[i].ok,
		    "session_id %s %s", cases[i].ok ? "accepted:" : "refused:", cases[i].s);
	memset(uri, 'x', sizeof(uri));
	memcpy(uri, PREFIX, strlen(PREFIX));
	ok(cp_elicit_session_uri_ok(uri, CP_ELICIT_MAX_SESSION_URI), "%d bytes accepted",
	    CP_ELICIT_MAX_SESSION_URI);
	ok(!cp_elicit_session_uri_ok(uri, CP_ELICIT_MAX_SESSION_URI + 1), "%d bytes refused",
	    CP_ELICIT_MAX_SESSION_URI + 1);
}

static void
test_helpers(void)
{
	char h[CP_SB_USER_HASH_LEN + 1], h2[CP_SB_USER_HASH_LEN + 1];
	struct cp_buf b;
	static const struct { enum cp_status rc; long status; int page; } map[] = {
		{ CP_OK, 200, 200 }, { CP_OK, 403, 502 }, { CP_OK, 400, 502 },
		{ CP_OK, 401, 502 }, { CP_OK, 404, 502 }, { CP_OK, 500, 502 },
		{ CP_OK, 503, 502 }, { CP_OK, 429, 503 }, { CP_OK, 204, 502 },
		{ CP_ERR_TIMEOUT, 0, 504 }, { CP_ERR_FETCH, 0, 502 },
		{ CP_ERR_INVALID, 0, 500 }, { CP_ERR_DENIED, 0, 500 },
	};
	size_t i;

	/* printf 00ualice | sha256sum: 5d34a110 3832c745 ... */
	cp_sbind_user_hash("00ualice", h);
	is_str(h, "5d34a1103832c745", "user hash: first 16 hex chars of SHA-256");
	cp_sbind_user_hash("00ubob", h2);
	ok(strcmp(h, h2) != 0 && strlen(h2) == CP_SB_USER_HASH_LEN, "  another user, another hash");

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		is_int(cp_sbind_agentcore_page(map[i].rc, map[i].status), map[i].page,
		    "AgentCore %s/%ld -> page %d", cp_status_str(map[i].rc), map[i].status,
		    map[i].page);

	cp_buf_init(&b, 4096);
	is_int(cp_sbind_page_html(&b, "a <b> & \"c\"", "<script>alert('x')</script>"), CP_OK,
	    "page body built");
	is_str(cp_buf_cstr(&b), "<p>a &lt;b&gt; &amp; &quot;c&quot;</p>\n<p><code>&lt;script&gt;"
	    "alert(&#39;x&#39;)&lt;/script&gt;</code></p>", "  text and detail escaped");
	cp_buf_reset(&b);
	cp_sbind_page_html(&b, "plain", NULL);
	is_str(cp_buf_cstr(&b), "<p>plain</p>", "  no detail, no <code>");
	cp_buf_free(&b);
}

static void
test_callback(const struct cp_config *cfg, const struct cp_config *off, struct cp_login *lg)
{
	struct cp_binding_record b;
	time_t now = time(NULL);

	is_int(serve(off, cp_sbind_callback, "/sessionbinding/callback?session_id="
	    "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", NULL), 404,
	    "binding = off: 404");
	ok(has("application/json") && has("not_found"), "  JSON like an unknown path");

	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback", NULL), 400,
	    "no session_id: 400");
	ok(has("text/html") && has("frame-ancestors 'none'") && has("no-store"),
	    "  an HTML page with CSP frame-ancestors 'none' and no-store");
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id=" SESSION
	    "&session_id=" SESSION, NULL), 400, "session_id twice: 400");
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id=", NULL), 400,
	    "empty session_id: 400");
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id="
	    "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aa%2Fb", NULL), 400,
	    "session_id with a '/': 400");
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id=%ZZ", NULL),
	    400, "bad percent-encoding: 400");
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id="
	    "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Anobody-knows-me", NULL), 404,
	    "unknown session: 404 page");
	ok(has("text/html") && has("retry the tool call"), "  advising to retry the tool call");
	ok(!has("nobody-knows-me"), "  without echoing the session URI");

	cp_binding_put(lg->st, lg->keys, SESSION, "00ualice", TOKEN, strlen(TOKEN), now, NULL);
	memset(&b, 0, sizeof(b));
	cp_binding_consume(lg->st, lg->keys, SESSION, now, &b);
	cp_binding_free(&b);
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id="
	    "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ac2Vzc2lvbi1vbmU.x_y~z-1", NULL), 410,
	    "consumed binding: 410 page");
	ok(has("already used") && !has("c2Vzc2lvbi1vbmU"), "  saying so, without the session URI");
	/* Another session: the consumed one is never written again. */
	cp_binding_put(lg->st, lg->keys, PREFIX "expired-1", "00ualice", TOKEN, strlen(TOKEN),
	    now - CP_BINDING_TTL - 1, NULL);
	is_int(serve(cfg, cp_sbind_callback, "/sessionbinding/callback?session_id=" PREFIX "expired-1",
	    NULL),
	    410, "expired binding: 410 page");
	ok(!has(TOKEN), "  no token in any page");
}

static void
test_idp_callback(const struct cp_config *cfg, const struct cp_config *off, struct cp_login *lg)
{
	uint8_t alice[CP_BROWSER_ID_LEN], other[CP_BROWSER_ID_LEN];
	struct cp_buf state, cookie, cookie_other, cookie_wrong, uri;

	memset(alice, 0xa1, sizeof(alice));
	memset(other, 0x0b, sizeof(other));
	cp_buf_init(&state, 4096);
	cp_buf_init(&cookie, 4096);
	cp_buf_init(&cookie_other, 4096);
	cp_buf_init(&cookie_wrong, 4096);
	cp_buf_init(&uri, 8192);
	make_cookie(lg, alice, CP_SEAL_BROWSER, &cookie);
	make_cookie(lg, other, CP_SEAL_BROWSER, &cookie_other);
	make_cookie(lg, alice, CP_SEAL_CSRF, &cookie_wrong);

	is_int(serve(off, cp_sbind_idp_callback, "/sessionbinding/okta-callback?code=x&state=y",
	    NULL), 404, "binding = off: okta-callback 404");
	is_int(serve(cfg, cp_sbind_idp_callback, "/sessionbinding/okta-callback?code=x", NULL), 400,
	    "no state: 400");
	is_int(serve(cfg, cp_sbind_idp_callback, "/sessionbinding/okta-callback?code=x&state=v1.AAAA",
	    NULL), 400, "a state we did not seal: 400");

	make_state(lg, alice, 1, true, &state);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?code=x&state=%s", cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), NULL), 400,
	    "state without its cookie: 400");
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie_other)), 400,
	    "state with another browser's cookie: 400");
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie_wrong)), 400,
	    "a cookie sealed for another purpose: 400");
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?code=x&state=%s&iss=https%%3A%%2F%%2Fevil.example",
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "iss of another issuer: 400");
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s&error=%%3Cscript%%3Ex" ISS_PARAM,
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "the IdP's error=<script>x: 400 page");
	ok(has("&lt;script&gt;x") && !has("<script>"), "  naming the error, escaped");
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "the same state again: 400");
	ok(has("already used"), "  (its record was taken)");

	/* Attempt 2's login_required is final; attempt 1's restarts. */
	cp_buf_reset(&state);
	make_state(lg, alice, 2, true, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s&error=login_required" ISS_PARAM,
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "login_required on attempt 2: 400 page");
	ok(has("<code>login_required</code>"), "  naming it");
	cp_buf_reset(&state);
	make_state(lg, alice, 1, true, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s&error=interaction_required"
	    ISS_PARAM, cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 302,
	    "interaction_required on attempt 1 goes back to the IdP");
	ok(has(ISSUER "/v1/authorize?") && !has("prompt=none"), "  for an interactive login");
	cp_buf_reset(&state);
	make_state(lg, alice, 1, true, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s&error=access_denied",
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "no iss although the IdP advertises it (RFC 9207 2.4): 400");
	ok(has("iss mismatch"), "  saying so");
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s&error=access_denied" ISS_PARAM,
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "access_denied on attempt 1: 400 page, no retry");
	cp_buf_reset(&state);
	make_state(lg, alice, 1, true, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?state=%s" ISS_PARAM, cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "neither code nor error: 400");
	cp_buf_reset(&state);
	make_state(lg, alice, 1, false, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?code=x&state=%s" ISS_PARAM,
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 400,
	    "a state whose record is gone: 400");
	cp_buf_reset(&state);
	make_state(lg, alice, 1, true, &state);
	cp_buf_reset(&uri);
	cp_buf_printf(&uri, "/sessionbinding/okta-callback?code=x&state=%s" ISS_PARAM,
	    cp_buf_cstr(&state));
	is_int(serve(cfg, cp_sbind_idp_callback, cp_buf_cstr(&uri), cp_buf_cstr(&cookie)), 502,
	    "a good state and code with the IdP's token endpoint unreachable: 502");

	cp_buf_free(&state);
	cp_buf_free(&cookie);
	cp_buf_free(&cookie_other);
	cp_buf_free(&cookie_wrong);
	cp_buf_free(&uri);
}

int
main(void)
{
	char dir[] = "/tmp/test_sbind.XXXXXX", keyfile[64], text[1024], text_off[1100];
	char err[512], cmd[128];
	struct cp_config cfg, off;
	struct cp_login *lg = NULL;
	int fd;

	test_record();
	test_session_id();
	test_helpers();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || gnutls_global_init() < 0 ||
	    mkdtemp(dir) == NULL) {
		ok(0, "setup");
		return tap_done();
	}
	snprintf(keyfile, sizeof(keyfile), "%s/keys", dir);
	fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, KEYS, strlen(KEYS)) != (ssize_t)strlen(KEYS)) {
		ok(0, "key file");
		return tap_done();
	}
	close(fd);
	/* An IdP nobody answers for: the handlers stop where they need it. */
	snprintf(text, sizeof(text), "public_url = https://proxy.example\n"
	    "idp_issuer = " ISSUER "\nidp_client_id = cid\nidp_audience = api://default\n"
	    "gateway_url = https://gw.example/mcp\nkey_file = %s\nstore = bdb:%s\n"
	    "agentcore_region = us-east-1\nlog_level = error\n", keyfile, dir);
	is_int(cp_conf_parse("t.conf", text, strlen(text), &cfg, err, sizeof(err)), CP_OK,
	    "config parsed");
	snprintf(text_off, sizeof(text_off), "%sbinding = off\n", text);
	is_int(cp_conf_parse("off.conf", text_off, strlen(text_off), &off, err, sizeof(err)), CP_OK,
	    "binding = off config parsed");
	cp_log_set_level(CP_LOG_ERROR);
	is_int(cp_login_get(&cfg, &lg), CP_OK, "keys and store");
	if (lg != NULL)
		is_int(cp_store_put(lg->st, CP_NS_IDP, "discovery " ISSUER,
		    strlen("discovery " ISSUER), DISCOVERY, strlen(DISCOVERY),
		    time(NULL) + 3600), CP_OK, "the IdP's discovery document cached");
	if (lg != NULL) {
		test_callback(&cfg, &off, lg);
		test_idp_callback(&cfg, &off, lg);
	}
	cp_conf_free(&cfg);
	cp_conf_free(&off);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ok(0, "temporary store removed");
	gnutls_global_deinit();
	curl_global_cleanup();
	return tap_done();
}
