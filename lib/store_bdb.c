#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <db.h>

#include "log.h"
#include "store.h"
#include "store_bdb.h"

#define RECORDS_FILE    "records.db"
#define EXPIRY_FILE     "expiry.db"
#define EXPIRY_LEN      8
#define KEY_MAX         (1 + CP_STORE_MAX_KEY)      /* ns byte + key */

/*
 * Durability: DB_TXN_WRITE_NOSYNC writes the log to the kernel at every
 * commit but does not fsync it.  A committed once-only id, code or
 * binding survives any process crash (the case DB_REGISTER recovery is
 * for); an operating-system crash or power cut can lose the last moments
 * of commits, so a state or code issued just before it could be replayed
 * once within its few minutes of life.  That window is accepted for the
 * latency and disk wear an fsync per request would cost; PostgreSQL is
 * the choice where it is not.
 */
#define ENV_FLAGS (DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | \
	DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER | DB_THREAD)

struct cp_bdb {
	char *dir;
	DB_ENV *env;
	DB *records;
	DB *expiry;         /* secondary index of records by expiry */
	pid_t pid;          /* handles must not cross fork() */
	unsigned writes;    /* drives purge-as-you-go */
	unsigned messages;  /* Berkeley DB messages logged in this operation */
	uint32_t rng;       /* back-off jitter; not security relevant */
	/* A relay process calls the store from many threads.  Berkeley DB's
	 * handles are free-threaded (DB_THREAD), but the fields above are
	 * not, and run() closes and reopens the handles in place when the
	 * environment stays busy or was recovered: so every operation holds
	 * mu, recursive because after_write's purge runs inside a write. */
	pthread_mutex_t mu;
};

/* One operation's inputs and results, so run() can retry it whole. */
struct op {
	uint8_t kbuf[KEY_MAX];
	DBT key;
	const void *value;      /* put, add: the value; swap: the new one */
	size_t vlen;
	const void *old;        /* swap: the expected value */
	size_t old_len;
	uint64_t expires;
	uint64_t now;
	size_t batch;           /* purge: most records this transaction */
	struct cp_buf *scan;    /* walk: records appended here, or only counted */
	size_t scan_base;       /* walk: scan->len before the first attempt */

	enum cp_status rc;      /* the logical outcome of a committed run */
	DBT out;                /* get, take: the record (DB_DBT_MALLOC) */
	uint64_t out_expires;
	size_t purged;
};

typedef int (*op_fn)(struct cp_bdb *b, DB_TXN *txn, struct op *o);

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = EXPIRY_LEN - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < EXPIRY_LEN; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A corrupt file can make Berkeley DB report every page it tries; the
 * first few lines say what is wrong, the rest would bury the log. */
static void
bdb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct cp_bdb *b = env->app_private;

	(void)pfx;
	if (b && b->messages++ >= CP_BDB_MAX_MESSAGES) {
		if (b->messages == CP_BDB_MAX_MESSAGES + 1)
			cp_log(CP_LOG_ERROR, "store: further Berkeley DB messages suppressed");
		return;
	}
	cp_log(CP_LOG_ERROR, "store: berkeley db: %s", msg);
}

/* The secondary key of a record is its expiry: big-endian, so the
 * btree's byte order is time order and a purge stops at the first
 * record still alive. */
static int
expiry_of(DB *secondary, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	(void)secondary;
	(void)pkey;
	if (pdata->size < EXPIRY_LEN)
		return EINVAL;
	memset(skey, 0, sizeof(*skey));
	skey->data = pdata->data;
	skey->size = EXPIRY_LEN;
	return 0;
}

/*
 * Handles of environments another process recovered.  Berkeley DB refuses
 * every call on them with DB_RUNRECOVERY, so closing them frees only part
 * of their memory; and forcing the closes through (DB_NOPANIC) can block
 * for good on a mutex that the process whose death caused the recovery
 * held.  So they are left as they are, never touched again, and kept
 * reachable here: a bounded, deliberate cost of a few kilobytes and
 * descriptors per recovery in a process's life.  Past the bound they are
 * closed the old way, which leaks what Berkeley DB does not free.
 * Nothing reads the array, so it is volatile: the compiler must not drop
 * the stores that keep the handles reachable (to valgrind, say).
 */
