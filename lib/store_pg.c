#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"
#include "store_pg.h"

/* Type OIDs of the parameters (pg_type.h, stable across releases). */
#define OID_BYTEA   17
#define OID_INT8    20
#define OID_INT2    21
#define MAX_PARAMS  6

/*
 * The statements, one per operation, each run alone so each is atomic
 * (READ COMMITTED: a statement that waits for another's row lock sees
 * that row's committed version before it decides):
 *
 * - take and del delete whatever is there, expired or not, and report
 *   an expired record as absent, as the Berkeley DB store does; of two
 *   racing takers the second finds the row gone.
 * - swap compares digests rather than the values, which may be secrets,
 *   so the comparison's time says nothing about them; its second column
 *   tells a live record whose value differs (a replay) from an absent one.
 * - add (and once, an add of an empty value) inserts, or replaces an
 *   expired record; a live record makes the conflict's WHERE false and
 *   the statement returns no row.
 * - purge takes a bounded batch in expiry order through the expires
 *   index, skipping rows another purger holds.
 *
 * Adding an operation: a row here, its enum value, and a function that
 * fills struct args and reads the result.
 */
enum stmt { S_PUT, S_GET, S_TAKE, S_SWAP, S_ADD, S_DEL, S_PURGE, S_NS_COUNT, S_NS_SCAN,
	S_COUNT };

static const struct statement {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[MAX_PARAMS];
} statements[S_COUNT] = {
	[S_PUT] = { "cp_put",
	    "INSERT INTO cimd_records (ns, key, value, expires) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires",
	    4, { OID_INT2, OID_BYTEA, OID_BYTEA, OID_INT8 } },
	[S_GET] = { "cp_get",
	    "SELECT value, expires FROM cimd_records WHERE ns = $1 AND key = $2 AND expires > $3",
	    3, { OID_INT2, OID_BYTEA, OID_INT8 } },
	[S_TAKE] = { "cp_take",
	    "DELETE FROM cimd_records WHERE ns = $1 AND key = $2 RETURNING value, expires",
	    2, { OID_INT2, OID_BYTEA } },
	[S_SWAP] = { "cp_swap",
	    "WITH swapped AS (UPDATE cimd_records SET value = $5, expires = $6 "
	    "WHERE ns = $1 AND key = $2 AND expires > $3 AND sha256(value) = sha256($4) RETURNING 1) "
	    "SELECT EXISTS (SELECT 1 FROM swapped), "
	    "EXISTS (SELECT 1 FROM cimd_records WHERE ns = $1 AND key = $2 AND expires > $3)",
	    6, { OID_INT2, OID_BYTEA, OID_INT8, OID_BYTEA, OID_BYTEA, OID_INT8 } },
	[S_ADD] = { "cp_add",
	    "INSERT INTO cimd_records (ns, key, value, expires) VALUES ($1, $2, $4, $5) "
	    "ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires "
	    "WHERE cimd_records.expires <= $3 RETURNING 1",
	    5, { OID_INT2, OID_BYTEA, OID_INT8, OID_BYTEA, OID_INT8 } },
	[S_DEL] = { "cp_del",
	    "DELETE FROM cimd_records WHERE ns = $1 AND key = $2 RETURNING expires",
	    2, { OID_INT2, OID_BYTEA } },
	[S_PURGE] = { "cp_purge",
	    "WITH doomed AS (SELECT ns, key FROM cimd_records WHERE expires <= $1 "
	    "ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED) "
	    "DELETE FROM cimd_records r USING doomed d WHERE r.ns = d.ns AND r.key = d.key",
	    2, { OID_INT8, OID_INT8 } },
	[S_NS_COUNT] = { "cp_ns_count",
	    "SELECT count(*) FROM cimd_records WHERE ns = $1 AND expires > $2",
	    2, { OID_INT2, OID_INT8 } },
	[S_NS_SCAN] = { "cp_ns_scan",
	    "SELECT key, value, expires FROM cimd_records WHERE ns = $1 AND expires > $2",
	    2, { OID_INT2, OID_INT8 } },
};

