#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_bdb.h"
#ifdef HAVE_LIBPQ
#include "store_pg.h"
#endif

/* The front checks every argument once, for every backend, and then
 * dispatches; a backend only sees well-formed requests. */
struct cp_store {
	enum cp_store_kind kind;
	struct cp_bdb *bdb;
#ifdef HAVE_LIBPQ
	struct cp_pg *pg;
#endif
};

/* BACKEND(st, op, args...) calls cp_bdb_<op> or cp_pg_<op> on st's handle. */
#ifdef HAVE_LIBPQ
#define BACKEND(st, op, ...) ((st)->pg ? cp_pg_##op((st)->pg, __VA_ARGS__) : \
	cp_bdb_##op((st)->bdb, __VA_ARGS__))
#else
#define BACKEND(st, op, ...) cp_bdb_##op((st)->bdb, __VA_ARGS__)
#endif

static enum cp_status
check_key(const struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen)
{
	if (st == NULL || ns < CP_NS_ONCE || ns >= CP_NS_COUNT || klen == 0 || key == NULL)
		return CP_ERR_INVALID;
	if (klen > CP_STORE_MAX_KEY)
		return CP_ERR_LIMIT;
	return CP_OK;
}

static enum cp_status
check_value(const void *value, size_t vlen, time_t expires)
{
	if ((value == NULL && vlen != 0) || expires < 0)
		return CP_ERR_INVALID;
	if (vlen > CP_STORE_MAX_VALUE)
		return CP_ERR_LIMIT;
	return CP_OK;
}

enum cp_status
cp_store_open(const struct cp_config *cfg, struct cp_store **out)
{
	struct cp_store *st = NULL;
	enum cp_status rc = CP_ERR_CONFIG;

	*out = NULL;
	if (cfg == NULL || cfg->store_path == NULL)
		goto out;
#ifndef HAVE_LIBPQ
	if (cfg->store_kind == CP_STORE_POSTGRESQL) {
		cp_log(CP_LOG_ERROR, "store = postgresql: is not supported by this build "
		    "(configure found no libpq); use store = bdb:<directory> on a single host");
		goto out;
	}
#endif
	rc = CP_ERR_NOMEM;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	st->kind = cfg->store_kind;
#ifdef HAVE_LIBPQ
	if (st->kind == CP_STORE_POSTGRESQL)
		rc = cp_pg_open(cfg->store_path, &st->pg);
	else
#endif
		rc = cp_bdb_open(cfg->store_path, &st->bdb);
	if (rc != CP_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	cp_store_close(st);
	return rc;
}

void
cp_store_close(struct cp_store *st)
{
	if (st == NULL)
		return;
	cp_bdb_close(st->bdb);
#ifdef HAVE_LIBPQ
	cp_pg_close(st->pg);
#endif
	free(st);
}

enum cp_status
cp_store_put(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK ||
	    (rc = check_value(value, vlen, expires)) != CP_OK)
		return rc;
	return BACKEND(st, put, (int)ns, key, klen, value, vlen, expires);
}

enum cp_status
cp_store_get(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen,
    struct cp_buf *value, time_t *expires)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK)
		return rc;
	if (value == NULL)
		return CP_ERR_INVALID;
	return BACKEND(st, get, (int)ns, key, klen, value, expires);
}

enum cp_status
cp_store_take(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen,
    struct cp_buf *value)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK)
		return rc;
	if (value == NULL)
		return CP_ERR_INVALID;
	return BACKEND(st, take, (int)ns, key, klen, value);
}

enum cp_status
cp_store_swap(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen,
    const void *old_value, size_t old_len, const void *new_value, size_t new_len,
    time_t expires)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK ||
	    (rc = check_value(old_value, old_len, 0)) != CP_OK ||
	    (rc = check_value(new_value, new_len, expires)) != CP_OK)
		return rc;
	return BACKEND(st, swap, (int)ns, key, klen, old_value, old_len,
	    new_value, new_len, expires);
}

enum cp_status
cp_store_add(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK ||
	    (rc = check_value(value, vlen, expires)) != CP_OK)
		return rc;
	return BACKEND(st, add, (int)ns, key, klen, value, vlen, expires);
}

enum cp_status
cp_store_once(struct cp_store *st, const void *key, size_t klen, time_t expires)
{
	enum cp_status rc;

	if ((rc = check_key(st, CP_NS_ONCE, key, klen)) != CP_OK ||
	    (rc = check_value(NULL, 0, expires)) != CP_OK)
		return rc;
	return BACKEND(st, add, CP_NS_ONCE, key, klen, NULL, 0, expires);
}

enum cp_status
cp_store_del(struct cp_store *st, enum cp_store_ns ns, const void *key, size_t klen)
{
	enum cp_status rc;

	if ((rc = check_key(st, ns, key, klen)) != CP_OK)
		return rc;
	return BACKEND(st, del, (int)ns, key, klen);
}

enum cp_status
cp_store_purge(struct cp_store *st, time_t now, size_t *purged)
{
	if (purged)
		*purged = 0;
	if (st == NULL)
		return CP_ERR_INVALID;
	return BACKEND(st, purge, now, purged);
}

