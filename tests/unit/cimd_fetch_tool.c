/*
 * Test driver for tests/integration/cimd-fetch.test (not installed):
 *
 *   cimd_fetch_tool CONF resolve CLIENT_ID...   cp_cimd_resolve, with the
 *                                               store CONF names
 *   cimd_fetch_tool CONF fetch CLIENT_ID        cp_cimd_fetch alone, with the
 *                                               process's peak RSS after it
 *   cimd_fetch_tool CONF seed-good CLIENT_ID FILE [SECONDS]
 *                                               FILE as the last good copy,
 *                                               for SECONDS (default
 *                                               CP_CIMD_GOOD_TTL); CLIENT_ID
 *                                               may be "jwks:" and a URL
 *   cimd_fetch_tool CONF jwks JWKS_URI...       cp_cimd_jwks for a
 *                                               private_key_jwt document
 *                                               naming JWKS_URI
 *   cimd_fetch_tool CONF doc-jwks CLIENT_ID...  cp_cimd_resolve, then
 *                                               cp_cimd_jwks (as /token)
 *   cimd_fetch_tool CONF has CLIENT_ID          which cached copies exist, and
 *                                               the cache entry's seconds left
 *   cimd_fetch_tool CONF forget CLIENT_ID...    cp_cimd_forget: the remembered
 *                                               failure and the host's count go
 *
 * Prints one JSON object per client_id on stdout, so the shell test can
 * assert with jq.  Exit status 0 unless the arguments or CONF are bad.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <json-c/json.h>

#include "cimd.h"
#include "conf.h"
#include "fetch.h"
#include "log.h"
#include "store.h"

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL ? json_object_new_string(v) : NULL);
}

static void
emit(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static void
do_resolve(const struct cp_config *cfg, struct cp_store *st, const char *id)
{
	static const char hex[] = "0123456789abcdef";
	struct cp_cimd_doc doc;
	enum cp_cimd_source src;
	struct timespec t0;
	const char *why;
	enum cp_status rc;
	json_object *o = json_object_new_object(), *a;
	char h[2 * CP_CIMD_HASH_LEN + 1];
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cp_cimd_resolve(cfg, st, id, &doc, &src, &why);
	put_str(o, "client_id", id);
	put_str(o, "status", cp_status_str(rc));
	put_str(o, "source", cp_cimd_source_str(src));
	put_str(o, "why", why);
	json_object_object_add(o, "elapsed_ms", json_object_new_int64(ms_since(&t0)));
	if (rc == CP_OK) {
		put_str(o, "client_name", doc.client_name);
		put_str(o, "display_name", cp_cimd_display_name(&doc));
		a = json_object_new_array();
		for (i = 0; i < doc.redirect_uris_n; i++)
			json_object_array_add(a, json_object_new_string(doc.redirect_uris[i]));
		json_object_object_add(o, "redirect_uris", a);
		for (i = 0; i < CP_CIMD_HASH_LEN; i++) {
			h[2 * i] = hex[doc.hash[i] >> 4];
			h[2 * i + 1] = hex[doc.hash[i] & 15];
		}
		h[2 * CP_CIMD_HASH_LEN] = '\0';
		put_str(o, "sha256", h);
	}
	cp_cimd_doc_free(&doc);
	emit(o);
}

static void
do_fetch(const struct cp_config *cfg, const char *id)
{
	static const char *const klass[] = { "good", "transport", "gone", "refused" };
	struct cp_fetch_result res;
	struct timespec t0;
	struct rusage ru;
	enum cp_status rc;
	json_object *o = json_object_new_object();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cp_cimd_fetch(cfg, id, &res);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		json_object_object_add(o, "max_rss_kb", json_object_new_int64(ru.ru_maxrss));
	put_str(o, "client_id", id);
	put_str(o, "status", cp_status_str(rc));
	put_str(o, "class", klass[res.klass]);
	json_object_object_add(o, "http_status", json_object_new_int64(res.status));
	put_str(o, "content_type", res.content_type);
	put_str(o, "cache_control", res.cache_control);
	put_str(o, "primary_ip", res.primary_ip);
	json_object_object_add(o, "body_len", json_object_new_int64((int64_t)res.body.len));
	put_str(o, "why", res.why);
	json_object_object_add(o, "elapsed_ms", json_object_new_int64(ms_since(&t0)));
	cp_buf_free(&res.body);
	emit(o);
}

/* cp_cimd_jwks for doc (resolved from id when doc is NULL, else naming
 * the jwks_uri id). */
