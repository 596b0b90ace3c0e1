/* Client documents: client_id rules, client_allow, redirect_uri rules and
 * matching, the SSRF address rule, media types, cache lifetimes, and
 * validation of the documents in tests/docs plus hostile inline ones. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cimd.h"
#include "fetch.h"
#include "limits.h"
#include "redirect.h"
#include "../tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct id_case {
	const char *id;
	enum cp_status want;
};

static const struct id_case id_cases[] = {
	{ "https://vscode.dev/oauth/client-metadata.json", CP_OK },
	{ "https://claude.ai/oauth/claude-code-client-metadata", CP_OK },
	{ "https://127.0.0.1:8443/harness.json", CP_OK },
	{ "https://example.com:443/c", CP_OK },                 /* port allowed, kept */
	{ "https://[::1]:8443/c", CP_OK },
	{ "https://example.com/a/b/c.json", CP_OK },
	{ "https://example.com/...", CP_OK },                   /* three dots: a name */
	{ "https://example.com/.well-known/c", CP_OK },
	{ "https://example.com/~user/c", CP_OK },
	{ "", CP_ERR_SYNTAX },
	{ "http://example.com/c", CP_ERR_INVALID },             /* https only */
	{ "ftp://example.com/c", CP_ERR_INVALID },
	{ "HTTPS://example.com/c", CP_ERR_INVALID },            /* not canonical */
	{ "https://example.com", CP_ERR_INVALID },              /* no path */
	{ "https://example.com/", CP_ERR_INVALID },             /* bare / */
	{ "https://example.com/c#f", CP_ERR_INVALID },
	{ "https://example.com/c#", CP_ERR_INVALID },           /* empty fragment */
	{ "https://example.com/c?x=1", CP_ERR_INVALID },
	{ "https://example.com/c?", CP_ERR_INVALID },           /* empty query */
	{ "https://user@example.com/c", CP_ERR_INVALID },
	{ "https://user:pw@example.com/c", CP_ERR_INVALID },
	{ "https://:pw@example.com/c", CP_ERR_INVALID },
	{ "https://@example.com/c", CP_ERR_INVALID },
	{ "https://example.com/./c", CP_ERR_INVALID },
	{ "https://example.com/a/../c", CP_ERR_INVALID },
	{ "https://example.com/a/..", CP_ERR_INVALID },
	{ "https://example.com/a/.", CP_ERR_INVALID },
	{ "https://example.com/a/%2e%2e/c", CP_ERR_INVALID },
	{ "https://example.com/a/%2E%2E/c", CP_ERR_INVALID },
	{ "https://example.com/a/.%2e/c", CP_ERR_INVALID },
	{ "https://example.com/a/%2e./c", CP_ERR_INVALID },
	{ "https://example.com/a/%2E/c", CP_ERR_INVALID },
	{ "https://example.com/a/%2e", CP_ERR_INVALID },
	{ "https://example.com/a/..;/c", CP_ERR_INVALID },      /* path parameter */
	{ "https://example.com/a%2fb", CP_ERR_INVALID },        /* encoded slash */
	{ "https://example.com/a%5cb", CP_ERR_INVALID },        /* encoded backslash */
	{ "https://example.com/a%2Ejson", CP_ERR_INVALID },     /* any encoded dot */
	{ "https://example.com/a\\..\\c", CP_ERR_SYNTAX },
	{ "https://example.com/a b", CP_ERR_SYNTAX },
	{ "https://example.com/a\tb", CP_ERR_SYNTAX },
	{ "https://example.com/a\nb", CP_ERR_SYNTAX },
	{ "https://example.com/\x7f", CP_ERR_SYNTAX },
	{ "https://ex\xc3\xa4mple.com/c", CP_ERR_SYNTAX },      /* non-ASCII */
	{ "https://example.com/caf\xc3\xa9", CP_ERR_SYNTAX },
	{ "https://127.1/c", CP_ERR_INVALID },                  /* libcurl rewrites */
	{ "https://0x7f.0.0.1/c", CP_ERR_INVALID },
	{ "https://example.com:0443/c", CP_ERR_INVALID },
	{ "https://example.com:/c", CP_ERR_INVALID },
	{ "https:/example.com/c", CP_ERR_INVALID },
	{ "https:///example.com/c", CP_ERR_INVALID },
	{ "https://[0:0::1]/c", CP_ERR_INVALID },
	{ "https://[fe80::1%25eth0]/c", CP_ERR_INVALID },       /* zone id */
	{ "https://example.com./c", CP_ERR_INVALID },           /* trailing dot */
	{ "https://example.com:99999/c", CP_ERR_SYNTAX },
	{ "example.com/c", CP_ERR_SYNTAX },
	{ "//example.com/c", CP_ERR_SYNTAX },
	{ "javascript:alert(1)//x/c", CP_ERR_SYNTAX },
};

/* s with control and non-ASCII bytes as \xNN, so TAP lines stay lines. */
static const char *
show(const char *s)
{
	static char out[4 * CP_MAX_URL];
	size_t o = 0;

	for (; *s && o + 5 < sizeof(out); s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x",
			    (unsigned char)*s);
		else
			out[o++] = *s;
	out[o] = '\0';
	return out;
}

