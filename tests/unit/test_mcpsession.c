/*
 * Mcp-Session-Id owners in a real Berkeley DB store: the first claim
 * decides, another user's check is refused, the store keeps only a keyed
 * hash of the id, records survive a key rotation and are renewed in use.
 */
#include "config.h"

#define _GNU_SOURCE             /* memmem */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcpsession.h"
#include "../tap.h"

#define SID "f4b2d1e0-5a7c-4c1e-9b0a-mcp-session-marker"
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define KEY_B "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\n"
#define ALICE "00ualice000000000000"
#define BOB "00ubob00000000000000"

/* True when any file under dir contains needle. */
static bool
dir_holds(const char *dir, const char *needle)
{
	char path[4096], *data;
	struct dirent *de;
	bool hit = false;
	size_t n;
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
			hit = memmem(data, n, needle, strlen(needle)) != NULL;
			free(data);
		}
		fclose(f);
	}
	closedir(d);
	return hit;
}

/* The expiry of sid's record under key position which, or 0. */
static time_t
expiry(struct cp_store *st, const struct cp_keys *keys, size_t which, const char *sid)
{
	uint8_t mac[CP_KEYS_MAC_LEN];
	struct cp_buf v;
	time_t exp = 0;

	cp_buf_init(&v, 512);
	if (cp_keys_mac(keys, which, "mcp-session-id", sid, strlen(sid), mac) == CP_OK)
		cp_store_get(st, CP_NS_MCP_SESSION, mac, sizeof(mac), &v, &exp);
	cp_buf_free(&v);
	return exp;
}

static void
macs(const struct cp_keys *a, const struct cp_keys *ab)
{
	uint8_t m1[CP_KEYS_MAC_LEN], m2[CP_KEYS_MAC_LEN];

	is_int(cp_keys_mac(a, 0, "x", "v", 1, m1), CP_OK, "keyed hash");
	cp_keys_mac(a, 0, "x", "v", 1, m2);
	ok(memcmp(m1, m2, sizeof(m1)) == 0, "  the same input, the same hash");
	cp_keys_mac(a, 0, "y", "v", 1, m2);
	ok(memcmp(m1, m2, sizeof(m1)) != 0, "  another label, another hash");
	cp_keys_mac(a, 0, "x", "w", 1, m2);
	ok(memcmp(m1, m2, sizeof(m1)) != 0, "  another value, another hash");
	cp_keys_mac(ab, 0, "x", "v", 1, m2);
	ok(memcmp(m1, m2, sizeof(m1)) != 0, "  another key, another hash");
	cp_keys_mac(ab, 1, "x", "v", 1, m2);
	ok(memcmp(m1, m2, sizeof(m1)) == 0, "  the older key at position 1 gives the old hash");
	is_int(cp_keys_mac(ab, 2, "x", "v", 1, m2), CP_ERR_NOT_FOUND, "  no key at position 2");
}

int
main(void)
{
	char dir[] = "/tmp/test_mcpsession.XXXXXX", err[256], cmd[4200];
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_keys *a = NULL, *ba = NULL, *b = NULL;
	time_t now = time(NULL);

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_kind = CP_STORE_BDB;
	cfg.store_path = dir;
	is_int(cp_store_open(&cfg, &st), CP_OK, "store opened");
	cp_keys_parse("a", KEY_A, strlen(KEY_A), &a, err, sizeof(err));
	cp_keys_parse("ba", KEY_B KEY_A, strlen(KEY_B KEY_A), &ba, err, sizeof(err));
	cp_keys_parse("b", KEY_B, strlen(KEY_B), &b, err, sizeof(err));
	if (st == NULL || a == NULL || ba == NULL || b == NULL) {
		ok(0, "keys parsed");
		return tap_done();
	}
	macs(a, ba);

	is_int(cp_mcpsession_check(st, a, SID, ALICE, now), CP_ERR_NOT_FOUND,
	    "an unknown session has no owner");
	is_int(cp_mcpsession_claim(st, a, SID, ALICE, now), CP_OK, "alice's new session recorded");
	is_int(cp_mcpsession_check(st, a, SID, ALICE, now), CP_OK, "  alice may use it");
	is_int(cp_mcpsession_check(st, a, SID, BOB, now), CP_ERR_DENIED, "  bob may not");
	is_int(cp_mcpsession_claim(st, a, SID, BOB, now), CP_ERR_DENIED, "  nor claim it");
	is_int(cp_mcpsession_check(st, a, SID, ALICE, now), CP_OK, "  it stays alice's");
	is_int(cp_mcpsession_claim(st, a, SID, ALICE, now), CP_OK, "  her claim again is fine");
	is_int(cp_mcpsession_check(st, a, SID "x", BOB, now), CP_ERR_NOT_FOUND,
	    "  a longer id is another session");
	is_int(cp_mcpsession_check(st, a, "", ALICE, now), CP_ERR_INVALID, "empty session id");
	is_int(cp_mcpsession_check(st, a, SID, "", now), CP_ERR_INVALID, "empty user id");

	/* A rotation prepends a key: the record made under the old one still
	 * decides, and new sessions go under the new one. */
	is_int(cp_mcpsession_check(st, ba, SID, BOB, now), CP_ERR_DENIED,
	    "after a key rotation the session is still not bob's");
	is_int(cp_mcpsession_check(st, ba, SID, ALICE, now), CP_OK, "  and still alice's");
	is_int(cp_mcpsession_claim(st, ba, SID, BOB, now), CP_ERR_DENIED, "  bob cannot claim it anew");
	is_int(cp_mcpsession_claim(st, ba, "s-2", BOB, now), CP_OK, "a new session after it");
	ok(expiry(st, ba, 0, "s-2") > 0 && expiry(st, ba, 1, "s-2") == 0, "  is under the new key");
	is_int(cp_mcpsession_check(st, b, SID, BOB, now), CP_ERR_NOT_FOUND,
	    "once the old key is gone, its records are not found");

	/* Renewed in use, once past half its life. */
	is_int(cp_mcpsession_claim(st, a, "s-3", ALICE, now - CP_MCPSESSION_TTL + 60), CP_OK,
	    "a session recorded almost a day ago");
	is_int(expiry(st, a, 0, "s-3"), now + 60, "  has a minute left");
	is_int(cp_mcpsession_check(st, a, "s-3", ALICE, now), CP_OK, "  a check by its owner");
	is_int(expiry(st, a, 0, "s-3"), now + CP_MCPSESSION_TTL, "  renews it for a day");
	is_int(cp_mcpsession_check(st, a, "s-3", BOB, now - CP_MCPSESSION_TTL), CP_ERR_DENIED,
	    "  another user's check does not");

	cp_store_close(st);
	ok(!dir_holds(dir, SID), "the session id is in no store file");
	ok(dir_holds(dir, ALICE), "  (the owner is, so the search works)");
	cp_keys_free(a);
	cp_keys_free(ba);
	cp_keys_free(b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	return tap_done();
}
