/*
 * cp_cimd_resolve: the client document as /authorize and /callback see
 * it, with the cache and fallback policy of PROTOCOL.md 5.11 and 7.  Kept
 * apart from cimd.c so programs that only check URLs or documents (unit
 * tests, fuzzers) do not pull in the store.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cimd.h"
#include "fetch.h"
#include "log.h"
#include "store.h"

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

	cp_buf_init(&body, CP_CIMD_MAX_BODY);
	if (st != NULL && cp_store_get(st, CP_NS_CIMD_GOOD, client_id,
	    strlen(client_id), &body, NULL) == CP_OK &&
	    cp_cimd_validate(client_id, cp_buf_cstr(&body), body.len, doc, NULL) == CP_OK) {
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

static void
cache(struct cp_store *st, const char *client_id, const struct cp_fetch_result *res,
    enum cp_cimd_source *source)
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
	    res->body.len, now + CP_CIMD_GOOD_TTL) != CP_OK)
		cp_log(CP_LOG_WARN, "could not cache the client document of %s", client_id);
}

enum cp_status
cp_cimd_resolve(const struct cp_config *cfg, struct cp_store *st,
    const char *client_id, struct cp_cimd_doc *doc, enum cp_cimd_source *source,
    const char **why)
{
	enum cp_status rc, frc;
	struct cp_fetch_result res;
	struct cp_buf cached;
	const char *reason = NULL;
	size_t len = strlen(client_id);

	memset(doc, 0, sizeof(*doc));
	memset(&res, 0, sizeof(res));
	cp_buf_init(&res.body, CP_CIMD_MAX_BODY);
	cp_buf_init(&cached, CP_CIMD_MAX_BODY);
	*source = CP_CIMD_SRC_NONE;
	/* Checks that need no network come first (PROTOCOL.md 4.3). */
	if ((rc = cp_client_id_check(client_id, len, &reason)) != CP_OK)
		goto out;
	if (!cp_client_allowed(cfg, client_id)) {
		rc = CP_ERR_DENIED;
		reason = "client_id is not allowed by this server (client_allow)";
		goto out;
	}
	if (st != NULL) {
		rc = cp_store_get(st, CP_NS_CIMD, client_id, len, &cached, NULL);
		if (rc == CP_OK && cp_cimd_validate(client_id, cp_buf_cstr(&cached),
		    cached.len, doc, NULL) == CP_OK) {
			*source = CP_CIMD_SRC_CACHE;
			goto out;
		}
		if (rc != CP_OK && rc != CP_ERR_NOT_FOUND)
			cp_log(CP_LOG_WARN, "client document cache unreadable (%s); fetching",
			    cp_status_str(rc));
	}

	frc = cp_cimd_fetch(cfg, client_id, &res);
	if (frc == CP_OK) {
		if ((rc = cp_cimd_validate(client_id, cp_buf_cstr(&res.body), res.body.len,
		    doc, &reason)) != CP_OK) {
			/* CIMD-01 4.4: an invalid document is never cached. */
			cp_log(CP_LOG_INFO, "client document %s refused: %s", client_id, reason);
			evict(st, client_id);
			goto out;
		}
		cache(st, client_id, &res, source);
		goto out;
	}
	rc = frc;
	reason = res.why;
	cp_log(CP_LOG_INFO, "client document %s not fetched: %s (HTTP %ld)", client_id,
	    reason != NULL ? reason : cp_status_str(frc), res.status);
	if (res.klass == CP_FETCH_GONE)
		evict(st, client_id);
	else if (res.klass == CP_FETCH_TRANSPORT &&
	    fallback(cfg, st, client_id, doc, source) == CP_OK) {
		cp_log(CP_LOG_WARN, "client document %s: using the %s copy", client_id,
		    cp_cimd_source_str(*source));
		rc = CP_OK;
	}
out:
	cp_buf_free(&cached);
	cp_buf_free(&res.body);
	if (rc != CP_OK) {
		cp_cimd_doc_free(doc);
		*source = CP_CIMD_SRC_NONE;
	}
	if (why != NULL)
		*why = rc == CP_OK ? NULL : reason != NULL ? reason : cp_status_str(rc);
	return rc;
}
