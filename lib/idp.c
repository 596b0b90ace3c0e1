#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idp.h"
#include "jsonparse.h"
#include "limits.h"
#include "log.h"
#include "url.h"

#define DISCOVERY_SUFFIX    "/.well-known/openid-configuration"
#define KEY_DISCOVERY       "discovery "    /* + issuer */
#define KEY_JWKS            "jwks "         /* + jwks_uri */
#define KEY_JWKS_FETCHED    "jwks-fetched " /* + jwks_uri: last fetch time */
#define KEY_JWKS_FAILED     "jwks-failed "  /* + jwks_uri: last failed fetch */
#define FETCHED_LEN         32              /* decimal time_t, with room */

/* One fetch from the IdP at a time per process.  The threads of a relay
 * that find no discovery document or keys in the store try again under
 * this lock, and the first one's fetch fills the store for the rest: a
 * cold start with hundreds of streams arriving at once costs the IdP one
 * request of each kind, not hundreds (which, timing out, were 503s).
 * Held across the fetch, which has its own deadline (CP_HTTP_TIMEOUT_MS).
 * Each kind counts its fetches: a thread that waited while one of its
 * kind ran takes that result from the store and fetches no more, so an
 * IdP that times out costs the waiting threads one deadline, not one
 * each. */
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long discovery_fetches, jwks_fetches;

/* True when ct is the media type want, parameters allowed. */
static bool
is_type(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* application/json (RFC 8259 section 11), or the JWK Set type (RFC 7517
 * section 8.5.1) some IdPs serve their jwks_uri with. */
static bool
is_json_type(const char *ct)
{
	return is_type(ct, "application/json") ||
	    is_type(ct, "application/jwk-set+json");
}

/* An IdP endpoint must be https; http only to loopback, for tests.  No
 * fragment (RFC 8414 section 2, OIDC Discovery section 3). */
static bool
endpoint_ok(const char *s)
{
	struct cp_url u;
	bool ok;

	if (strlen(s) > CP_MAX_URL || cp_url_parse(s, &u) != CP_OK)
		return false;
	ok = u.fragment == NULL && u.user == NULL && u.password == NULL &&
	    (strcmp(u.scheme, "https") == 0 ||
	    (strcmp(u.scheme, "http") == 0 && cp_url_host_is_loopback(u.host)));
	cp_url_free(&u);
	return ok;
}

/* A copy of the string member name of o, when it is an acceptable
 * endpoint; NULL otherwise. */
static char *
endpoint(json_object *o, const char *name)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) || !endpoint_ok(s))
		return NULL;
	return strdup(s);
}

/* Fills idp from a discovery document (OIDC Discovery 1.0 section 4.3:
 * the issuer must be identical to the one the URL was built from). */
static enum cp_status
parse_discovery(const char *issuer, const char *text, size_t len,
    struct cp_idp *idp)
{
	json_object *o = NULL, *v;
	enum cp_status rc;

	if ((rc = cp_json_parse_object(text, len, &o)) != CP_OK)
		goto out;
	rc = CP_ERR_UPSTREAM;
	if (!json_object_object_get_ex(o, "issuer", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) != strlen(issuer) ||
	    memcmp(json_object_get_string(v), issuer, strlen(issuer)) != 0) {
		cp_log(CP_LOG_ERROR, "idp: discovery issuer differs from idp_issuer %s",
		    issuer);
		goto out;
	}
	if ((idp->issuer = strdup(issuer)) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	idp->authorization_endpoint = endpoint(o, "authorization_endpoint");
	idp->token_endpoint = endpoint(o, "token_endpoint");
	idp->jwks_uri = endpoint(o, "jwks_uri");
	if (idp->authorization_endpoint == NULL || idp->token_endpoint == NULL ||
	    idp->jwks_uri == NULL) {
		cp_log(CP_LOG_ERROR, "idp: discovery of %s lacks an https "
		    "authorization_endpoint, token_endpoint or jwks_uri", issuer);
		goto out;
	}
	/* RFC 9207 section 3. */
	idp->iss_parameter_supported =
	    json_object_object_get_ex(o, "authorization_response_iss_parameter_supported", &v) &&
	    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
	rc = CP_OK;
out:
	if (rc != CP_OK)
		cp_idp_free(idp);
	json_object_put(o);
	return rc;
}

/* GETs url expecting 200 application/json of at most max bytes; the
 * body is left in resp (caller frees). */
static enum cp_status
fetch_json(const struct cp_config *cfg, const char *url, size_t max,
    struct cp_http_response *resp)
{
	enum cp_status rc;

