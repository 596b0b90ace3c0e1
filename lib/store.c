#include "config.h"

#include <stdlib.h>

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
