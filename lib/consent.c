#include "config.h"

#include <string.h>
#include <time.h>

#include "consent.h"
#include "form.h"
#include "response.h"
#include "url.h"

#define CP_MAX_CONSENT_PAGE 16384
#define CP_MAX_CSP          1024

/* The store key of a remembered consent: browser id, NUL, client_id. */
static enum cp_status
consent_key(const char *browser, const char *client_id, struct cp_buf *key)
{
	enum cp_status rc;

	if ((rc = cp_buf_adds(key, browser)) != CP_OK ||
	    (rc = cp_buf_addc(key, '\0')) != CP_OK)
		return rc;
	return cp_buf_adds(key, client_id);
}

bool
cp_consent_remembered(struct cp_login *lg, const char *browser,
    const char *client_id, const char *doc_hash)
{
	struct cp_buf key, value;
	bool yes = false;

	cp_buf_init(&key, CP_STORE_MAX_KEY);
	cp_buf_init(&value, CP_STORE_MAX_VALUE);
	/* doc/protocol.md 6.10: a changed document asks again. */
	if (consent_key(browser, client_id, &key) == CP_OK &&
	    cp_store_get(lg->st, CP_NS_CONSENT, key.data, key.len, &value,
	    NULL) == CP_OK)
		yes = cp_str_eq_c(cp_buf_str(&value), doc_hash);
	cp_buf_free(&key);
	cp_buf_free(&value);
	return yes;
}

enum cp_status
cp_consent_record(struct cp_login *lg, const char *browser,
    const char *client_id, const char *doc_hash, time_t expires)
{
	struct cp_buf key;
	enum cp_status rc;

	cp_buf_init(&key, CP_STORE_MAX_KEY);
	if ((rc = consent_key(browser, client_id, &key)) == CP_OK)
		rc = cp_store_put(lg->st, CP_NS_CONSENT, key.data, key.len,
		    doc_hash, strlen(doc_hash), expires);
	cp_buf_free(&key);
	return rc;
}

/* "host" or "host:port" of url; false when it does not parse. */
static bool
host_of(const char *url, struct cp_buf *out, bool *loopback)
{
	struct cp_url u;
	bool ok;

	if (cp_url_parse(url, &u) != CP_OK)
		return false;
	ok = cp_buf_adds(out, u.host) == CP_OK &&
	    (u.port == NULL || cp_buf_printf(out, ":%s", u.port) == CP_OK);
	if (loopback)
		*loopback = cp_url_host_is_loopback(u.host);
	cp_url_free(&u);
	return ok;
}

/* "scheme://host[:port]" of url, for the page's form-action. */
static bool
origin_of(const char *url, struct cp_buf *out)
{
	struct cp_url u;
	bool ok;

	if (cp_url_parse(url, &u) != CP_OK)
		return false;
	ok = cp_buf_printf(out, " %s://%s", u.scheme, u.host) == CP_OK &&
	    (u.port == NULL || cp_buf_printf(out, ":%s", u.port) == CP_OK);
	cp_url_free(&u);
	return ok;
}

/* Appends "<code>token</code> " for each scope token. */
static enum cp_status
scopes_html(struct cp_buf *b, const char *scope)
{
	char tok[CP_MAX_SCOPE + 1];
	const char *p = scope, *sp;
	size_t n;
	enum cp_status rc = CP_OK;

	while (rc == CP_OK && *p) {
		sp = strchr(p, ' ');
		n = sp ? (size_t)(sp - p) : strlen(p);
		if (n >= sizeof(tok))
			return CP_ERR_LIMIT;
		memcpy(tok, p, n);
		tok[n] = '\0';
		if ((rc = cp_buf_adds(b, "<code>")) == CP_OK &&
		    (rc = cp_html_escape(b, tok)) == CP_OK)
			rc = cp_buf_adds(b, "</code> ");
		p += n;
		while (*p == ' ')
			p++;
	}
	return rc;
}

