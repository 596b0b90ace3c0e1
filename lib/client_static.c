#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "buf.h"
#include "client_static.h"
#include "limits.h"
#include "redirect.h"

/* The length of the client_id that starts value (up to the first
 * space). */
static size_t
id_len(const char *value)
{
	const char *sp = strchr(value, ' ');

	return sp != NULL ? (size_t)(sp - value) : strlen(value);
}

/* Calls each(uri, arg) for every redirect URI of value (a copy, NUL-
 * terminated); stops at the first non-OK answer and returns it. */
static enum cp_status
each_uri(const char *value, enum cp_status (*each)(const char *, void *), void *arg)
{
	char uri[CP_MAX_URL + 1];
	const char *p = value + id_len(value), *e;
	enum cp_status rc = CP_OK;
	size_t n;

	while (rc == CP_OK) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ' ');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > CP_MAX_URL)
			return CP_ERR_LIMIT;
		memcpy(uri, p, n);
		uri[n] = '\0';
		rc = each(uri, arg);
		p += n;
	}
	return rc;
}

struct check {
	size_t n;
	const char *why;
};

static enum cp_status
check_uri(const char *uri, void *arg)
{
	struct check *c = arg;

	if (++c->n > CP_CIMD_MAX_REDIRECT_URIS) {
		c->why = "lists too many redirect URIs";
		return CP_ERR_LIMIT;
	}
	return cp_redirect_uri_check(uri, &c->why);
}

const char *
cp_client_static_check(const char *value)
{
	struct check c = { 0, NULL };
	size_t i, n = id_len(value);

	if (n == 0 || n > CP_MAX_CLIENT_ID)
		return "must be '<client_id> <redirect_uri>...' with a client_id of at most 512 bytes";
	for (i = 0; i < n; i++)
		if (value[i] < 0x21 || value[i] > 0x7e)
			return "client_id must be visible ASCII";
	if (strncmp(value, "https:", 6) == 0 || strncmp(value, "http:", 5) == 0)
		return "client_id must not be a URL (a client with a document needs client_allow)";
	if (each_uri(value, check_uri, &c) != CP_OK)
		return c.why != NULL ? c.why : "has a redirect URI that is too long";
	return c.n == 0 ? "must list at least one redirect URI" : NULL;
}

static enum cp_status
add_uri(const char *uri, void *arg)
{
	struct cp_cimd_doc *doc = arg;

	if ((doc->redirect_uris[doc->redirect_uris_n] = strdup(uri)) == NULL)
		return CP_ERR_NOMEM;
	doc->redirect_uris_n++;
	if (strncmp(uri, "https:", 6) == 0)
		doc->loopback_only = false;
	return CP_OK;
}

enum cp_status
cp_client_static_doc(const struct cp_config *cfg, const char *client_id,
    struct cp_cimd_doc *doc)
{
	const char *entry = NULL;
	size_t i, n = strlen(client_id);
	enum cp_status rc = CP_ERR_NOMEM;

	for (i = 0; i < cfg->client_static.n && entry == NULL; i++)
		if (id_len(cfg->client_static.v[i]) == n &&
		    memcmp(cfg->client_static.v[i], client_id, n) == 0)
			entry = cfg->client_static.v[i];
	if (entry == NULL)
		return CP_ERR_NOT_FOUND;
	memset(doc, 0, sizeof(*doc));
	doc->operator_registered = true;
	doc->loopback_only = true;
	if ((doc->client_id = strdup(client_id)) == NULL ||
	    (doc->client_host = strdup(client_id)) == NULL ||
	    (doc->redirect_uris = calloc(CP_CIMD_MAX_REDIRECT_URIS,
	    sizeof(*doc->redirect_uris))) == NULL)
		goto out;
	/* The configuration checked the entry (cp_client_static_check). */
	if ((rc = each_uri(entry, add_uri, doc)) != CP_OK)
		goto out;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, entry, strlen(entry), doc->hash) != 0)
		rc = CP_ERR_INTERNAL;
out:
	if (rc != CP_OK)
		cp_cimd_doc_free(doc);
	return rc;
}