/* What check-config asks: is the table there, with the columns the
 * statements use, may this role use it, and can this server write. */
#define CHECK_SQL \
	"SELECT t.oid IS NOT NULL, " \
	"(SELECT count(*) FROM pg_attribute WHERE attrelid = t.oid AND NOT attisdropped " \
	"  AND attname IN ('ns', 'key', 'value', 'expires')) = 4, " \
	"t.oid IS NOT NULL AND has_table_privilege(t.oid, 'SELECT'), " \
	"t.oid IS NOT NULL AND has_table_privilege(t.oid, 'INSERT'), " \
	"t.oid IS NOT NULL AND has_table_privilege(t.oid, 'UPDATE'), " \
	"t.oid IS NOT NULL AND has_table_privilege(t.oid, 'DELETE'), " \
	"current_setting('transaction_read_only') = 'off', " \
	"current_user::text " \
	"FROM (SELECT to_regclass('cimd_records') AS oid) t"

struct cp_pg {
	char *conninfo;
	PGconn *conn;
	unsigned prepared;      /* bit per statement prepared on conn */
	pid_t pid;              /* the connection must not cross fork() */
	unsigned writes;        /* drives purge-as-you-go */
	pthread_mutex_t lock;   /* one statement at a time on conn */
};

/* One operation's parameters, in binary (network byte order). */
struct args {
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	uint8_t ints[MAX_PARAMS][8];
	int n;
};

static void
add_bytes(struct args *a, const void *p, size_t len)
{
	if (a->n >= MAX_PARAMS)
		return;
	/* A NULL pointer would be SQL NULL; an empty value is not. */
	a->values[a->n] = len ? p : "";
	a->lengths[a->n] = (int)len;
	a->formats[a->n] = 1;
	a->n++;
}

static void
add_int(struct args *a, uint64_t v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		a->ints[a->n][i] = (uint8_t)v;
		v >>= 8;
	}
	add_bytes(a, a->ints[a->n], (size_t)width);
}

static void
args_key(struct args *a, int ns, const void *key, size_t klen)
{
	memset(a, 0, sizeof(*a));
	add_int(a, (uint64_t)ns, 2);
	add_bytes(a, key, klen);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of msg without its trailing newlines and blanks. */
static int
trimmed(const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '\t'))
		n--;
	return n > 1024 ? 1024 : (int)n;
}

static void
drop(struct cp_pg *p)
{
	if (p->conn)
		PQfinish(p->conn);
	p->conn = NULL;
	p->prepared = 0;
}

/* Logs why a statement failed: the primary message and SQLSTATE of a
 * server error (its DETAIL can quote a key, so it is left out), or
 * libpq's own message when the failure was on the client's side. */
