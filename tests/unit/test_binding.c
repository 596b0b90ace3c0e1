/*
 * Session-binding records in a real Berkeley DB store: what the relay
 * writes is what /sessionbinding reads, the token is sealed at rest, the
 * record expires after CP_BINDING_TTL and is consumed once, and a
 * binding never changes hands or comes back once consumed, also when
 * processes race to write it.
 */
#include "config.h"

#define _GNU_SOURCE             /* memmem */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "conf.h"
#include "../tap.h"

#define SESSION "urn:ietf:params:oauth:request_uri:Sess-1"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiIwMHVhbGljZSJ9.c2lnbmF0dXJlLXBsYWludGV4dC1tYXJrZXI"
#define TOKEN2 "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiIwMHVhbGljZSJ9.c2Vjb25kLXRva2Vu"
#define BOB_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiIwMHVib2IifQ.Ym9iLXRva2Vu"
#define KEYS "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define ALICE "00ualice000000000000"
#define BOB "00ubob00000000000000"
#define RACERS 6
#define RACE_URIS 20

/* True when any file under dir contains needle. */
static bool
dir_holds(const char *dir, const char *needle)
{
	char path[4096], *data;
	struct dirent *de;
	bool hit = false;
	size_t n, len = strlen(needle);
	FILE *f;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return false;
	while (!hit && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		if ((data = malloc(1 << 24)) != NULL) {
			n = fread(data, 1, (1 << 24) - 1, f);
			hit = memmem(data, n, needle, len) != NULL;
			free(data);
		}
		fclose(f);
	}
	closedir(d);
	return hit;
}

/* The binding at uri as "user token consumed", or the status name. */
static const char *
show(struct cp_store *st, const struct cp_keys *keys, const char *uri, time_t now)
{
	static char out[512];
	struct cp_binding_record b;
	enum cp_status rc = cp_binding_get(st, keys, uri, now, &b);

	if (rc == CP_OK || rc == CP_ERR_EXPIRED)
		snprintf(out, sizeof(out), "%s %s %s", b.user_id, b.token.len ?
		    cp_buf_cstr(&b.token) : "-", b.consumed ? "consumed" : "pending");
	else
		snprintf(out, sizeof(out), "%s", cp_status_str(rc));
	cp_binding_free(&b);
	return out;
}

