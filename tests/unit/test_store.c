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

#include "store.h"
#include "../tap.h"

#define RACERS      8
#define RACE_ONCE   40      /* once-only keys every racer tries */
#define RACE_TAKE   40      /* records every racer tries to take */
#define RACE_ADD    40      /* keys every racer tries to add */
#define CHILD_ALARM 120     /* seconds before a stuck child is killed (valgrind on a busy 2-core machine is slow) */

static char tmp[] = "/tmp/cimd-store-XXXXXX";

static void
path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmp, name);
}

static struct cp_store *
open_dir(const char *dir, enum cp_status *rcp)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	enum cp_status rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_BDB;
	cfg.store_path = (char *)dir;
	rc = cp_store_open(&cfg, &st);
	if (rcp)
		*rcp = rc;
	return st;
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
test_log_growth(struct cp_store *st, const char *dir)
{
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
}

/* Many processes at once: each once-only key and each taken record has
 * exactly one winner. */
static void
test_race(const char *dir)
{
	int go[2], res[RACERS][2], status, i, k, bad_exit = 0;
	pid_t pids[RACERS];
	unsigned char r[RACERS][RACE_ONCE + RACE_TAKE + RACE_ADD + 1];
	struct cp_store *st;
	char key[32], val[32];
	time_t exp = time(NULL) + 600;
	int once_bad = 0, take_bad = 0, add_bad = 0, other = 0, swap_wins = 0;
	double t0;

	st = open_dir(dir, NULL);
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
			st = open_dir(dir, NULL);
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
	st = open_dir(dir, NULL);
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
start_writer(const char *dir, const char *marker)
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
		if ((st = open_dir(dir, NULL)) == NULL ||
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
fresh_process_works(const char *dir, const char *marker)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		struct cp_store *st;
		struct cp_buf b;
		enum cp_status rc;
		time_t exp = time(NULL) + 60;

		alarm(CHILD_ALARM);
		if ((st = open_dir(dir, NULL)) == NULL)
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
start_long_lived(const char *dir, const char *marker, const char *want, int *go)
{
	int ready[2], g[2];
	pid_t pid;
	char c = 0;

	if (pipe(ready) != 0 || pipe(g) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		struct cp_store *st;
		enum cp_status rc;
		int fail = 0;

		alarm(CHILD_ALARM);
		close(ready[0]);
		close(g[1]);
		if ((st = open_dir(dir, NULL)) == NULL)
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

static void
test_killed_writer(const char *dir)
{
	pid_t w, l;
	int go;
	double t0;

	/* 1: a writer dies mid-flight; the next process to open recovers
	 * (DB_REGISTER) and everything works, older handles included. */
	l = start_long_lived(dir, "marker-1", "there", &go);
	ok(l > 0, "a long-lived process opened the store");
	w = start_writer(dir, "marker-1");
	ok(w > 0, "a writer started");
	if (w <= 0 || l <= 0)
		return;
	kill_writer(w);
	t0 = now_ms();
	is_int(fresh_process_works(dir, "marker-1"), 0,
	    "after SIGKILL mid-write a fresh process opens, reads what was committed, writes (%.0f ms)",
	    now_ms() - t0);
	t0 = now_ms();
	is_int(finish_long_lived(l, go), 0,
	    "the long-lived process reopens after that recovery and works (%.0f ms)", now_ms() - t0);

	/* 2: no new process comes along: the long-lived one meets the locks
	 * of a process killed inside a transaction, reopens by itself,
	 * recovers (rolling that transaction back) and goes on. */
	l = start_long_lived(dir, "marker-2", "", &go);
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
	st = open_dir(file, &rc);
	is_int(rc, CP_ERR_STORE, "store path that is a file: store error");
	ok(st == NULL, "  no handle");

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

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_POSTGRESQL;
	cfg.store_path = (char *)"host=db dbname=cimd";
	st = NULL;
	is_int(cp_store_open(&cfg, &st), CP_ERR_CONFIG, "postgresql: not in this build: config error");
	ok(st == NULL, "  no handle");
}

static void
test_fork_misuse(const char *dir)
{
	struct cp_store *st = open_dir(dir, NULL);
	int status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		enum cp_status rc;
		alarm(CHILD_ALARM);
		get_str(st, CP_NS_CIMD, "after", &rc);
		_exit(rc == CP_ERR_STORE ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a handle used across fork() answers a store error");
	cp_store_close(st);
}

/* cimd-proxy-admin purge on a real store. */
static void
test_admin_purge(const char *dir)
{
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
	    "store = bdb:%s\n", dir);
	fclose(f);

	st = open_dir(dir, NULL);
	cp_store_purge(st, time(NULL), NULL);
	/* Start on a fresh second so the short-lived records cannot expire
	 * (and be purged as the store goes) before all are written. */
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
	    "store = bdb:%s/plainfile\n", tmp);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "CIMD_PROXY_CONF='%s' '%s/tools/cimd-proxy-admin' purge 2>/dev/null",
	    conf, top);
	status = system(cmd);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1, "an unusable store: admin purge exits 1");
}

int
main(void)
{
	char dir[256], cmd[300];
	struct cp_store *st;
	struct stat sb;
	enum cp_status rc;

	if (mkdtemp(tmp) == NULL) {
		printf("1..0 # SKIP cannot make a temp dir\n");
		return 0;
	}
	path_in(dir, sizeof(dir), "main");
	st = open_dir(dir, &rc);
	is_int(rc, CP_OK, "open creates the store");
	ok(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700,
	    "  directory mode 0700");
	if (st == NULL)
		return tap_done();
	test_basics(st);
	test_purge(st);
	test_limits(st);
	test_log_growth(st, dir);
	cp_store_close(st);
	test_race(dir);
	test_killed_writer(dir);
	test_fork_misuse(dir);
	test_bad_stores();
	test_admin_purge(dir);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	return tap_done();
}
