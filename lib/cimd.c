#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "buf.h"
#include "cimd.h"
#include "jsonparse.h"
#include "limits.h"
#include "log.h"
#include "redirect.h"
#include "url.h"

/* The parts of a client_id as written: libcurl with CURLU_PATH_AS_IS, so
 * dot segments stay visible instead of being resolved away. */
struct raw_url {
	CURLU *h;
	char *scheme, *user, *password, *host, *port, *path, *query, *fragment;
	char *zoneid;               /* an IPv6 scope, as in [fe80::1%25eth0] */
	char *url;                  /* libcurl's serialization of the parse */
};

static void
raw_url_free(struct raw_url *r)
{
	curl_free(r->scheme);
	curl_free(r->user);
	curl_free(r->password);
	curl_free(r->host);
	curl_free(r->port);
	curl_free(r->path);
	curl_free(r->query);
	curl_free(r->fragment);
	curl_free(r->zoneid);
	curl_free(r->url);
	curl_url_cleanup(r->h);
	memset(r, 0, sizeof(*r));
}

static char *
raw_part(CURLU *h, CURLUPart what)
{
	char *v = NULL;

	if (curl_url_get(h, what, &v, 0) != CURLUE_OK)
		return NULL;
	return v;
}

/* s must already be visible ASCII without backslashes. */
static enum cp_status
raw_url_parse(const char *s, struct raw_url *r)
{
	memset(r, 0, sizeof(*r));
	if ((r->h = curl_url()) == NULL)
		return CP_ERR_NOMEM;
	if (curl_url_set(r->h, CURLUPART_URL, s,
	    CURLU_PATH_AS_IS | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		raw_url_free(r);
		return CP_ERR_SYNTAX;
	}
	r->scheme = raw_part(r->h, CURLUPART_SCHEME);
	r->user = raw_part(r->h, CURLUPART_USER);
	r->password = raw_part(r->h, CURLUPART_PASSWORD);
	r->host = raw_part(r->h, CURLUPART_HOST);
	r->port = raw_part(r->h, CURLUPART_PORT);
	r->path = raw_part(r->h, CURLUPART_PATH);
	r->query = raw_part(r->h, CURLUPART_QUERY);
	r->fragment = raw_part(r->h, CURLUPART_FRAGMENT);
	r->zoneid = raw_part(r->h, CURLUPART_ZONEID);
	r->url = raw_part(r->h, CURLUPART_URL);
	if (r->scheme == NULL || r->host == NULL || r->path == NULL ||
	    r->url == NULL) {
		raw_url_free(r);
		return CP_ERR_SYNTAX;
	}
	return CP_OK;
}

/* True when the path has a "." or ".." segment in any spelling, or an
 * encoded dot, slash or backslash anywhere.  CIMD section 3 forbids dot
 * segments; an encoded one ("%2e", ".%2E") is the same segment to most
 * servers, and "..;" is one to some (path parameters), so those count
 * too.  Encoded '/' and '\' have no place in a document URL either. */
static bool
path_has_dot_segment(const char *path)
{
	const char *p = path, *seg, *end;
	size_t dots, other;

	for (p = path; *p; p++)
		if (p[0] == '%' && p[1] != '\0' && p[2] != '\0' && p[1] == '2' &&
		    (p[2] == 'e' || p[2] == 'E' || p[2] == 'f' || p[2] == 'F'))
			return true;
		else if (p[0] == '%' && p[1] == '5' && (p[2] == 'c' || p[2] == 'C'))
			return true;
	for (seg = path; *seg; seg = *end ? end + 1 : end) {
		end = seg + strcspn(seg, "/");
		dots = other = 0;
		for (p = seg; p < end && *p != ';'; p++)
			if (*p == '.')
				dots++;
			else
				other++;
		if (other == 0 && (dots == 1 || dots == 2))
			return true;
	}
	return false;
}

enum cp_status
cp_client_id_check(const char *client_id, size_t len, const char **why)
{
	enum cp_status rc = CP_ERR_SYNTAX;
	struct raw_url r = { 0 };
	const char *reason = "client_id is not a URL";

	if (len == 0) {
		reason = "client_id is empty";
		goto out;
	}
	if (len > CP_MAX_CLIENT_ID) {
		rc = CP_ERR_LIMIT;
		reason = "client_id is too long";
		goto out;
	}
	if (!cp_is_visible_ascii(client_id, len) || memchr(client_id, '\\', len)) {
		reason = "client_id contains spaces, control bytes, backslashes or non-ASCII";
		goto out;
	}
	if (client_id[len] != '\0') {
		reason = "client_id contains a NUL byte";
		goto out;
	}
	if ((rc = raw_url_parse(client_id, &r)) != CP_OK) {
		if (rc == CP_ERR_SYNTAX)
			reason = "client_id is not an absolute URL";
		goto out;
	}
	rc = CP_ERR_INVALID;
	/* CIMD section 3: https, a path, no dot segments, no fragment, no
	 * user or password; SHOULD NOT have a query, which we refuse. */
	if (strcmp(r.scheme, "https") != 0)
		reason = "client_id must be an https URL";
	else if (r.user != NULL || r.password != NULL || memchr(client_id, '@', len))
		reason = "client_id must not contain a user name or password";
	else if (r.fragment != NULL || memchr(client_id, '#', len))
		reason = "client_id must not contain a fragment";
	else if (r.query != NULL || memchr(client_id, '?', len))
		reason = "client_id must not contain a query";
	else if (strcmp(r.path, "/") == 0)
		reason = "client_id must have a path other than /";
	else if (path_has_dot_segment(r.path))
		reason = "client_id must not contain dot segments or encoded dots or slashes";
	else if (r.host[0] == '\0' || r.host[strlen(r.host) - 1] == '.' || r.zoneid != NULL)
		reason = "client_id host must not be empty, end with a dot or name a zone";
	else if (strcmp(r.url, client_id) != 0)
		/* RFC 3986 6.2.1: client_ids compare as strings, so a form
		 * libcurl would rewrite ("127.1", ":0443", "https:/x") is
		 * refused instead of silently meaning another string. */
		reason = "client_id is not in canonical URL form";
	else
		rc = CP_OK;
out:
	raw_url_free(&r);
	if (why != NULL)
		*why = rc == CP_OK ? NULL : reason;
	return rc;
}

bool
cp_client_allowed(const struct cp_config *cfg, const char *client_id)
{
	static bool warned;
	struct raw_url c = { 0 }, e = { 0 };
	bool allowed = false;
	size_t i;

	if (cfg->client_allow.n == 0) {
		if (!warned)
			cp_log(CP_LOG_WARN, "client_allow is empty: every client is refused");
		warned = true;
		return false;
	}
	for (i = 0; i < cfg->client_allow.n && !allowed; i++)
		if (strcmp(cfg->client_allow.v[i], client_id) == 0)
			allowed = true;
	if (allowed || raw_url_parse(client_id, &c) != CP_OK)
		goto out;
	for (i = 0; i < cfg->client_allow.n && !allowed; i++) {
		const char *entry = cfg->client_allow.v[i];

		if (raw_url_parse(entry, &e) != CP_OK)
			continue;
		/* A whole-host entry is exactly "https://host[:port]/": the
		 * serialization check rules out userinfo, query and fragment. */
		if (strcmp(e.scheme, "https") == 0 && strcmp(e.path, "/") == 0 &&
		    e.user == NULL && e.password == NULL && e.query == NULL &&
		    e.fragment == NULL && e.zoneid == NULL && strcmp(e.url, entry) == 0 &&
		    strcmp(c.scheme, "https") == 0 && c.user == NULL &&
		    c.password == NULL && strcmp(c.host, e.host) == 0 &&
		    (c.port == NULL ? e.port == NULL :
		    e.port != NULL && strcmp(c.port, e.port) == 0))
			allowed = true;
		raw_url_free(&e);
	}
out:
	raw_url_free(&c);
	return allowed;
}

void
cp_cimd_doc_free(struct cp_cimd_doc *doc)
{
	size_t i;

	free(doc->client_id);
	free(doc->client_host);
	free(doc->client_name);
	free(doc->client_uri);
	free(doc->logo_uri);
	free(doc->jwks_uri);
	json_object_put(doc->jwks);
	for (i = 0; i < doc->redirect_uris_n; i++)
		free(doc->redirect_uris[i]);
	free(doc->redirect_uris);
	memset(doc, 0, sizeof(*doc));
}

const char *
cp_cimd_display_name(const struct cp_cimd_doc *doc)
{
	return doc->client_name != NULL ? doc->client_name : doc->client_host;
}

/* A self-asserted name shown on the consent page may not carry control
 * characters or the invisible direction and joiner marks that can make
 * it read as another name (json-c has checked it is UTF-8). */
static bool
name_is_displayable(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return false;
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return false;           /* C1 controls */
		if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
		    ((u[i + 2] >= 0x8b && u[i + 2] <= 0x8f) ||
		    (u[i + 2] >= 0xaa && u[i + 2] <= 0xae)))
			return false;           /* U+200B-200F, U+202A-202E */
		if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x81 &&
		    u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9)
			return false;           /* U+2066-2069 */
	}
	return true;
}

