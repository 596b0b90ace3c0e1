#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <db.h>
#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#include "store_pg.h"
#endif

#include "client_auth.h"
#include "jwt.h"
#include "store.h"
#include "../tap.h"

#define RACERS      8
#define RACE_ONCE   40      /* once-only keys every racer tries */
#define RACE_TAKE   40      /* records every racer tries to take */
#define RACE_ADD    40      /* keys every racer tries to add */
#define PURGE_AHEAD 30      /* admin purge case: seconds of earlier records cleared */
#define CHILD_ALARM 120     /* seconds before a stuck child is killed (valgrind on a busy 2-core machine is slow) */

static char tmp[] = "/tmp/cimd-store-XXXXXX";

/*
 * The store contract is a table of cases (contract[] below) that every
 * backend passes unchanged: Berkeley DB always, PostgreSQL when this build
 * has libpq and a PostgreSQL is at hand (tests/pg.sh starts a throwaway
 * one; CIMD_TEST_PG names a running one instead, as "host=... port=...
 * dbname=..."; the role is added here).  Cases about one backend's own
 * machinery or faults follow the table.
 */
struct backend {
	const char *name;
	enum cp_store_kind kind;
	char where[512];        /* Berkeley DB directory, or conninfo */
};

static void
path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmp, name);
}

static struct cp_store *
open_at(enum cp_store_kind kind, const char *where, enum cp_status *rcp)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	enum cp_status rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = kind;
	cfg.store_path = (char *)where;
	rc = cp_store_open(&cfg, &st);
	if (rcp)
		*rcp = rc;
	return st;
}

static struct cp_store *
open_store(const struct backend *be, enum cp_status *rcp)
{
	return open_at(be->kind, be->where, rcp);
}

static struct cp_store *
open_dir(const char *dir, enum cp_status *rcp)
{
	return open_at(CP_STORE_BDB, dir, rcp);
}

/* Collects what the store logs (stderr) between the two calls. */
static int saved_stderr = -1;

static void
capture_begin(void)
{
	char path[300];
	int fd;

	path_in(path, sizeof(path), "stderr.log");
	fflush(stderr);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static const char *
capture_end(void)
{
	static char text[8192];
	char path[300];
	ssize_t n = 0;
	int fd;

	text[0] = '\0';
	if (saved_stderr < 0)
		return text;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	path_in(path, sizeof(path), "stderr.log");
	if ((fd = open(path, O_RDONLY)) >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	text[n > 0 ? n : 0] = '\0';
	return text;
}

static double
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

/* get key as a C string ("" when not found). */
static const char *
get_str(struct cp_store *st, enum cp_store_ns ns, const char *key, enum cp_status *rcp)
{
	static char out[256];
	struct cp_buf b;

	cp_buf_init(&b, sizeof(out) - 1);
	*rcp = cp_store_get(st, ns, key, strlen(key), &b, NULL);
	snprintf(out, sizeof(out), "%s", cp_buf_cstr(&b));
	cp_buf_free(&b);
	return out;
}

static void
test_basics(struct cp_store *st)
{
	time_t now = time(NULL), exp = 0;
	struct cp_buf b;
	enum cp_status rc;

	is_int(cp_store_put(st, CP_NS_CIMD, "k", 1, "v1", 2, now + 60), CP_OK, "put");
	is_str(get_str(st, CP_NS_CIMD, "k", &rc), "v1", "get returns the value");
	is_int(rc, CP_OK, "  status ok");
	cp_buf_init(&b, 16);
	cp_store_get(st, CP_NS_CIMD, "k", 1, &b, &exp);
	is_int(exp, now + 60, "get returns the expiry");
	cp_buf_free(&b);
	is_int(cp_store_put(st, CP_NS_CIMD, "k", 1, "v2", 2, now + 60), CP_OK, "put replaces");
	is_str(get_str(st, CP_NS_CIMD, "k", &rc), "v2", "  with the new value");
	get_str(st, CP_NS_CIMD_GOOD, "k", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "namespaces are separate");
	is_int(cp_store_put(st, CP_NS_CIMD, "e", 1, "", 0, 0), CP_OK, "put an empty, long-expired value");
	get_str(st, CP_NS_CIMD, "e", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "expired reads as absent");
	cp_store_put(st, CP_NS_CIMD, "e", 1, "x", 1, now);
	get_str(st, CP_NS_CIMD, "e", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "expired at exactly its expiry");

	/* take */
	cp_store_put(st, CP_NS_SBTX, "t", 1, "verifier", 8, now + 60);
	cp_buf_init(&b, 64);
	is_int(cp_store_take(st, CP_NS_SBTX, "t", 1, &b), CP_OK, "take");
	is_str(cp_buf_cstr(&b), "verifier", "  returns the value");
	cp_buf_reset(&b);
	is_int(cp_store_take(st, CP_NS_SBTX, "t", 1, &b), CP_ERR_NOT_FOUND, "  and removes it");
	ok(b.len == 0, "  a failed take appends nothing");
	cp_store_put(st, CP_NS_SBTX, "t", 1, "old", 3, now - 1);
	is_int(cp_store_take(st, CP_NS_SBTX, "t", 1, &b), CP_ERR_NOT_FOUND, "take of an expired record");
	cp_buf_free(&b);

	/* swap */
	cp_store_put(st, CP_NS_BINDING, "s", 1, "fresh", 5, now + 60);
	is_int(cp_store_swap(st, CP_NS_BINDING, "s", 1, "used", 4, "used", 4, now + 60),
	    CP_ERR_REPLAY, "swap with a different old value");
	is_str(get_str(st, CP_NS_BINDING, "s", &rc), "fresh", "  leaves the value");
	is_int(cp_store_swap(st, CP_NS_BINDING, "s", 1, "fresh", 5, "used", 4, now + 30),
	    CP_OK, "swap with the current value");
	is_str(get_str(st, CP_NS_BINDING, "s", &rc), "used", "  replaces it");
	is_int(cp_store_swap(st, CP_NS_BINDING, "s", 1, "fresh", 5, "used", 4, now + 30),
	    CP_ERR_REPLAY, "a second swap loses");
	is_int(cp_store_swap(st, CP_NS_BINDING, "nope", 4, "a", 1, "b", 1, now + 30),
	    CP_ERR_NOT_FOUND, "swap of an absent key");
	cp_store_put(st, CP_NS_BINDING, "s", 1, "fresh", 5, now - 1);
	is_int(cp_store_swap(st, CP_NS_BINDING, "s", 1, "fresh", 5, "used", 4, now + 30),
	    CP_ERR_NOT_FOUND, "swap of an expired key");

	/* once */
	is_int(cp_store_once(st, "state-1", 7, now + 60), CP_OK, "once: first use");
	is_int(cp_store_once(st, "state-1", 7, now + 60), CP_ERR_REPLAY, "once: second use is a replay");
	is_int(cp_store_once(st, "state-2", 7, now + 60), CP_OK, "once: another key");
	cp_store_once(st, "state-3", 7, now - 1);
	is_int(cp_store_once(st, "state-3", 7, now + 60), CP_OK, "once: an expired mark is free again");

	/* add: insert when absent, never over a live record */
	is_int(cp_store_add(st, CP_NS_BINDING, "a", 1, "first", 5, now + 60), CP_OK,
	    "add: an absent key");
	is_str(get_str(st, CP_NS_BINDING, "a", &rc), "first", "  stores the value");
	is_int(cp_store_add(st, CP_NS_BINDING, "a", 1, "second", 6, now + 600), CP_ERR_REPLAY,
	    "add over a live record is a replay");
	is_str(get_str(st, CP_NS_BINDING, "a", &rc), "first", "  and leaves its value");
	cp_buf_init(&b, 16);
	cp_store_get(st, CP_NS_BINDING, "a", 1, &b, &exp);
	is_int(exp, now + 60, "  and its expiry");
	cp_buf_free(&b);
	cp_store_put(st, CP_NS_BINDING, "a", 1, "old", 3, now);
	is_int(cp_store_add(st, CP_NS_BINDING, "a", 1, "new", 3, now + 60), CP_OK,
	    "add over an expired record");
	is_str(get_str(st, CP_NS_BINDING, "a", &rc), "new", "  replaces it");
	get_str(st, CP_NS_CONSENT, "a", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "add keeps to its namespace");
	is_int(cp_store_add(st, CP_NS_CONSENT, "a", 1, "c", 1, now + 60), CP_OK,
	    "  the same key in another namespace is absent there");

	/* del */
	cp_store_put(st, CP_NS_CONSENT, "d", 1, "x", 1, now + 60);
	is_int(cp_store_del(st, CP_NS_CONSENT, "d", 1), CP_OK, "del");
	get_str(st, CP_NS_CONSENT, "d", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "  removes it");
	is_int(cp_store_del(st, CP_NS_CONSENT, "d", 1), CP_ERR_NOT_FOUND, "del of an absent key");

	/* Binary keys and values, NULs included. */
	is_int(cp_store_put(st, CP_NS_RATE, "a\0b", 3, "\0\1\2", 3, now + 60), CP_OK, "binary put");
	get_str(st, CP_NS_RATE, "a", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "  a key is all its bytes");
	cp_buf_init(&b, 16);
	cp_store_get(st, CP_NS_RATE, "a\0b", 3, &b, NULL);
	ok(b.len == 3 && memcmp(b.data, "\0\1\2", 3) == 0, "  binary value round trip");
	cp_buf_free(&b);
}

static void
test_purge(struct cp_store *st)
{
	time_t now = time(NULL);
	size_t n = 99, i;
	char key[32];
	enum cp_status rc;

	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "soon-%zu", i);
		cp_store_put(st, CP_NS_CIMD, key, strlen(key), "x", 1, now + 100);
	}
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "later-%zu", i);
		cp_store_put(st, CP_NS_CIMD, key, strlen(key), "y", 1, now + 100000);
	}
	is_int(cp_store_purge(st, now + 200, &n), CP_OK, "purge");
	ok(n >= 5, "  counts what it purged (%zu)", n);
	get_str(st, CP_NS_CIMD, "later-1", &rc);
	is_int(rc, CP_OK, "  keeps live records");
	get_str(st, CP_NS_CIMD, "soon-1", &rc);
	is_int(rc, CP_ERR_NOT_FOUND, "  removed expired ones");
	cp_store_purge(st, now + 200, &n);
	is_int(n, 0, "a second purge finds nothing");

	/* Purge as you go: after enough writes, expired records disappear
	 * without an explicit purge. */
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "dead-%zu", i);
		cp_store_put(st, CP_NS_RATE, key, strlen(key), "z", 1, now - 10);
	}
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "live-%zu", i);
		cp_store_put(st, CP_NS_RATE, key, strlen(key), "z", 1, now + 100000);
	}
	cp_store_purge(st, now, &n);
	ok(n <= 200 - 3 * 64, "writes purge as they go (%zu of 200 left for the explicit purge)", n);
}