static void
test_client_id(void)
{
	char big[CP_MAX_CLIENT_ID + 32];
	const char *why;
	size_t i, n;

	for (i = 0; i < N(id_cases); i++) {
		enum cp_status rc = cp_client_id_check(id_cases[i].id,
		    strlen(id_cases[i].id), &why);

		is_int(rc, id_cases[i].want, "client_id \"%s\" -> %s", show(id_cases[i].id),
		    cp_status_str(id_cases[i].want));
		ok(rc == CP_OK ? why == NULL : why != NULL && *why != '\0',
		    "  with a reason exactly when refused");
	}
	/* An embedded NUL: the length says more than the C string. */
	is_int(cp_client_id_check("https://example.com/c\0.json", 27, &why),
	    CP_ERR_SYNTAX, "client_id with an embedded NUL refused");
	/* Length: exactly the cap passes, one over is refused. */
	n = (size_t)snprintf(big, sizeof(big), "https://example.com/");
	memset(big + n, 'a', CP_MAX_CLIENT_ID - n);
	big[CP_MAX_CLIENT_ID] = '\0';
	is_int(cp_client_id_check(big, strlen(big), &why), CP_OK,
	    "client_id of CP_MAX_CLIENT_ID bytes accepted");
	big[CP_MAX_CLIENT_ID] = 'a';
	big[CP_MAX_CLIENT_ID + 1] = '\0';
	is_int(cp_client_id_check(big, strlen(big), &why), CP_ERR_LIMIT,
	    "client_id one byte longer refused");
}

struct allow_case {
	const char *id;
	bool want;
};

static void
test_allowlist(void)
{
	static char *entries[] = {
		"https://vscode.dev/oauth/client-metadata.json",
		"https://claude.ai/",
		"https://127.0.0.1:8443/",
		"https://exact.example/only/this.json",
		"https://bad.example/?",            /* not a host entry */
		"https://q.example/x",              /* exact only */
	};
	static const struct allow_case cases[] = {
		{ "https://vscode.dev/oauth/client-metadata.json", true },
		{ "https://vscode.dev/oauth/other.json", false },
		{ "https://vscode.dev/oauth/client-metadata.jsonx", false },
		{ "https://claude.ai/oauth/claude-code-client-metadata", true },
		{ "https://claude.ai/any/path", true },
		{ "https://claude.ai:443/oauth/c", false },         /* port differs */
		{ "https://claude.ai.evil/oauth/c", false },        /* suffix */
		{ "https://claude.aix/oauth/c", false },
		{ "https://xclaude.ai/oauth/c", false },
		{ "https://evil.claude.ai/oauth/c", false },        /* subdomain */
		{ "https://claude.ai@evil.example/c", false },      /* userinfo */
		{ "https://CLAUDE.AI/oauth/c", false },             /* exact strings */
		{ "https://127.0.0.1:8443/harness.json", true },
		{ "https://127.0.0.1:8444/harness.json", false },
		{ "https://127.0.0.1/harness.json", false },
		{ "https://exact.example/only/this.json", true },
		{ "https://exact.example/only/that.json", false },
		{ "https://bad.example/c", false },
		{ "https://q.example/x/y", false },
		{ "https://q.example/x", true },
	};
	struct cp_config cfg;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	ok(!cp_client_allowed(&cfg, "https://vscode.dev/oauth/client-metadata.json"),
	    "empty client_allow allows nothing (fail closed)");
	cfg.client_allow.v = entries;
	cfg.client_allow.n = N(entries);
	for (i = 0; i < N(cases); i++)
		is_int(cp_client_allowed(&cfg, cases[i].id), cases[i].want,
		    "client_allow %s \"%s\"", cases[i].want ? "allows" : "refuses",
		    cases[i].id);
}

struct match_case {
	const char *const *registered;
	const char *requested;
	bool want;
	const char *what;
};

static const char *const vscode[] = { "http://127.0.0.1:33418/", "https://vscode.dev/redirect", NULL };
static const char *const claude[] = { "http://localhost/callback", "http://127.0.0.1/callback", NULL };
static const char *const localhost_only[] = { "http://localhost/callback", NULL };
static const char *const web[] = { "https://app.example/cb?x=1", "https://app.example:8443/cb", NULL };
static const char *const v6[] = { "http://[::1]/cb", NULL };