/* True for a JSON string without an escaped NUL ("\u0000"), which C
 * string functions would silently cut short. */
static bool
is_c_string(json_object *v)
{
	return json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == strlen(json_object_get_string(v));
}

/* An optional string member: absent is fine (*out stays NULL), any other
 * type is not. */
static enum cp_status
opt_string(json_object *o, const char *name, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, name, &v))
		return CP_OK;
	if (!is_c_string(v))
		return CP_ERR_INVALID;
	*out = json_object_get_string(v);
	return CP_OK;
}

/* An optional array of strings that must contain want when present. */
static enum cp_status
opt_list_has(json_object *o, const char *name, const char *want)
{
	json_object *v, *e;
	size_t i, n;
	bool found = false;

	if (!json_object_object_get_ex(o, name, &v))
		return CP_OK;
	if (!json_object_is_type(v, json_type_array))
		return CP_ERR_INVALID;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!is_c_string(e))
			return CP_ERR_INVALID;
		if (strcmp(json_object_get_string(e), want) == 0)
			found = true;
	}
	return found ? CP_OK : CP_ERR_INVALID;
}

/* An https URL for display (client_uri, logo_uri): CIMD-02 8.6 allows
 * known schemes only; we show and link nothing but https. */
static bool
display_url_ok(const char *s)
{
	struct cp_url u;
	bool good;

	if (cp_url_parse(s, &u) != CP_OK)
		return false;
	good = strcmp(u.scheme, "https") == 0 && u.user == NULL && u.password == NULL;
	cp_url_free(&u);
	return good;
}

