#include "config.h"

#include <string.h>

#include "limits.h"
#include "oauth.h"
#include "response.h"
#include "redirect.h"
#include "url.h"

enum cp_status
cp_redirect_uri_check(const char *uri, const char **why)
{
	enum cp_status rc = CP_ERR_INVALID;
	const char *reason = "a redirect URI is not an absolute https or loopback http URL";
	struct cp_url u;

	if (cp_url_parse(uri, &u) != CP_OK)
		goto out;
	/* RFC 6749 3.1.2: no fragment; credentials in a redirect URI only
	 * serve to disguise its host. */
	if (u.fragment != NULL || strchr(uri, '#') != NULL)
		reason = "a redirect URI has a fragment";
	else if (u.user != NULL || u.password != NULL || strchr(uri, '@') != NULL)
		reason = "a redirect URI has a user name or password";
	else if (strcmp(u.scheme, "https") == 0)
		rc = CP_OK;
	else if (strcmp(u.scheme, "http") == 0 && cp_url_host_is_loopback(u.host))
		rc = CP_OK;     /* RFC 8252 7.3 */
	else if (strcmp(u.scheme, "http") == 0)
		reason = "a redirect URI uses plain http to a host other than loopback";
	else
		reason = "a redirect URI uses a scheme other than https or loopback http";
	cp_url_free(&u);
out:
	if (why != NULL)
		*why = rc == CP_OK ? NULL : reason;
	return rc;
}

/* For an http loopback URI: the bytes after "http://<host>[:port]", as
 * written, or NULL when the URI is not in that exact form.  host is
 * libcurl's parse of it; the prefix comparison makes sure the raw string
 * says the same, so nothing libcurl normalized can slip into a match. */
static const char *
loopback_rest(const char *uri, const struct cp_url *u)
{
	size_t hl = strlen(u->host), digits = 0;
	const char *p;

	if (strncmp(uri, "http://", 7) != 0 || strncmp(uri + 7, u->host, hl) != 0)
		return NULL;
	p = uri + 7 + hl;
	if (*p == ':') {
		while (p[1 + digits] >= '0' && p[1 + digits] <= '9')
			digits++;
		if (digits == 0 || digits > 5 || u->port == NULL ||
		    strlen(u->port) != digits || strncmp(p + 1, u->port, digits) != 0)
			return NULL;
		p += 1 + digits;
	} else if (u->port != NULL) {
		return NULL;
	}
	return *p == '\0' || *p == '/' || *p == '?' ? p : NULL;
}

/* RFC 8252 7.3, OAuth 2.1 4.1.1: the port of an http loopback redirect
 * URI floats; everything else must be identical. */
static bool
loopback_match(const char *registered, const struct cp_url *req, const char *requested)
{
	const char *rest_req, *rest_reg;
	struct cp_url reg;
	bool match = false;

	if (cp_url_parse(registered, &reg) != CP_OK)
		return false;
	if (strcmp(reg.scheme, "http") == 0 && cp_url_host_is_loopback(reg.host) &&
	    strcmp(reg.host, req->host) == 0 && reg.user == NULL &&
	    reg.password == NULL && reg.fragment == NULL &&
	    (rest_reg = loopback_rest(registered, &reg)) != NULL &&
	    (rest_req = loopback_rest(requested, req)) != NULL)
		match = strcmp(rest_reg, rest_req) == 0;
	cp_url_free(&reg);
	return match;
}

bool
cp_redirect_uri_match(const struct cp_cimd_doc *doc, const char *requested)
{
	struct cp_url req;
	bool match = false, loopback;
	size_t i, len = strlen(requested);

	if (len == 0 || len > CP_MAX_URL || !cp_is_visible_ascii(requested, len) ||
	    strchr(requested, '#') != NULL || strchr(requested, '@') != NULL)
		return false;
	if (cp_url_parse(requested, &req) != CP_OK)
		return false;
	if (req.user != NULL || req.password != NULL || req.fragment != NULL)
		goto out;
	/* Exact string comparison first (RFC 9700 2.1, CIMD-01 4.5). */
	for (i = 0; i < doc->redirect_uris_n && !match; i++)
		match = strcmp(doc->redirect_uris[i], requested) == 0;
	loopback = strcmp(req.scheme, "http") == 0 && cp_url_host_is_loopback(req.host);
	for (i = 0; i < doc->redirect_uris_n && !match && loopback; i++)
		match = loopback_match(doc->redirect_uris[i], &req, requested);
out:
	cp_url_free(&req);
	return match;
}

enum cp_status
cp_redirect_send(struct cp_req *req, int status, const char *location)
{
	enum cp_status rc;

	if ((rc = cp_resp_header(req, "Location", location)) != CP_OK)
		return rc;
	return cp_resp_begin(req, status, NULL);
}

enum cp_status
cp_redirect_error(struct cp_req *req, int status,
    const char *redirect_uri, const char *error, const char *description,
    const char *state)
{
	struct cp_oauth_param p[] = {
		{ "error", error },
		{ "error_description", description },
		{ "state", state },
		{ "iss", req->cfg->public_url },
	};
	struct cp_buf url;
	enum cp_status rc;

	cp_buf_init(&url, CP_MAX_REDIRECT);
	rc = cp_oauth_redirect(&url, redirect_uri, p, sizeof(p) / sizeof(p[0]));
	if (rc == CP_OK)
		rc = cp_redirect_send(req, status, cp_buf_cstr(&url));
	cp_buf_free(&url);
	return rc;
}