enum cp_status
cp_consent_page(struct cp_req *req, const struct cp_consent_view *v)
{
	struct cp_buf b, client_host, redirect_host, csp;
	bool loopback = false;
	enum cp_status rc = CP_ERR_INVALID;

	cp_buf_init(&b, CP_MAX_CONSENT_PAGE);
	cp_buf_init(&client_host, CP_MAX_URL);
	cp_buf_init(&redirect_host, CP_MAX_URL);
	cp_buf_init(&csp, CP_MAX_CSP);
	if ((!v->operator_registered && !host_of(v->client_id, &client_host, NULL)) ||
	    !host_of(v->redirect_uri, &redirect_host, &loopback))
		goto out;
	/*
	 * Browsers apply form-action to the redirects that follow a form
	 * POST too (CSP3 6.4.1), so the page allows exactly the two places
	 * its answer redirects to: the IdP (Approve) and the client (Deny).
	 */
	rc = cp_buf_adds(&csp, "default-src 'none'; style-src 'unsafe-inline'; "
	    "form-action 'self'");
	if (rc == CP_OK && v->form_origin && *v->form_origin)
		rc = cp_buf_printf(&csp, " %s", v->form_origin);
	if (rc == CP_OK && !origin_of(v->redirect_uri, &csp))
		rc = CP_ERR_INVALID;
	if (rc == CP_OK)
		rc = cp_buf_adds(&csp, "; frame-ancestors 'none'; base-uri 'none'");
	if (rc == CP_OK)
		rc = cp_resp_header(req, "Content-Security-Policy", cp_buf_cstr(&csp));

	/* MCP-BP "Consent UI Requirements"; CIMD-01 6.4: lead with the host
	 * that published the document, the only name the user can trust;
	 * a client_static one has none, only the operator's word. */
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, v->operator_registered ?
		    "<p style=\"font-size:1.3em\">The application <strong>" :
		    "<p style=\"font-size:1.3em\">An application published by <strong>");
	if (rc == CP_OK)
		rc = cp_html_escape(&b, v->operator_registered ? v->client_id :
		    cp_buf_cstr(&client_host));
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "</strong> wants to sign in to this MCP server as you.</p>\n");
	if (rc == CP_OK && v->operator_registered)
		rc = cp_buf_adds(&b, "<p class=\"note\"><em>Operator-registered:</em> this "
		    "server's operator admitted this client_id by name; it publishes no client "
		    "metadata document, so nothing else about it is known.</p>\n");
	if (rc == CP_OK && v->client_name) {
		rc = cp_buf_adds(&b, "<p>It calls itself <strong>");
		if (rc == CP_OK)
			rc = cp_html_escape(&b, v->client_name);
		if (rc == CP_OK)
			rc = cp_buf_adds(&b, "</strong> <em>(self-declared name: anyone can "
			    "publish any name)</em>.</p>\n");
	}
	/* doc/protocol.md 9.3: client_uri, shown but not linked, so the page
	 * never sends the user somewhere the document chose. */
	if (rc == CP_OK && v->client_uri) {
		rc = cp_buf_adds(&b, "<p>Its home page, as it declares: <code>");
		if (rc == CP_OK)
			rc = cp_html_escape(&b, v->client_uri);
		if (rc == CP_OK)
			rc = cp_buf_adds(&b, "</code></p>\n");
	}
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "<p>If you approve, the sign-in result is sent to <strong>");
	if (rc == CP_OK)
		rc = cp_html_escape(&b, cp_buf_cstr(&redirect_host));
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "</strong>.</p>\n");
	if (rc == CP_OK && loopback)
		rc = cp_buf_adds(&b, "<p class=\"warn\">That address is <strong>an app on this "
		    "computer</strong>. Approve only if you just started this sign-in "
		    "yourself, from an application you trust.</p>\n");
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "<p>Access requested: ");
	if (rc == CP_OK)
		rc = scopes_html(&b, v->scope);
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "</p>\n<p>Client ID: <code>");
	if (rc == CP_OK)
		rc = cp_html_escape(&b, v->client_id);
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "</code></p>\n<form method=\"post\" action=\"/authorize\">"
		    "<input type=\"hidden\" name=\"request\" value=\"");
	if (rc == CP_OK)
		rc = cp_html_escape(&b, v->request);
	if (rc == CP_OK)
		rc = cp_buf_adds(&b, "\"><button type=\"submit\" name=\"decision\" "
		    "value=\"approve\" id=\"approve\">Approve</button> "
		    "<button type=\"submit\" name=\"decision\" value=\"deny\" "
		    "id=\"deny\">Deny</button></form>");
	if (rc == CP_OK)
		rc = cp_resp_html(req, 200, "Allow this application?", cp_buf_cstr(&b));
out:
	cp_buf_free(&b);
	cp_buf_free(&client_host);
	cp_buf_free(&redirect_host);
	cp_buf_free(&csp);
	return rc;
}