/* Never-rebind, never-revive: the cases of cp_binding_put's contract. */
static void
test_insert_only(struct cp_store *st, const struct cp_keys *keys, time_t now)
{
	const char *uri = "urn:ietf:params:oauth:request_uri:Sess-2";
	struct cp_binding_record b;
	bool refreshed = true;

	is_int(cp_binding_put(st, keys, uri, ALICE, TOKEN, strlen(TOKEN), now, &refreshed),
	    CP_OK, "alice's binding stored");
	ok(!refreshed, "  as a new one");
	is_int(cp_binding_put(st, keys, uri, BOB, BOB_TOKEN, strlen(BOB_TOKEN), now, &refreshed),
	    CP_ERR_DENIED, "bob's elicitation for the same session URI is refused");
	is_str(show(st, keys, uri, now), ALICE " " TOKEN " pending", "  the binding is still alice's");
	is_int(cp_binding_put(st, keys, uri, ALICE, TOKEN2, strlen(TOKEN2), now + 30, &refreshed),
	    CP_OK, "alice's own repeat");
	ok(refreshed, "  refreshes her binding");
	is_str(show(st, keys, uri, now), ALICE " " TOKEN2 " pending", "  with her new token");
	cp_binding_get(st, keys, uri, now, &b);
	is_int(b.expires, now + 30 + CP_BINDING_TTL, "  and a new expiry");
	cp_binding_free(&b);

	is_int(cp_binding_consume(st, keys, uri, now, &b), CP_OK, "consumed");
	cp_binding_free(&b);
	is_int(cp_binding_put(st, keys, uri, ALICE, TOKEN, strlen(TOKEN), now, &refreshed),
	    CP_ERR_REPLAY, "alice's repeat after completion is refused");
	ok(!refreshed, "  and refreshes nothing");
	is_int(cp_binding_put(st, keys, uri, BOB, BOB_TOKEN, strlen(BOB_TOKEN), now, NULL),
	    CP_ERR_DENIED, "bob's too");
	is_str(show(st, keys, uri, now), ALICE " " TOKEN2 " consumed",
	    "  the binding stays alice's and consumed");
	is_int(cp_binding_consume(st, keys, uri, now, &b), CP_ERR_REPLAY, "  and cannot be used again");
	cp_binding_free(&b);

	/* Expired, but kept for CP_BINDING_GRACE: still nobody else's. */
	uri = "urn:ietf:params:oauth:request_uri:Sess-3";
	cp_binding_put(st, keys, uri, ALICE, TOKEN, strlen(TOKEN), now - CP_BINDING_TTL - 1, NULL);
	is_str(show(st, keys, uri, now), ALICE " - pending", "an expired binding (in its grace time)");
	is_int(cp_binding_put(st, keys, uri, BOB, BOB_TOKEN, strlen(BOB_TOKEN), now, NULL),
	    CP_ERR_DENIED, "  is not given to bob");
	is_int(cp_binding_put(st, keys, uri, ALICE, TOKEN2, strlen(TOKEN2), now, &refreshed), CP_OK,
	    "  alice's repeat renews it");
	is_str(show(st, keys, uri, now), ALICE " " TOKEN2 " pending", "  usable again, for her");

	/* Past its grace time the store has forgotten it: a new binding. */
	uri = "urn:ietf:params:oauth:request_uri:Sess-4";
	cp_binding_put(st, keys, uri, ALICE, TOKEN, strlen(TOKEN),
	    now - CP_BINDING_TTL - CP_BINDING_GRACE - 1, NULL);
	is_int(cp_binding_put(st, keys, uri, BOB, BOB_TOKEN, strlen(BOB_TOKEN), now, &refreshed),
	    CP_OK, "a binding gone from the store is free for a new one");
	ok(!refreshed, "  a new one, not a refresh");
	is_str(show(st, keys, uri, now), BOB " " BOB_TOKEN " pending", "  bob's");

	/* Something we did not write is left alone. */
	uri = "urn:ietf:params:oauth:request_uri:Sess-5";
	cp_store_put(st, CP_NS_BINDING, uri, strlen(uri), "{\"v\":2}", 7, now + 60);
	is_int(cp_binding_put(st, keys, uri, ALICE, TOKEN, strlen(TOKEN), now, NULL), CP_ERR_SYNTAX,
	    "a record of another form is not overwritten");
	is_str(show(st, keys, uri, now), cp_status_str(CP_ERR_SYNTAX), "  it is still there");
}

/* Processes race to bind the same session URIs to different users:
 * each URI ends up with exactly one, the one told it won. */