static const struct match_case match_cases[] = {
	{ vscode, "http://127.0.0.1:33418/", true, "VS Code registered port" },
	{ vscode, "http://127.0.0.1:51763/", true, "VS Code with another port" },
	{ vscode, "http://127.0.0.1/", true, "VS Code without a port" },
	{ vscode, "https://vscode.dev/redirect", true, "VS Code web redirect" },
	{ vscode, "http://127.0.0.1:51763", false, "path differs (none)" },
	{ vscode, "http://localhost:33418/", false, "localhost is not 127.0.0.1" },
	{ vscode, "https://vscode.dev:8443/redirect", false, "https port never floats" },
	{ vscode, "https://vscode.dev/redirect/", false, "https path differs" },
	{ vscode, "https://vscode.dev/redirect?x", false, "https query added" },
	{ vscode, "http://vscode.dev/redirect", false, "https downgraded" },
	{ claude, "http://localhost:8080/callback", true, "Claude portless localhost, port 8080" },
	{ claude, "http://localhost:51763/callback", true, "Claude ephemeral port" },
	{ claude, "http://localhost/callback", true, "Claude exact" },
	{ claude, "http://127.0.0.1:58135/callback", true, "Claude 127.0.0.1 entry" },
	{ claude, "http://[::1]:8080/callback", false, "[::1] not registered" },
	{ claude, "http://localhost:8080/callback/", false, "path differs" },
	{ claude, "http://localhost:8080/Callback", false, "path case differs" },
	{ claude, "http://localhost:8080/callback?x=1", false, "query added" },
	{ claude, "http://localhost:8080/callback#f", false, "fragment" },
	{ claude, "http://user@localhost:8080/callback", false, "userinfo" },
	{ claude, "http://localhost:8080@evil.example/callback", false, "userinfo host trick" },
	{ claude, "https://localhost:8080/callback", false, "scheme differs" },
	{ claude, "HTTP://localhost:8080/callback", false, "scheme spelled differently" },
	{ claude, "http://LOCALHOST:8080/callback", false, "host spelled differently" },
	{ claude, "http://localhost:/callback", false, "empty port" },
	{ claude, "http://localhost:08080/callback", false, "port with a leading zero" },
	{ claude, "http://localhost:8080/a/../callback", false, "dot segments" },
	{ claude, "http://localhost.evil.example:8080/callback", false, "host suffix" },
	{ claude, "http://127.0.0.2:8080/callback", false, "other loopback address" },
	{ localhost_only, "http://127.0.0.1:8080/callback", false, "127.0.0.1 vs registered localhost" },
	{ web, "https://app.example/cb?x=1", true, "web exact with query" },
	{ web, "https://app.example/cb?x=2", false, "web query differs" },
	{ web, "https://app.example/cb", false, "web query missing" },
	{ web, "https://app.example:8443/cb", true, "web exact with port" },
	{ web, "https://app.example:9443/cb", false, "web port change" },
	{ web, "https://app.example:443/cb?x=1", false, "web default port spelled out" },
	{ v6, "http://[::1]:9999/cb", true, "[::1] port floats" },
	{ v6, "http://[0::1]:9999/cb", false, "[::1] spelled differently" },
	{ v6, "", false, "empty" },
	{ v6, "not a url", false, "not a URL" },
};

static void
test_redirect_match(void)
{
	struct cp_cimd_doc doc;
	size_t i, n;

	for (i = 0; i < N(match_cases); i++) {
		memset(&doc, 0, sizeof(doc));
		for (n = 0; match_cases[i].registered[n] != NULL; n++)
			;
		doc.redirect_uris = (char **)(uintptr_t)match_cases[i].registered;
		doc.redirect_uris_n = n;
		is_int(cp_redirect_uri_match(&doc, match_cases[i].requested),
		    match_cases[i].want, "redirect %s: %s \"%s\"",
		    match_cases[i].want ? "match" : "no match", match_cases[i].what,
		    match_cases[i].requested);
	}
}

static void
test_redirect_check(void)
{
	static const struct { const char *uri; bool good; } cases[] = {
		{ "https://app.example/cb", true },
		{ "https://app.example:8443/cb?x=1", true },
		{ "http://127.0.0.1:33418/", true },
		{ "http://localhost/callback", true },
		{ "http://[::1]/cb", true },
		{ "http://app.example/cb", false },
		{ "http://127.0.0.2/cb", false },
		{ "https://app.example/cb#frag", false },
		{ "https://app.example/cb#", false },
		{ "https://user@app.example/cb", false },
		{ "javascript:alert(document.cookie)//127.0.0.1:9300/callback", false },
		{ "data:text/html,<script>alert(1)</script>", false },
		{ "com.example.app:/oauth2redirect", false },
		{ "vscode://vscode.github-authentication/did-authenticate", false },
		{ "/relative/cb", false },
		{ "", false },
	};
	size_t i;

	for (i = 0; i < N(cases); i++)
		is_int(cp_redirect_uri_check(cases[i].uri, NULL) == CP_OK, cases[i].good,
		    "registered redirect URI \"%s\" %s", cases[i].uri,
		    cases[i].good ? "accepted" : "refused");
}

/* Addresses: every special-use range, a few public ones, and the
 * fetch_allow_private override. */