/* The members of a JWK that hold private or symmetric key material
 * (RFC 7518 6.2.2, 6.3.2, 6.4). */
static const char *const jwk_secret_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k"
};

static bool
jwk_has_secret(json_object *k)
{
	size_t j;

	for (j = 0; j < sizeof(jwk_secret_members) / sizeof(jwk_secret_members[0]); j++)
		if (json_object_object_get_ex(k, jwk_secret_members[j], NULL))
			return true;
	return false;
}

/* CIMD-02 4.1: public keys only.  A JWK member holding private or
 * symmetric key material refuses the document, whatever its auth method. */
static bool
jwks_has_private_key(json_object *o)
{
	json_object *jwks, *keys;
	size_t i, n;

	if (!json_object_object_get_ex(o, "jwks", &jwks))
		return false;
	if (!json_object_is_type(jwks, json_type_object))
		return true;
	if (!json_object_object_get_ex(jwks, "keys", &keys))
		return false;
	if (!json_object_is_type(keys, json_type_array))
		return true;
	n = json_object_array_length(keys);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(keys, i), json_type_object) ||
		    jwk_has_secret(json_object_array_get_idx(keys, i)))
			return true;
	return false;
}

bool
cp_cimd_jwks_check(json_object *jwks, const char **why)
{
	const char *reason = NULL;
	json_object *keys;
	size_t i, n = 0;

	if (!json_object_is_type(jwks, json_type_object) ||
	    !json_object_object_get_ex(jwks, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array) ||
	    (n = json_object_array_length(keys)) == 0)
		reason = "jwks must be an object with a non-empty keys array";
	else if (n > CP_CIMD_MAX_JWKS_KEYS)
		reason = "jwks holds too many keys";
	for (i = 0; reason == NULL && i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(keys, i), json_type_object))
			reason = "jwks keys must be JSON objects";
		else if (jwk_has_secret(json_object_array_get_idx(keys, i)))
			reason = "client document contains private key material";
	if (why != NULL)
		*why = reason;
	return reason == NULL;
}