static volatile struct abandoned {
	DB_ENV *env;
	DB *records;
	DB *expiry;
} abandoned[CP_BDB_MAX_ABANDONED];
static size_t n_abandoned;
static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;  /* any store's */

/* Closes everything; panicked says another process ran recovery. */
static void
handles_close(struct cp_bdb *b, bool panicked)
{
	bool kept = false;

	pthread_mutex_lock(&abandoned_mu);
	if (panicked && b->env != NULL && n_abandoned < CP_BDB_MAX_ABANDONED) {
		abandoned[n_abandoned].env = b->env;
		abandoned[n_abandoned].records = b->records;
		abandoned[n_abandoned].expiry = b->expiry;
		n_abandoned++;
		kept = true;
	}
	pthread_mutex_unlock(&abandoned_mu);
	if (!kept) {
		if (b->expiry)
			b->expiry->close(b->expiry, 0);
		if (b->records)
			b->records->close(b->records, 0);
		if (b->env)
			b->env->close(b->env, 0);
	}
	b->expiry = b->records = NULL;
	b->env = NULL;
}

static int
db_open(DB_ENV *env, DB **out, const char *file, uint32_t extra_flags)
{
	DB *db = NULL;
	int ret;

	*out = NULL;
	if ((ret = db_create(&db, env, 0)) != 0)
		return ret;
	/* Page checksums turn a corrupt page into an error, not a crash. */
	if ((ret = db->set_flags(db, DB_CHKSUM | extra_flags)) != 0 ||
	    (ret = db->open(db, NULL, file, NULL, DB_BTREE,
	    DB_CREATE | DB_THREAD | DB_AUTO_COMMIT, 0600)) != 0) {
		db->close(db, 0);
		return ret;
	}
	*out = db;
	return 0;
}

/* Opens the environment and both databases; 0 or a Berkeley DB error,
 * already logged. */
