/*
 * The PostgreSQL backend of store.h (store = postgresql:<conninfo>), the
 * store a fleet of hosts shares; only store.c calls it.  Arguments arrive
 * checked as for store_bdb.h.
 *
 * Layout: the one table of sql/cimd-proxy.sql, cimd_records (ns, key,
 * value, expires), expires in Unix seconds.  Each operation is one
 * statement, prepared once per connection and run with its parameters
 * bound in binary, so each is atomic on its own and no value is ever
 * spliced into SQL text.  Expiry is judged against the asking host's
 * clock, passed as a parameter, exactly as the Berkeley DB store judges
 * it; hosts of a fleet keep their clocks in step (NTP).
 *
 * Connection: one per handle (so per process), opened at the first
 * operation and dropped after any failure, so the next operation opens a
 * fresh one: a PostgreSQL that was down, restarted or failed over is used
 * again without restarting anything.  Every failure answers CP_ERR_STORE
 * and logs the cause (the server's primary message and SQLSTATE, never
 * its detail lines, which can quote keys, and never the conninfo, which
 * can hold a password).
 */
#ifndef CP_STORE_PG_H
#define CP_STORE_PG_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "status.h"

/* Defaults the conninfo may override (its own connect_timeout, or an
 * options string of its own, which then replaces this statement_timeout
 * and should set one). */
#define CP_PG_CONNECT_TIMEOUT_S     "3"     /* per host tried */
#define CP_PG_STATEMENT_TIMEOUT_MS  "2000"  /* server-side, lock waits included */
/* The client's own bound on one round trip, whatever the server or the
 * network does (a server that stopped answering, a dropped route). */
#define CP_PG_DEADLINE_MS           10000
#define CP_PG_PURGE_EVERY           64      /* writes between purges, per process */
#define CP_PG_PURGE_BATCH           64      /* rows one opportunistic purge removes */
#define CP_PG_ADMIN_BATCH           1000    /* rows per statement in a full purge */

struct cp_pg;

/* Takes a copy of conninfo and checks that libpq can parse it; connects
 * later, at the first operation.  CP_ERR_CONFIG (logged, without the
 * conninfo's text) when it cannot be parsed, CP_ERR_NOMEM. */
enum cp_status cp_pg_open(const char *conninfo, struct cp_pg **out);
void cp_pg_close(struct cp_pg *p);

enum cp_status cp_pg_put(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires);
enum cp_status cp_pg_get(struct cp_pg *p, int ns, const void *key, size_t klen,
    struct cp_buf *value, time_t *expires);
enum cp_status cp_pg_take(struct cp_pg *p, int ns, const void *key, size_t klen,
    struct cp_buf *value);
enum cp_status cp_pg_swap(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *old_value, size_t old_len, const void *new_value, size_t new_len,
    time_t expires);
enum cp_status cp_pg_add(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires);
enum cp_status cp_pg_del(struct cp_pg *p, int ns, const void *key, size_t klen);
enum cp_status cp_pg_purge(struct cp_pg *p, time_t now, size_t *purged);
/* out NULL: counts into *n; else appends in scan form (store.h). */
enum cp_status cp_pg_walk(struct cp_pg *p, int ns, time_t now, size_t *n,
    struct cp_buf *out);

/* Runs the schema script sql (the text of sql/cimd-proxy.sql) as it is,
 * in one transaction.  CP_ERR_STORE, logged, when it fails. */
enum cp_status cp_pg_apply_schema(struct cp_pg *p, const char *sql);

/* Checks that the table exists with the columns this code uses and that
 * the connected role may SELECT, INSERT, UPDATE and DELETE it.  CP_OK, or
 * CP_ERR_STORE with the problem logged. */
enum cp_status cp_pg_check(struct cp_pg *p);

#endif