/*
 * token_endpoint_auth_method (RFC 7591 section 2).  RFC 7591 defaults
 * it to client_secret_basic, which CIMD forbids: a missing method can
 * only mean none (doc/protocol.md 17.6).  private_key_jwt (RFC 7523
 * section 2.2) needs the client's public keys, as jwks or jwks_uri,
 * which "MUST NOT both be present" (RFC 7591 section 2).  Fills doc's
 * auth, jwks and jwks_uri; CP_ERR_INVALID with *why naming the rule.
 */
static enum cp_status
client_auth_check(json_object *o, struct cp_cimd_doc *doc, const char **why)
{
	json_object *jwks = NULL;
	const char *method, *uri;
	bool has_jwks = json_object_object_get_ex(o, "jwks", &jwks);

	if (opt_string(o, "token_endpoint_auth_method", &method) != CP_OK) {
		*why = "token_endpoint_auth_method is not a string";
		return CP_ERR_INVALID;
	}
	if (opt_string(o, "jwks_uri", &uri) != CP_OK) {
		*why = "jwks_uri is not a string";
		return CP_ERR_INVALID;
	}
	if (has_jwks && uri != NULL) {
		*why = "jwks and jwks_uri must not both be present (RFC 7591 section 2)";
		return CP_ERR_INVALID;
	}
	if (method == NULL || strcmp(method, "none") == 0)
		return CP_OK;
	if (strcmp(method, "private_key_jwt") != 0) {
		*why = "token_endpoint_auth_method must be none or private_key_jwt "
		    "(shared secrets are forbidden)";
		return CP_ERR_INVALID;
	}
	if (!has_jwks && uri == NULL) {
		*why = "private_key_jwt needs jwks or jwks_uri";
		return CP_ERR_INVALID;
	}
	if (has_jwks && !cp_cimd_jwks_check(jwks, why))
		return CP_ERR_INVALID;
	/* The same URL rules as a client_id: it is fetched the same way. */
	if (uri != NULL && cp_client_id_check(uri, strlen(uri), NULL) != CP_OK) {
		*why = "jwks_uri must be an https URL under the client_id rules";
		return CP_ERR_INVALID;
	}
	doc->auth = CP_CLIENT_AUTH_PRIVATE_KEY_JWT;
	if (has_jwks)
		doc->jwks = json_object_get(jwks);
	if (uri != NULL && (doc->jwks_uri = strdup(uri)) == NULL)
		return CP_ERR_NOMEM;
	return CP_OK;
}

static enum cp_status
dup_into(char **dst, const char *s)
{
	if (s == NULL)
		return CP_OK;
	return (*dst = strdup(s)) == NULL ? CP_ERR_NOMEM : CP_OK;
}

/* A declared validation checklist (CIMD section 4): one check after the
 * other, kept in one function on purpose, so over 100 lines. */
enum cp_status
cp_cimd_validate(const char *client_id, const char *body, size_t len,
    struct cp_cimd_doc *doc, const char **why)
{
	enum cp_status rc;
	const char *reason = "client document is not valid JSON";
	json_object *o = NULL, *v, *e;
	const char *s, *name, *client_uri, *logo_uri;
	struct cp_url cu;
	size_t i, n;

	memset(doc, 0, sizeof(*doc));
	if (len > CP_CIMD_MAX_BODY) {
		rc = CP_ERR_LIMIT;
		reason = "client document is larger than 5 KB";
		goto out;
	}
	/* Checked here too so the rule does not depend on how strict the
	 * JSON parser's own check is. */
	if (!cp_utf8_valid(body, len)) {
		rc = CP_ERR_SYNTAX;
		reason = "client document is not valid UTF-8";
		goto out;
	}
	/* RFC 8259, strictly; a duplicate member would let two parsers
	 * read two different client_ids out of one document. */
	if ((rc = cp_json_parse_object(body, len, &o)) != CP_OK) {
		if (rc == CP_ERR_DUPLICATE)
			reason = "client document names a member twice";
		else if (rc == CP_ERR_LIMIT)
			reason = "client document is nested too deeply";
		else if (rc == CP_ERR_SYNTAX)
			reason = "client document is not a valid JSON object";
		goto out;
	}
	rc = CP_ERR_INVALID;

