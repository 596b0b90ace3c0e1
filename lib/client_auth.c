#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "client_auth.h"
#include "jwt.h"
#include "log.h"

const char *
cp_client_auth_str(enum cp_client_auth auth)
{
	return auth == CP_CLIENT_AUTH_PRIVATE_KEY_JWT ? "private_key_jwt" : "none";
}

/* The string member name of o, or NULL when absent or not a string
 * without an embedded NUL. */
static const char *
claim_str(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return NULL;
	return json_object_get_string(v);
}

static bool
aud_is_ours(json_object *v, const struct cp_assertion_expect *e)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return false;
	s = json_object_get_string(v);
	return strcmp(s, e->endpoint) == 0 || strcmp(s, e->issuer) == 0;
}

/* RFC 7523 section 3 item 3: aud identifies this server, as its token
 * endpoint or its issuer, exactly; an array qualifies when one entry
 * does. */
static bool
aud_ok(json_object *claims, const struct cp_assertion_expect *e)
{
	json_object *aud;
	size_t i, n;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return false;
	if (!json_object_is_type(aud, json_type_array))
		return aud_is_ours(aud, e);
	n = json_object_array_length(aud);
	for (i = 0; i < n; i++)
		if (aud_is_ours(json_object_array_get_idx(aud, i), e))
			return true;
	return false;
}

/* The claim checks cp_jwt_verify_jwks leaves to us (RFC 7523 section 3
 * items 2, 3, 4 and 7; it checked iss and that exp is not past). */
static enum cp_status
check_claims(json_object *claims, const struct cp_assertion_expect *e,
    const char **why)
{
	time_t now = e->now ? e->now : time(NULL);
	const char *principal = claim_str(claims, "sub"), *jti = claim_str(claims, "jti");
	json_object *exp;

	if (principal == NULL || strcmp(principal, e->client_id) != 0) {
		*why = "the client_assertion's sub is not the client_id";
		return CP_ERR_INVALID;
	}
	if (!aud_ok(claims, e)) {
		*why = "the client_assertion's aud names neither this token endpoint nor this issuer";
		return CP_ERR_INVALID;
	}
	if (!json_object_object_get_ex(claims, "exp", &exp) ||
	    json_object_get_int64(exp) > (int64_t)now + CP_ASSERTION_MAX_LIFETIME +
	    CP_JWT_LEEWAY) {
		*why = "the client_assertion's exp is more than 5 minutes ahead";
		return CP_ERR_INVALID;
	}
	if (jti == NULL || jti[0] == '\0') {
		*why = "the client_assertion has no jti";
		return CP_ERR_INVALID;
	}
	return CP_OK;
}

enum cp_status
cp_assertion_verify(json_object *jwks, const char *assertion,
    const struct cp_assertion_expect *e, json_object **claims, const char **why)
{
	struct cp_jwt_expect je = { .issuer = e->client_id, .any_audience = true,
	    .now = e->now };
	size_t len = strlen(assertion);
	enum cp_status rc;

	*claims = NULL;
	if (len > CP_ASSERTION_MAX_LEN) {
		*why = "the client_assertion is too long";
		return CP_ERR_LIMIT;
	}
	/* iss, exp, nbf, iat and the signature (RS256, PS256, ES256 only). */
	rc = cp_jwt_verify_jwks(jwks, assertion, len, &je, claims);
	if (rc != CP_OK) {
		*why = rc == CP_ERR_EXPIRED ? "the client_assertion has expired" :
		    rc == CP_ERR_CRYPTO ? "the client_assertion's signature does not verify "
		    "with a key of the client's jwks" :
		    "the client_assertion is not a JWT this server accepts "
		    "(alg RS256, PS256 or ES256; iss the client_id; exp)";
		return rc;
	}
	if ((rc = check_claims(*claims, e, why)) != CP_OK) {
		json_object_put(*claims);
		*claims = NULL;
	}
	return rc;
}

enum cp_status
cp_assertion_spend(struct cp_store *st, const char *client_id, json_object *claims)
{
	unsigned char key[sizeof(CP_ASSERTION_JTI_KEY) - 1 + 32];
	const char *jti = claim_str(claims, "jti");
	gnutls_hash_hd_t h;
	json_object *exp;

	if (jti == NULL || !json_object_object_get_ex(claims, "exp", &exp))
		return CP_ERR_INTERNAL;
	/* The key is a hash of both (any length, any bytes), with the
	 * client_id's NUL between them so no two pairs share it. */
	memcpy(key, CP_ASSERTION_JTI_KEY, sizeof(CP_ASSERTION_JTI_KEY) - 1);
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return CP_ERR_NOMEM;
	gnutls_hash(h, client_id, strlen(client_id) + 1);
	gnutls_hash(h, jti, strlen(jti));
	gnutls_hash_deinit(h, key + sizeof(CP_ASSERTION_JTI_KEY) - 1);
	return cp_store_once(st, key, sizeof(key),
	    (time_t)json_object_get_int64(exp) + CP_JWT_LEEWAY + 1);
}