	cp_log(CP_LOG_DEBUG, "idp: fetching %.200s", url);
	if ((rc = cp_http_get(cfg, url, resp)) != CP_OK)
		return rc;
	rc = CP_ERR_UPSTREAM;
	if (resp->status != 200)
		cp_log(CP_LOG_ERROR, "idp: %.200s answered %ld", url, resp->status);
	else if (!is_json_type(resp->content_type))
		cp_log(CP_LOG_ERROR, "idp: %.200s is not application/json", url);
	else if (resp->body.len > max)
		rc = CP_ERR_LIMIT;
	else
		rc = CP_OK;
	if (rc != CP_OK)
		cp_buf_free(&resp->body);
	return rc;
}

/* The store key prefix + s, in b (capped at CP_STORE_MAX_KEY). */
static enum cp_status
store_key(struct cp_buf *b, const char *prefix, const char *s)
{
	enum cp_status rc;

	cp_buf_init(b, CP_STORE_MAX_KEY);
	if ((rc = cp_buf_adds(b, prefix)) != CP_OK)
		return rc;
	return cp_buf_adds(b, s);
}

/* The discovery document from the store or, when fetch, from the IdP;
 * without fetch, *wanted is set where it would have fetched. */
static enum cp_status
discover(const struct cp_config *cfg, struct cp_store *st, struct cp_idp *idp,
    bool fetch, bool *wanted)
{
	struct cp_http_response resp;
	struct cp_buf key, url, cached;
	enum cp_status rc;
	size_t ilen;

	memset(idp, 0, sizeof(*idp));
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&url, CP_MAX_URL);
	cp_buf_init(&cached, CP_IDP_MAX_DISCOVERY);
	if ((rc = store_key(&key, KEY_DISCOVERY, cfg->idp_issuer)) != CP_OK)
		goto out;
	if (st != NULL) {
		rc = cp_store_get(st, CP_NS_IDP, key.data, key.len, &cached, NULL);
		if (rc == CP_OK &&
		    parse_discovery(cfg->idp_issuer, cached.data, cached.len, idp) == CP_OK)
			goto out;
		if (rc != CP_OK && rc != CP_ERR_NOT_FOUND)
			cp_log(CP_LOG_WARN, "idp: store read failed (%s); fetching",
			    cp_status_str(rc));
	}

	if (!fetch) {
		*wanted = true;
		rc = CP_ERR_FETCH;
		goto out;
	}
	/* OIDC Discovery 1.0 section 4: the issuer without a trailing slash,
	 * then the well-known path. */
	ilen = strlen(cfg->idp_issuer);
	if (ilen > 0 && cfg->idp_issuer[ilen - 1] == '/')
		ilen--;
	if ((rc = cp_buf_add(&url, cfg->idp_issuer, ilen)) != CP_OK ||
	    (rc = cp_buf_adds(&url, DISCOVERY_SUFFIX)) != CP_OK)
		goto out;
	if ((rc = fetch_json(cfg, url.data, CP_IDP_MAX_DISCOVERY, &resp)) != CP_OK)
		goto out;
	if ((rc = parse_discovery(cfg->idp_issuer, resp.body.data, resp.body.len,
	    idp)) != CP_OK)
		goto out;
	if (st != NULL) {
		enum cp_status src = cp_store_put(st, CP_NS_IDP, key.data, key.len,
		    resp.body.data, resp.body.len, time(NULL) + CP_IDP_DISCOVERY_TTL);
		if (src != CP_OK)
			cp_log(CP_LOG_WARN, "idp: caching discovery failed (%s)",
			    cp_status_str(src));
	}
out:
	cp_buf_free(&key);
	cp_buf_free(&url);
	cp_buf_free(&cached);
	cp_buf_free(&resp.body);
	return rc;
}