	/* CIMD 4.1: the document's client_id is the URL, as a string. */
	if (!json_object_object_get_ex(o, "client_id", &v) || !is_c_string(v)) {
		reason = "client document has no client_id string";
		goto out;
	}
	if (strcmp(json_object_get_string(v), client_id) != 0) {
		reason = "client document's client_id differs from its URL";
		goto out;
	}

	/* CIMD 4.1: no shared secrets of any kind. */
	if (json_object_object_get_ex(o, "client_secret", &v) ||
	    json_object_object_get_ex(o, "client_secret_expires_at", &v)) {
		reason = "client document contains a client_secret";
		goto out;
	}
	if (jwks_has_private_key(o)) {
		reason = "client document contains private key material";
		goto out;
	}
	if ((rc = client_auth_check(o, doc, &reason)) != CP_OK)
		goto out;
	rc = CP_ERR_INVALID;
	/* doc/protocol.md 6.6-6.7: extra grant types are ignored, but the ones
	 * this flow uses must be there when the lists are. */
	if (opt_list_has(o, "grant_types", "authorization_code") != CP_OK) {
		reason = "grant_types must be strings including authorization_code";
		goto out;
	}
	if (opt_list_has(o, "response_types", "code") != CP_OK) {
		reason = "response_types must be strings including code";
		goto out;
	}

	if (opt_string(o, "client_name", &name) != CP_OK ||
	    (name != NULL && (strlen(name) == 0 || strlen(name) > CP_CIMD_MAX_NAME ||
	    !name_is_displayable(name, strlen(name))))) {
		reason = "client_name must be a short string without control or direction characters";
		goto out;
	}
	if (opt_string(o, "client_uri", &client_uri) != CP_OK ||
	    (client_uri != NULL && !display_url_ok(client_uri))) {
		reason = "client_uri must be an https URL";
		goto out;
	}
	if (opt_string(o, "logo_uri", &logo_uri) != CP_OK ||
	    (logo_uri != NULL && !display_url_ok(logo_uri))) {
		reason = "logo_uri must be an https URL";
		goto out;
	}

	/* MCP issue #3224: an empty list satisfies "present" but registers
	 * nothing, so it is refused like a missing one. */
	if (!json_object_object_get_ex(o, "redirect_uris", &v) ||
	    !json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0) {
		reason = "redirect_uris must be a non-empty array";
		goto out;
	}
	if (n > CP_CIMD_MAX_REDIRECT_URIS) {
		rc = CP_ERR_LIMIT;
		reason = "redirect_uris has too many entries";
		goto out;
	}
	if ((doc->redirect_uris = calloc(n, sizeof(*doc->redirect_uris))) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	doc->loopback_only = true;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!is_c_string(e)) {
			reason = "redirect_uris must hold only strings";
			goto out;
		}
		s = json_object_get_string(e);
		if (cp_redirect_uri_check(s, &reason) != CP_OK)
			goto out;
		if (strncmp(s, "https:", 6) == 0)
			doc->loopback_only = false;
		if ((doc->redirect_uris[i] = strdup(s)) == NULL) {
			rc = CP_ERR_NOMEM;
			goto out;
		}
		doc->redirect_uris_n++;
	}

	if (cp_url_parse(client_id, &cu) != CP_OK) {
		reason = "client_id is not a URL";
		goto out;
	}
	rc = CP_OK;
	if (cu.port != NULL) {
		struct cp_buf hb;

		cp_buf_init(&hb, CP_MAX_URL);
		if (cp_buf_printf(&hb, "%s:%s", cu.host, cu.port) != CP_OK ||
		    (doc->client_host = cp_buf_steal(&hb)) == NULL)
			rc = CP_ERR_NOMEM;
	} else {
		rc = dup_into(&doc->client_host, cu.host);
	}
	cp_url_free(&cu);
	if (rc != CP_OK ||
	    (rc = dup_into(&doc->client_id, client_id)) != CP_OK ||
	    (rc = dup_into(&doc->client_name, name)) != CP_OK ||
	    (rc = dup_into(&doc->client_uri, client_uri)) != CP_OK ||
	    (rc = dup_into(&doc->logo_uri, logo_uri)) != CP_OK)
		goto out;
	/* The hash binds consent to these exact bytes (CIMD-01 6.3). */
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, body, len, doc->hash) != 0) {
		rc = CP_ERR_INTERNAL;
		goto out;
	}
	rc = CP_OK;