static const struct { const char *addr; bool allowed; } addr_cases[] = {
	{ "93.184.215.14", true },
	{ "8.8.8.8", true },
	{ "1.1.1.1", true },
	{ "0.0.0.0", false },
	{ "0.1.2.3", false },
	{ "10.0.0.1", false },
	{ "10.255.255.255", false },
	{ "100.64.0.1", false },
	{ "100.127.255.254", false },
	{ "100.128.0.1", true },            /* just past CGNAT */
	{ "127.0.0.1", false },
	{ "127.255.255.254", false },
	{ "169.254.169.254", false },       /* cloud metadata service */
	{ "169.254.0.1", false },
	{ "172.16.0.1", false },
	{ "172.31.255.255", false },
	{ "172.32.0.1", true },             /* just past 172.16/12 */
	{ "192.0.0.8", false },
	{ "192.0.2.1", false },
	{ "192.88.99.1", false },
	{ "192.168.1.1", false },
	{ "198.18.0.1", false },
	{ "198.19.255.255", false },
	{ "198.20.0.1", true },
	{ "198.51.100.7", false },
	{ "203.0.113.9", false },
	{ "224.0.0.1", false },
	{ "239.255.255.250", false },
	{ "240.0.0.1", false },
	{ "255.255.255.255", false },
	{ "2606:4700::6810:84e5", true },
	{ "2a00:1450:4001::200e", true },
	{ "::", false },
	{ "::1", false },
	{ "::ffff:127.0.0.1", false },
	{ "::ffff:8.8.8.8", false },        /* mapped: refused outright */
	{ "::127.0.0.1", false },           /* IPv4-compatible */
	{ "64:ff9b::7f00:1", false },       /* NAT64 of 127.0.0.1 */
	{ "64:ff9b::a9fe:a9fe", false },    /* NAT64 of 169.254.169.254 */
	{ "64:ff9b::808:808", true },       /* NAT64 of 8.8.8.8 */
	{ "64:ff9b:1::1", false },
	{ "2002:7f00:1::1", false },        /* 6to4 of 127.0.0.1 */
	{ "2002:a00:1::1", false },         /* 6to4 of 10.0.0.1 */
	{ "2002:808:808::1", true },        /* 6to4 of 8.8.8.8 */
	{ "2001:0:808:808::80ff:fffe", false }, /* Teredo, client 127.0.0.1 */
	{ "2001:0:7f00:1::f7f7:f7f7", false },  /* Teredo, server 127.0.0.1 */
	{ "2001:0:808:808::f7f7:f7f7", true },  /* Teredo of 8.8.8.8 both */
	{ "2001:2::1", false },             /* benchmarking */
	{ "2001:db8::1", false },
	{ "3fff::1", false },
	{ "fc00::1", false },
	{ "fd12:3456::1", false },
	{ "fe80::1", false },
	{ "febf::1", false },
	{ "fec0::1", false },
	{ "ff02::1", false },
	{ "100::1", false },                /* discard-only, outside 2000::/3 */
	{ "4000::1", false },
};

static bool
to_sockaddr(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

static void
test_addresses(void)
{
	struct cp_config cfg;
	struct cp_cidr cidr[3];
	struct sockaddr_storage ss;
	const char *why;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < N(addr_cases); i++) {
		if (!ok(to_sockaddr(addr_cases[i].addr, &ss), "parse %s", addr_cases[i].addr))
			continue;
		is_int(cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, &why),
		    addr_cases[i].allowed, "address %s %s%s%s", addr_cases[i].addr,
		    addr_cases[i].allowed ? "fetchable" : "refused",
		    why ? ": " : "", why ? why : "");
	}
	ok(cp_cidr_parse("127.0.0.0/8", &cidr[0]) == CP_OK &&
	    cp_cidr_parse("10.1.0.0/16", &cidr[1]) == CP_OK &&
	    cp_cidr_parse("fd00::/8", &cidr[2]) == CP_OK, "fetch_allow_private CIDRs parse");
	cfg.fetch_allow_private = cidr;
	cfg.fetch_allow_private_n = 3;
	to_sockaddr("127.0.0.1", &ss);
	ok(cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL), "127.0.0.1 allowed by 127.0.0.0/8");
	to_sockaddr("10.1.2.3", &ss);
	ok(cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL), "10.1.2.3 allowed by 10.1.0.0/16");
	to_sockaddr("10.2.0.1", &ss);
	ok(!cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL), "10.2.0.1 still refused");
	to_sockaddr("fd00::5", &ss);
	ok(cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL), "fd00::5 allowed by fd00::/8");
	to_sockaddr("::ffff:127.0.0.1", &ss);
	ok(!cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL),
	    "::ffff:127.0.0.1 not covered by an IPv4 CIDR");
	to_sockaddr("169.254.169.254", &ss);
	ok(!cp_addr_fetch_allowed(&cfg, (struct sockaddr *)&ss, NULL),
	    "metadata service still refused");
}