static void
test_limits(struct cp_store *st)
{
	time_t exp = time(NULL) + 60;
	char *big = calloc(1, CP_STORE_MAX_VALUE + 1);
	struct cp_buf b;

	is_int(cp_store_put(st, CP_NS_CIMD, big, CP_STORE_MAX_KEY, "v", 1, exp), CP_OK,
	    "key at the limit");
	is_int(cp_store_put(st, CP_NS_CIMD, big, CP_STORE_MAX_KEY + 1, "v", 1, exp), CP_ERR_LIMIT,
	    "key over the limit");
	is_int(cp_store_put(st, CP_NS_CIMD, "big", 3, big, CP_STORE_MAX_VALUE, exp), CP_OK,
	    "value at the limit");
	cp_buf_init(&b, CP_STORE_MAX_VALUE);
	is_int(cp_store_get(st, CP_NS_CIMD, "big", 3, &b, NULL), CP_OK, "  reads back");
	is_int(b.len, CP_STORE_MAX_VALUE, "  whole");
	cp_buf_free(&b);
	cp_buf_init(&b, 100);
	is_int(cp_store_get(st, CP_NS_CIMD, "big", 3, &b, NULL), CP_ERR_LIMIT,
	    "get honours the caller's buffer cap");
	cp_buf_free(&b);
	is_int(cp_store_put(st, CP_NS_CIMD, "big", 3, big, CP_STORE_MAX_VALUE + 1, exp),
	    CP_ERR_LIMIT, "value over the limit");
	is_int(cp_store_once(st, big, CP_STORE_MAX_KEY + 1, exp), CP_ERR_LIMIT, "once key over the limit");
	is_int(cp_store_add(st, CP_NS_CIMD, "big-add", 7, big, CP_STORE_MAX_VALUE + 1, exp),
	    CP_ERR_LIMIT, "add value over the limit");
	is_int(cp_store_add(st, CP_NS_CIMD, "k", 1, "v", 1, -1), CP_ERR_INVALID, "add with a negative expiry");
	is_int(cp_store_put(st, CP_NS_CIMD, "", 0, "v", 1, exp), CP_ERR_INVALID, "empty key");
	is_int(cp_store_put(st, 0, "k", 1, "v", 1, exp), CP_ERR_INVALID, "namespace 0");
	is_int(cp_store_put(st, CP_NS_COUNT, "k", 1, "v", 1, exp), CP_ERR_INVALID, "namespace past the last");
	is_int(cp_store_put(st, CP_NS_CIMD, "k", 1, "v", 1, -1), CP_ERR_INVALID, "negative expiry");
	is_int(cp_store_put(NULL, CP_NS_CIMD, "k", 1, "v", 1, exp), CP_ERR_INVALID, "no handle");
	free(big);
}

/* Log files are removed as checkpoints pass, so the directory does not
 * grow with traffic. */
static void
bdb_log_growth(const struct backend *be)
{
	struct cp_store *st = open_store(be, NULL);
	const char *dir = be->where;
	char value[2048], key[16];
	time_t exp = time(NULL) + 600;
	size_t i, logs = 0;
	struct dirent *de;
	double t0 = now_ms();
	DIR *d;

	memset(value, 'L', sizeof(value));
	for (i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "g%zu", i % 50);
		if (cp_store_put(st, CP_NS_CIMD, key, strlen(key), value, sizeof(value), exp) != CP_OK)
			break;
	}
	is_int(i, 3000, "3000 writes of 2 KB (%.0f ms)", now_ms() - t0);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "log.", 4) == 0)
				logs++;
		closedir(d);
	}
	ok(logs >= 1 && logs <= 2, "log files are removed as they go (%zu left of ~6 MB written)", logs);
	cp_store_close(st);
}