out:
	json_object_put(o);
	if (rc != CP_OK) {
		if (rc == CP_ERR_NOMEM)
			reason = "out of memory";
		cp_cimd_doc_free(doc);
	}
	if (why != NULL)
		*why = rc == CP_OK ? NULL : reason;
	return rc;
}

/* Reads the seconds of "max-age=N" style directive values; anything but
 * digits (or a quoted run of them, RFC 9111 1.2.2) is no value. */
static bool
directive_seconds(const char *v, size_t n, long *out)
{
	long s = 0;
	size_t i;

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (s < CP_CIMD_GOOD_TTL)   /* saturate well above any clamp */
			s = s * 10 + (v[i] - '0');
	}
	*out = s;
	return true;
}

static long
clamp_ttl(long s)
{
	if (s < CP_CIMD_TTL_MIN)
		return CP_CIMD_TTL_MIN;
	return s > CP_CIMD_TTL_MAX ? CP_CIMD_TTL_MAX : s;
}

long
cp_cimd_cache_ttl(const char *cache_control, const char *expires, time_t now,
    bool *no_store)
{
	const char *p = cache_control != NULL ? cache_control : "";
	long max_age = -1, s_maxage = -1, v;
	bool no_cache = false;
	time_t t;

	*no_store = false;
	while (*p) {
		size_t len = strcspn(p, ","), nlen, i = 0;
		const char *eq;

		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		eq = memchr(p + i, '=', len - i);
		nlen = (eq != NULL ? (size_t)(eq - p) : len) - i;
		while (nlen > 0 && (p[i + nlen - 1] == ' ' || p[i + nlen - 1] == '\t'))
			nlen--;
		if (nlen == 8 && strncasecmp(p + i, "no-store", 8) == 0)
			*no_store = true;
		else if (nlen == 8 && strncasecmp(p + i, "no-cache", 8) == 0)
			no_cache = true;
		else if (eq != NULL && nlen == 7 && strncasecmp(p + i, "max-age", 7) == 0) {
			size_t vl = (size_t)(p + len - (eq + 1));

			while (vl > 0 && (eq[vl] == ' ' || eq[vl] == '\t'))
				vl--;
			if (directive_seconds(eq + 1, vl, &v))
				max_age = v;
		} else if (eq != NULL && nlen == 8 && strncasecmp(p + i, "s-maxage", 8) == 0) {
			size_t vl = (size_t)(p + len - (eq + 1));

			while (vl > 0 && (eq[vl] == ' ' || eq[vl] == '\t'))
				vl--;
			if (directive_seconds(eq + 1, vl, &v))
				s_maxage = v;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	/* RFC 9111 5.2.2.5 / 5.2.2.4: no-store forbids keeping it at all,
	 * no-cache forbids reuse without revalidation, which for us is a
	 * fresh fetch every time. */
	if (*no_store || no_cache)
		return 0;
	/* RFC 9111 4.2.1: s-maxage, then max-age, then Expires. */
	if (s_maxage >= 0)
		return clamp_ttl(s_maxage);
	if (max_age >= 0)
		return clamp_ttl(max_age);
	if (expires != NULL && *expires) {
		/* An invalid date means "already expired" (RFC 9111 5.3). */
		t = curl_getdate(expires, NULL);
		return clamp_ttl(t == -1 || t <= now ? 0 : (long)(t - now));
	}
	return CP_CIMD_TTL_DEFAULT;
}

const char *
cp_cimd_source_str(enum cp_cimd_source src)
{
	switch (src) {
	case CP_CIMD_SRC_CACHE:
		return "cache";
	case CP_CIMD_SRC_FETCH:
		return "fetch";
	case CP_CIMD_SRC_FETCH_NOSTORE:
		return "fetch-no-store";
	case CP_CIMD_SRC_LAST_GOOD:
		return "last-good";
	case CP_CIMD_SRC_PIN:
		return "pin";
	case CP_CIMD_SRC_STATIC:
		return "static";
	case CP_CIMD_SRC_NONE:
		break;
	}
	return "none";
}