static void
log_failure(const char *what, const PGresult *res, PGconn *c)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (msg == NULL && res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR)
		msg = PQresultErrorMessage(res);
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(c);
	cp_log(CP_LOG_ERROR, "store: postgresql %s failed: %.*s%s%s%s", what, trimmed(msg), msg,
	    state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

/* Waits until c's socket is ready for events or the deadline passes:
 * 1 ready, 0 late, -1 broken. */
static int
wait_socket(PGconn *c, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	if ((pfd.fd = PQsocket(c)) < 0)
		return -1;
	pfd.events = events;
	do {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : r > 0;
}

/* The next result of the statement in flight, waiting for it no later
 * than deadline; *res NULL when the statement has no more.  CP_OK,
 * CP_ERR_TIMEOUT or CP_ERR_IO. */
static enum cp_status
next_result(PGconn *c, int64_t deadline, PGresult **res)
{
	int r;

	*res = NULL;
	while (PQisBusy(c)) {
		if ((r = wait_socket(c, POLLIN, deadline)) <= 0)
			return r == 0 ? CP_ERR_TIMEOUT : CP_ERR_IO;
		if (PQconsumeInput(c) == 0)
			return CP_ERR_IO;
	}
	*res = PQgetResult(c);
	return CP_OK;
}

/* Sends what libpq has queued and collects the statement's results by
 * CP_PG_DEADLINE_MS: *out gets the first failed result, else the last
 * one (a script runs several statements).  CP_OK with *out set, or
 * CP_ERR_STORE, logged, when the connection broke or was too slow. */
static enum cp_status
await_result(struct cp_pg *p, const char *what, PGresult **out)
{
	int64_t deadline = now_ms() + CP_PG_DEADLINE_MS;
	PGresult *res, *keep = NULL;
	enum cp_status rc = CP_OK;
	int f, r;

	*out = NULL;
	while ((f = PQflush(p->conn)) != 0) {
		if (f < 0) {
			rc = CP_ERR_IO;
			goto out;
		}
		if ((r = wait_socket(p->conn, POLLIN | POLLOUT, deadline)) <= 0) {
			rc = r == 0 ? CP_ERR_TIMEOUT : CP_ERR_IO;
			goto out;
		}
		if (PQconsumeInput(p->conn) == 0) {
			rc = CP_ERR_IO;
			goto out;
		}
	}
	while ((rc = next_result(p->conn, deadline, &res)) == CP_OK && res != NULL) {
		if (keep == NULL || PQresultStatus(keep) == PGRES_COMMAND_OK ||
		    PQresultStatus(keep) == PGRES_TUPLES_OK) {
			PQclear(keep);
			keep = res;
		} else {
			PQclear(res);
		}
	}
out:
	if (rc == CP_ERR_TIMEOUT)
		cp_log(CP_LOG_ERROR, "store: postgresql %s failed: no answer within %d ms; "
		    "dropping the connection", what, CP_PG_DEADLINE_MS);
	else if (rc != CP_OK || keep == NULL)
		log_failure(what, NULL, p->conn);
	if (rc != CP_OK || keep == NULL) {
		PQclear(keep);
		return CP_ERR_STORE;
	}
	*out = keep;
	return CP_OK;
}

/* Opens p->conn with the defaults of store_pg.h under the conninfo,
 * whose own settings win (libpq keeps the last value of a keyword, and
 * the conninfo, given as dbname with expand_dbname, comes last). */
static enum cp_status
connect_db(struct cp_pg *p)
{
	static const char *const keys[] = {
		"connect_timeout", "options", "application_name", "dbname", NULL
	};
	const char *values[] = {
		CP_PG_CONNECT_TIMEOUT_S, "-c statement_timeout=" CP_PG_STATEMENT_TIMEOUT_MS,
		"cimd-proxy", p->conninfo, NULL
	};
	const char *msg;

	p->conn = PQconnectdbParams(keys, values, 1);
	if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		msg = p->conn ? PQerrorMessage(p->conn) : "out of memory";
		cp_log(CP_LOG_ERROR, "store: cannot connect to PostgreSQL: %.*s", trimmed(msg), msg);
		drop(p);
		return CP_ERR_STORE;
	}
	/* Sending never blocks either: await_result() flushes by the deadline. */
	if (PQsetnonblocking(p->conn, 1) != 0) {
		log_failure("connect", NULL, p->conn);
		drop(p);
		return CP_ERR_STORE;
	}
	return CP_OK;
}

/* Runs statement s with a's parameters: connects and prepares first when
 * this connection has not yet.  *out gets the result (the caller clears
 * it).  CP_ERR_STORE, logged, on any failure, after which the connection
 * is dropped so the next operation starts on a fresh one. */
static enum cp_status
run(struct cp_pg *p, enum stmt s, const char *what, struct args *a, PGresult **out)
{
	const struct statement *st = &statements[s];
	PGresult *res = NULL;
	ExecStatusType es;
	enum cp_status rc = CP_ERR_STORE;

	*out = NULL;
	if (a->n != st->nparams)
		return CP_ERR_INTERNAL;
	if (p->pid != getpid()) {
		cp_log(CP_LOG_ERROR, "store: a handle opened before fork() was used in the child");
		return CP_ERR_STORE;
	}
	pthread_mutex_lock(&p->lock);
	if (p->conn == NULL && connect_db(p) != CP_OK)
		goto out;
	if (!(p->prepared & (1u << s))) {
		if (!PQsendPrepare(p->conn, st->name, st->sql, st->nparams, st->types)) {
			log_failure(what, NULL, p->conn);
			goto out;
		}
		if (await_result(p, what, &res) != CP_OK)
			goto out;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			log_failure(what, res, p->conn);
			goto out;
		}
		PQclear(res);
		res = NULL;
		p->prepared |= 1u << s;
	}
	if (!PQsendQueryPrepared(p->conn, st->name, a->n, a->values, a->lengths, a->formats, 1)) {
		log_failure(what, NULL, p->conn);
		goto out;
	}
	if (await_result(p, what, &res) != CP_OK)
		goto out;
	es = PQresultStatus(res);
	if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
		log_failure(what, res, p->conn);
		goto out;
	}
	*out = res;
	res = NULL;
	rc = CP_OK;
