#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "bearer.h"
#include "idp.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"

enum cp_status
cp_bearer_token(const char *auth, struct cp_str *token)
{
	size_t i, n;

	token->ptr = NULL;
	token->len = 0;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return CP_ERR_NOT_FOUND;
	for (auth += 7; *auth == ' '; auth++)
		;
	/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
	for (n = 0; auth[n] && (isalnum((unsigned char)auth[n]) ||
	    strchr("-._~+/", auth[n]) != NULL); n++)
		;
	if (n == 0)
		return CP_ERR_SYNTAX;
	for (i = n; auth[i] == '='; i++)
		;
	if (auth[i] != '\0')
		return CP_ERR_SYNTAX;
	token->ptr = auth;
	token->len = i;
	return CP_OK;
}

bool
cp_bearer_unavailable(enum cp_status rc)
{
	return rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT || rc == CP_ERR_UPSTREAM ||
	    rc == CP_ERR_STORE || rc == CP_ERR_DENIED || rc == CP_ERR_NOMEM;
}

/* Tokens this process verified: SHA-256 over issuer, audience, client
 * and token, so a changed configuration never reuses an old verdict.
 * Shared by the threads of a process (ctx.h): cache_lock guards the
 * slots and cache_next; a hit hands out its own reference to the claims. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned char digest[32];
	time_t until;
	json_object *claims;
} cache[CP_BEARER_CACHE_SLOTS];
static size_t cache_next;

static bool
cache_digest(const struct cp_config *cfg, struct cp_str token, unsigned char digest[32])
{
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return false;
	/* NUL separators keep the fields apart. */
	gnutls_hash(h, cfg->idp_issuer, strlen(cfg->idp_issuer) + 1);
	gnutls_hash(h, cfg->idp_audience, strlen(cfg->idp_audience) + 1);
	gnutls_hash(h, cfg->idp_client_id, strlen(cfg->idp_client_id) + 1);
	gnutls_hash(h, token.ptr, token.len);
	gnutls_hash_deinit(h, digest);
	return true;
}

static json_object *
cache_get(const unsigned char digest[32], time_t now)
{
	json_object *claims = NULL;
	size_t i;

	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CP_BEARER_CACHE_SLOTS && claims == NULL; i++)
		if (cache[i].claims && cache[i].until > now &&
		    cp_secret_eq(cache[i].digest, 32, digest, 32))
			claims = json_object_get(cache[i].claims);
	pthread_mutex_unlock(&cache_lock);
	return claims;
}

static void
cache_put(const unsigned char digest[32], json_object *claims, time_t now)
{
	json_object *exp;
	time_t until = now + CP_BEARER_CACHE_SECONDS;
	size_t i;

	if (!json_object_object_get_ex(claims, "exp", &exp) ||
	    !json_object_is_type(exp, json_type_int))
		return;
	if ((time_t)json_object_get_int64(exp) < until)
		until = (time_t)json_object_get_int64(exp);
	pthread_mutex_lock(&cache_lock);
	i = cache_next++ % CP_BEARER_CACHE_SLOTS;
	json_object_put(cache[i].claims);
	memcpy(cache[i].digest, digest, 32);
	cache[i].until = until;
	cache[i].claims = json_object_get(claims);
	pthread_mutex_unlock(&cache_lock);
}

void
cp_bearer_expect(const struct cp_config *cfg, time_t now, struct cp_jwt_expect *expect)
{
	memset(expect, 0, sizeof(*expect));
	expect->issuer = cfg->idp_issuer;
	expect->audience = cfg->idp_audience;
	expect->any_audience = cfg->idp_audience_any;
	expect->access_token = true;
	expect->client_id = cfg->idp_client_id;
	expect->now = now;
}

enum cp_status
cp_bearer_verify(const struct cp_config *cfg, struct cp_store *st,
    struct cp_str token, json_object **claims)
{
	struct cp_jwt_expect expect;
	struct cp_idp idp;
	unsigned char digest[32];
	bool cacheable;
	time_t now = time(NULL);
	enum cp_status rc;

	*claims = NULL;
	if ((cacheable = cache_digest(cfg, token, digest)) &&
	    (*claims = cache_get(digest, now)) != NULL)
		return CP_OK;
	memset(&idp, 0, sizeof(idp));
	/* A token no key could make good (garbage, alg none or HMAC) is
	 * refused as such even while the IdP is unreachable. */
	if ((rc = cp_jwt_check_form(token.ptr, token.len)) != CP_OK)
		goto out;
	if ((rc = cp_idp_discover(cfg, st, &idp)) != CP_OK) {
		/* Whatever is wrong with the IdP, the token was not judged. */
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		rc = CP_ERR_UPSTREAM;
		goto out;
	}
	cp_bearer_expect(cfg, now, &expect);
	rc = cp_jwt_verify(cfg, st, &idp, token.ptr, token.len, &expect, claims);
	if (rc == CP_OK && cacheable)
		cache_put(digest, *claims, now);
out:
	/* Verifications done, not cache hits: cimd_proxy_jwt_verifications_total. */
	cp_metrics_inc(rc == CP_OK ? CP_M_JWT_VALID : rc == CP_ERR_EXPIRED ? CP_M_JWT_EXPIRED :
	    cp_bearer_unavailable(rc) ? CP_M_JWT_ERROR : CP_M_JWT_INVALID);
	cp_idp_free(&idp);
	return rc;
}