/* Many processes at once: each once-only key and each taken record has
 * exactly one winner. */
static void
case_race(const struct backend *be)
{
	int go[2], res[RACERS][2], status, i, k, bad_exit = 0;
	pid_t pids[RACERS];
	unsigned char r[RACERS][RACE_ONCE + RACE_TAKE + RACE_ADD + 1];
	struct cp_store *st;
	char key[32], val[32];
	time_t exp = time(NULL) + 600;
	int once_bad = 0, take_bad = 0, add_bad = 0, other = 0, swap_wins = 0;
	double t0;

	st = open_store(be, NULL);
	for (k = 0; k < RACE_TAKE; k++) {
		snprintf(key, sizeof(key), "race-take-%d", k);
		snprintf(val, sizeof(val), "v%d", k);
		cp_store_put(st, CP_NS_SBTX, key, strlen(key), val, strlen(val), exp);
	}
	cp_store_put(st, CP_NS_BINDING, "race-flag", 9, "0", 1, exp);
	cp_store_close(st);

	if (pipe(go) != 0)
		return;
	for (i = 0; i < RACERS; i++) {
		if (pipe(res[i]) != 0)
			return;
		if ((pids[i] = fork()) == 0) {
			unsigned char out[RACE_ONCE + RACE_TAKE + RACE_ADD + 1];
			struct cp_buf b;
			char c;

			alarm(CHILD_ALARM);
			close(go[1]);
			st = open_store(be, NULL);
			if (st == NULL)
				_exit(3);
			/* Everyone starts together when the parent closes the pipe. */
			while (read(go[0], &c, 1) > 0)
				;
			for (k = 0; k < RACE_ONCE; k++) {
				snprintf(key, sizeof(key), "race-once-%d", k);
				out[k] = (unsigned char)cp_store_once(st, key, strlen(key), exp);
			}
			for (k = 0; k < RACE_TAKE; k++) {
				snprintf(key, sizeof(key), "race-take-%d", k);
				snprintf(val, sizeof(val), "v%d", k);
				cp_buf_init(&b, 64);
				out[RACE_ONCE + k] = (unsigned char)cp_store_take(st, CP_NS_SBTX,
				    key, strlen(key), &b);
				if (out[RACE_ONCE + k] == CP_OK && strcmp(cp_buf_cstr(&b), val) != 0)
					out[RACE_ONCE + k] = CP_ERR_INTERNAL;
				cp_buf_free(&b);
			}
			/* Each racer adds its own value: the winner's must stay. */
			for (k = 0; k < RACE_ADD; k++) {
				snprintf(key, sizeof(key), "race-add-%d", k);
				snprintf(val, sizeof(val), "racer-%d", i);
				out[RACE_ONCE + RACE_TAKE + k] = (unsigned char)cp_store_add(st,
				    CP_NS_BINDING, key, strlen(key), val, strlen(val), exp);
			}
			out[RACE_ONCE + RACE_TAKE + RACE_ADD] = (unsigned char)cp_store_swap(st, CP_NS_BINDING,
			    "race-flag", 9, "0", 1, "1", 1, exp);
			cp_store_close(st);
			if (write(res[i][1], out, sizeof(out)) != (ssize_t)sizeof(out))
				_exit(4);
			_exit(0);
		}
		close(res[i][1]);
	}
	t0 = now_ms();
	close(go[0]);
	close(go[1]);
	for (i = 0; i < RACERS; i++) {
		memset(r[i], 0xff, sizeof(r[i]));
		if (read(res[i][0], r[i], sizeof(r[i])) != (ssize_t)sizeof(r[i]))
			bad_exit++;
		close(res[i][0]);
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad_exit++;
	}
	is_int(bad_exit, 0, "%d racing processes finished cleanly (%.0f ms)", RACERS, now_ms() - t0);
	for (k = 0; k < RACE_ONCE; k++) {
		int wins = 0;
		for (i = 0; i < RACERS; i++)
			if (r[i][k] == CP_OK)
				wins++;
			else if (r[i][k] != CP_ERR_REPLAY)
				other++;
		once_bad += wins != 1;
	}
	for (k = 0; k < RACE_TAKE; k++) {
		int wins = 0;
		for (i = 0; i < RACERS; i++)
			if (r[i][RACE_ONCE + k] == CP_OK)
				wins++;
			else if (r[i][RACE_ONCE + k] != CP_ERR_NOT_FOUND)
				other++;
		take_bad += wins != 1;
	}
	st = open_store(be, NULL);
	for (k = 0; k < RACE_ADD; k++) {
		int wins = 0, winner = -1;
		enum cp_status rc;
		for (i = 0; i < RACERS; i++)
			if (r[i][RACE_ONCE + RACE_TAKE + k] == CP_OK) {
				wins++;
				winner = i;
			} else if (r[i][RACE_ONCE + RACE_TAKE + k] != CP_ERR_REPLAY)
				other++;
		snprintf(key, sizeof(key), "race-add-%d", k);
		snprintf(val, sizeof(val), "racer-%d", winner);
		add_bad += wins != 1 || st == NULL ||
		    strcmp(get_str(st, CP_NS_BINDING, key, &rc), val) != 0;
	}
	cp_store_close(st);
	for (i = 0; i < RACERS; i++)
		if (r[i][RACE_ONCE + RACE_TAKE + RACE_ADD] == CP_OK)
			swap_wins++;
		else if (r[i][RACE_ONCE + RACE_TAKE + RACE_ADD] != CP_ERR_REPLAY)
			other++;
	is_int(once_bad, 0, "once: exactly one winner for each of %d keys", RACE_ONCE);
	is_int(take_bad, 0, "take: exactly one taker for each of %d records", RACE_TAKE);
	is_int(add_bad, 0, "add: exactly one adder for each of %d keys, and its value stays", RACE_ADD);
	is_int(swap_wins, 1, "swap: exactly one winner");
	is_int(other, 0, "losers saw only replay / not found (no store errors)");
}

/* A writer that commits in a loop until killed. */
static pid_t
start_writer(const struct backend *be, const char *marker)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		struct cp_store *st;
		char value[512], key[16];
		time_t exp = time(NULL) + 600;
		unsigned i;

		alarm(CHILD_ALARM);
		close(p[0]);
		if ((st = open_store(be, NULL)) == NULL ||
		    cp_store_put(st, CP_NS_CIMD, marker, strlen(marker), "there", 5, exp) != CP_OK)
			_exit(3);
		memset(value, 'w', sizeof(value));
		if (write(p[1], "r", 1) != 1)
			_exit(4);
		for (i = 0;; i++) {
			snprintf(key, sizeof(key), "w%u", i % 200);
			cp_store_put(st, CP_NS_CIMD, key, strlen(key), value, sizeof(value), exp);
			cp_store_once(st, key, strlen(key), exp);
		}
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

/* A process that dies inside a transaction: it writes key (in the
 * backend's layout, namespace byte first) and never commits.  Raw
 * Berkeley DB, because the store API never leaves a transaction open. */
