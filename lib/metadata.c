#include "config.h"

#include <string.h>

#include "limits.h"
#include "metadata.h"

/* json-c adds are checked once at the end: any NULL member makes the
 * whole document NULL rather than a document missing a member. */
static bool
add(json_object *o, const char *key, json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static json_object *
strings(const char *const *v)
{
	json_object *a = json_object_new_array();

	for (; a && *v; v++)
		if (json_object_array_add(a, json_object_new_string(*v)) != 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static json_object *
str_join(const char *a, const char *b)
{
	struct cp_buf buf;
	json_object *s = NULL;

	cp_buf_init(&buf, CP_MAX_URL);
	if (cp_buf_adds(&buf, a) == CP_OK && cp_buf_adds(&buf, b) == CP_OK)
		s = json_object_new_string(cp_buf_cstr(&buf));
	cp_buf_free(&buf);
	return s;
}

/* MCP SEP-2207: offline_access is for the authorization server to grant;
 * a resource that names it makes clients ask for it whatever the AS
 * does, so it appears only in the AS metadata. */
static const char OFFLINE_ACCESS[] = "offline_access";

static bool
is_offline_access(const char *s, size_t n)
{
	return n == sizeof(OFFLINE_ACCESS) - 1 && memcmp(s, OFFLINE_ACCESS, n) == 0;
}

/* Calls each(s, n, arg) for every scope of idp_scopes, skipping
 * offline_access unless with_offline; false as soon as each does. */
static bool
each_scope(const struct cp_config *cfg, bool with_offline,
    bool (*each)(const char *, size_t, void *), void *arg)
{
	const char *s = cfg->idp_scopes;

	while (*s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if ((with_offline || !is_offline_access(s, n)) && !each(s, n, arg))
			return false;
		s += n;
		while (*s == ' ')
			s++;
	}
	return true;
}

static bool
scope_to_array(const char *s, size_t n, void *arg)
{
	return json_object_array_add(arg, json_object_new_string_len(s, (int)n)) == 0;
}

json_object *
cp_metadata_scopes(const struct cp_config *cfg, bool with_offline)
{
	json_object *a = json_object_new_array();

	if (a && !each_scope(cfg, with_offline, scope_to_array, a)) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

static bool
scope_to_buf(const char *s, size_t n, void *arg)
{
	struct cp_buf *b = arg;

	return (b->len == 0 || cp_buf_add(b, " ", 1) == CP_OK) && cp_buf_add(b, s, n) == CP_OK;
}

json_object *
cp_metadata_protected_resource(const struct cp_config *cfg)
{
	static const char *const bearer[] = { "header", NULL };
	const char *as[] = { cfg->public_url, NULL };
	json_object *o = json_object_new_object();

	if (o && add(o, "resource", json_object_new_string(cfg->resource)) &&
	    add(o, "authorization_servers", strings(as)) &&
	    add(o, "scopes_supported", cp_metadata_scopes(cfg, false)) &&
	    add(o, "bearer_methods_supported", strings(bearer)) &&
	    add(o, "resource_name", json_object_new_string("MCP gateway (cimd-proxy)")))
		return o;
	json_object_put(o);
	return NULL;
}

json_object *
cp_metadata_authorization_server(const struct cp_config *cfg)
{
	static const char *const code[] = { "code", NULL };
	static const char *const grants[] = { "authorization_code", "refresh_token", NULL };
	static const char *const s256[] = { "S256", NULL };
	/* RFC 8414 2: how clients authenticate at /token (client_auth.h),
	 * and the JWS algorithms a private_key_jwt assertion may use
	 * (jwt.h). */
	static const char *const auth[] = { "none", "private_key_jwt", NULL };
	static const char *const algs[] = { "RS256", "ES256", "PS256", NULL };
	json_object *o = json_object_new_object();

	/* No registration_endpoint: /register always refuses (doc/protocol.md
	 * 3.8), and clients that see one try DCR and fail. */
	if (o && add(o, "issuer", json_object_new_string(cfg->public_url)) &&
	    add(o, "authorization_endpoint", str_join(cfg->public_url, "/authorize")) &&
	    add(o, "token_endpoint", str_join(cfg->public_url, "/token")) &&
	    add(o, "response_types_supported", strings(code)) &&
	    add(o, "grant_types_supported", strings(grants)) &&
	    add(o, "code_challenge_methods_supported", strings(s256)) &&
	    add(o, "token_endpoint_auth_methods_supported", strings(auth)) &&
	    add(o, "token_endpoint_auth_signing_alg_values_supported", strings(algs)) &&
	    add(o, "client_id_metadata_document_supported", json_object_new_boolean(1)) &&
	    add(o, "authorization_response_iss_parameter_supported", json_object_new_boolean(1)) &&
	    add(o, "scopes_supported", cp_metadata_scopes(cfg, true)))
		return o;
	json_object_put(o);
	return NULL;
}

enum cp_status
cp_metadata_challenge(const struct cp_config *cfg, const char *error,
    struct cp_buf *out)
{
	struct cp_buf scope;
	enum cp_status rc = cp_buf_adds(out, "Bearer ");

	cp_buf_init(&scope, CP_MAX_CONF_LINE);
	if (rc == CP_OK && error)
		rc = cp_buf_printf(out, "error=\"%s\", ", error);
	if (rc == CP_OK)
		rc = cp_buf_printf(out, "resource_metadata=\"%s\"", cfg->prm_url);
	/* SEP-2207: the challenge's scope is the resource's, without
	 * offline_access; omitted when nothing else is left. */
	if (rc == CP_OK && !each_scope(cfg, false, scope_to_buf, &scope))
		rc = CP_ERR_NOMEM;
	if (rc == CP_OK && scope.len > 0)
		rc = cp_buf_printf(out, ", scope=\"%s\"", cp_buf_cstr(&scope));
	cp_buf_free(&scope);
	return rc;
}