static void
test_media_types(void)
{
	static const struct { const char *ct; bool json; } cases[] = {
		{ "application/json", true },
		{ "application/json; charset=utf-8", true },
		{ "Application/JSON", true },
		{ "application/cimd+json", true },
		{ "application/vnd.example+json;x=1", true },
		{ "text/plain", false },
		{ "text/html; charset=utf-8", false },
		{ "text/json", false },
		{ "application/jsonx", false },
		{ "application/+json", false },
		{ "application/x+jsonp", false },
		{ "application/json5", false },
		{ "", false },
	};
	size_t i;

	for (i = 0; i < N(cases); i++)
		is_int(cp_media_type_is_json(cases[i].ct), cases[i].json,
		    "media type \"%s\" %s JSON", cases[i].ct, cases[i].json ? "is" : "is not");
	ok(!cp_media_type_is_json(NULL), "no media type is not JSON");
}

static void
test_cache_ttl(void)
{
	static const struct { const char *cc, *exp; long ttl; bool no_store; } cases[] = {
		{ NULL, NULL, CP_CIMD_TTL_DEFAULT, false },
		{ "", "", CP_CIMD_TTL_DEFAULT, false },
		{ "max-age=300", NULL, 300, false },
		{ "public, max-age=300", NULL, 300, false },
		{ "MAX-AGE=300", NULL, 300, false },
		{ "max-age=\"300\"", NULL, 300, false },
		{ "max-age=5", NULL, CP_CIMD_TTL_MIN, false },
		{ "max-age=0", NULL, CP_CIMD_TTL_MIN, false },
		{ "max-age=999999999999999999999", NULL, CP_CIMD_TTL_MAX, false },
		{ "max-age=86401", NULL, CP_CIMD_TTL_MAX, false },
		{ "max-age=abc", NULL, CP_CIMD_TTL_DEFAULT, false },
		{ "max-age=300, s-maxage=120", NULL, 120, false },
		{ "no-store", NULL, 0, true },
		{ "max-age=300, no-store", NULL, 0, true },
		{ "no-cache", NULL, 0, false },
		{ "No-Cache, max-age=300", NULL, 0, false },
		{ "no-storex", NULL, CP_CIMD_TTL_DEFAULT, false },
		{ NULL, "Thu, 01 Jan 1970 00:16:40 GMT", 900, false },
		{ NULL, "garbage", CP_CIMD_TTL_MIN, false },
		{ "max-age=300", "Thu, 01 Jan 1970 00:00:00 GMT", 300, false },
	};
	bool no_store;
	long ttl;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		/* now = 100 s; the Expires case is 1000 s, so 900 s ahead. */
		ttl = cp_cimd_cache_ttl(cases[i].cc, cases[i].exp, 100, &no_store);
		is_int(ttl, cases[i].ttl,
		    "cache lifetime of Cache-Control \"%s\" Expires \"%s\"",
		    cases[i].cc ? cases[i].cc : "", cases[i].exp ? cases[i].exp : "");
		is_int(no_store, cases[i].no_store, "  no-store flag");
	}
}

#define URL "https://client.example/doc.json"

struct doc_file_case {
	const char *file;
	enum cp_status want;
	const char *why_has;        /* a word the reason must contain */
};

static const struct doc_file_case doc_files[] = {
	{ "vscode.json", CP_OK, NULL },
	{ "claude-code.json", CP_OK, NULL },
	{ "harness.json", CP_OK, NULL },
	{ "harness-other.json", CP_OK, NULL },
	{ "html-client-name.json", CP_OK, NULL },
	{ "bad-array.json", CP_ERR_SYNTAX, "object" },
	{ "bad-auth-basic.json", CP_ERR_INVALID, "none" },
	{ "bad-client-secret.json", CP_ERR_INVALID, "client_secret" },
	{ "bad-duplicate-keys.json", CP_ERR_DUPLICATE, "twice" },
	{ "bad-javascript-redirect.json", CP_ERR_INVALID, "redirect URI" },
	{ "bad-json.json", CP_ERR_SYNTAX, "JSON" },
	{ "bad-mismatch.json", CP_ERR_INVALID, "differs" },
	{ "private-key-jwt-uri.json", CP_OK, NULL },
	{ "bad-jwks-private-key.json", CP_ERR_INVALID, "private key" },
	{ "bad-jwks-and-uri.json", CP_ERR_INVALID, "RFC 7591 section 2" },
	{ "bad-redirect-empty.json", CP_ERR_INVALID, "non-empty" },
	{ "bad-redirect-missing.json", CP_ERR_INVALID, "non-empty" },
	{ "bad-redirect-not-strings.json", CP_ERR_INVALID, "strings" },
};

/* Reads tests/docs/NAME with {{URL}} and {{ORIGIN}} filled in, as the
 * document host would serve it at URL. */
