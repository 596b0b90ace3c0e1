/*
 * The state store: everything that must outlive one request.  Records
 * live in namespaces, are keyed by bytes, hold bytes, and always expire;
 * an expired record reads as absent and is purged as the store goes.
 *
 * Backends: Berkeley DB (store_bdb.c, one transactional environment under
 * the `store = bdb:<dir>` directory, shared by every process of every
 * endpoint; DB_REGISTER + recovery on open so a process killed at any
 * point leaves a usable store) and PostgreSQL (store_pg.c, the table of
 * sql/cimd-proxy.sql, shared by a fleet of hosts; built when configure
 * finds libpq).
 *
 * Every operation is atomic.  Failures: CP_ERR_NOT_FOUND (absent or
 * expired), CP_ERR_REPLAY (cp_store_once or cp_store_add saw the key), CP_ERR_STORE (the
 * backend failed: callers answer 503), CP_ERR_LIMIT (key or value over
 * CP_STORE_MAX_KEY / CP_STORE_MAX_VALUE, or a value over the cap of the
 * caller's buffer), CP_ERR_INVALID (unknown namespace, empty key, negative
 * expiry).  A record is expired when expires <= now.
 *
 * A handle belongs to the process that opened it: open after fork(),
 * never before (a handle used across fork() answers CP_ERR_STORE).
 */
#ifndef CP_STORE_H
#define CP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

#define CP_STORE_MAX_KEY    1024
#define CP_STORE_MAX_VALUE  (256 * 1024)

enum cp_store_ns {
	CP_NS_ONCE = 1,     /* once-only ids (state, codes): value empty */
	CP_NS_CIMD,         /* client document cache, by exact client_id */
	CP_NS_CIMD_GOOD,    /* last good copy of a client document */
	CP_NS_IDP,          /* IdP discovery document and JWKS */
	CP_NS_BINDING,      /* session URI -> binding record */
	CP_NS_SBTX,         /* session-binding login transactions */
	CP_NS_CONSENT,      /* remembered consent */
	CP_NS_RATE,         /* rate-limit and back-off counters */
	CP_NS_MCP_SESSION,  /* keyed hash of an Mcp-Session-Id -> its user */
	CP_NS_REVOKED,      /* operator revocations (revoke.h) */
	CP_NS_TOKEN_CLIENT, /* SHA-256 of an access token -> its CIMD client_id (audit.h) */
	CP_NS_COUNT
};

struct cp_store;

/* Opens the store the configuration names; the caller closes it.  Opened
 * once per process and reused across FastCGI requests.  CP_ERR_STORE
 * (logged) when the store cannot be opened; CP_ERR_CONFIG for a backend
 * this build does not provide (PostgreSQL without libpq) or a conninfo
 * libpq cannot parse.  PostgreSQL connects at the first operation, so a
 * server that is down shows as CP_ERR_STORE from the operations, which
 * work again once it is back. */
enum cp_status cp_store_open(const struct cp_config *cfg, struct cp_store **out);
void cp_store_close(struct cp_store *st);

/* Inserts or replaces key with value until expires (absolute time). */
enum cp_status cp_store_put(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen, const void *value, size_t vlen, time_t expires);

/* Reads key into value (appended); *expires gets its expiry when not NULL. */
enum cp_status cp_store_get(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen, struct cp_buf *value, time_t *expires);

/* Reads and deletes key in one transaction: of two racing takers exactly
 * one gets the value, the other CP_ERR_NOT_FOUND. */
enum cp_status cp_store_take(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen, struct cp_buf *value);

/* Replaces key's value with new_value only if it currently equals
 * old_value (compare and swap, for flags such as "consumed").  Returns
 * CP_ERR_REPLAY when the value differs, CP_ERR_NOT_FOUND when absent. */
enum cp_status cp_store_swap(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen, const void *old_value, size_t old_len,
    const void *new_value, size_t new_len, time_t expires);

/* Inserts key with value until expires only when no live record holds
 * key: an absent or expired one (expires <= now) is replaced, a live one
 * is left exactly as it was and the answer is CP_ERR_REPLAY.  Read and
 * write are one atomic step, so of two racing adders exactly one gets
 * CP_OK.  (SQL: INSERT ... ON CONFLICT (ns, key) DO UPDATE SET value,
 * expires WHERE the stored expires <= now(); no row changed: a replay.) */
enum cp_status cp_store_add(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen, const void *value, size_t vlen, time_t expires);

/* Records key as used until expires.  CP_ERR_REPLAY when already there:
 * the way to make a sealed value single-use. */
enum cp_status cp_store_once(struct cp_store *st, const void *key, size_t klen,
    time_t expires);

/* Deletes key; CP_ERR_NOT_FOUND when it was absent or expired. */
enum cp_status cp_store_del(struct cp_store *st, enum cp_store_ns ns,
    const void *key, size_t klen);

/* Deletes every record expired at now; *purged (may be NULL) counts them. */
enum cp_status cp_store_purge(struct cp_store *st, time_t now, size_t *purged);

/* Creates what the store needs that opening does not: for PostgreSQL,
 * runs sql (the text of sql/cimd-proxy.sql, idempotent) in one
 * transaction; for Berkeley DB nothing (open creates the files).
 * CP_ERR_STORE, logged. */
enum cp_status cp_store_apply_schema(struct cp_store *st, const char *sql);

/* Checks that this process can use the store: for PostgreSQL, connects
 * and checks the table, the role's rights and that the server can write;
 * then reads an absent key.  CP_OK, or CP_ERR_STORE with the cause logged. */
enum cp_status cp_store_check(struct cp_store *st);

/*
 * For the operator (cimd-proxy-admin status and revoke), never the
 * request path: both read every key of a namespace.
 *
 * cp_store_count sets *n to the number of records of ns live at now.
 * cp_store_scan appends every record of ns live at now to out, in the
 * form cp_store_rec_next walks; CP_ERR_LIMIT (out freed) when they do
 * not fit out's cap.  Both CP_ERR_STORE, logged, when the backend fails.
 */
enum cp_status cp_store_count(struct cp_store *st, enum cp_store_ns ns, time_t now,
    size_t *n);
enum cp_status cp_store_scan(struct cp_store *st, enum cp_store_ns ns, time_t now,
    struct cp_buf *out);

/* One record of a scan; views into the scan buffer. */
struct cp_store_rec {
	const uint8_t *key;
	size_t klen;
	const uint8_t *value;
	size_t vlen;
	time_t expires;
};

/* Appends one record in scan form (what the backends call). */
enum cp_status cp_store_rec_add(struct cp_buf *out, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires);
/* The record of scan at *at, advancing *at; false at the end. */
bool cp_store_rec_next(const struct cp_buf *scan, size_t *at, struct cp_store_rec *r);

/* The namespace's name as status prints it ("once", "binding", ...). */
const char *cp_store_ns_name(enum cp_store_ns ns);

#endif