out:
	PQclear(res);
	if (rc != CP_OK)
		drop(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Reads a binary int8 (or, with width 1, bool) cell; false when it is
 * not one, which means the table is not the one this code expects. */
static bool
cell_int(const PGresult *r, int row, int col, int width, int64_t *v)
{
	const uint8_t *b;
	uint64_t u = 0;
	int i;

	if (PQnfields(r) <= col || PQgetisnull(r, row, col) || PQgetlength(r, row, col) != width)
		return false;
	b = (const uint8_t *)PQgetvalue(r, row, col);
	for (i = 0; i < width; i++)
		u = (u << 8) | b[i];
	*v = (int64_t)u;
	return true;
}

/* Copies the value cell into out and wipes it in the result. */
static enum cp_status
cell_value(PGresult *r, int col, struct cp_buf *out)
{
	enum cp_status rc;
	char *v;
	int len;

	if (PQnfields(r) <= col || PQgetisnull(r, 0, col)) {
		cp_log(CP_LOG_ERROR, "store: postgresql: a row without its value: is the schema "
		    "sql/cimd-proxy.sql?");
		return CP_ERR_STORE;
	}
	v = PQgetvalue(r, 0, col);
	len = PQgetlength(r, 0, col);
	rc = cp_buf_add(out, v, (size_t)len);
	explicit_bzero(v, (size_t)len);
	return rc;
}

static enum cp_status
bad_row(PGresult *r)
{
	PQclear(r);
	cp_log(CP_LOG_ERROR, "store: postgresql: an answer of an unexpected shape: is the schema "
	    "sql/cimd-proxy.sql?");
	return CP_ERR_STORE;
}

static enum cp_status
purge_batch(struct cp_pg *p, time_t now, int64_t batch, size_t *purged)
{
	struct args a;
	PGresult *r;
	enum cp_status rc;
	char *end;
	unsigned long n;

	*purged = 0;
	memset(&a, 0, sizeof(a));
	add_int(&a, (uint64_t)(now < 0 ? 0 : now), 8);
	add_int(&a, (uint64_t)batch, 8);
	if ((rc = run(p, S_PURGE, "purge", &a, &r)) != CP_OK)
		return rc;
	n = strtoul(PQcmdTuples(r), &end, 10);
	PQclear(r);
	*purged = (size_t)n;
	return CP_OK;
}

/* Purge as you go: every CP_PG_PURGE_EVERY writes of this process (the
 * count starts at a random point, so one-request CGI processes take
 * their turn too) remove one bounded batch, an index range scan that
 * never walks the live rows.  A failure is logged by run() and does not
 * fail the write that triggered it. */
static void
after_write(struct cp_pg *p)
{
	size_t n;

	if (++p->writes % CP_PG_PURGE_EVERY != 0)
		return;
	if (purge_batch(p, time(NULL), CP_PG_PURGE_BATCH, &n) == CP_OK && n)
		cp_log(CP_LOG_DEBUG, "store: purged %zu expired records", n);
}

enum cp_status
cp_pg_open(const char *conninfo, struct cp_pg **out)
{
	struct cp_pg *p = NULL;
	PQconninfoOption *opts;
	char *err = NULL;
	enum cp_status rc = CP_ERR_CONFIG;

	*out = NULL;
	/* Its error quotes the text it could not parse, which may be the
	 * password: say where to look instead. */
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		cp_log(CP_LOG_ERROR, "store: the postgresql: conninfo cannot be parsed (its text "
		    "is not logged, as it may hold a password): check the store key");
		PQfreemem(err);
		goto out;
	}
	PQconninfoFree(opts);
	rc = CP_ERR_NOMEM;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	if ((p->conninfo = strdup(conninfo)) == NULL) {
		free(p);
		p = NULL;
		goto out;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->pid = getpid();
	p->writes = ((uint32_t)p->pid * 2654435761u ^ (uint32_t)time(NULL)) % CP_PG_PURGE_EVERY;
	*out = p;
	rc = CP_OK;
out:
	return rc;
}

void
cp_pg_close(struct cp_pg *p)
{
	int fd;

	if (p == NULL)
		return;
	/* In a child of the process that connected, the socket is the
	 * parent's session too: PQfinish's goodbye would end it.  Send that
	 * to /dev/null instead, then free. */
	if (p->conn && p->pid != getpid() && (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		if (PQsocket(p->conn) >= 0)
			dup2(fd, PQsocket(p->conn));
		close(fd);
	}
	drop(p);
	pthread_mutex_destroy(&p->lock);
	explicit_bzero(p->conninfo, strlen(p->conninfo));
	free(p->conninfo);
	free(p);
}

enum cp_status
cp_pg_put(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	struct args a;
	PGresult *r;
	enum cp_status rc;

	args_key(&a, ns, key, klen);
	add_bytes(&a, value, vlen);
	add_int(&a, (uint64_t)expires, 8);
	if ((rc = run(p, S_PUT, "put", &a, &r)) != CP_OK)
		return rc;
	PQclear(r);
	after_write(p);
	return CP_OK;
}

enum cp_status
cp_pg_get(struct cp_pg *p, int ns, const void *key, size_t klen,
    struct cp_buf *value, time_t *expires)
{
	struct args a;
	PGresult *r;
	int64_t exp;
	enum cp_status rc;

	args_key(&a, ns, key, klen);
	add_int(&a, (uint64_t)time(NULL), 8);
	if ((rc = run(p, S_GET, "get", &a, &r)) != CP_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return CP_ERR_NOT_FOUND;
	}
	if (PQntuples(r) != 1 || !cell_int(r, 0, 1, 8, &exp))
		return bad_row(r);
	rc = cell_value(r, 0, value);
	if (rc == CP_OK && expires)
		*expires = (time_t)exp;
	PQclear(r);
	return rc;
}

enum cp_status
cp_pg_take(struct cp_pg *p, int ns, const void *key, size_t klen, struct cp_buf *value)
{
	struct args a;
	PGresult *r;
	int64_t exp;
	enum cp_status rc;
	time_t now = time(NULL);

	args_key(&a, ns, key, klen);
	if ((rc = run(p, S_TAKE, "take", &a, &r)) != CP_OK)
		return rc;
	if (PQntuples(r) == 0) {
		rc = CP_ERR_NOT_FOUND;
	} else if (PQntuples(r) != 1 || !cell_int(r, 0, 1, 8, &exp)) {
		return bad_row(r);
	} else if (exp <= (int64_t)now) {
		rc = CP_ERR_NOT_FOUND;
		explicit_bzero(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	} else {
		rc = cell_value(r, 0, value);
	}
	PQclear(r);
	after_write(p);
	return rc;
}

enum cp_status
cp_pg_swap(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *old_value, size_t old_len, const void *new_value, size_t new_len,
    time_t expires)
{
	struct args a;
	PGresult *r;
	int64_t swapped, live;
	enum cp_status rc;

	args_key(&a, ns, key, klen);
	add_int(&a, (uint64_t)time(NULL), 8);
	add_bytes(&a, old_value, old_len);
	add_bytes(&a, new_value, new_len);
	add_int(&a, (uint64_t)expires, 8);
	if ((rc = run(p, S_SWAP, "swap", &a, &r)) != CP_OK)
		return rc;
	if (PQntuples(r) != 1 || !cell_int(r, 0, 0, 1, &swapped) || !cell_int(r, 0, 1, 1, &live))
		return bad_row(r);
	PQclear(r);
	if (swapped) {
		after_write(p);
		return CP_OK;
	}
	return live ? CP_ERR_REPLAY : CP_ERR_NOT_FOUND;
}

enum cp_status
cp_pg_add(struct cp_pg *p, int ns, const void *key, size_t klen,
    const void *value, size_t vlen, time_t expires)
{
	struct args a;
	PGresult *r;
	enum cp_status rc;

	args_key(&a, ns, key, klen);
	add_int(&a, (uint64_t)time(NULL), 8);
	add_bytes(&a, value, vlen);
	add_int(&a, (uint64_t)expires, 8);
	if ((rc = run(p, S_ADD, "add", &a, &r)) != CP_OK)
		return rc;
	rc = PQntuples(r) == 1 ? CP_OK : CP_ERR_REPLAY;
	PQclear(r);
	if (rc == CP_OK)
		after_write(p);
	return rc;
}

enum cp_status
cp_pg_del(struct cp_pg *p, int ns, const void *key, size_t klen)
{
	struct args a;
	PGresult *r;
	int64_t exp;
	enum cp_status rc;
	time_t now = time(NULL);

	args_key(&a, ns, key, klen);
	if ((rc = run(p, S_DEL, "del", &a, &r)) != CP_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = CP_ERR_NOT_FOUND;
	else if (PQntuples(r) != 1 || !cell_int(r, 0, 0, 8, &exp))
		return bad_row(r);
	else
		rc = exp <= (int64_t)now ? CP_ERR_NOT_FOUND : CP_OK;
	PQclear(r);
	return rc;
}

enum cp_status
cp_pg_purge(struct cp_pg *p, time_t now, size_t *purged)
{
	size_t total = 0, n;
	enum cp_status rc;

	/* In batches, so no statement holds more than a batch of row locks
	 * and live traffic interleaves with a large purge. */
	do {
		if ((rc = purge_batch(p, now, CP_PG_ADMIN_BATCH, &n)) != CP_OK)
			break;
		total += n;
	} while (n == CP_PG_ADMIN_BATCH);
	if (purged)
		*purged = total;
	return rc;
}

enum cp_status
cp_pg_apply_schema(struct cp_pg *p, const char *sql)
{
	PGresult *res = NULL;
	enum cp_status rc = CP_ERR_STORE;

	if (p->pid != getpid())
		return CP_ERR_STORE;
	pthread_mutex_lock(&p->lock);
	if (p->conn == NULL && connect_db(p) != CP_OK)
		goto out;
	/* Several statements in one simple query run as one transaction. */
	if (!PQsendQuery(p->conn, sql)) {
		log_failure("schema", NULL, p->conn);
		goto out;
	}
	if (await_result(p, "schema", &res) != CP_OK)
		goto out;
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_failure("schema", res, p->conn);
		goto out;
	}
	rc = CP_OK;
out:
	PQclear(res);
	drop(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

enum cp_status
cp_pg_check(struct cp_pg *p)
{
	static const char *const right[] = { "SELECT", "INSERT", "UPDATE", "DELETE" };
	PGresult *res = NULL;
	struct cp_buf probe;
	const char *role;
	int64_t v[7];
	enum cp_status rc = CP_ERR_STORE;
	int i, missing = 0;

	if (p->pid != getpid())
		return CP_ERR_STORE;
	pthread_mutex_lock(&p->lock);
	if (p->conn == NULL && connect_db(p) != CP_OK)
		goto unlock;
	if (!PQsendQueryParams(p->conn, CHECK_SQL, 0, NULL, NULL, NULL, NULL, 1)) {
		log_failure("check", NULL, p->conn);
		goto unlock;
	}
	if (await_result(p, "check", &res) != CP_OK)
		goto unlock;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_failure("check", res, p->conn);
		goto unlock;
	}
	for (i = 0; i < 7; i++)
		if (PQntuples(res) != 1 || !cell_int(res, 0, i, 1, &v[i])) {
			cp_log(CP_LOG_ERROR, "store: postgresql check: an answer of an unexpected shape");
			goto unlock;
		}
	role = PQgetvalue(res, 0, 7);
	if (!v[0] || !v[1]) {
		cp_log(CP_LOG_ERROR, "store: postgresql: %s: apply the schema with "
		    "cimd-proxy-admin init-store (sql/cimd-proxy.sql)",
		    !v[0] ? "no table cimd_records" : "table cimd_records lacks columns");
		goto unlock;
	}
	for (i = 0; i < 4; i++)
		if (!v[2 + i]) {
			cp_log(CP_LOG_ERROR, "store: postgresql: role %s may not %s cimd_records: "
			    "GRANT SELECT, INSERT, UPDATE, DELETE ON cimd_records TO %s", role,
			    right[i], role);
			missing++;
		}
	if (!v[6]) {
		cp_log(CP_LOG_ERROR, "store: postgresql: the server is read-only (a standby?): "
		    "connect to the primary, e.g. target_session_attrs=read-write");
		missing++;
	}
	if (missing == 0)
		rc = CP_OK;
unlock:
	PQclear(res);
	if (rc != CP_OK)
		drop(p);
	pthread_mutex_unlock(&p->lock);
	if (rc != CP_OK)
		return rc;
	/* The statements themselves, prepared against the table. */
	cp_buf_init(&probe, 16);
	rc = cp_pg_get(p, 1, "\0check-config", 13, &probe, NULL);
	cp_buf_free(&probe);
	return rc == CP_ERR_NOT_FOUND || rc == CP_OK ? CP_OK : CP_ERR_STORE;
}

enum cp_status
cp_pg_walk(struct cp_pg *p, int ns, time_t now, size_t *n, struct cp_buf *out)
{
	struct args a;
	PGresult *r;
	int64_t v;
	int i;
	enum cp_status rc;

	*n = 0;
	memset(&a, 0, sizeof(a));
	add_int(&a, (uint64_t)ns, 2);
	add_int(&a, (uint64_t)(now < 0 ? 0 : now), 8);
	if ((rc = run(p, out ? S_NS_SCAN : S_NS_COUNT, "walk", &a, &r)) != CP_OK)
		return rc;
	if (out == NULL) {
		if (PQntuples(r) != 1 || !cell_int(r, 0, 0, 8, &v))
			return bad_row(r);
		*n = (size_t)v;
		PQclear(r);
		return CP_OK;
	}
	for (i = 0; i < PQntuples(r) && rc == CP_OK; i++) {
		if (PQnfields(r) != 3 || PQgetisnull(r, i, 0) || PQgetisnull(r, i, 1) ||
		    !cell_int(r, i, 2, 8, &v))
			return bad_row(r);
		rc = cp_store_rec_add(out, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0),
		    PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), (time_t)v);
		explicit_bzero(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
		(*n)++;
	}
	PQclear(r);
	return rc;
}