static void
do_jwks(const struct cp_config *cfg, struct cp_store *st, const char *id, bool resolve)
{
	struct cp_cimd_doc doc;
	enum cp_cimd_source src = CP_CIMD_SRC_NONE;
	json_object *o = json_object_new_object(), *jwks = NULL, *keys;
	const char *why = NULL;
	enum cp_status rc = CP_OK;

	memset(&doc, 0, sizeof(doc));
	if (resolve) {
		rc = cp_cimd_resolve(cfg, st, id, &doc, &src, &why);
		put_str(o, "source", cp_cimd_source_str(src));
	} else {
		doc.auth = CP_CLIENT_AUTH_PRIVATE_KEY_JWT;
		doc.jwks_uri = strdup(id);
	}
	if (rc == CP_OK)
		rc = cp_cimd_jwks(cfg, st, &doc, &jwks, &why);
	put_str(o, "id", id);
	put_str(o, "status", cp_status_str(rc));
	put_str(o, "why", why);
	if (rc == CP_OK && json_object_object_get_ex(jwks, "keys", &keys))
		json_object_object_add(o, "keys",
		    json_object_new_int64((int64_t)json_object_array_length(keys)));
	json_object_put(jwks);
	cp_cimd_doc_free(&doc);
	emit(o);
}

static int
do_seed(struct cp_store *st, const char *id, const char *file, const char *secs)
{
	char body[CP_CIMD_MAX_BODY + 1];
	long ttl = secs != NULL ? strtol(secs, NULL, 10) : CP_CIMD_GOOD_TTL;
	size_t n;
	FILE *f;

	if ((f = fopen(file, "rb")) == NULL)
		return 2;
	n = fread(body, 1, sizeof(body), f);
	fclose(f);
	if (n > CP_CIMD_MAX_BODY || cp_store_put(st, CP_NS_CIMD_GOOD, id, strlen(id),
	    body, n, time(NULL) + ttl) != CP_OK)
		return 2;
	return 0;
}

static void
do_has(struct cp_store *st, const char *id)
{
	json_object *o = json_object_new_object();
	struct cp_buf v;
	time_t expires;
	bool cached;

	cp_buf_init(&v, CP_CIMD_MAX_BODY);
	cached = cp_store_get(st, CP_NS_CIMD, id, strlen(id), &v, &expires) == CP_OK;
	json_object_object_add(o, "cache", json_object_new_boolean(cached));
	if (cached)
		json_object_object_add(o, "cache_ttl",
		    json_object_new_int64((int64_t)(expires - time(NULL))));
	cp_buf_free(&v);
	cp_buf_init(&v, CP_CIMD_MAX_BODY);
	json_object_object_add(o, "good", json_object_new_boolean(
	    cp_store_get(st, CP_NS_CIMD_GOOD, id, strlen(id), &v, NULL) == CP_OK));
	cp_buf_free(&v);
	emit(o);
}

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	char err[512];
	int i, rc = 2;

	const char *cmd = argc > 2 ? argv[2] : "";

	if (argc < 4 || (strcmp(cmd, "resolve") != 0 && strcmp(cmd, "fetch") != 0 &&
	    strcmp(cmd, "has") != 0 && strcmp(cmd, "forget") != 0 &&
	    strcmp(cmd, "jwks") != 0 && strcmp(cmd, "doc-jwks") != 0 &&
	    (strcmp(cmd, "seed-good") != 0 || argc < 5 || argc > 6))) {
		fprintf(stderr, "usage: %s CONF resolve|fetch|has|forget CLIENT_ID... | "
		    "CONF jwks|doc-jwks ID... | CONF seed-good CLIENT_ID FILE [SECONDS]\n",
		    argv[0]);
		return 2;
	}
	cp_log_init("cimd_fetch_tool");
	if (cp_conf_load(argv[1], &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	cp_log_set_level(cfg.log_level);
	if (strcmp(cmd, "fetch") != 0 && cp_store_open(&cfg, &st) != CP_OK) {
		fprintf(stderr, "cannot open the store\n");
		goto out;
	}
	rc = 0;
	if (strcmp(cmd, "seed-good") == 0)
		rc = do_seed(st, argv[3], argv[4], argc > 5 ? argv[5] : NULL);
	else
		for (i = 3; i < argc; i++)
			if (strcmp(cmd, "resolve") == 0)
				do_resolve(&cfg, st, argv[i]);
			else if (strcmp(cmd, "has") == 0)
				do_has(st, argv[i]);
			else if (strcmp(cmd, "jwks") == 0)
				do_jwks(&cfg, st, argv[i], false);
			else if (strcmp(cmd, "doc-jwks") == 0)
				do_jwks(&cfg, st, argv[i], true);
			else if (strcmp(cmd, "forget") == 0)
				rc |= cp_cimd_forget(st, argv[i]) == CP_OK ? 0 : 1;
			else
				do_fetch(&cfg, argv[i]);
out:
	if (st != NULL)
		cp_store_close(st);
	cp_conf_free(&cfg);
	return rc;
}