static char *
load_doc(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[4096], raw[8192], *out, *o;
	size_t n, i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/docs/%s", top ? top : ".", name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	n = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[n] = '\0';
	if ((out = o = malloc(n * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; ) {
		if (strncmp(raw + i, "{{URL}}", 7) == 0) {
			o += snprintf(o, sizeof(URL), "%s", URL);
			i += 7;
		} else if (strncmp(raw + i, "{{ORIGIN}}", 10) == 0) {
			o += snprintf(o, 24, "%s", "https://client.example");
			i += 10;
		} else {
			*o++ = raw[i++];
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

static void
test_doc_files(void)
{
	struct cp_cimd_doc doc, again;
	const char *why;
	enum cp_status rc;
	size_t i, len;
	char *body;

	for (i = 0; i < N(doc_files); i++) {
		/* Tested apart from ok(): the analyzer does not follow the
		 * variadic tap_ok to learn that it returns its condition. */
		body = load_doc(doc_files[i].file, &len);
		ok(body != NULL, "read tests/docs/%s", doc_files[i].file);
		if (body == NULL)
			continue;
		rc = cp_cimd_validate(URL, body, len, &doc, &why);
		is_int(rc, doc_files[i].want, "document %s -> %s", doc_files[i].file,
		    cp_status_str(doc_files[i].want));
		if (doc_files[i].why_has != NULL)
			ok(why != NULL && strstr(why, doc_files[i].why_has) != NULL,
			    "  reason \"%s\" mentions \"%s\"", why ? why : "(none)",
			    doc_files[i].why_has);
		else
			ok(rc == CP_OK && doc.client_id != NULL && strcmp(doc.client_id, URL) == 0 &&
			    doc.redirect_uris_n > 0, "  client_id and redirect_uris kept");
		if (rc != CP_OK)
			ok(doc.client_id == NULL && doc.redirect_uris == NULL,
			    "  nothing kept from %s", doc_files[i].file);
		cp_cimd_doc_free(&doc);
		free(body);
	}

	body = load_doc("vscode.json", &len);
	rc = cp_cimd_validate(URL, body, len, &doc, NULL);
	ok(rc == CP_OK, "vscode.json valid");
	is_str(doc.client_name, "Visual Studio Code", "  client_name");
	is_str(doc.client_uri, "https://vscode.dev/product", "  client_uri");
	is_str(doc.logo_uri, "https://code.visualstudio.com/assets/branding/code-stable.png", "  logo_uri");
	is_int(doc.redirect_uris_n, 2, "  two redirect URIs");
	is_str(doc.redirect_uris[0], "http://127.0.0.1:33418/", "  first redirect URI as written");
	ok(!doc.loopback_only, "  not loopback-only (has an https redirect)");
	is_str(doc.client_host, "client.example", "  client_host");
	ok(cp_redirect_uri_match(&doc, "http://127.0.0.1:51763/"), "  port 51763 matches 33418");
	ok(cp_cimd_validate(URL, body, len, &again, NULL) == CP_OK &&
	    memcmp(doc.hash, again.hash, sizeof(doc.hash)) == 0, "  hash is stable");
	cp_cimd_doc_free(&again);
	body[1] = body[1] == ' ' ? '\t' : ' ';
	ok(cp_cimd_validate(URL, body, len, &again, NULL) == CP_OK &&
	    memcmp(doc.hash, again.hash, sizeof(doc.hash)) != 0, "  one byte changes the hash");
	cp_cimd_doc_free(&again);
	cp_cimd_doc_free(&doc);
	free(body);

	body = load_doc("claude-code.json", &len);
	ok(cp_cimd_validate(URL, body, len, &doc, NULL) == CP_OK, "claude-code.json valid");
	ok(doc.loopback_only, "  loopback-only");
	ok(cp_redirect_uri_match(&doc, "http://localhost:8080/callback"), "  localhost:8080 matches");
	ok(!cp_redirect_uri_match(&doc, "http://localhost:8080/other"), "  other path does not");
	cp_cimd_doc_free(&doc);
	free(body);

	ok(cp_cimd_validate(URL "x", "{}", 2, &doc, &why) == CP_ERR_INVALID, "a different URL");
}

#define GOOD_REST "\"redirect_uris\":[\"http://127.0.0.1:9300/callback\"]"

struct inline_case {
	const char *body;
	enum cp_status want;
	const char *what;
};

static const struct inline_case inline_cases[] = {
	{ "{\"client_id\":\"" URL "\"," GOOD_REST "}", CP_OK, "minimal: no name, no method" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"none\"}", CP_OK, "method none" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"future_member\":{\"a\":[1,2]}}", CP_OK, "unknown member ignored" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"grant_types\":[\"authorization_code\",\"urn:x\"]}", CP_OK, "extra grant ignored" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST "} \n\t", CP_OK, "trailing whitespace" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"x\":\"a\",\"y\":\"b\",\"crv\":\"P-256\"}]}}", CP_OK, "public jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST "}x", CP_ERR_SYNTAX, "trailing garbage" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST "}{}", CP_ERR_SYNTAX, "two values" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",}", CP_ERR_SYNTAX, "trailing comma" },
	{ "{'client_id':'" URL "'}", CP_ERR_SYNTAX, "single quotes" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"\xff\"}", CP_ERR_SYNTAX, "invalid UTF-8" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"\xc0\xaf\"}", CP_ERR_SYNTAX, "overlong UTF-8" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"x\":{\"a\":1,\"a\":2}}", CP_ERR_DUPLICATE, "nested duplicate" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"x\":[{\"a\":1,\"a\":{}}]}", CP_ERR_DUPLICATE, "duplicate in an array" },
	{ "{\"client_id\":\"" URL "\",\"client\\u005fid\":\"https://evil/\"," GOOD_REST "}", CP_ERR_DUPLICATE, "escaped duplicate" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", CP_ERR_LIMIT, "too deep" },
	{ "{\"client_id\":\"" URL "\\u0000x\"," GOOD_REST "}", CP_ERR_INVALID, "escaped NUL in client_id" },
	{ "{\"client_id\":\"" URL "/\"," GOOD_REST "}", CP_ERR_INVALID, "client_id with a slash more" },
	{ "{\"client_id\":\"HTTPS://client.example/doc.json\"," GOOD_REST "}", CP_ERR_INVALID, "client_id case differs" },
	{ "{\"client_id\":[\"" URL "\"]," GOOD_REST "}", CP_ERR_INVALID, "client_id not a string" },
	{ "{" GOOD_REST "}", CP_ERR_INVALID, "no client_id" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_secret\":null}", CP_ERR_INVALID, "client_secret null" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_secret_expires_at\":0}", CP_ERR_INVALID, "client_secret_expires_at" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"client_secret_post\"}", CP_ERR_INVALID, "client_secret_post" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"client_secret_jwt\"}", CP_ERR_INVALID, "client_secret_jwt" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"tls_client_auth\"}", CP_ERR_INVALID, "unknown method" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"none\\u0000x\"}", CP_ERR_INVALID, "method with escaped NUL" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":null}", CP_ERR_INVALID, "method null" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"d\":\"secret\"}]}}", CP_ERR_INVALID, "private key in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}}", CP_OK, "private_key_jwt with jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"https://client.example/jwks.json\"}", CP_OK, "private_key_jwt with jwks_uri" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\"}", CP_ERR_INVALID, "private_key_jwt without keys" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]},\"jwks_uri\":\"https://client.example/jwks.json\"}", CP_ERR_INVALID, "jwks and jwks_uri both" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]},\"jwks_uri\":\"https://client.example/jwks.json\"}", CP_ERR_INVALID, "jwks and jwks_uri both, method none" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"http://client.example/jwks.json\"}", CP_ERR_INVALID, "jwks_uri over http" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"https://client.example/a/../jwks.json\"}", CP_ERR_INVALID, "jwks_uri with a dot segment" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"https://u:p@client.example/jwks.json\"}", CP_ERR_INVALID, "jwks_uri with userinfo" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":7}", CP_ERR_INVALID, "jwks_uri not a string" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[]}}", CP_ERR_INVALID, "jwks with no keys" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":[]}", CP_ERR_INVALID, "jwks not an object" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[1]}}", CP_ERR_INVALID, "jwks key not an object" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{},{},{},{},{},{},{},{},{}]}}", CP_ERR_INVALID, "jwks with 9 keys" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"p\":\"AA\"}]}}", CP_ERR_INVALID, "private member p in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"q\":\"AA\"}]}}", CP_ERR_INVALID, "private member q in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"dp\":\"AA\"}]}}", CP_ERR_INVALID, "private member dp in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"dq\":\"AA\"}]}}", CP_ERR_INVALID, "private member dq in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"qi\":\"AA\"}]}}", CP_ERR_INVALID, "private member qi in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"oth\":\"AA\"}]}}", CP_ERR_INVALID, "private member oth in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"k\":\"AA\"}]}}", CP_ERR_INVALID, "private member k in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"jwks\":{\"keys\":[{\"kty\":\"oct\",\"k\":\"secret\"}]}}", CP_ERR_INVALID, "symmetric key in jwks" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"grant_types\":[\"refresh_token\"]}", CP_ERR_INVALID, "no authorization_code" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"grant_types\":\"authorization_code\"}", CP_ERR_INVALID, "grant_types a string" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"grant_types\":[\"authorization_code\",1]}", CP_ERR_INVALID, "grant_types with a number" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"response_types\":[\"token\"]}", CP_ERR_INVALID, "no code response type" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":7}", CP_ERR_INVALID, "client_name a number" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"\"}", CP_ERR_INVALID, "client_name empty" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"a\\nb\"}", CP_ERR_INVALID, "client_name with a newline" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"Good\\u202eevil\"}", CP_ERR_INVALID, "client_name with a bidi override" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_name\":\"a\\u200bb\"}", CP_ERR_INVALID, "client_name with a zero-width space" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"client_uri\":\"javascript:alert(1)\"}", CP_ERR_INVALID, "client_uri javascript:" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"logo_uri\":\"http://client.example/l.png\"}", CP_ERR_INVALID, "logo_uri over http" },
	{ "{\"client_id\":\"" URL "\"," GOOD_REST ",\"logo_uri\":\"data:image/png;base64,AAAA\"}", CP_ERR_INVALID, "logo_uri data:" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":\"http://127.0.0.1:9300/callback\"}", CP_ERR_INVALID, "redirect_uris a string" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"http://evil.example/cb\"]}", CP_ERR_INVALID, "plain http elsewhere" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://app.example/cb#x\"]}", CP_ERR_INVALID, "redirect with fragment" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://u:p@app.example/cb\"]}", CP_ERR_INVALID, "redirect with userinfo" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"com.example.app:/cb\"]}", CP_ERR_INVALID, "private-use scheme" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"data:text/html,x\"]}", CP_ERR_INVALID, "data: redirect" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://ok.example/cb\",\"https://ok.example/cb\\u0000x\"]}", CP_ERR_INVALID, "redirect with escaped NUL" },
	{ "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://a/1\",\"https://a/2\",\"https://a/3\",\"https://a/4\",\"https://a/5\",\"https://a/6\",\"https://a/7\",\"https://a/8\",\"https://a/9\",\"https://a/10\",\"https://a/11\",\"https://a/12\",\"https://a/13\",\"https://a/14\",\"https://a/15\",\"https://a/16\",\"https://a/17\"]}", CP_ERR_LIMIT, "17 redirect URIs" },
	{ "", CP_ERR_SYNTAX, "empty body" },
	{ "null", CP_ERR_SYNTAX, "null" },
	{ "\"" URL "\"", CP_ERR_SYNTAX, "a string" },
};

/* cp_cimd_resolve validates into one doc several times (a cached copy
 * that fails, then a fetch; a last good copy that fails, then the pin),
 * and cp_cimd_validate starts by clearing doc: a failure must leave
 * nothing allocated behind, the key set (a json-c reference) and the
 * jwks_uri included.  Under the sanitizer build LeakSanitizer fails this
 * program if it does. */
static void
test_doc_reuse(void)
{
	static const char *const failing[] = {
		/* fails after the key set is taken */
		"{\"client_id\":\"" URL "\"," GOOD_REST ",\"token_endpoint_auth_method\":"
		"\"private_key_jwt\",\"jwks\":{\"keys\":[{\"kty\":\"EC\"}]},"
		"\"grant_types\":[\"refresh_token\"]}",
		/* fails after the jwks_uri and the first redirect URI are copied */
		"{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":"
		"\"private_key_jwt\",\"jwks_uri\":\"https://client.example/jwks.json\","
		"\"redirect_uris\":[\"https://app.example/cb\",\"http://evil.example/cb\"]}",
	};
	struct cp_cimd_doc doc;
	size_t i;

	memset(&doc, 0, sizeof(doc));
	for (i = 0; i < N(failing); i++) {
		is_int(cp_cimd_validate(URL, failing[i], strlen(failing[i]), &doc, NULL),
		    CP_ERR_INVALID, "reused doc: failing document %zu refused", i + 1);
		ok(doc.jwks == NULL && doc.jwks_uri == NULL && doc.redirect_uris == NULL &&
		    doc.client_id == NULL, "  and nothing kept in the doc");
	}
	is_int(cp_cimd_validate(URL, "{\"client_id\":\"" URL "\"," GOOD_REST "}",
	    strlen("{\"client_id\":\"" URL "\"," GOOD_REST "}"), &doc, NULL), CP_OK,
	    "reused doc: then a good one, into the same doc");
	cp_cimd_doc_free(&doc);
}

static void
test_doc_inline(void)
{
	struct cp_cimd_doc doc;
	const char *why;
	enum cp_status rc;
	char *big;
	size_t i, n;

	for (i = 0; i < N(inline_cases); i++) {
		rc = cp_cimd_validate(URL, inline_cases[i].body, strlen(inline_cases[i].body),
		    &doc, &why);
		is_int(rc, inline_cases[i].want, "document: %s -> %s%s%s", inline_cases[i].what,
		    cp_status_str(inline_cases[i].want), why ? " / " : "", why ? why : "");
		if (rc == CP_OK)
			is_str(cp_cimd_display_name(&doc), doc.client_name ? doc.client_name :
			    "client.example", "  display name falls back to the host");
		cp_cimd_doc_free(&doc);
	}
	/* A NUL byte in the body itself. */
	is_int(cp_cimd_validate(URL, "{\"client_id\":\"" URL "\"}\0", 44, &doc, NULL),
	    CP_ERR_SYNTAX, "document with a raw NUL byte refused");
	cp_cimd_doc_free(&doc);
	/* The 5 KB cap: one byte over is refused before parsing. */
	n = CP_CIMD_MAX_BODY + 1;
	big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"client_id\":\"" URL "\"," GOOD_REST "}",
	    strlen("{\"client_id\":\"" URL "\"," GOOD_REST "}"));
	is_int(cp_cimd_validate(URL, big, n, &doc, NULL), CP_ERR_LIMIT,
	    "document over 5 KB refused");
	is_int(cp_cimd_validate(URL, big, n - 1, &doc, NULL), CP_OK,
	    "document of exactly 5 KB accepted");
	cp_cimd_doc_free(&doc);
	free(big);
	test_doc_reuse();
}

int
main(void)
{
	test_client_id();
	test_allowlist();
	test_redirect_match();
	test_redirect_check();
	test_addresses();
	test_media_types();
	test_cache_ttl();
	test_doc_files();
	test_doc_inline();
	return tap_done();
}