static pid_t
start_lock_holder(const char *dir, const char *key)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		DB_ENV *env;
		DB *db;
		DB_TXN *txn;
		DBT k, d;
		unsigned char kb[64], rec[12] = { 0, 0, 0, 0, 0x7f, 0, 0, 0, 'h', 'e', 'l', 'd' };

		alarm(CHILD_ALARM);
		close(p[0]);
		kb[0] = CP_NS_CIMD;
		memcpy(kb + 1, key, strlen(key));
		memset(&k, 0, sizeof(k));
		memset(&d, 0, sizeof(d));
		k.data = kb;
		k.size = (unsigned)(1 + strlen(key));
		d.data = rec;
		d.size = sizeof(rec);
		if (db_env_create(&env, 0) != 0 ||
		    env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
		    DB_INIT_MPOOL | DB_REGISTER | DB_RECOVER | DB_THREAD, 0600) != 0 ||
		    db_create(&db, env, 0) != 0 ||
		    db->open(db, NULL, "records.db", NULL, DB_BTREE, DB_THREAD | DB_AUTO_COMMIT, 0) != 0 ||
		    env->txn_begin(env, NULL, &txn, 0) != 0 ||
		    db->put(db, txn, &k, &d, 0) != 0)
			_exit(3);
		if (write(p[1], "r", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

static void
kill_writer(pid_t pid)
{
	int status;

	usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Runs the usual operations on a fresh handle in a fresh process. */
static int
fresh_process_works(const struct backend *be, const char *marker)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		struct cp_store *st;
		struct cp_buf b;
		enum cp_status rc;
		time_t exp = time(NULL) + 60;

		alarm(CHILD_ALARM);
		if ((st = open_store(be, NULL)) == NULL)
			_exit(3);
		cp_buf_init(&b, 64);
		rc = cp_store_get(st, CP_NS_CIMD, marker, strlen(marker), &b, NULL);
		if (rc != CP_OK || strcmp(cp_buf_cstr(&b), "there") != 0)
			_exit(4);
		cp_buf_free(&b);
		if (cp_store_put(st, CP_NS_CIMD, "after", 5, "ok", 2, exp) != CP_OK ||
		    cp_store_once(st, marker, strlen(marker), exp) != CP_OK ||
		    cp_store_purge(st, time(NULL), NULL) != CP_OK)
			_exit(5);
		cp_store_close(st);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A long-lived process (as under FastCGI): opens its handle and uses it,
 * then waits for the parent to close *go before using it again.  Runs in
 * a child because a panicked Berkeley DB environment leaves some memory
 * behind when closed, which would fail the parent's leak check. */
static pid_t
start_long_lived(const struct backend *be, const char *marker, const char *want, int *go)
{
	int ready[2], g[2];
	pid_t pid;
	char c = 0;

	*go = -1;
	if (pipe(ready) != 0 || pipe(g) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		struct cp_store *st;
		enum cp_status rc;
		int fail = 0;

		alarm(CHILD_ALARM);
		close(ready[0]);
		close(g[1]);
		if ((st = open_store(be, NULL)) == NULL)
			_exit(3);
		get_str(st, CP_NS_CIMD, "nothing", &rc);
		if (rc != CP_ERR_NOT_FOUND || write(ready[1], "r", 1) != 1)
			_exit(4);
		while (read(g[0], &c, 1) > 0)
			;
		fail |= strcmp(get_str(st, CP_NS_CIMD, marker, &rc), want) != 0;
		fail |= cp_store_put(st, CP_NS_CIMD, "long", 4, "x", 1, time(NULL) + 60) != CP_OK;
		cp_store_once(st, marker, strlen(marker), time(NULL) + 60);
		fail |= cp_store_once(st, marker, strlen(marker), time(NULL) + 60) != CP_ERR_REPLAY;
		cp_store_close(st);
		_exit(fail ? 5 : 0);
	}
	close(ready[1]);
	close(g[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	*go = g[1];
	return pid;
}

static int
finish_long_lived(pid_t pid, int go)
{
	int status;

	close(go);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A writer dies mid-flight; the next process to open works (Berkeley DB
 * recovers, DB_REGISTER; PostgreSQL rolls the dead session back), and so
 * do handles opened before. */
static void
case_killed_writer(const struct backend *be)
{
	pid_t w, l;
	int go;
	double t0;

	l = start_long_lived(be, "marker-1", "there", &go);
	ok(l > 0, "a long-lived process opened the store");
	w = start_writer(be, "marker-1");
	ok(w > 0, "a writer started");
	if (w <= 0 || l <= 0)
		return;
	kill_writer(w);
	t0 = now_ms();
	is_int(fresh_process_works(be, "marker-1"), 0,
	    "after SIGKILL mid-write a fresh process opens, reads what was committed, writes (%.0f ms)",
	    now_ms() - t0);
	t0 = now_ms();
	is_int(finish_long_lived(l, go), 0,
	    "the long-lived process works after that (%.0f ms)", now_ms() - t0);
}

/* Berkeley DB: no new process comes along: the long-lived one meets the
 * locks of a process killed inside a transaction, reopens by itself,
 * recovers (rolling that transaction back) and goes on. */
static void
bdb_killed_lock_holder(const struct backend *be)
{
	const char *dir = be->where;
	pid_t w, l;
	int go;
	double t0;

	l = start_long_lived(be, "marker-2", "", &go);
	w = start_lock_holder(dir, "marker-2");
	ok(w > 0, "a process holds a write lock in an open transaction");
	if (w > 0)
		kill_writer(w);
	t0 = now_ms();
	is_int(finish_long_lived(l, go), 0,
	    "a long-lived process meeting a killed process's locks recovers by itself, "
	    "without its uncommitted write (%.0f ms)", now_ms() - t0);
}

static void
test_bad_stores(void)
{
	char dir[256], file[256];
	enum cp_status rc;
	struct cp_store *st;
	struct cp_config cfg;
	int fd, status;
	pid_t pid;

	/* The store path is a regular file. */
	path_in(file, sizeof(file), "plainfile");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	capture_begin();
	st = open_dir(file, &rc);
	is_int(rc, CP_ERR_STORE, "store path that is a file: store error");
	ok(st == NULL, "  no handle");
	ok(strstr(capture_end(), "is not a directory") != NULL, "  the log says why");

	/* Parent directory missing. */
	path_in(dir, sizeof(dir), "no/such/dir");
	open_dir(dir, &rc);
	is_int(rc, CP_ERR_STORE, "missing parent directory: store error");

	/* Garbage database files. */
	path_in(dir, sizeof(dir), "corrupt");
	mkdir(dir, 0700);
	path_in(file, sizeof(file), "corrupt/records.db");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	{
		char junk[8192];
		size_t i;
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (char)(i * 131 + 7);
		if (write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
			ok(0, "write junk");
	}
	close(fd);
	st = open_dir(dir, &rc);
	is_int(rc, CP_ERR_STORE, "corrupt database file: store error, no crash");
	cp_store_close(st);

	/* A directory this user cannot write: as root, drop to nobody. */
	path_in(dir, sizeof(dir), "rodir");
	mkdir(dir, 0555);
	chmod(dir, 0555);
	chmod(tmp, 0755);
	if ((pid = fork()) == 0) {
		char sub[300];
		int fail = 0;

		alarm(CHILD_ALARM);
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(9);
		snprintf(sub, sizeof(sub), "%s/store", dir);
		open_dir(sub, &rc);
		fail |= (rc != CP_ERR_STORE) << 0;
		/* The main test store, owned by root with mode 0700/0600. */
		path_in(sub, sizeof(sub), "main");
		open_dir(sub, &rc);
		fail |= (getuid() != 0 && rc != CP_ERR_STORE) << 1;
		_exit(fail);
	}
	waitpid(pid, &status, 0);
	chmod(tmp, 0700);
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) & 1 : -1, 0,
	    "unwritable directory: store error");
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) & 2 : -1, 0,
	    "another user's store: store error");

#ifndef HAVE_LIBPQ
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_POSTGRESQL;
	cfg.store_path = (char *)"host=db dbname=cimd";
	st = NULL;
	is_int(cp_store_open(&cfg, &st), CP_ERR_CONFIG, "postgresql: not in this build: config error");
	ok(st == NULL, "  no handle");
#else
	(void)cfg;
#endif
}

/* A handle used across fork() answers a store error, and the parent's
 * handle keeps working; a PostgreSQL child also closes its copy, which
 * must not end the parent's session on the shared socket.  (A Berkeley
 * DB handle cannot be freed in a child: its close there frees only the
 * wrapper, which valgrind would call a leak.) */
static void
case_fork_misuse(const struct backend *be)
{
	struct cp_store *st = open_store(be, NULL);
	enum cp_status rc;
	int status;
	pid_t pid;

	cp_store_put(st, CP_NS_CIMD, "forked", 6, "p", 1, time(NULL) + 3600);
	if ((pid = fork()) == 0) {
		alarm(CHILD_ALARM);
		get_str(st, CP_NS_CIMD, "forked", &rc);
		if (be->kind == CP_STORE_POSTGRESQL)
			cp_store_close(st);
		_exit(rc == CP_ERR_STORE ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a handle used across fork() answers a store error");
	is_str(get_str(st, CP_NS_CIMD, "forked", &rc), "p",
	    "  and the parent's handle still works after that");
	cp_store_close(st);
}

/* cimd-proxy-admin purge on a real store. */
static void
case_admin_purge(const struct backend *be)
{
	const char *scheme = be->kind == CP_STORE_BDB ? "bdb" : "postgresql";
	const char *top = getenv("top_builddir");
	char conf[256], cmd[1024], line[256] = "";
	struct cp_store *st;
	time_t t0;
	FILE *f;
	int i, status;

	if (top == NULL) {
		printf("ok %d - # SKIP top_builddir not set: admin purge\n", ++tap_n);
		return;
	}
	path_in(conf, sizeof(conf), "admin.conf");
	if ((f = fopen(conf, "w")) == NULL)
		return;
	fprintf(f, "public_url = https://mcp.example.com\n"
	    "idp_issuer = https://example.okta.com/oauth2/default\n"
	    "idp_client_id = 0oa1abc\n"
	    "idp_audience = api://default\n"
	    "gateway_url = https://gw.example.com/mcp\n"
	    "key_file = /etc/cimd-proxy/keys\n"
	    "agentcore_region = us-east-1\n"
	    "store = %s:%s\n", scheme, be->where);
	fclose(f);

	st = open_store(be, NULL);
	/* Earlier cases' records that would expire while this one waits are
	 * purged now (as of PURGE_AHEAD seconds from now), so the count
	 * below is this case's records alone.  Start on a fresh second so
	 * the short-lived records cannot expire (and be purged as the store
	 * goes) before all are written. */
	cp_store_purge(st, time(NULL) + PURGE_AHEAD, NULL);
	t0 = time(NULL);
	while (time(NULL) == t0)
		usleep(10000);
	t0 = time(NULL);
	for (i = 0; i < 3; i++)
		cp_store_once(st, (char[]){ 'a', (char)('0' + i) }, 2, t0 + 1);
	for (i = 0; i < 2; i++)
		cp_store_once(st, (char[]){ 'b', (char)('0' + i) }, 2, t0 + 3600);
	cp_store_close(st);
	while (time(NULL) <= t0 + 1)
		usleep(20000);

	snprintf(cmd, sizeof(cmd), "CIMD_PROXY_CONF='%s' '%s/tools/cimd-proxy-admin' purge", conf, top);
	if ((f = popen(cmd, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	status = pclose(f);
	is_int(status, 0, "cimd-proxy-admin purge exits 0");
	is_str(line, "purged 3 expired records\n", "  and prints the count");
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		pclose(f);
	}
	is_str(line, "purged 0 expired records\n", "a second purge finds none");

	/* A store that cannot be opened: a file where the directory should
	 * be, or a PostgreSQL socket directory that does not exist. */
	path_in(conf, sizeof(conf), "plainfile");
	if ((f = fopen(conf, "a")) != NULL)
		fclose(f);
	path_in(conf, sizeof(conf), "admin2.conf");
	if ((f = fopen(conf, "w")) == NULL)
		return;
	fprintf(f, "public_url = https://mcp.example.com\n"
	    "idp_issuer = https://example.okta.com/oauth2/default\n"
	    "idp_client_id = 0oa1abc\n"
	    "idp_audience = api://default\n"
	    "gateway_url = https://gw.example.com/mcp\n"
	    "key_file = /etc/cimd-proxy/keys\n"
	    "agentcore_region = us-east-1\n"
	    "store = %s:%s%s\n", scheme, be->kind == CP_STORE_BDB ? tmp : "host=",
	    be->kind == CP_STORE_BDB ? "/plainfile" : "/nonexistent dbname=cimd");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "CIMD_PROXY_CONF='%s' '%s/tools/cimd-proxy-admin' purge 2>/dev/null",
	    conf, top);
	status = system(cmd);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1, "an unusable store: admin purge exits 1");
}

/* cp_store_count and cp_store_scan (cimd-proxy-admin status, revoke):
 * the live records of one namespace only, every byte of each, a cap that
 * holds, and a scan buffer cut short read as far as it is whole. */
static void
test_walk(struct cp_store *st)
{
	time_t now = time(NULL);
	struct cp_buf scan;
	struct cp_store_rec r;
	size_t n = 99, at = 0, seen = 0, len;
	bool right = true;
	char key[32], value[32];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "walk-%d", i);
		snprintf(value, sizeof(value), "value-%d", i);
		cp_store_put(st, CP_NS_REVOKED, key, strlen(key), value, strlen(value), now + 100 + i);
	}
	cp_store_put(st, CP_NS_REVOKED, "walk-dead", 9, "x", 1, now - 1);
	cp_store_put(st, CP_NS_MCP_SESSION, "walk-other", 10, "x", 1, now + 100);
	is_int(cp_store_count(st, CP_NS_REVOKED, now, &n), CP_OK, "count");
	is_int((long)n, 3, "  the live records of that namespace only");
	cp_buf_init(&scan, 4096);
	is_int(cp_store_scan(st, CP_NS_REVOKED, now, &scan), CP_OK, "scan");
	while (cp_store_rec_next(&scan, &at, &r)) {
		i = r.klen == 6 ? r.key[5] - '0' : -1;
		snprintf(value, sizeof(value), "value-%d", i);
		right = right && i >= 0 && i < 3 && memcmp(r.key, "walk-", 5) == 0 &&
		    r.vlen == strlen(value) && memcmp(r.value, value, r.vlen) == 0 &&
		    r.expires == now + 100 + i;
		seen++;
	}
	ok(seen == 3 && right && at == scan.len, "  every live record, key, value and expiry (%zu)", seen);
	len = scan.len;
	scan.len = len - 1;
	at = 0;
	seen = 0;
	while (cp_store_rec_next(&scan, &at, &r))
		seen++;
	is_int((long)seen, 2, "  a buffer cut short: the whole records only");
	scan.len = len;
	cp_buf_free(&scan);
	cp_buf_init(&scan, 40);
	is_int(cp_store_scan(st, CP_NS_REVOKED, now, &scan), CP_ERR_LIMIT,
	    "a scan over its buffer's cap: CP_ERR_LIMIT");
	cp_buf_free(&scan);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "walk-%d", i);
		cp_store_del(st, CP_NS_REVOKED, key, strlen(key));
	}
	cp_store_count(st, CP_NS_REVOKED, now, &n);
	is_int((long)n, 0, "  deleted: count 0");
}

/* Basics, purge and limits on one handle, as a FastCGI process uses it. */
/* private_key_jwt (client_auth.h): an assertion's jti is spent once per
 * client, in whichever store the fleet shares. */
static json_object *
assertion_claims(const char *jti, time_t exp)
{
	json_object *c = json_object_new_object();

	if (jti != NULL)
		json_object_object_add(c, "jti", json_object_new_string(jti));
	json_object_object_add(c, "exp", json_object_new_int64((int64_t)exp));
	return c;
}

static void
test_assertion_jti(struct cp_store *st)
{
	time_t now = time(NULL);
	json_object *j1 = assertion_claims("j-1", now + 60);
	json_object *bc = assertion_claims("bc", now + 60);
	json_object *c = assertion_claims("c", now + 60);
	json_object *none = assertion_claims(NULL, now + 60);
	json_object *old = assertion_claims("j-old", now - CP_JWT_LEEWAY - 1);

	is_int(cp_assertion_spend(st, "https://a.example/c.json", j1), CP_OK, "jti: first use");
	is_int(cp_assertion_spend(st, "https://a.example/c.json", j1), CP_ERR_REPLAY,
	    "jti: second use is a replay");
	is_int(cp_assertion_spend(st, "https://b.example/c.json", j1), CP_OK,
	    "jti: the same jti from another client is its own");
	is_int(cp_assertion_spend(st, "https://a.example/a", bc), CP_OK, "jti: (a, bc)");
	is_int(cp_assertion_spend(st, "https://a.example/ab", c), CP_OK,
	    "jti: (ab, c) is another pair, not a replay of it");
	is_int(cp_assertion_spend(st, "https://a.example/c.json", none), CP_ERR_INTERNAL,
	    "jti: claims without one are the caller's bug");
	cp_assertion_spend(st, "https://a.example/c.json", old);
	is_int(cp_assertion_spend(st, "https://a.example/c.json", old), CP_OK,
	    "jti: a mark kept past its exp and leeway is free again");
	json_object_put(j1);
	json_object_put(bc);
	json_object_put(c);
	json_object_put(none);
	json_object_put(old);
}


static void
case_operations(const struct backend *be)
{
	enum cp_status rc;
	struct cp_store *st = open_store(be, &rc);

	is_int(rc, CP_OK, "open");
	if (st == NULL)
		return;
	test_basics(st);
	test_purge(st);
	test_limits(st);
	test_walk(st);
	test_assertion_jti(st);
	cp_store_close(st);
}

/* The contract: every backend passes every case unchanged. */
static const struct contract_case {
	const char *name;
	void (*run)(const struct backend *be);
} contract[] = {
	{ "operations", case_operations },
	{ "racing processes", case_race },
	{ "a writer killed mid-flight", case_killed_writer },
	{ "a handle across fork()", case_fork_misuse },
	{ "cimd-proxy-admin purge", case_admin_purge },
};

static void
run_contract(const struct backend *be)
{
	size_t i;

	for (i = 0; i < sizeof(contract) / sizeof(contract[0]); i++) {
		printf("# %s: %s\n", be->name, contract[i].name);
		contract[i].run(be);
	}
}

#ifdef HAVE_LIBPQ
static char pg_base[400];       /* host=... port=... dbname=cimd */
static char pg_dir[] = "/tmp/cimd-pg-XXXXXX";
static bool pg_started;

/* Runs sql as the superuser; false (with the reason printed) on failure. */
static bool
pg_admin(const char *sql)
{
	char conninfo[512];
	PGconn *c;
	PGresult *r;
	bool good;

	snprintf(conninfo, sizeof(conninfo), "%s user=postgres", pg_base);
	c = PQconnectdb(conninfo);
	r = PQexec(c, sql);
	good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!good)
		printf("# %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return good;
}

static int
pg_ctl(const char *verb)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "bash '%s/tests/pg.sh' %s %s >/dev/null", getenv("top_srcdir"),
	    verb, pg_dir);
	return system(cmd);
}