static int
handles_open(struct cp_bdb *b)
{
	DB_ENV *env = NULL;
	int ret;

	b->messages = 0;
	if ((ret = db_env_create(&env, 0)) != 0)
		goto fail;
	env->app_private = b;
	env->set_errcall(env, bdb_errcall);
	if ((ret = env->set_cachesize(env, 0, CP_BDB_CACHE_BYTES, 1)) != 0 ||
	    (ret = env->set_lg_max(env, CP_BDB_LOG_FILE_BYTES)) != 0 ||
	    (ret = env->set_lg_bsize(env, CP_BDB_LOG_BUFFER_BYTES)) != 0 ||
	    /* Log files a checkpoint no longer needs are removed, so the
	     * directory does not grow; the price is that only normal, not
	     * catastrophic, recovery is possible, which is what DB_REGISTER
	     * uses. */
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0 ||
	    /* Transactions never block on a lock (see run()); anything else
	     * that does, such as opening a database, has the deadlock
	     * detector run whenever it blocks, and the loser is retried. */
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->set_lk_max_locks(env, CP_BDB_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_objects(env, CP_BDB_MAX_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_lockers(env, CP_BDB_MAX_TXNS)) != 0 ||
	    (ret = env->set_tx_max(env, CP_BDB_MAX_TXNS)) != 0 ||
	    (ret = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0)
		goto fail;
	/* DB_REGISTER + DB_RECOVER: if any process that had the environment
	 * open died without closing it, recover now (other live processes
	 * then see DB_RUNRECOVERY and reopen, see run()). */
	if ((ret = env->open(env, b->dir, ENV_FLAGS, 0600)) != 0)
		goto fail;
	b->env = env;
	env = NULL;
	if ((ret = db_open(b->env, &b->records, RECORDS_FILE, 0)) != 0 ||
	    (ret = db_open(b->env, &b->expiry, EXPIRY_FILE, DB_DUPSORT)) != 0 ||
	    (ret = b->records->associate(b->records, NULL, b->expiry, expiry_of, 0)) != 0)
		goto fail;
	return 0;
fail:
	if (env)
		env->close(env, 0);
	handles_close(b, ret == DB_RUNRECOVERY);
	cp_log(CP_LOG_ERROR, "store: cannot open the Berkeley DB store in %s: %s",
	    b->dir, db_strerror(ret));
	return ret;
}

static void
backoff(struct cp_bdb *b, int attempt)
{
	struct timespec ts;
	unsigned long usec;

	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 17;
	b->rng ^= b->rng << 5;
	usec = (unsigned long)CP_BDB_BACKOFF_USEC <<
	    (attempt < CP_BDB_BACKOFF_MAX_SHIFT ? attempt : CP_BDB_BACKOFF_MAX_SHIFT);
	usec = usec / 2 + b->rng % (usec + 1);
	ts.tv_sec = (time_t)(usec / 1000000);
	ts.tv_nsec = (long)(usec % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

static void
out_free(struct op *o)
{
	if (o->out.data) {
		explicit_bzero(o->out.data, o->out.size);
		free(o->out.data);
	}
	memset(&o->out, 0, sizeof(o->out));
	o->out.flags = DB_DBT_MALLOC;
}

/*
 * Runs fn in a transaction until it commits.  The transaction never waits
 * for a lock (DB_TXN_NOWAIT): a process killed while holding one would
 * otherwise leave every waiter blocked for good, since Berkeley DB only
 * checks lock timeouts when a detector runs.  A busy lock is retried with
 * a jittered, growing back-off; when it stays busy long enough to suggest
 * a dead holder, the environment is reopened once, which lets
 * DB_REGISTER recover.  A panic (another process ran recovery) reopens
 * too.  Returns o->rc after a commit, else CP_ERR_STORE (logged).
 */
static enum cp_status
run_locked(struct cp_bdb *b, const char *what, op_fn fn, struct op *o)
{
	DB_TXN *txn;
	int ret = 0, attempt;
	bool reopened = false;

	if (b->pid != getpid()) {
		cp_log(CP_LOG_ERROR, "store: a handle opened before fork() was used in the child");
		return CP_ERR_STORE;
	}
	b->messages = 0;
	for (attempt = 0; attempt <= CP_BDB_RETRIES; attempt++) {
		if (b->env == NULL && handles_open(b) != 0)
			return CP_ERR_STORE;
		out_free(o);
		o->rc = CP_OK;
		o->purged = 0;
		if ((ret = b->env->txn_begin(b->env, NULL, &txn, DB_TXN_NOWAIT)) == 0) {
			if ((ret = fn(b, txn, o)) == 0)
				ret = txn->commit(txn, 0);
			else
				txn->abort(txn);
		}
		if (ret == 0)
			return o->rc;
		if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED) {
			if (attempt == CP_BDB_REOPEN_AFTER && !reopened) {
				cp_log(CP_LOG_WARN, "store: %s: a lock stays busy; reopening", what);
				handles_close(b, false);
				reopened = true;
			} else {
				backoff(b, attempt);
			}
			continue;
		}
		if (ret == DB_RUNRECOVERY && !reopened) {
			cp_log(CP_LOG_INFO, "store: %s: the environment was recovered; reopening", what);
			handles_close(b, true);
			reopened = true;
			continue;
		}
		break;
	}
	out_free(o);
	cp_log(CP_LOG_ERROR, "store: %s failed: %s", what, db_strerror(ret));
	return CP_ERR_STORE;
}

/* run_locked under b->mu (above). */
static enum cp_status
run(struct cp_bdb *b, const char *what, op_fn fn, struct op *o)
{
	enum cp_status rc;

	pthread_mutex_lock(&b->mu);
	rc = run_locked(b, what, fn, o);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static void
op_init(struct op *o, int ns, const void *key, size_t klen)
{
	memset(o, 0, sizeof(*o));
	o->kbuf[0] = (uint8_t)ns;
	if (klen)
		memcpy(o->kbuf + 1, key, klen);
	o->key.data = o->kbuf;
	o->key.size = (uint32_t)(1 + klen);
	o->out.flags = DB_DBT_MALLOC;
	o->now = (uint64_t)time(NULL);
}

/* Reads o->key into o->out (flags: 0 or DB_RMW); DB_NOTFOUND if absent. */
static int
read_record(struct cp_bdb *b, DB_TXN *txn, struct op *o, uint32_t flags)
{
	int ret;

	if ((ret = b->records->get(b->records, txn, &o->key, &o->out, flags)) != 0)
		return ret;
	if (o->out.size < EXPIRY_LEN) {
		cp_log(CP_LOG_ERROR, "store: a record shorter than its expiry: the store is corrupt");
		return EINVAL;
	}
	o->out_expires = get_be64(o->out.data);
	return 0;
}

static int
write_record(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	DBT data;
	uint8_t *rec;
	int ret;

	if ((rec = malloc(EXPIRY_LEN + o->vlen)) == NULL)
		return ENOMEM;
	put_be64(rec, o->expires);
	if (o->vlen)
		memcpy(rec + EXPIRY_LEN, o->value, o->vlen);
	memset(&data, 0, sizeof(data));
	data.data = rec;
	data.size = (uint32_t)(EXPIRY_LEN + o->vlen);
	ret = b->records->put(b->records, txn, &o->key, &data, 0);
	explicit_bzero(rec, EXPIRY_LEN + o->vlen);
	free(rec);
	return ret;
}

static int
op_put(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	return write_record(b, txn, o);
}

static int
op_get(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	int ret = read_record(b, txn, o, 0);

	if (ret == DB_NOTFOUND || (ret == 0 && o->out_expires <= o->now)) {
		o->rc = CP_ERR_NOT_FOUND;
		return 0;
	}
	return ret;
}

/* Read, check and delete under one write lock (take, and del, which
 * drops what it read): of two racing takers the second blocks until the
 * first commits, then finds nothing. */
static int
op_take(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	int ret = read_record(b, txn, o, DB_RMW);

	if (ret == DB_NOTFOUND) {
		o->rc = CP_ERR_NOT_FOUND;
		return 0;
	}
	if (ret != 0 || (ret = b->records->del(b->records, txn, &o->key, 0)) != 0)
		return ret;
	if (o->out_expires <= o->now)
		o->rc = CP_ERR_NOT_FOUND;
	return 0;
}

static int
op_swap(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	int ret = read_record(b, txn, o, DB_RMW);

	if (ret == DB_NOTFOUND || (ret == 0 && o->out_expires <= o->now)) {
		o->rc = CP_ERR_NOT_FOUND;
		return 0;
	}
	if (ret != 0)
		return ret;
	/* Values may be secrets (a consumed flag next to a token). */
	if (!cp_secret_eq((uint8_t *)o->out.data + EXPIRY_LEN, o->out.size - EXPIRY_LEN,
	    o->old, o->old_len)) {
		o->rc = CP_ERR_REPLAY;
		return 0;
	}
	return write_record(b, txn, o);
}

/* Inserts unless a live record holds the key (add, and once with an
 * empty value).  The read takes the write lock: of two racing adders
 * one commits, and the other, retried by run(), finds its record. */
static int
op_add(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	int ret = read_record(b, txn, o, DB_RMW);

	if (ret == 0 && o->out_expires > o->now) {
		o->rc = CP_ERR_REPLAY;
		return 0;
	}
	if (ret != 0 && ret != DB_NOTFOUND)
		return ret;
	return write_record(b, txn, o);
}

/* Deletes up to o->batch records expired at o->now, oldest first,
 * through the expiry index (deleting through a secondary cursor deletes
 * the primary record too). */
static int
op_purge(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	DBC *c = NULL;
	DBT skey, pdata;
	uint8_t exp[EXPIRY_LEN];
	uint32_t how = DB_FIRST;
	int ret, cret;

	if ((ret = b->expiry->cursor(b->expiry, txn, &c, 0)) != 0)
		return ret;
	memset(&skey, 0, sizeof(skey));
	skey.data = exp;
	skey.ulen = sizeof(exp);
	skey.flags = DB_DBT_USERMEM;
	/* Only the position matters, not the record: read none of it. */
	memset(&pdata, 0, sizeof(pdata));
	pdata.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	while (o->purged < o->batch) {
		if ((ret = c->get(c, &skey, &pdata, how | DB_RMW)) != 0)
			break;
		how = DB_NEXT;
		if (skey.size != EXPIRY_LEN || get_be64(exp) > o->now)
			break;
		if ((ret = c->del(c, 0)) != 0)
			break;
		o->purged++;
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
	if ((cret = c->close(c)) != 0 && ret == 0)
		ret = cret;
	return ret;
}

/* Counts (o->scan NULL) or appends in scan form the records of
 * namespace o->kbuf[0] live at o->now.  Called again from the start
 * when run() retries, so it first undoes a previous attempt.  The
 * cursor reads committed data only, so it holds no page lock once past
 * it: live traffic is not blocked behind a long walk. */
static int
op_walk(struct cp_bdb *b, DB_TXN *txn, struct op *o)
{
	DBC *c = NULL;
	DBT key, data;
	uint8_t kbuf[KEY_MAX], head[EXPIRY_LEN];
	uint32_t how = DB_SET_RANGE;
	uint64_t exp;
	int ret, cret;

	if (o->scan != NULL && o->scan->len > o->scan_base) {
		o->scan->len = o->scan_base;
		o->scan->data[o->scan_base] = '\0';
	}
	if ((ret = b->records->cursor(b->records, txn, &c, DB_READ_COMMITTED)) != 0)
		return ret;
	memset(&key, 0, sizeof(key));
	kbuf[0] = o->kbuf[0];
	key.data = kbuf;
	key.size = 1;
	key.ulen = sizeof(kbuf);
	key.flags = DB_DBT_USERMEM;
	memset(&data, 0, sizeof(data));
	if (o->scan == NULL) {
		/* Counting reads the expiry only. */
		data.data = head;
		data.ulen = sizeof(head);
		data.dlen = sizeof(head);
		data.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	} else {
		data.flags = DB_DBT_REALLOC;
	}
	while ((ret = c->get(c, &key, &data, how)) == 0) {
		how = DB_NEXT;
		if (key.size < 1 || kbuf[0] != o->kbuf[0])
			break;
		if (data.size < EXPIRY_LEN) {
			cp_log(CP_LOG_ERROR, "store: a record shorter than its expiry: the store is corrupt");
			ret = EINVAL;
			break;
		}
		if ((exp = get_be64(data.data)) <= o->now)
			continue;
		o->purged++;
		if (o->scan != NULL && cp_store_rec_add(o->scan, kbuf + 1, key.size - 1,
		    (uint8_t *)data.data + EXPIRY_LEN, data.size - EXPIRY_LEN,
		    (time_t)exp) != CP_OK) {
			o->rc = CP_ERR_LIMIT;
			break;
		}
	}
	if (o->scan != NULL && data.data != NULL) {
		explicit_bzero(data.data, data.size);
		free(data.data);
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
	if ((cret = c->close(c)) != 0 && ret == 0)
		ret = cret;
	return ret;
}

/* Purge as you go: every CP_BDB_PURGE_EVERY writes of this process (the
 * count starts at a random point, so one-request CGI processes take
 * their turn too), remove a bounded batch and checkpoint, which lets
 * DB_LOG_AUTO_REMOVE drop old log files.  A failure here is logged by
 * run() and does not fail the write that triggered it. */
static void
after_write(struct cp_bdb *b)
{
	struct op o;

	pthread_mutex_lock(&b->mu);
	if (++b->writes % CP_BDB_PURGE_EVERY != 0)
		goto out;
	op_init(&o, 0, NULL, 0);
	o.batch = CP_BDB_PURGE_BATCH;
	if (run(b, "purge", op_purge, &o) == CP_OK && o.purged)
		cp_log(CP_LOG_DEBUG, "store: purged %zu expired records", o.purged);
	if (b->env)
		b->env->txn_checkpoint(b->env, CP_BDB_CHECKPOINT_KB, 0, 0);
out:
	pthread_mutex_unlock(&b->mu);
}

enum cp_status
cp_bdb_open(const char *dir, struct cp_bdb **out)
{
	struct cp_bdb *b = NULL;
	struct stat sb;
	pthread_mutexattr_t attr;
	enum cp_status rc = CP_ERR_STORE;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cp_log(CP_LOG_ERROR, "store: cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cp_log(CP_LOG_ERROR, "store: %s is not a directory", dir);
		goto out;
	}
	rc = CP_ERR_NOMEM;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto out;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&b->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	if ((b->dir = strdup(dir)) == NULL)
		goto out;
	b->pid = getpid();
	b->rng = (uint32_t)b->pid * 2654435761u ^ (uint32_t)time(NULL) ^ 1u;
	b->writes = b->rng % CP_BDB_PURGE_EVERY;
	rc = CP_ERR_STORE;
	if (handles_open(b) != 0)
		goto out;
	*out = b;
	b = NULL;
	rc = CP_OK;
out:
	cp_bdb_close(b);
	return rc;
}

void
cp_bdb_close(struct cp_bdb *b)
{
	if (b == NULL)
		return;
	if (b->pid == getpid())
		handles_close(b, false);
	pthread_mutex_destroy(&b->mu);
	free(b->dir);
	free(b);
}

enum cp_status
cp_bdb_put(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	o.value = value;
	o.vlen = vlen;
	o.expires = (uint64_t)expires;
	if ((rc = run(b, "put", op_put, &o)) == CP_OK)
		after_write(b);
	return rc;
}

enum cp_status
cp_bdb_get(struct cp_bdb *b, int ns, const void *key, size_t klen,
    struct cp_buf *value, time_t *expires)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	if ((rc = run(b, "get", op_get, &o)) == CP_OK) {
		rc = cp_buf_add(value, (uint8_t *)o.out.data + EXPIRY_LEN,
		    o.out.size - EXPIRY_LEN);
		if (rc == CP_OK && expires)
			*expires = (time_t)o.out_expires;
	}
	out_free(&o);
	return rc;
}

enum cp_status
cp_bdb_take(struct cp_bdb *b, int ns, const void *key, size_t klen,
    struct cp_buf *value)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	rc = run(b, "take", op_take, &o);
	if (rc == CP_OK)
		rc = cp_buf_add(value, (uint8_t *)o.out.data + EXPIRY_LEN,
		    o.out.size - EXPIRY_LEN);
	out_free(&o);
	if (rc != CP_ERR_STORE)
		after_write(b);
	return rc;
}

enum cp_status
cp_bdb_swap(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *old_value, size_t old_len, const void *new_value, size_t new_len,
    time_t expires)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	o.old = old_value;
	o.old_len = old_len;
	o.value = new_value;
	o.vlen = new_len;
	o.expires = (uint64_t)expires;
	rc = run(b, "swap", op_swap, &o);
	out_free(&o);
	if (rc == CP_OK)
		after_write(b);
	return rc;
}

enum cp_status
cp_bdb_add(struct cp_bdb *b, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	o.value = value;
	o.vlen = vlen;
	o.expires = (uint64_t)expires;
	rc = run(b, "add", op_add, &o);
	out_free(&o);
	if (rc == CP_OK)
		after_write(b);
	return rc;
}

enum cp_status
cp_bdb_del(struct cp_bdb *b, int ns, const void *key, size_t klen)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, key, klen);
	rc = run(b, "del", op_take, &o);
	out_free(&o);
	return rc;
}

enum cp_status
cp_bdb_purge(struct cp_bdb *b, time_t now, size_t *purged)
{
	struct op o;
	size_t total = 0;
	enum cp_status rc;

	/* In batches, so a large purge never holds more than a batch's locks
	 * and live traffic interleaves with it. */
	do {
		op_init(&o, 0, NULL, 0);
		o.now = now < 0 ? 0 : (uint64_t)now;
		o.batch = CP_BDB_ADMIN_BATCH;
		if ((rc = run(b, "purge", op_purge, &o)) != CP_OK)
			goto out;
		total += o.purged;
	} while (o.purged == o.batch);
	pthread_mutex_lock(&b->mu);
	if (b->env)
		b->env->txn_checkpoint(b->env, 0, 0, 0);
	pthread_mutex_unlock(&b->mu);
	rc = CP_OK;
out:
	if (purged)
		*purged = total;
	return rc;
}

enum cp_status
cp_bdb_walk(struct cp_bdb *b, int ns, time_t now, size_t *n, struct cp_buf *out)
{
	struct op o;
	enum cp_status rc;

	op_init(&o, ns, NULL, 0);
	o.now = now < 0 ? 0 : (uint64_t)now;
	o.scan = out;
	o.scan_base = out ? out->len : 0;
	rc = run(b, "walk", op_walk, &o);
	*n = o.purged;
	return rc;
}
