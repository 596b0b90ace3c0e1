/*
 * cp_cimd_resolve: the client document as /authorize and /callback see
 * it, with the cache and fallback policy of doc/protocol.md 5.11 and 7.  Kept
 * apart from cimd.c so programs that only check URLs or documents (unit
 * tests, fuzzers) do not pull in the store.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "buf.h"
#include "cimd.h"
#include "jsonparse.h"
#include "client_static.h"
#include "fetch.h"
#include "limits.h"
#include "log.h"
#include "store.h"
#include "url.h"

#define NEG_PREFIX      "cimd-failed:"
#define LOCK_PREFIX     "cimd-fetching:"
#define HOST_PREFIX     "cimd-host:"
#define HOST_COUNT_TRIES 8
/* Why a fetch did not happen when count_host_fetch said no; also read
 * back from a remembered failure, so it is compared as text. */
#define HOST_LIMIT_WHY  "the client's server was asked too often this minute"

/* The reason of a failure read back from the store: the programs serve
 * one request at a time, and *why must outlive cp_cimd_resolve. */
static char negative_why[CP_CIMD_MAX_WHY];

/* prefix + text into key (CP_STORE_MAX_KEY); its length, 0 if too long. */
static size_t
make_key(char key[CP_STORE_MAX_KEY], const char *prefix, const char *text)
{
	int n = snprintf(key, CP_STORE_MAX_KEY, "%s%s", prefix, text);

	return n < 0 || n >= CP_STORE_MAX_KEY ? 0 : (size_t)n;
}