/* Finds or starts a PostgreSQL; false with *why set when there is none. */
static bool
pg_setup(struct backend *be, const char **why)
{
	static char reason[300];
	const char *env = getenv("CIMD_TEST_PG"), *top = getenv("top_srcdir");
	char cmd[800], errfile[300];
	FILE *f;
	int status;
	size_t n;

	if (env != NULL && *env) {
		snprintf(pg_base, sizeof(pg_base), "%s", env);
	} else {
		*why = "top_srcdir not set (run it from make check)";
		if (top == NULL || mkdtemp(pg_dir) == NULL)
			return false;
		path_in(errfile, sizeof(errfile), "pg.err");
		snprintf(cmd, sizeof(cmd), "bash '%s/tests/pg.sh' start %s 2>%s", top, pg_dir, errfile);
		if ((f = popen(cmd, "r")) == NULL)
			return false;
		if (fgets(pg_base, sizeof(pg_base), f) == NULL)
			pg_base[0] = '\0';
		status = pclose(f);
		pg_base[strcspn(pg_base, "\n")] = '\0';
		if (status != 0 || pg_base[0] == '\0') {
			reason[0] = '\0';
			if ((f = fopen(errfile, "r")) != NULL) {
				n = fread(reason, 1, sizeof(reason) - 1, f);
				reason[n] = '\0';
				fclose(f);
			}
			reason[strcspn(reason, "\n")] = '\0';
			*why = reason[0] ? reason : "tests/pg.sh could not start PostgreSQL";
			rmdir(pg_dir);
			return false;
		}
		pg_started = true;
	}
	snprintf(be->where, sizeof(be->where), "%s user=cimd_proxy", pg_base);
	return true;
}