enum cp_status
cp_idp_discover(const struct cp_config *cfg, struct cp_store *st,
    struct cp_idp *idp)
{
	/* Counted before the store is read: a fetch that ends after
	 * this thread found nothing shows as a new count below. */
	unsigned long seen = __atomic_load_n(&discovery_fetches, __ATOMIC_ACQUIRE);
	bool wanted = false;
	enum cp_status rc = discover(cfg, st, idp, false, &wanted);

	if (!wanted)
		return rc;
	cp_idp_free(idp);
	pthread_mutex_lock(&fetch_lock);
	if (discovery_fetches != seen)
		rc = discover(cfg, st, idp, false, &wanted);
	else {
		rc = discover(cfg, st, idp, true, &wanted);
		__atomic_add_fetch(&discovery_fetches, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fetch_lock);
	return rc;
}

void
cp_idp_free(struct cp_idp *idp)
{
	free(idp->issuer);
	free(idp->authorization_endpoint);
	free(idp->token_endpoint);
	free(idp->jwks_uri);
	memset(idp, 0, sizeof(*idp));
}

/* A JWK Set (RFC 7517 section 5): an object whose "keys" is an array. */
static enum cp_status
parse_jwks(const char *text, size_t len, json_object **jwks)
{
	json_object *o = NULL, *keys;
	enum cp_status rc;

	if ((rc = cp_json_parse_object(text, len, &o)) != CP_OK)
		return rc;
	if (!json_object_object_get_ex(o, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		json_object_put(o);
		return CP_ERR_UPSTREAM;
	}
	*jwks = o;
	return CP_OK;
}

/* The time a stamp record (the last fetch, the last failed fetch) holds,
 * from the store; 0 when unknown. */
static time_t
stamp_get(struct cp_store *st, const struct cp_buf *key)
{
	struct cp_buf v;
	time_t t = 0;
	char *end;
	long long n;

	cp_buf_init(&v, FETCHED_LEN);
	if (cp_store_get(st, CP_NS_IDP, key->data, key->len, &v, NULL) == CP_OK &&
	    v.len > 0) {
		n = strtoll(v.data, &end, 10);
		if (*end == '\0' && n > 0)
			t = (time_t)n;
	}
	cp_buf_free(&v);
	return t;
}

/* Stores now as the stamp record key, living ttl seconds. */
static enum cp_status
stamp_put(struct cp_store *st, const struct cp_buf *key, time_t now, time_t ttl)
{
	char stamp[FETCHED_LEN];
	int n = snprintf(stamp, sizeof(stamp), "%lld", (long long)now);

	if (n <= 0 || (size_t)n >= sizeof(stamp))
		return CP_ERR_INTERNAL;
	return cp_store_put(st, CP_NS_IDP, key->data, key->len, stamp, (size_t)n,
	    now + ttl);
}

/* The IdP's keys from the store or, when fetch, from the IdP; without
 * fetch, *wanted is set where it would have fetched. */
static enum cp_status
jwks_load(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, bool refresh, bool fetch, bool *wanted,
    json_object **jwks)
{
	struct cp_http_response resp;
	struct cp_buf key, fkey, xkey, cached;
	enum cp_status rc, src;
	time_t now = time(NULL), last;
	bool throttled = false;

	*jwks = NULL;
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&cached, CP_IDP_MAX_JWKS);
	cp_buf_init(&fkey, CP_STORE_MAX_KEY);
	cp_buf_init(&xkey, CP_STORE_MAX_KEY);
	if ((rc = store_key(&key, KEY_JWKS, idp->jwks_uri)) != CP_OK ||
	    (rc = store_key(&fkey, KEY_JWKS_FETCHED, idp->jwks_uri)) != CP_OK ||
	    (rc = store_key(&xkey, KEY_JWKS_FAILED, idp->jwks_uri)) != CP_OK)
		goto out;
	if (st != NULL) {
		rc = cp_store_get(st, CP_NS_IDP, key.data, key.len, &cached, NULL);
		if (rc != CP_OK && rc != CP_ERR_NOT_FOUND)
			cp_log(CP_LOG_WARN, "idp: store read failed (%s); fetching",
			    cp_status_str(rc));
		if (rc == CP_OK) {
			/* An unknown kid may mean the IdP rotated its keys, but
			 * tokens with made-up kids must not make us hammer the
			 * IdP: one refetch per CP_IDP_JWKS_MIN_REFETCH. */
			last = stamp_get(st, &fkey);
			if ((!refresh || (last != 0 && now - last < CP_IDP_JWKS_MIN_REFETCH)) &&
			    parse_jwks(cached.data, cached.len, jwks) == CP_OK) {
				rc = CP_OK;
				goto out;
			}
		}
		/* While the jwks_uri fails, one attempt per
		 * CP_IDP_JWKS_FAILED_RETRY, whatever the tokens say: neither
		 * made-up kids nor an empty cache may turn every request into
		 * a request to the IdP. */
		last = stamp_get(st, &xkey);
		throttled = last != 0 && now >= last && now - last < CP_IDP_JWKS_FAILED_RETRY;
		if (throttled)
			cp_log(CP_LOG_DEBUG, "idp: JWKS fetch failed %llds ago; not retried "
			    "before %d s", (long long)(now - last), CP_IDP_JWKS_FAILED_RETRY);
	}

	if (!throttled && !fetch) {
		*wanted = true;
		rc = CP_ERR_FETCH;
		goto out;
	}
	if (!throttled) {
		rc = fetch_json(cfg, idp->jwks_uri, CP_IDP_MAX_JWKS, &resp);
		if (rc == CP_ERR_LIMIT)
			cp_log(CP_LOG_ERROR, "idp: JWKS over %d bytes", CP_IDP_MAX_JWKS);
		if (rc == CP_OK && (rc = parse_jwks(resp.body.data, resp.body.len,
		    jwks)) != CP_OK)
			cp_log(CP_LOG_ERROR, "idp: %.200s is not a JWK Set", idp->jwks_uri);
		if (rc == CP_OK) {
			if (st != NULL) {
				src = cp_store_put(st, CP_NS_IDP, key.data, key.len,
				    resp.body.data, resp.body.len, now + CP_IDP_JWKS_TTL);
				if (src == CP_OK)
					src = stamp_put(st, &fkey, now, CP_IDP_JWKS_MIN_REFETCH);
				if (src != CP_OK)
					cp_log(CP_LOG_WARN, "idp: caching the JWKS failed (%s)",
					    cp_status_str(src));
			}
			goto out;
		}
		if (st != NULL && (src = stamp_put(st, &xkey, now,
		    CP_IDP_JWKS_FAILED_RETRY)) != CP_OK)
			cp_log(CP_LOG_WARN, "idp: recording the failed JWKS fetch failed (%s)",
			    cp_status_str(src));
	}
	/* A failed or skipped refresh still leaves the cached keys usable. */
	if (cached.len > 0 && parse_jwks(cached.data, cached.len, jwks) == CP_OK)
		rc = CP_OK;
	else
		rc = CP_ERR_FETCH;
out:
	cp_buf_free(&key);
	cp_buf_free(&fkey);
	cp_buf_free(&xkey);
	cp_buf_free(&cached);
	cp_buf_free(&resp.body);
	return rc;
}

enum cp_status
cp_idp_jwks(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_idp *idp, bool refresh, json_object **jwks)
{
	/* Counted before the store is read: a fetch that ends after
	 * this thread found nothing shows as a new count below. */
	unsigned long seen = __atomic_load_n(&jwks_fetches, __ATOMIC_ACQUIRE);
	bool wanted = false;
	enum cp_status rc = jwks_load(cfg, st, idp, refresh, false, &wanted, jwks);

	if (!wanted)
		return rc;
	pthread_mutex_lock(&fetch_lock);
	if (jwks_fetches != seen)
		rc = jwks_load(cfg, st, idp, refresh, false, &wanted, jwks);
	else {
		rc = jwks_load(cfg, st, idp, refresh, true, &wanted, jwks);
		__atomic_add_fetch(&jwks_fetches, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fetch_lock);
	return rc;
}

enum cp_status
cp_idp_token(const struct cp_config *cfg, const struct cp_idp *idp,
    const char *form, size_t len, struct cp_http_response *resp)
{
	if (idp->token_endpoint == NULL) {
		memset(resp, 0, sizeof(*resp));
		return CP_ERR_CONFIG;
	}
	return cp_http_post_form(cfg, idp->token_endpoint, form, len, resp);
}
