#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "limits.h"
#include "url.h"

bool
cp_is_visible_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static char *
part(CURLU *h, CURLUPart what)
{
	char *v = NULL, *copy;

	if (curl_url_get(h, what, &v, 0) != CURLUE_OK || v == NULL)
		return NULL;
	copy = strdup(v);
	curl_free(v);
	return copy;
}

enum cp_status
cp_url_parse(const char *s, struct cp_url *u)
{
	enum cp_status rc = CP_ERR_SYNTAX;
	CURLU *h = NULL;
	size_t len = strlen(s);

	memset(u, 0, sizeof(*u));
	if (len == 0 || len > CP_MAX_URL || !cp_is_visible_ascii(s, len) ||
	    strchr(s, '\\') != NULL)
		goto out;
	if ((h = curl_url()) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	/* CURLU_NON_SUPPORT_SCHEME: parse any scheme; callers decide. */
	if (curl_url_set(h, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto out;
	u->scheme = part(h, CURLUPART_SCHEME);
	u->user = part(h, CURLUPART_USER);
	u->password = part(h, CURLUPART_PASSWORD);
	u->host = part(h, CURLUPART_HOST);
	u->port = part(h, CURLUPART_PORT);
	u->path = part(h, CURLUPART_PATH);
	u->query = part(h, CURLUPART_QUERY);
	u->fragment = part(h, CURLUPART_FRAGMENT);
	if (u->scheme == NULL || u->host == NULL || u->path == NULL) {
		cp_url_free(u);
		goto out;
	}
	rc = CP_OK;
out:
	curl_url_cleanup(h);
	return rc;
}

void
cp_url_free(struct cp_url *u)
{
	free(u->scheme);
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->query);
	free(u->fragment);
	memset(u, 0, sizeof(*u));
}

bool
cp_url_host_is_loopback(const char *host)
{
	return host != NULL && (strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0);
}