/* A port from "... port=N ...". */
static int
pg_port(void)
{
	const char *p = strstr(pg_base, "port=");

	return p ? (int)strtol(p + 5, NULL, 10) : 0;
}

/* What a broken PostgreSQL does to the store: the same CP_ERR_STORE the
 * Berkeley DB store gives when broken (the endpoints' 503), a log line
 * naming the cause and never a password, and recovery without a new
 * handle once the cause is gone. */
static void
pg_faults(const struct backend *be)
{
	char where[600];
	const char *log;
	struct cp_store *st, *nd;
	struct cp_buf b;
	enum cp_status rc;
	PGconn *locker;
	PGresult *r;
	pid_t frozen;
	double t0, took;

	/* A conninfo libpq cannot parse: its error would quote the text. */
	capture_begin();
	st = open_at(CP_STORE_POSTGRESQL, "host=/tmp password=hunter2-secret 'unterminated", &rc);
	log = capture_end();
	is_int(rc, CP_ERR_CONFIG, "an unparsable conninfo: config error");
	ok(st == NULL, "  and no store");
	ok(strstr(log, "cannot be parsed") && !strstr(log, "hunter2"),
	    "  logged without the conninfo's text");

	/* The wrong password over TCP (scram-sha-256). */
	snprintf(where, sizeof(where), "host=127.0.0.1 port=%d dbname=cimd user=cimd_proxy "
	    "password=hunter2-wrong", pg_port());
	st = open_at(CP_STORE_POSTGRESQL, where, &rc);
	is_int(rc, CP_OK, "a wrong password: open succeeds (it connects at the first operation)");
	capture_begin();
	rc = cp_store_put(st, CP_NS_CIMD, "k", 1, "v", 1, time(NULL) + 60);
	log = capture_end();
	is_int(rc, CP_ERR_STORE, "  the first operation: store error");
	ok(strstr(log, "password authentication failed") && !strstr(log, "hunter2"),
	    "  the log names the cause, not the password");
	cp_store_close(st);
	snprintf(where, sizeof(where), "host=127.0.0.1 port=%d dbname=cimd user=cimd_proxy "
	    "password=cimd-test-password sslmode=disable", pg_port());
	st = open_at(CP_STORE_POSTGRESQL, where, NULL);
	is_int(cp_store_put(st, CP_NS_CIMD, "tcp", 3, "v", 1, time(NULL) + 60), CP_OK,
	    "the right password over TCP works");
	cp_store_close(st);

	/* check-config's check, with all rights and without DELETE. */
	st = open_store(be, NULL);
	is_int(cp_store_check(st), CP_OK, "check: table and rights in order");
	snprintf(where, sizeof(where), "%s user=cimd_nodelete", pg_base);
	nd = open_at(CP_STORE_POSTGRESQL, where, NULL);
	capture_begin();
	rc = cp_store_check(nd);
	log = capture_end();
	is_int(rc, CP_ERR_STORE, "check: a role without DELETE fails");
	ok(strstr(log, "role cimd_nodelete may not DELETE cimd_records") != NULL,
	    "  and says which right is missing");
	is_int(cp_store_put(nd, CP_NS_SBTX, "nd", 2, "v", 1, time(NULL) + 60), CP_OK,
	    "without DELETE: put works");
	cp_buf_init(&b, 64);
	capture_begin();
	rc = cp_store_take(nd, CP_NS_SBTX, "nd", 2, &b);
	log = capture_end();
	cp_buf_free(&b);
	is_int(rc, CP_ERR_STORE, "without DELETE: take is a store error");
	ok(strstr(log, "permission denied for table cimd_records") && strstr(log, "42501"),
	    "  the log names the refusal: %.200s", log);
	cp_store_close(nd);

	/* A row held by another session past statement_timeout. */
	cp_store_put(st, CP_NS_CIMD, "locked", 6, "v1", 2, time(NULL) + 60);
	snprintf(where, sizeof(where), "%s user=postgres", pg_base);
	locker = PQconnectdb(where);
	PQclear(PQexec(locker, "BEGIN"));
	r = PQexec(locker, "SELECT 1 FROM cimd_records WHERE ns = 2 AND key = 'locked'::bytea FOR UPDATE");
	is_int(PQntuples(r), 1, "another session holds the row's lock");
	PQclear(r);
	capture_begin();
	t0 = now_ms();
	rc = cp_store_put(st, CP_NS_CIMD, "locked", 6, "v2", 2, time(NULL) + 60);
	took = now_ms() - t0;
	log = capture_end();
	is_int(rc, CP_ERR_STORE, "a write waiting on that lock: store error (%.0f ms)", took);
	ok(took < CP_PG_DEADLINE_MS, "  by statement_timeout (%s ms), no hang", CP_PG_STATEMENT_TIMEOUT_MS);
	ok(strstr(log, "statement timeout") != NULL, "  logged: %.200s", log);
	PQclear(PQexec(locker, "ROLLBACK"));
	PQfinish(locker);
	is_int(cp_store_put(st, CP_NS_CIMD, "locked", 6, "v3", 2, time(NULL) + 60), CP_OK,
	    "  the same handle works once the lock is gone");

	/* A server that stops answering mid-statement (its backend frozen):
	 * the client's own deadline ends the wait. */
	snprintf(where, sizeof(where), "%s user=postgres", pg_base);
	locker = PQconnectdb(where);
	r = PQexec(locker, "SELECT pid FROM pg_stat_activity WHERE usename = 'cimd_proxy' "
	    "AND application_name = 'cimd-proxy' AND pid <> pg_backend_pid()");
	frozen = PQntuples(r) == 1 ? (pid_t)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	PQfinish(locker);
	ok(frozen > 0 && kill(frozen, SIGSTOP) == 0, "the handle's server process is frozen");
	capture_begin();
	t0 = now_ms();
	rc = cp_store_put(st, CP_NS_CIMD, "frozen", 6, "v", 1, time(NULL) + 60);
	took = now_ms() - t0;
	log = capture_end();
	if (frozen > 0)
		kill(frozen, SIGCONT);
	is_int(rc, CP_ERR_STORE, "a statement no one answers: store error (%.0f ms)", took);
	ok(took >= CP_PG_DEADLINE_MS - 100 && took < CP_PG_DEADLINE_MS + 5000,
	    "  at the client's deadline (%d ms)", CP_PG_DEADLINE_MS);
	ok(strstr(log, "no answer within") != NULL, "  logged: %.200s", log);
	is_int(cp_store_put(st, CP_NS_CIMD, "frozen", 6, "v", 1, time(NULL) + 60), CP_OK,
	    "  the next operation opens a new connection and works");

	/* A read-only server (as a standby is). */
	pg_admin("ALTER ROLE cimd_proxy SET default_transaction_read_only = on");
	nd = open_store(be, NULL);
	capture_begin();
	rc = cp_store_put(nd, CP_NS_CIMD, "ro", 2, "v", 1, time(NULL) + 60);
	log = capture_end();
	is_int(rc, CP_ERR_STORE, "a read-only server: a write is a store error");
	ok(strstr(log, "read-only transaction") && strstr(log, "25006"), "  logged: %.200s", log);
	capture_begin();
	rc = cp_store_check(nd);
	log = capture_end();
	is_int(rc, CP_ERR_STORE, "  check fails");
	ok(strstr(log, "the server is read-only") != NULL, "  saying so");
	pg_admin("ALTER ROLE cimd_proxy RESET default_transaction_read_only");
	cp_store_close(nd);

	/* PostgreSQL stopped mid-run, then started again. */
	if (!pg_started) {
		printf("ok %d - # SKIP CIMD_TEST_PG names a server this test did not start: "
		    "not stopping it\n", ++tap_n);
		cp_store_close(st);
		return;
	}
	is_int(cp_store_put(st, CP_NS_CIMD, "before", 6, "b", 1, time(NULL) + 600), CP_OK,
	    "a handle in use");
	is_int(pg_ctl("stop"), 0, "PostgreSQL stopped");
	capture_begin();
	t0 = now_ms();
	rc = cp_store_put(st, CP_NS_CIMD, "during", 6, "d", 1, time(NULL) + 600);
	is_int(rc, CP_ERR_STORE, "while it is down: store error (%.0f ms)", now_ms() - t0);
	rc = cp_store_once(st, "during", 6, time(NULL) + 600);
	is_int(rc, CP_ERR_STORE, "  again, now failing to connect (%.0f ms)", now_ms() - t0);
	log = capture_end();
	ok(strstr(log, "cannot connect to PostgreSQL") != NULL, "  logged: %.300s", log);
	is_int(pg_ctl("start"), 0, "PostgreSQL started again");
	is_int(cp_store_put(st, CP_NS_CIMD, "after", 5, "a", 1, time(NULL) + 600), CP_OK,
	    "the same handle works again, no reopen");
	is_str(get_str(st, CP_NS_CIMD, "before", &rc), "b", "  and reads what was written before");
	cp_store_close(st);
}
#endif

