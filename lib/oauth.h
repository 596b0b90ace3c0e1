/*
 * Pure OAuth protocol helpers shared by /authorize, /callback and
 * /token: PKCE checks, authorization-response redirects, the registered
 * error codes, and the checks on scope, resource, state and login_hint.
 * Nothing here does I/O, so all of it is unit-tested directly.
 */
#ifndef CP_OAUTH_H
#define CP_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "limits.h"
#include "status.h"

#define CP_PKCE_CHALLENGE_LEN   43      /* BASE64URL(SHA-256): RFC 7636 4.2 */
#define CP_PKCE_VERIFIER_MIN    43      /* RFC 7636 4.1 */
#define CP_PKCE_VERIFIER_MAX    128
#define CP_MAX_LOGIN_HINT       256
#define CP_MAX_ERROR_DESC       200     /* what we pass on from the IdP */
#define CP_MAX_REDIRECT         (CP_MAX_URL + CP_MAX_STATE * 3 + 2048)

/* One query parameter of a redirect; a NULL value is left out. */
struct cp_oauth_param {
	const char *name;
	const char *value;
};

/* True when s[0..len) is exactly 43 base64url characters (RFC 7636 4.2). */
bool cp_pkce_challenge_ok(const char *s, size_t len);

/* True when s[0..len) is 43-128 unreserved characters (RFC 7636 4.1). */
bool cp_pkce_verifier_ok(const char *s, size_t len);

/* RFC 7636 4.6: true when BASE64URL(SHA256(verifier)) equals challenge,
 * compared in constant time.  False too when either is malformed. */
bool cp_pkce_verify(const char *verifier, size_t vlen, const char *challenge,
    size_t clen);

/* Appends to out redirect_uri with params added to its query (RFC 6749
 * 4.1.2: '&' when the URI already has one, else '?'), each value
 * percent-encoded.  The caller validated redirect_uri (no fragment).
 * CP_ERR_LIMIT past CP_MAX_REDIRECT (out is then freed). */
enum cp_status cp_oauth_redirect(struct cp_buf *out, const char *redirect_uri,
    const struct cp_oauth_param *params, size_t n);

/* The error code to pass to a client in an authorization response: code
 * itself when RFC 6749 4.1.2.1 or OIDC Core 3.1.2.6 registers it, else
 * "server_error".  Returns a static string. */
const char *cp_oauth_authz_error(const char *code);

/* The same for token-endpoint errors (RFC 6749 5.2, RFC 8707 2); an
 * unregistered code becomes "invalid_grant", which makes a client start
 * a new login rather than retry. */
const char *cp_oauth_token_error(const char *code);

/* Appends to out the error_description characters RFC 6749 4.1.2.1
 * allows (%x20-21 / %x23-5B / %x5D-7E) from s, dropping the others, at
 * most CP_MAX_ERROR_DESC of them.  Nothing is appended for NULL. */
enum cp_status cp_oauth_clean_description(struct cp_buf *out, const char *s);

/* Checks a requested scope (RFC 6749 3.3: tokens separated by single
 * spaces) against idp_scopes and appends the scope to use to out: the
 * request's, or idp_scopes when scope is NULL.  CP_ERR_INVALID when a
 * token is unknown or the syntax is wrong (the caller answers
 * invalid_scope). */
enum cp_status cp_oauth_scope(const struct cp_config *cfg, const char *scope,
    struct cp_buf *out);

/* MCP SEP-2207: refresh is the authorization server's to grant, so the
 * metadata a client reads before signing in no longer names
 * offline_access and clients stop asking for it.  When idp_scopes holds
 * offline_access, it is appended to scope (a scope cp_oauth_scope
 * wrote) unless already there, so the IdP still issues the refresh token
 * the proxy wraps.  CP_ERR_LIMIT, CP_ERR_NOMEM. */
enum cp_status cp_oauth_scope_refreshable(const struct cp_config *cfg, struct cp_buf *scope);

/* RFC 6749 6: true when every token of scope (a scope cp_oauth_scope
 * accepted) is one of the space-separated tokens of granted, compared
 * exactly; false when granted is NULL.  Neither is modified. */
bool cp_oauth_scope_within(const char *scope, const char *granted);

/* True when resource names the proxy's MCP URL (cfg->resource), with
 * one trailing slash tolerated (RFC 8707 2, doc/protocol.md 8.8). */
bool cp_oauth_resource_ok(const struct cp_config *cfg, const char *resource);

/* True when a login_hint may be passed to the IdP: 1-256 visible ASCII. */
bool cp_oauth_login_hint_ok(const char *s);

#endif