static void
test_race(const char *dir, const struct cp_keys *keys, time_t now)
{
	struct cp_config cfg;
	struct cp_store *st;
	unsigned char r[RACERS][RACE_URIS];
	int res[RACERS][2], go[2], i, k, status, bad = 0, other = 0;
	pid_t pids[RACERS];
	char uri[96], user[32], want[160], c;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_BDB;
	cfg.store_path = (char *)dir;
	if (pipe(go) != 0)
		return;
	for (i = 0; i < RACERS; i++) {
		if (pipe(res[i]) != 0)
			return;
		if ((pids[i] = fork()) == 0) {
			unsigned char out[RACE_URIS];

			alarm(120);
			close(go[1]);
			if (cp_store_open(&cfg, &st) != CP_OK)
				_exit(3);
			while (read(go[0], &c, 1) > 0)
				;
			snprintf(user, sizeof(user), "user-%d", i);
			for (k = 0; k < RACE_URIS; k++) {
				snprintf(uri, sizeof(uri), "urn:ietf:params:oauth:request_uri:race-%d", k);
				out[k] = (unsigned char)cp_binding_put(st, keys, uri, user, user,
				    strlen(user), now, NULL);
			}
			cp_store_close(st);
			_exit(write(res[i][1], out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 4);
		}
		close(res[i][1]);
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < RACERS; i++) {
		memset(r[i], 0xff, sizeof(r[i]));
		if (read(res[i][0], r[i], sizeof(r[i])) != (ssize_t)sizeof(r[i]))
			bad++;
		close(res[i][0]);
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad++;
	}
	is_int(bad, 0, "%d racing writers finished cleanly", RACERS);
	if (cp_store_open(&cfg, &st) != CP_OK)
		return;
	bad = 0;
	for (k = 0; k < RACE_URIS; k++) {
		int wins = 0, winner = -1;
		for (i = 0; i < RACERS; i++)
			if (r[i][k] == CP_OK) {
				wins++;
				winner = i;
			} else if (r[i][k] != CP_ERR_DENIED)
				other++;
		snprintf(uri, sizeof(uri), "urn:ietf:params:oauth:request_uri:race-%d", k);
		snprintf(want, sizeof(want), "user-%d user-%d pending", winner, winner);
		bad += wins != 1 || strcmp(show(st, keys, uri, now), want) != 0;
	}
	cp_store_close(st);
	is_int(bad, 0, "each of %d session URIs bound once, to the racer told it won", RACE_URIS);
	is_int(other, 0, "  the others were refused as another user's (no store errors)");
}

int
main(void)
{
	char dir[] = "/tmp/test_binding.XXXXXX", err[256], cmd[4200];
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_keys *keys = NULL, *other = NULL;
	struct cp_binding_record b;
	time_t now = time(NULL);

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_BDB;
	cfg.store_path = dir;
	is_int(cp_store_open(&cfg, &st), CP_OK, "store opened");
	is_int(cp_keys_parse("keys", KEYS, strlen(KEYS), &keys, err, sizeof(err)), CP_OK,
	    "keys parsed");
	is_int(cp_keys_parse("other", "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\n", 45, &other,
	    err, sizeof(err)), CP_OK, "other keys parsed");
	if (st == NULL || keys == NULL || other == NULL)
		return tap_done();

	is_int(cp_binding_put(st, keys, SESSION, "00ualice000000000000", TOKEN, strlen(TOKEN), now,
	    NULL),
	    CP_OK, "binding stored");
	is_int(cp_binding_get(st, keys, SESSION, now, &b), CP_OK, "binding read back");
	is_str(b.user_id, "00ualice000000000000", "  user id");
	is_str(cp_buf_cstr(&b.token), TOKEN, "  the exact token, opened");
	is_int(b.expires - b.created, CP_BINDING_TTL, "  lives %d s", CP_BINDING_TTL);
	is_int(b.created, now, "  created now");
	ok(!b.consumed, "  not consumed");
	cp_binding_free(&b);

	is_int(cp_binding_get(st, other, SESSION, now, &b), CP_ERR_CRYPTO,
	    "another key cannot open the token");
	cp_binding_free(&b);
	is_int(cp_binding_get(st, keys, "urn:ietf:params:oauth:request_uri:none", now, &b),
	    CP_ERR_NOT_FOUND, "unknown session URI");
	cp_binding_free(&b);
	is_int(cp_binding_get(st, keys, SESSION, now + CP_BINDING_TTL, &b), CP_ERR_EXPIRED,
	    "expired after %d s", CP_BINDING_TTL);
	is_str(b.user_id, "00ualice000000000000", "  an expired binding still names its user");
	is_int(b.token.len, 0, "  but yields no token");
	cp_binding_free(&b);
	is_int(cp_binding_consume(st, keys, SESSION, now + CP_BINDING_TTL, &b), CP_ERR_EXPIRED,
	    "an expired binding cannot be consumed");
	cp_binding_free(&b);

	is_int(cp_binding_consume(st, keys, SESSION, now, &b), CP_OK, "consumed once");
	ok(b.consumed, "  marked consumed");
	is_str(cp_buf_cstr(&b.token), TOKEN, "  with the token");
	cp_binding_free(&b);
	is_int(cp_binding_consume(st, keys, SESSION, now, &b), CP_ERR_REPLAY, "not twice");
	cp_binding_free(&b);
	is_int(cp_binding_get(st, keys, SESSION, now, &b), CP_OK, "still readable");
	ok(b.consumed, "  as consumed");
	cp_binding_free(&b);

	is_int(cp_binding_put(st, keys, SESSION, "", TOKEN, strlen(TOKEN), now, NULL), CP_ERR_INVALID,
	    "empty user id refused");

	test_insert_only(st, keys, now);

	/* Sealed at rest: the signature part of the token is in no file. */
	cp_store_close(st);
	test_race(dir, keys, now);
	ok(!dir_holds(dir, "c2lnbmF0dXJlLXBsYWludGV4dC1tYXJrZXI"), "token absent from the DB files");
	ok(dir_holds(dir, "00ualice000000000000"), "  (the user id is, so the search works)");

	cp_keys_free(keys);
	cp_keys_free(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	return tap_done();
}