#ifdef HAVE_LIBPQ
/* Runs cimd-proxy-admin ARGS with a config whose store line is store;
 * out gets its stdout and stderr.  Returns its exit status (-1: not run). */
static int
admin_run(const char *store, const char *args, char *out, size_t n)
{
	char conf[300], keys[300], cmd[1200];
	size_t got = 0;
	FILE *f;
	int fd, status;

	out[0] = '\0';
	/* check-config loads key_file as the endpoints do: a test key (32
	 * bytes of 0x01), mode 0600. */
	path_in(keys, sizeof(keys), "admin-pg.keys");
	if ((fd = open(keys, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return -1;
	if (write(fd, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n", 45) != 45) {
		close(fd);
		return -1;
	}
	close(fd);
	path_in(conf, sizeof(conf), "admin-pg.conf");
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "public_url = https://mcp.example.com\n"
	    "idp_issuer = https://example.okta.com/oauth2/default\n"
	    "idp_client_id = 0oa1abc\n"
	    "idp_audience = api://default\n"
	    "gateway_url = https://gw.example.com/mcp\n"
	    "key_file = %s\n"
	    "agentcore_region = us-east-1\n"
	    "store = %s\n", keys, store);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "CIMD_PROXY_CONF='%s' '%s/tools/cimd-proxy-admin' %s 2>&1",
	    conf, getenv("top_builddir"), args);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* init-store applies the schema through the configured conninfo (again
 * without harm), and check-config connects and checks table and rights. */
static void
pg_admin_tool(void)
{
	char store[600], args[600], out[4096];

	if (getenv("top_builddir") == NULL || getenv("top_srcdir") == NULL) {
		printf("ok %d - # SKIP top_builddir not set: init-store, check-config\n", ++tap_n);
		return;
	}
	pg_admin("DROP DATABASE IF EXISTS cimd_init");
	ok(pg_admin("CREATE DATABASE cimd_init"), "an empty database");
	snprintf(store, sizeof(store), "postgresql:%s dbname=cimd_init user=postgres", pg_base);
	is_int(admin_run(store, "check-config", out, sizeof(out)), 1,
	    "check-config before the schema: exit 1");
	ok(strstr(out, "no table cimd_records") && strstr(out, "init-store"),
	    "  says the table is missing and how to create it");
	snprintf(args, sizeof(args), "init-store '%s/sql/cimd-proxy.sql'", getenv("top_srcdir"));
	is_int(admin_run(store, args, out, sizeof(out)), 0, "init-store: exit 0");
	ok(strstr(out, "applied") != NULL, "  %.*s", (int)strcspn(out, "\n"), out);
	is_int(admin_run(store, args, out, sizeof(out)), 0, "init-store again: exit 0 (idempotent)");
	is_int(admin_run(store, "check-config", out, sizeof(out)), 0, "check-config after it: exit 0");
	ok(strstr(out, "table and rights in order") != NULL, "  %.*s", (int)strcspn(out, "\n"), out);

	snprintf(store, sizeof(store), "postgresql:%s user=cimd_nodelete", pg_base);
	is_int(admin_run(store, "check-config", out, sizeof(out)), 1,
	    "check-config with a role without DELETE: exit 1");
	ok(strstr(out, "may not DELETE cimd_records: GRANT SELECT, INSERT, UPDATE, DELETE") != NULL,
	    "  names the missing right and the grant");
	is_int(admin_run("postgresql:host=/nonexistent dbname=cimd", "check-config", out, sizeof(out)),
	    1, "check-config with no server: exit 1");
	ok(strstr(out, "cannot connect to PostgreSQL") != NULL, "  says it cannot connect");
	is_int(admin_run("postgresql:host=/nonexistent dbname=cimd", args, out, sizeof(out)), 1,
	    "init-store with no server: exit 1");
	is_int(admin_run(store, "init-store /nonexistent/cimd-proxy.sql", out, sizeof(out)), 1,
	    "init-store with no schema file: exit 1");
	ok(strstr(out, "/nonexistent/cimd-proxy.sql") != NULL, "  names the file");
	pg_admin("DROP DATABASE cimd_init");
}
#endif

int
main(void)
{
	struct backend bdb = { "berkeley db", CP_STORE_BDB, "" };
	struct backend pg = { "postgresql", CP_STORE_POSTGRESQL, "" };
	const char *why = "this build has no libpq (configure --with-postgresql)";
	char cmd[300];
	struct cp_store *st;
	struct stat sb;
	enum cp_status rc;
	bool have_pg = false;

	if (mkdtemp(tmp) == NULL) {
		printf("1..0 # SKIP cannot make a temp dir\n");
		return 0;
	}
	path_in(bdb.where, sizeof(bdb.where), "main");
	st = open_store(&bdb, &rc);
	is_int(rc, CP_OK, "open creates the store");
	ok(stat(bdb.where, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700,
	    "  directory mode 0700");
	cp_store_close(st);
	if (st == NULL)
		return tap_done();
	run_contract(&bdb);
	printf("# berkeley db: its own machinery and faults\n");
	bdb_log_growth(&bdb);
	bdb_killed_lock_holder(&bdb);
	test_bad_stores();

#ifdef HAVE_LIBPQ
	have_pg = pg_setup(&pg, &why);
#endif
	if (have_pg) {
		run_contract(&pg);
#ifdef HAVE_LIBPQ
		printf("# postgresql: faults\n");
		pg_faults(&pg);
		printf("# postgresql: cimd-proxy-admin init-store and check-config\n");
		pg_admin_tool();
		if (pg_started)
			pg_ctl("destroy");
#endif
	} else {
		printf("ok %d - # SKIP postgresql: %s\n", ++tap_n, why);
	}

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	return tap_done();
}