enum cp_status
cp_store_apply_schema(struct cp_store *st, const char *sql)
{
	if (st == NULL || sql == NULL)
		return CP_ERR_INVALID;
#ifdef HAVE_LIBPQ
	if (st->pg)
		return cp_pg_apply_schema(st->pg, sql);
#endif
	return CP_OK;
}

enum cp_status
cp_store_check(struct cp_store *st)
{
	struct cp_buf probe;
	enum cp_status rc;

	if (st == NULL)
		return CP_ERR_INVALID;
#ifdef HAVE_LIBPQ
	if (st->pg)
		return cp_pg_check(st->pg);
#endif
	cp_buf_init(&probe, 16);
	rc = cp_bdb_get(st->bdb, CP_NS_ONCE, "\0check-config", 13, &probe, NULL);
	cp_buf_free(&probe);
	return rc == CP_ERR_NOT_FOUND || rc == CP_OK ? CP_OK : CP_ERR_STORE;
}

enum cp_status
cp_store_count(struct cp_store *st, enum cp_store_ns ns, time_t now, size_t *n)
{
	*n = 0;
	if (st == NULL || ns < CP_NS_ONCE || ns >= CP_NS_COUNT)
		return CP_ERR_INVALID;
	return BACKEND(st, walk, (int)ns, now, n, NULL);
}

enum cp_status
cp_store_scan(struct cp_store *st, enum cp_store_ns ns, time_t now, struct cp_buf *out)
{
	size_t n;

	if (st == NULL || ns < CP_NS_ONCE || ns >= CP_NS_COUNT || out == NULL)
		return CP_ERR_INVALID;
	return BACKEND(st, walk, (int)ns, now, &n, out);
}

#define REC_LEN_BYTES   4
#define REC_TIME_BYTES  8

static enum cp_status
add_be(struct cp_buf *out, uint64_t v, int width)
{
	uint8_t b[8];
	int i;

	for (i = width - 1; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
	return cp_buf_add(out, b, (size_t)width);
}

static uint64_t
get_be(const uint8_t *p, int width)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < width; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Scan form: klen(4, BE) key vlen(4, BE) value expires(8, BE). */
enum cp_status
cp_store_rec_add(struct cp_buf *out, const void *key, size_t klen, const void *value,
    size_t vlen, time_t expires)
{
	enum cp_status rc;

	if (klen > CP_STORE_MAX_KEY || vlen > CP_STORE_MAX_VALUE)
		return CP_ERR_LIMIT;
	if ((rc = add_be(out, klen, REC_LEN_BYTES)) != CP_OK ||
	    (rc = cp_buf_add(out, key, klen)) != CP_OK ||
	    (rc = add_be(out, vlen, REC_LEN_BYTES)) != CP_OK ||
	    (rc = cp_buf_add(out, value, vlen)) != CP_OK)
		return rc;
	return add_be(out, (uint64_t)(expires < 0 ? 0 : expires), REC_TIME_BYTES);
}

bool
cp_store_rec_next(const struct cp_buf *scan, size_t *at, struct cp_store_rec *r)
{
	const uint8_t *p = (const uint8_t *)scan->data;
	size_t left = scan->len - *at;

	if (*at >= scan->len || left < REC_LEN_BYTES)
		return false;
	r->klen = (size_t)get_be(p + *at, REC_LEN_BYTES);
	if (r->klen > left - REC_LEN_BYTES || left - REC_LEN_BYTES - r->klen < REC_LEN_BYTES)
		return false;
	r->key = p + *at + REC_LEN_BYTES;
	left -= REC_LEN_BYTES + r->klen;
	r->vlen = (size_t)get_be(r->key + r->klen, REC_LEN_BYTES);
	if (r->vlen > left - REC_LEN_BYTES || left - REC_LEN_BYTES - r->vlen < REC_TIME_BYTES)
		return false;
	r->value = r->key + r->klen + REC_LEN_BYTES;
	r->expires = (time_t)get_be(r->value + r->vlen, REC_TIME_BYTES);
	*at += 2 * REC_LEN_BYTES + r->klen + r->vlen + REC_TIME_BYTES;
	return true;
}

const char *
cp_store_ns_name(enum cp_store_ns ns)
{
	static const char *const names[CP_NS_COUNT] = {
		[CP_NS_ONCE] = "once",
		[CP_NS_CIMD] = "client-document",
		[CP_NS_CIMD_GOOD] = "client-document-good",
		[CP_NS_IDP] = "idp",
		[CP_NS_BINDING] = "binding",
		[CP_NS_SBTX] = "binding-login",
		[CP_NS_CONSENT] = "consent",
		[CP_NS_RATE] = "rate",
		[CP_NS_MCP_SESSION] = "mcp-session",
		[CP_NS_REVOKED] = "revoked",
		[CP_NS_TOKEN_CLIENT] = "token-client",
	};

	return ns >= CP_NS_ONCE && ns < CP_NS_COUNT ? names[ns] : "unknown";
}
