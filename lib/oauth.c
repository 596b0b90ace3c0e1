#include "config.h"

#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "form.h"
#include "oauth.h"
#include "url.h"

static bool
is_b64url(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool
cp_pkce_challenge_ok(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len != CP_PKCE_CHALLENGE_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!is_b64url((unsigned char)s[i]))
			return false;
	return true;
}

bool
cp_pkce_verifier_ok(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	if (s == NULL || len < CP_PKCE_VERIFIER_MIN || len > CP_PKCE_VERIFIER_MAX)
		return false;
	/* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!is_b64url(c) && c != '.' && c != '~')
			return false;
	}
	return true;
}

bool
cp_pkce_verify(const char *verifier, size_t vlen, const char *challenge,
    size_t clen)
{
	struct sha256_ctx sha;
	struct base64_encode_ctx b64;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char enc[BASE64_ENCODE_LENGTH(SHA256_DIGEST_SIZE) + BASE64_ENCODE_FINAL_LENGTH];
	size_t n;
	bool ok;

	if (!cp_pkce_verifier_ok(verifier, vlen) ||
	    !cp_pkce_challenge_ok(challenge, clen))
		return false;
	sha256_init(&sha);
	sha256_update(&sha, vlen, (const uint8_t *)verifier);
	sha256_digest(&sha, sizeof(digest), digest);
	base64url_encode_init(&b64);
	n = base64_encode_update(&b64, enc, sizeof(digest), digest);
	n += base64_encode_final(&b64, enc + n);
	/* RFC 7636 appendix A: base64url without padding. */
	while (n > 0 && enc[n - 1] == '=')
		n--;
	ok = cp_secret_eq(enc, n, challenge, clen);
	memset(digest, 0, sizeof(digest));
	return ok;
}

enum cp_status
cp_oauth_redirect(struct cp_buf *out, const char *redirect_uri,
    const struct cp_oauth_param *params, size_t n)
{
	size_t len = strlen(redirect_uri), i;
	char sep;
	enum cp_status rc;

	/* RFC 6749 3.1.2: keep the registered query, add ours after it. */
	if (strchr(redirect_uri, '?') == NULL)
		sep = '?';
	else if (len > 0 && (redirect_uri[len - 1] == '?' || redirect_uri[len - 1] == '&'))
		sep = '\0';
	else
		sep = '&';
	if ((rc = cp_buf_add(out, redirect_uri, len)) != CP_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if (params[i].value == NULL)
			continue;
		if (sep != '\0' && (rc = cp_buf_addc(out, sep)) != CP_OK)
			return rc;
		sep = '&';
		if ((rc = cp_buf_adds(out, params[i].name)) != CP_OK ||
		    (rc = cp_buf_addc(out, '=')) != CP_OK ||
		    (rc = cp_form_encode(out, params[i].value,
		    strlen(params[i].value))) != CP_OK)
			return rc;
	}
	if (out->len > CP_MAX_REDIRECT) {
		cp_buf_free(out);
		return CP_ERR_LIMIT;
	}
	return CP_OK;
}

static const char *
lookup(const char *const *set, const char *code)
{
	size_t i;

	if (code == NULL)
		return NULL;
	for (i = 0; set[i] != NULL; i++)
		if (strcmp(set[i], code) == 0)
			return set[i];
	return NULL;
}

const char *
cp_oauth_authz_error(const char *code)
{
	/* RFC 6749 4.1.2.1, then OIDC Core 3.1.2.6. */
	static const char *const set[] = {
		"invalid_request", "unauthorized_client", "access_denied",
		"unsupported_response_type", "invalid_scope", "server_error",
		"temporarily_unavailable",
		"interaction_required", "login_required",
		"account_selection_required", "consent_required",
		"invalid_request_uri", "invalid_request_object",
		"request_not_supported", "request_uri_not_supported",
		"registration_not_supported", NULL
	};
	const char *known = lookup(set, code);

	return known ? known : "server_error";
}

const char *
cp_oauth_token_error(const char *code)
{
	/* RFC 6749 5.2, plus invalid_target from RFC 8707 2. */
	static const char *const set[] = {
		"invalid_request", "invalid_client", "invalid_grant",
		"unauthorized_client", "unsupported_grant_type", "invalid_scope",
		"invalid_target", NULL
	};
	const char *known = lookup(set, code);

	return known ? known : "invalid_grant";
}

enum cp_status
cp_oauth_clean_description(struct cp_buf *out, const char *s)
{
	size_t i, kept = 0;
	unsigned char c;
	enum cp_status rc;

	for (i = 0; s != NULL && s[i] != '\0' && kept < CP_MAX_ERROR_DESC; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			continue;
		if ((rc = cp_buf_addc(out, (char)c)) != CP_OK)
			return rc;
		kept++;
	}
	return CP_OK;
}

enum cp_status
cp_oauth_scope(const struct cp_config *cfg, const char *scope,
    struct cp_buf *out)
{
	const char *p, *sp;
	size_t len;

	if (scope == NULL)
		return cp_buf_adds(out, cfg->idp_scopes);
	len = strlen(scope);
	if (len > CP_MAX_SCOPE)
		return CP_ERR_INVALID;
	/* RFC 6749 3.3: scope-token *( SP scope-token ); an empty token
	 * (double, leading or trailing space) is malformed, not skipped. */
	for (p = scope; ; p = sp + 1) {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (len == 0 || !cp_conf_scope_known(cfg, p, len))
			return CP_ERR_INVALID;
		if (sp == NULL)
			break;
	}
	return cp_buf_adds(out, scope);
}

/* True when the token p[0..len) is one of granted's tokens. */
static bool
scope_has(const char *granted, const char *p, size_t len)
{
	const char *g = granted, *sp;
	size_t n;

	while (*g) {
		sp = strchr(g, ' ');
		n = sp ? (size_t)(sp - g) : strlen(g);
		if (n == len && memcmp(g, p, len) == 0)
			return true;
		if (sp == NULL)
			break;
		g = sp + 1;
	}
	return false;
}

#define OFFLINE_ACCESS "offline_access"

enum cp_status
cp_oauth_scope_refreshable(const struct cp_config *cfg, struct cp_buf *scope)
{
	if (!cp_conf_scope_known(cfg, OFFLINE_ACCESS, sizeof(OFFLINE_ACCESS) - 1) ||
	    scope_has(cp_buf_cstr(scope), OFFLINE_ACCESS, sizeof(OFFLINE_ACCESS) - 1))
		return CP_OK;
	return cp_buf_adds(scope, scope->len > 0 ? " " OFFLINE_ACCESS : OFFLINE_ACCESS);
}

bool
cp_oauth_scope_within(const char *scope, const char *granted)
{
	const char *p, *sp;
	size_t len;

	if (scope == NULL || granted == NULL)
		return false;
	for (p = scope; ; p = sp + 1) {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (len == 0 || !scope_has(granted, p, len))
			return false;
		if (sp == NULL)
			return true;
	}
}

bool
cp_oauth_resource_ok(const struct cp_config *cfg, const char *resource)
{
	size_t rl, n;

	if (resource == NULL)
		return false;
	rl = strlen(cfg->resource);
	n = strlen(resource);
	if (n == rl + 1 && resource[rl] == '/')
		n = rl;
	return n == rl && memcmp(resource, cfg->resource, rl) == 0;
}

bool
cp_oauth_login_hint_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n > 0 && n <= CP_MAX_LOGIN_HINT && cp_is_visible_ascii(s, n);
}