static void
sleep_poll(void)
{
	struct timespec ts = { 0, CP_CIMD_FETCH_POLL_MS * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool
cp_cimd_failure_transient(enum cp_status rc)
{
	return rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT;
}

/* A failure remembered by remember_failure: CP_OK with *rc and *why set,
 * else CP_ERR_NOT_FOUND (or the store's failure). */
static enum cp_status
recall_failure(struct cp_store *st, const char *client_id, enum cp_status *rc,
    const char **why)
{
	char key[CP_STORE_MAX_KEY];
	struct cp_buf v;
	enum cp_status r;
	char *end;
	long n;
	size_t klen;

	if (st == NULL || (klen = make_key(key, NEG_PREFIX, client_id)) == 0)
		return CP_ERR_NOT_FOUND;
	cp_buf_init(&v, CP_CIMD_MAX_WHY + 16);
	if ((r = cp_store_get(st, CP_NS_RATE, key, klen, &v, NULL)) != CP_OK)
		goto out;
	errno = 0;
	n = strtol(cp_buf_cstr(&v), &end, 10);
	if (errno != 0 || end == cp_buf_cstr(&v) || *end != ' ' || n <= CP_OK ||
	    n >= CP_ERR_INTERNAL) {
		r = CP_ERR_NOT_FOUND;
		goto out;
	}
	*rc = (enum cp_status)n;
	snprintf(negative_why, sizeof(negative_why), "%s", end + 1);
	*why = negative_why;
out:
	cp_buf_free(&v);
	return r;
}

/* CIMD-01 4.4 forbids caching a failed document, not remembering that it
 * failed: for CP_CIMD_NEGATIVE_TTL seconds the same failure is answered
 * without asking the host again (doc/protocol.md 7.3, back off on failure). */
static void
remember_failure(struct cp_store *st, const char *client_id, enum cp_status rc,
    const char *why)
{
	char key[CP_STORE_MAX_KEY], value[CP_CIMD_MAX_WHY + 16];
	size_t klen;
	int n;

	if (st == NULL || (klen = make_key(key, NEG_PREFIX, client_id)) == 0)
		return;
	n = snprintf(value, sizeof(value), "%d %s", (int)rc, why != NULL ? why : cp_status_str(rc));
	if (n < 0)
		return;
	if (cp_store_put(st, CP_NS_RATE, key, klen, value,
	    (size_t)n < sizeof(value) ? (size_t)n : sizeof(value) - 1,
	    time(NULL) + CP_CIMD_NEGATIVE_TTL) != CP_OK)
		cp_log(CP_LOG_WARN, "could not remember the failed fetch of %s", client_id);
}

/* The key counting fetches from client_id's host[:port] in the minute
 * of now; 0 when client_id does not parse. */
static size_t
host_key(char key[CP_STORE_MAX_KEY], const char *client_id, time_t now)
{
	char host[CP_MAX_URL];
	struct cp_url u;
	size_t klen = 0;

	memset(&u, 0, sizeof(u));
	if (cp_url_parse(client_id, &u) == CP_OK) {
		snprintf(host, sizeof(host), "%s:%s %lld", u.host,
		    u.port != NULL ? u.port : "443", (long long)(now / 60));
		klen = make_key(key, HOST_PREFIX, host);
	}
	cp_url_free(&u);
	return klen;
}

enum cp_status
cp_cimd_forget(struct cp_store *st, const char *client_id)
{
	char key[CP_STORE_MAX_KEY];
	enum cp_status a = CP_OK, b = CP_OK;
	size_t klen;

	if ((klen = make_key(key, NEG_PREFIX, client_id)) != 0)
		a = cp_store_del(st, CP_NS_RATE, key, klen);
	if ((klen = host_key(key, client_id, time(NULL))) != 0)
		b = cp_store_del(st, CP_NS_RATE, key, klen);
	return (a == CP_OK || a == CP_ERR_NOT_FOUND) && (b == CP_OK || b == CP_ERR_NOT_FOUND) ?
	    CP_OK : CP_ERR_STORE;
}

/* Counts one fetch from client_id's host this minute: CP_ERR_DENIED once
 * the host had CP_CIMD_HOST_FETCHES_PER_MINUTE (doc/protocol.md 5.10).  A
 * store that cannot count does not stop the fetch (it is logged). */
static enum cp_status
count_host_fetch(struct cp_store *st, const char *client_id)
{
	char key[CP_STORE_MAX_KEY], next[24];
	time_t now = time(NULL);
	struct cp_buf v;
	enum cp_status rc = CP_OK;
	unsigned long n;
	size_t klen;
	int i;

	if (st == NULL || (klen = host_key(key, client_id, now)) == 0)
		return CP_OK;
	cp_buf_init(&v, sizeof(next));
	for (i = 0; i < HOST_COUNT_TRIES; i++) {
		cp_buf_reset(&v);
		rc = cp_store_get(st, CP_NS_RATE, key, klen, &v, NULL);
		if (rc == CP_ERR_NOT_FOUND) {
			rc = cp_store_add(st, CP_NS_RATE, key, klen, "1", 1, now + 120);
		} else if (rc == CP_OK) {
			n = strtoul(cp_buf_cstr(&v), NULL, 10);
			if (n >= CP_CIMD_HOST_FETCHES_PER_MINUTE) {
				rc = CP_ERR_DENIED;
				break;
			}
			snprintf(next, sizeof(next), "%lu", n + 1);
			rc = cp_store_swap(st, CP_NS_RATE, key, klen, v.data, v.len,
			    next, strlen(next), now + 120);
		}
		if (rc != CP_ERR_REPLAY && rc != CP_ERR_NOT_FOUND)
			break;
	}
	cp_buf_free(&v);
	if (rc != CP_OK && rc != CP_ERR_DENIED) {
		cp_log(CP_LOG_WARN, "could not count fetches from the host of %s (%s)",
		    client_id, cp_status_str(rc));
		rc = CP_OK;
	}
	return rc;
}

/* Drops both cached copies: after a 404/410 or an invalid document the
 * host has spoken, and an older copy must not stand in for it later. */
static void
evict(struct cp_store *st, const char *client_id)
{
	size_t len = strlen(client_id);
	enum cp_status a, b;

	if (st == NULL)
		return;
	a = cp_store_del(st, CP_NS_CIMD, client_id, len);
	b = cp_store_del(st, CP_NS_CIMD_GOOD, client_id, len);
	if ((a != CP_OK && a != CP_ERR_NOT_FOUND) || (b != CP_OK && b != CP_ERR_NOT_FOUND))
		cp_log(CP_LOG_ERROR, "could not evict the cached client document of %s",
		    client_id);
}

/* Reads the operator's pinned copy of client_id, if client_pin names one,
 * into body (capped like a fetched document). */
static enum cp_status
read_pin(const struct cp_config *cfg, const char *client_id, struct cp_buf *body)
{
	enum cp_status rc = CP_ERR_NOT_FOUND;
	char chunk[1024];
	size_t i, n;
	FILE *f = NULL;

	for (i = 0; i < cfg->client_pin_n; i++)
		if (strcmp(cfg->client_pin[i].client_id, client_id) == 0)
			break;
	if (i == cfg->client_pin_n)
		goto out;
	rc = CP_ERR_IO;
	if ((f = fopen(cfg->client_pin[i].file, "rb")) == NULL) {
		cp_log(CP_LOG_ERROR, "client_pin file %s cannot be opened",
		    cfg->client_pin[i].file);
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((rc = cp_buf_add(body, chunk, n)) != CP_OK)
			goto out;
	rc = ferror(f) ? CP_ERR_IO : CP_OK;
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* On a transport-type failure only: the last good copy, else the pin. */
static enum cp_status
fallback(const struct cp_config *cfg, struct cp_store *st, const char *client_id,
    struct cp_cimd_doc *doc, enum cp_cimd_source *source)
{
	struct cp_buf body;
	enum cp_status rc = CP_ERR_NOT_FOUND;
	const char *why;
	time_t expires = 0;

	cp_buf_init(&body, CP_CIMD_MAX_BODY);
	if (st != NULL && cp_store_get(st, CP_NS_CIMD_GOOD, client_id,
	    strlen(client_id), &body, &expires) == CP_OK &&
	    cp_cimd_validate(client_id, cp_buf_cstr(&body), body.len, doc, NULL) == CP_OK) {
		/* cache() stored it for CP_CIMD_GOOD_TTL: cp_cimd_jwks
		 * bounds the age of the keys it carries by this. */
		doc->good_stored = expires - CP_CIMD_GOOD_TTL;
		if (doc->good_stored <= 0)
			doc->good_stored = 1;
		*source = CP_CIMD_SRC_LAST_GOOD;
		rc = CP_OK;
		goto out;
	}
	cp_buf_free(&body);
	cp_buf_init(&body, CP_CIMD_MAX_BODY);
	if (read_pin(cfg, client_id, &body) != CP_OK)
		goto out;
	/* The operator's copy passes the same rules as a fetched one. */
	if ((rc = cp_cimd_validate(client_id, cp_buf_cstr(&body), body.len, doc, &why)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "client_pin copy of %s is invalid: %s", client_id, why);
		goto out;
	}
	*source = CP_CIMD_SRC_PIN;
out:
	cp_buf_free(&body);
	return rc;
}

/* Caches res's body under key (a client_id, or CP_CIMD_JWKS_KEY and a
 * jwks_uri) for its cp_cimd_cache_ttl, and as the last good copy for
 * good_ttl seconds. */
static void
cache(struct cp_store *st, const char *client_id, const struct cp_fetch_result *res,
    long good_ttl, enum cp_cimd_source *source)
{
	time_t now = time(NULL);
	size_t len = strlen(client_id);
	bool no_store;
	long ttl;

	ttl = cp_cimd_cache_ttl(res->cache_control, res->expires, now, &no_store);
	*source = no_store ? CP_CIMD_SRC_FETCH_NOSTORE : CP_CIMD_SRC_FETCH;
	if (st == NULL || no_store)
		return;
	/* The store is a cache here: failing to write it costs a fetch
	 * next time, not correctness, so it is logged and passed over. */
	if ((ttl > 0 && cp_store_put(st, CP_NS_CIMD, client_id, len,
	    res->body.data, res->body.len, now + ttl) != CP_OK) ||
	    cp_store_put(st, CP_NS_CIMD_GOOD, client_id, len, res->body.data,
	    res->body.len, now + good_ttl) != CP_OK)
		cp_log(CP_LOG_WARN, "could not cache the client document of %s", client_id);
}

/* The store's fresh copy of client_id, validated, into doc. */
static bool
from_cache(struct cp_store *st, const char *client_id, struct cp_cimd_doc *doc)
{
	struct cp_buf cached;
	enum cp_status rc;
	bool found = false;

	cp_buf_init(&cached, CP_CIMD_MAX_BODY);
	rc = cp_store_get(st, CP_NS_CIMD, client_id, strlen(client_id), &cached, NULL);
	if (rc == CP_OK) {
		cp_cimd_doc_free(doc);
		found = cp_cimd_validate(client_id, cp_buf_cstr(&cached), cached.len, doc,
		    NULL) == CP_OK;
	} else if (rc != CP_ERR_NOT_FOUND) {
		cp_log(CP_LOG_WARN, "client document cache unreadable (%s); fetching",
		    cp_status_str(rc));
	}
	cp_buf_free(&cached);
	return found;
}

enum fetch_turn {
	TURN_OURS,          /* we hold the URL's fetch lock */
	TURN_ANSWERED,      /* another process's result: *rc, *why, doc */
	TURN_UNLOCKED       /* no lock (store failed, or waited too long) */
};

/* One fetch per URL across processes: takes the lock, or waits for the
 * holder's result (a fresh cached copy, or a remembered failure). */
static enum fetch_turn
fetch_turn(struct cp_store *st, const char *client_id, const char *key, size_t klen,
    struct cp_cimd_doc *doc, enum cp_status *rc, const char **why)
{
	time_t deadline = time(NULL) + CP_CIMD_FETCH_WAIT_SECONDS;
	enum cp_status r;
	bool answered;

	for (;;) {
		r = cp_store_add(st, CP_NS_RATE, key, klen, "1", 1,
		    time(NULL) + CP_CIMD_FETCH_WAIT_SECONDS);
		if (r != CP_OK && r != CP_ERR_REPLAY)
			return TURN_UNLOCKED;
		/* Looked at after each try, a taken lock included: the holder
		 * stores its result before it lets the lock go, so a result
		 * is never missed between a look and a try. */
		answered = from_cache(st, client_id, doc);
		if (answered)
			*rc = CP_OK;
		else
			answered = recall_failure(st, client_id, rc, why) == CP_OK;
		if (answered) {
			if (r == CP_OK && cp_store_del(st, CP_NS_RATE, key, klen) != CP_OK)
				cp_log(CP_LOG_WARN, "could not release the fetch lock of %s", client_id);
			return TURN_ANSWERED;
		}
		if (r == CP_OK)
			return TURN_OURS;
		if (time(NULL) >= deadline) {
			cp_log(CP_LOG_WARN, "client document %s: another fetch did not finish "
			    "in %d s; fetching", client_id, CP_CIMD_FETCH_WAIT_SECONDS);
			return TURN_UNLOCKED;
		}
		sleep_poll();
	}
}

/* Fetches url (a client document or a jwks_uri, named what in the log)
 * into res, counted against its host's fetches.  A failure is logged,
 * *why says why (res->why: NULL when the fetch gave no reason), a
 * withdrawn resource (404, 410) is evicted from key, and CP_ERR_FETCH
 * means the host did not answer usably.  *limited is set when our own
 * per-host count stopped the fetch: the host was not asked. */
static enum cp_status
fetch_counted(const struct cp_config *cfg, struct cp_store *st, const char *what,
    const char *url, const char *key, struct cp_fetch_result *res, bool *limited,
    const char **why)
{
	enum cp_status rc;

	*limited = false;
	if (count_host_fetch(st, url) == CP_ERR_DENIED) {
		cp_log(CP_LOG_WARN, "%s %s not fetched: its host had %d fetches "
		    "this minute", what, url, CP_CIMD_HOST_FETCHES_PER_MINUTE);
		*why = HOST_LIMIT_WHY;
		*limited = true;
		return CP_ERR_FETCH;
	}
	if ((rc = cp_cimd_fetch(cfg, url, res)) == CP_OK)
		return CP_OK;
	*why = res->why;
	cp_log(CP_LOG_INFO, "%s %s not fetched: %s (HTTP %ld)", what, url,
	    *why != NULL ? *why : cp_status_str(rc), res->status);
	/* doc/protocol.md 5.11: a withdrawn resource is authoritative. */
	if (res->klass == CP_FETCH_GONE)
		evict(st, key);
	/* The host did not answer usably (doc/protocol.md 5.11): a transport
	 * failure whatever the status says, for the fallback and the page. */
	if (res->klass == CP_FETCH_TRANSPORT && rc == CP_ERR_UPSTREAM)
		rc = CP_ERR_FETCH;
	return rc;
}

/* Fetches, validates and caches client_id (the caller may hold its
 * lock); on a failure *why says why. */
static enum cp_status
fetch_and_check(const struct cp_config *cfg, struct cp_store *st, const char *client_id,
    struct cp_cimd_doc *doc, enum cp_cimd_source *source, const char **why)
{
	struct cp_fetch_result res;
	enum cp_status rc;
	bool limited;

	memset(&res, 0, sizeof(res));
	cp_buf_init(&res.body, CP_CIMD_MAX_BODY);
	if ((rc = fetch_counted(cfg, st, "client document", client_id, client_id, &res,
	    &limited, why)) != CP_OK)
		goto out;
	if ((rc = cp_cimd_validate(client_id, cp_buf_cstr(&res.body), res.body.len,
	    doc, why)) != CP_OK) {
		/* CIMD-01 4.4: an invalid document is never cached. */
		cp_log(CP_LOG_INFO, "client document %s refused: %s", client_id, *why);
		evict(st, client_id);
		goto out;
	}
	cache(st, client_id, &res, CP_CIMD_GOOD_TTL, source);
out:
	cp_buf_free(&res.body);
	return rc;
}

enum cp_status
cp_cimd_resolve(const struct cp_config *cfg, struct cp_store *st,
    const char *client_id, struct cp_cimd_doc *doc, enum cp_cimd_source *source,
    const char **why)
{
	char lock[CP_STORE_MAX_KEY];
	enum fetch_turn turn = TURN_UNLOCKED;
	const char *reason = NULL;
	size_t len = strlen(client_id), lock_len = 0;
	bool fetched = false;
	enum cp_status rc;

	memset(doc, 0, sizeof(*doc));
	*source = CP_CIMD_SRC_NONE;
	/* The operator's own registrations are not URLs and fetch nothing. */
	if ((rc = cp_client_static_doc(cfg, client_id, doc)) != CP_ERR_NOT_FOUND) {
		if (rc == CP_OK)
			*source = CP_CIMD_SRC_STATIC;
		goto out;
	}
	/* Checks that need no network come first (doc/protocol.md 4.3). */
	if ((rc = cp_client_id_check(client_id, len, &reason)) != CP_OK)
		goto out;
	if (!cp_client_allowed(cfg, client_id)) {
		rc = CP_ERR_DENIED;
		reason = "client_id is not allowed by this server (client_allow)";
		goto out;
	}
	if (st != NULL && from_cache(st, client_id, doc)) {
		*source = CP_CIMD_SRC_CACHE;
		goto out;
	}
	if (recall_failure(st, client_id, &rc, &reason) == CP_OK) {
		cp_log(CP_LOG_INFO, "client document %s failed less than %d s ago: %s",
		    client_id, CP_CIMD_NEGATIVE_TTL, reason);
	} else {
		if (st != NULL && (lock_len = make_key(lock, LOCK_PREFIX, client_id)) != 0)
			turn = fetch_turn(st, client_id, lock, lock_len, doc, &rc, &reason);
		if (turn == TURN_ANSWERED && rc == CP_OK)
			*source = CP_CIMD_SRC_CACHE;
		if (turn != TURN_ANSWERED) {
			rc = fetch_and_check(cfg, st, client_id, doc, source, &reason);
			fetched = true;
		}
	}
	if (cp_cimd_failure_transient(rc) &&
	    fallback(cfg, st, client_id, doc, source) == CP_OK) {
		cp_log(CP_LOG_WARN, "client document %s: using the %s copy", client_id,
		    cp_cimd_source_str(*source));
		/* The host said nothing: its keys do not stand in (cp_cimd_jwks). */
		doc->good_unasked = *source == CP_CIMD_SRC_LAST_GOOD && reason != NULL &&
		    strcmp(reason, HOST_LIMIT_WHY) == 0;
		rc = CP_OK;
	}
	if (fetched && rc != CP_OK && rc != CP_ERR_NOMEM)
		remember_failure(st, client_id, rc, reason);
	if (turn == TURN_OURS && cp_store_del(st, CP_NS_RATE, lock, lock_len) != CP_OK)
		cp_log(CP_LOG_WARN, "could not release the fetch lock of %s", client_id);
out:
	if (rc != CP_OK) {
		cp_cimd_doc_free(doc);
		*source = CP_CIMD_SRC_NONE;
	}
	if (why != NULL)
		*why = rc == CP_OK ? NULL : reason != NULL ? reason : cp_status_str(rc);
	return rc;
}

/* The JWKS of body[0..len) when it parses strictly and passes
 * cp_cimd_jwks_check; NULL otherwise (*why says why). */
static json_object *
jwks_parse(const char *body, size_t len, const char **why)
{
	json_object *o = NULL;

	if (cp_json_parse_object(body, len, &o) != CP_OK) {
		*why = "the jwks_uri document is not a strict JSON object";
		return NULL;
	}
	if (!cp_cimd_jwks_check(o, why)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The cached body of key in ns, checked, or NULL.  A last good copy
 * counts only if it expires within CP_CIMD_KEYS_GOOD_TTL, so one stored
 * for longer (by an older version, for 30 days) is passed over. */
static json_object *
jwks_from_store(struct cp_store *st, enum cp_store_ns ns, const char *key)
{
	struct cp_buf body;
	json_object *o = NULL;
	const char *why;
	time_t expires = 0;

	if (st == NULL)
		return NULL;
	cp_buf_init(&body, CP_CIMD_MAX_JWKS);
	if (cp_store_get(st, ns, key, strlen(key), &body, &expires) == CP_OK &&
	    (ns != CP_NS_CIMD_GOOD || expires <= time(NULL) + CP_CIMD_KEYS_GOOD_TTL))
		o = jwks_parse(cp_buf_cstr(&body), body.len, &why);
	cp_buf_free(&body);
	return o;
}

/* Fetches uri as a document is fetched (same SSRF rules, cap, host
 * count), checks and caches it under key.  *limited is set when our
 * own per-host count stopped the fetch (CP_ERR_FETCH): the host was not
 * asked, so nothing it said may be stood in for (cp_cimd_jwks). */
static enum cp_status
jwks_fetch(const struct cp_config *cfg, struct cp_store *st, const char *uri,
    const char *key, json_object **jwks, bool *limited, const char **why)
{
	struct cp_fetch_result res;
	enum cp_cimd_source source;
	enum cp_status rc;

	memset(&res, 0, sizeof(res));
	cp_buf_init(&res.body, CP_CIMD_MAX_JWKS);
	if ((rc = fetch_counted(cfg, st, "jwks_uri", uri, key, &res, limited,
	    why)) != CP_OK) {
		if (*why == NULL)
			*why = cp_status_str(rc);
		goto out;
	}
	if ((*jwks = jwks_parse(cp_buf_cstr(&res.body), res.body.len, why)) == NULL) {
		cp_log(CP_LOG_INFO, "jwks_uri %s refused: %s", uri, *why);
		evict(st, key);
		rc = CP_ERR_INVALID;
		goto out;
	}
	cache(st, key, &res, CP_CIMD_KEYS_GOOD_TTL, &source);
out:
	cp_buf_free(&res.body);
	return rc;
}

enum cp_status
cp_cimd_jwks(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_cimd_doc *doc, json_object **jwks, const char **why)
{
	char key[CP_STORE_MAX_KEY];
	bool limited = false;
	enum cp_status rc;

	*jwks = NULL;
	*why = NULL;
	if (doc->jwks != NULL) {
		if (doc->good_stored != 0 && (doc->good_unasked ||
		    time(NULL) - doc->good_stored > CP_CIMD_KEYS_GOOD_TTL)) {
			cp_log(CP_LOG_WARN, "client document %s: its last good copy %s; "
			    "its keys are not used", doc->client_id, doc->good_unasked ?
			    "stands in for a fetch our per-host limit stopped" :
			    "is older than CP_CIMD_KEYS_GOOD_TTL");
			*why = doc->good_unasked ? HOST_LIMIT_WHY : "the client's document "
			    "cannot be fetched and its last good copy is too old to take "
			    "keys from";
			return CP_ERR_FETCH;
		}
		*jwks = json_object_get(doc->jwks);
		return CP_OK;
	}
	if (doc->jwks_uri == NULL || make_key(key, CP_CIMD_JWKS_KEY, doc->jwks_uri) == 0) {
		*why = "the client document has no key set";
		return CP_ERR_INVALID;
	}
	if ((*jwks = jwks_from_store(st, CP_NS_CIMD, key)) != NULL)
		return CP_OK;
	rc = jwks_fetch(cfg, st, doc->jwks_uri, key, jwks, &limited, why);
	/* doc/protocol.md 5.11: only when the host did not answer usably;
	 * not when we did not ask it (an attacker can use up its count). */
	if (cp_cimd_failure_transient(rc) && !limited &&
	    (*jwks = jwks_from_store(st, CP_NS_CIMD_GOOD, key)) != NULL) {
		cp_log(CP_LOG_WARN, "jwks_uri %s: using the last good copy", doc->jwks_uri);
		rc = CP_OK;
	}
	return rc;
}
