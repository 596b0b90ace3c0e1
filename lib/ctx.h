/*
 * The per-process context: what a cimd-proxy program keeps from one
 * request to the next, and the one way a request gets at it.
 *
 * Shared by every request of the process (built lazily, owned here):
 *
 *   configuration   a refcounted generation (struct cp_gen) loaded from
 *                   the file the request names (CIMD_PROXY_CONF, which
 *                   Apache hands over per request, so one process may
 *                   serve several vhosts) and rebuilt when that path
 *                   changes or, checked at most once every
 *                   CP_CTX_RECHECK_SECONDS, the file changes.  A file
 *                   that changed but no longer loads leaves the
 *                   generation in use as it was (one error logged per
 *                   version of the file).
 *   keys            key_file's keys, refcounted, reloaded on rotation
 *                   (checked at most once a CP_CTX_RECHECK_SECONDS;
 *                   ctx.c says what a refused file does).
 *   store           the state store, refcounted, opened on first use and
 *                   reopened when store names another one.  Both
 *                   backends serialise their own calls: store_bdb.c
 *                   holds a mutex around each operation (its handles are
 *                   DB_THREAD, but it reopens them in place after a
 *                   recovery), and store_pg.c one around its libpq
 *                   connection (not thread-safe on its own).
 *   caches          the bearer-token verdicts (bearer.c, under its own
 *                   mutex) and the IdP discovery/JWKS documents (in the
 *                   store, so shared by construction).
 *
 * Per request, never shared: struct cp_hold (below) and what it points
 * at is kept alive by references the request took at its start and gives
 * back at its end, so a reload while the request runs frees the old
 * generation, keys or store only when the last request using them ends.
 * Outbound HTTP handles are per call (fetch.c and http.c make and clean
 * up one libcurl easy handle per call); a program keeping an easy handle
 * across requests (the relay) keeps one per thread, never shares it
 * without a curl share handle.
 *
 * Locking: one mutex in ctx.c guards the current generation, keys and
 * store pointers, their reference counts and the reload bookkeeping; it
 * is held only to take or give back references and to swap pointers
 * (and, when due, for the stat and reload itself), never across a
 * handler.  What a request holds is read-only: a struct cp_config, a
 * struct cp_keys (immutable, seal.h) and a store handle that is
 * thread-safe by itself.  Today each process serves one request at a
 * time; the rules above are what lets one process serve many at once.
 *
 * Usage: the accept loop (endpoint.c) calls cp_ctx_begin before the
 * handler and cp_ctx_end after it; a handler that needs keys and store
 * calls cp_ctx_login(req, &lg).  A threaded program does the same per
 * request on each thread.
 */
#ifndef CP_CTX_H
#define CP_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "seal.h"
#include "status.h"
#include "store.h"

/* How often a long-lived process looks at the configuration file and
 * key_file for a change: a stat per request would be cheap too, but
 * once a second is soon enough for an operator and bounds the work a
 * flood of requests can cause. */
#define CP_CTX_RECHECK_SECONDS 1

struct cp_req;
struct cp_gen;                  /* a configuration generation (ctx.c) */
struct cp_keyring;              /* a refcounted struct cp_keys (ctx.c) */
struct cp_storeref;             /* a refcounted store handle (ctx.c) */

/* The keys and store a request uses, with the configuration they were
 * chosen for; valid until the request ends (cp_ctx_end). */
struct cp_login {
	const struct cp_config *cfg;
	struct cp_keys *keys;
	struct cp_store *st;
};

/* What one request holds of the context: per request, never shared. */
struct cp_hold {
	struct cp_gen *gen;         /* NULL when the configuration failed */
	struct cp_keyring *kr;      /* taken by cp_ctx_login */
	struct cp_storeref *sr;     /* taken by cp_ctx_login */
	struct cp_login lg;
};

/* Takes a reference on the configuration generation of path (loading or
 * reloading it as the rules above say) for req, and makes req the
 * calling thread's current request.  Sets req->cfg, or leaves it NULL
 * and writes the reason into err (for the accept loop's 500 answer).
 * A setting that weakens a check is logged once per generation.  The
 * caller calls cp_ctx_end once req is answered, whatever this returned. */
enum cp_status cp_ctx_begin(struct cp_req *req, const char *path,
    char *err, size_t errlen);

/* Gives back everything req took (generation, keys, store); cp_req_free
 * calls it, and a second call does nothing. */
void cp_ctx_end(struct cp_req *req);

/* The keys and store for req's configuration, loaded or opened on first
 * use, key_file rechecked for a rotation.  CP_ERR_CONFIG (keys unusable;
 * logged with the reason) or CP_ERR_STORE (store unavailable: the caller
 * answers 503); CP_ERR_NOMEM.  *out lives in req and stays valid until
 * cp_ctx_end. */
enum cp_status cp_ctx_login(struct cp_req *req, struct cp_login **out);

/* cp_ctx_login for code that has a configuration but no request (unit
 * tests, and programs not yet on cp_ctx_login): uses the calling
 * thread's current request when there is one, otherwise a per-thread
 * hold whose references the next call gives back, so a caller keeps no
 * copy of lg->keys across calls. */
enum cp_status cp_login_get(const struct cp_config *cfg, struct cp_login **out);

/* Loads path once for `prog --check-config`: 0 and "path: ok" on stdout,
 * or 1 and the reason on stderr; a weakening setting is printed as a
 * warning. */
int cp_ctx_check_config(const char *path);

/* Frees every generation, key set and store (closing the store cleanly)
 * once no request runs any more; also registered with atexit. */
void cp_ctx_shutdown(void);

#endif
