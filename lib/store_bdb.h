/*
 * The Berkeley DB backend of store.h; only store.c calls it.  Arguments
 * arrive checked (namespace, key and value lengths, expiry >= 0), so
 * these functions only enforce what needs the data: expiry and atomicity.
 *
 * Layout: one transactional environment in the store directory, holding
 * records.db (a btree keyed ns(1) | key, valued expiry(8, BE) | value)
 * and expiry.db (a secondary btree keyed expiry(8, BE), kept by Berkeley
 * DB itself through DB->associate) so purging walks only expired records.
 * One database for all namespaces, not one per namespace, so a purge is
 * one ordered walk and an operation never touches more than two files.
 */
#ifndef CP_STORE_BDB_H
#define CP_STORE_BDB_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "status.h"

/* Tuning, each bounded so no request can make the store work unboundedly. */
#define CP_BDB_RETRIES          24          /* tries of a busy operation (~2 s) */
#define CP_BDB_REOPEN_AFTER     10          /* busy tries before reopening (~0.5 s) */
#define CP_BDB_BACKOFF_USEC     1000        /* first back-off; doubles, jittered */
#define CP_BDB_BACKOFF_MAX_SHIFT 7          /* ... up to 128 times that */
#define CP_BDB_PURGE_EVERY      64          /* writes between purges, per process */
#define CP_BDB_PURGE_BATCH      64          /* records one opportunistic purge removes */
#define CP_BDB_ADMIN_BATCH      1000        /* records per transaction in a full purge */
#define CP_BDB_CACHE_BYTES      (4 * 1024 * 1024)
#define CP_BDB_LOG_FILE_BYTES   (1024 * 1024)
#define CP_BDB_LOG_BUFFER_BYTES (256 * 1024)
#define CP_BDB_CHECKPOINT_KB    256         /* checkpoint when this much log is new */
#define CP_BDB_MAX_LOCKS        20000
#define CP_BDB_MAX_TXNS         1000        /* concurrent transactions, all processes */
#define CP_BDB_MAX_MESSAGES     8           /* Berkeley DB error lines per operation */
#define CP_BDB_MAX_ABANDONED    8           /* panicked environments kept, per process */

struct cp_bdb;

/* Opens (creating mode 0700 / 0600 when missing, recovering when a
 * process died) the environment in dir; the caller closes it.
 * CP_ERR_STORE, logged, when the directory or the databases cannot be
 * opened. */
enum cp_status cp_bdb_open(const char *dir, struct cp_bdb **out);
void cp_bdb_close(struct cp_bdb *b);

enum cp_status cp_bdb_put(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires);
enum cp_status cp_bdb_get(struct cp_bdb *b, int ns, const void *key, size_t klen,
    struct cp_buf *value, time_t *expires);
enum cp_status cp_bdb_take(struct cp_bdb *b, int ns, const void *key, size_t klen,
    struct cp_buf *value);
enum cp_status cp_bdb_swap(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *old_value, size_t old_len, const void *new_value, size_t new_len,
    time_t expires);
enum cp_status cp_bdb_add(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires);
enum cp_status cp_bdb_del(struct cp_bdb *b, int ns, const void *key, size_t klen);
enum cp_status cp_bdb_purge(struct cp_bdb *b, time_t now, size_t *purged);
/* out NULL: counts into *n; else appends in scan form (store.h). */
enum cp_status cp_bdb_walk(struct cp_bdb *b, int ns, time_t now, size_t *n,
    struct cp_buf *out);

#endif
