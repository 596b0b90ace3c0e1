/*
 * Session-binding records in a real Berkeley DB store: what the relay
 * writes is what /sessionbinding reads, the token is sealed at rest, the
 * record expires after CP_BINDING_TTL and is consumed once.
 */
#include "config.h"

#define _GNU_SOURCE             /* memmem */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "conf.h"
#include "../tap.h"

#define SESSION "urn:ietf:params:oauth:request_uri:Sess-1"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiIwMHVhbGljZSJ9.c2lnbmF0dXJlLXBsYWludGV4dC1tYXJrZXI"
#define KEYS "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

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

	is_int(cp_binding_put(st, keys, SESSION, "00ualice000000000000", TOKEN, strlen(TOKEN), now),
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

	is_int(cp_binding_put(st, keys, SESSION, "", TOKEN, strlen(TOKEN), now), CP_ERR_INVALID,
	    "empty user id refused");

	/* Sealed at rest: the signature part of the token is in no file. */
	cp_store_close(st);
	ok(!dir_holds(dir, "c2lnbmF0dXJlLXBsYWludGV4dC1tYXJrZXI"), "token absent from the DB files");
	ok(dir_holds(dir, "00ualice000000000000"), "  (the user id is, so the search works)");

	cp_keys_free(keys);
	cp_keys_free(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	return tap_done();
}
