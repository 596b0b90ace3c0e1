/*
 * Key rotation in a long-lived process: cp_login_get notices a changed
 * key_file (at most once a second) and reloads it; a changed file that
 * cannot be used keeps the keys already loaded (one error logged per
 * version), except one that others may now read, which drops them.
 * Real files renamed into place as cimd-proxy-admin keygen does, and a
 * real Berkeley DB store.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "conf.h"
#include "log.h"
#include "login.h"
#include "seal.h"
#include "../tap.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define KEY_C "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
/* Longer than the once-a-second recheck, with room for a slow machine's
 * scheduling; nothing is asserted about how long anything takes. */
#define AFTER_RECHECK_US 1200000

static char keyfile[128], errlog[128];

/* Replaces the key file the way keygen does: a new file renamed over it. */
static void
put_keys(const char *text, mode_t mode)
{
	char tmp[160];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", keyfile);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fchmod(fd, mode) != 0 || close(fd) != 0 || rename(tmp, keyfile) != 0)
		printf("# cannot write %s\n", keyfile);
}

/* True when what lg seals now opens with key (one base64 key) alone. */
static bool
seals_with(struct cp_login *lg, const char *key)
{
	struct cp_keys *one = NULL;
	struct cp_buf env, plain;
	char err[256];
	bool yes = false;

	cp_buf_init(&env, 4096);
	cp_buf_init(&plain, 64);
	if (cp_keys_parse("one", key, strlen(key), &one, err, sizeof(err)) == CP_OK &&
	    cp_seal(lg->keys, CP_SEAL_CSRF, "x", 1, time(NULL) + 60, &env, NULL) == CP_OK)
		yes = cp_open(one, CP_SEAL_CSRF, env.data, env.len, time(NULL), &plain,
		    NULL, NULL) == CP_OK;
	cp_keys_free(one);
	cp_buf_free(&env);
	cp_buf_free(&plain);
	return yes;
}

/* cp_login_get with stderr (the log) going to errlog; *logged gets the
 * number of lines it wrote there that contain needle. */
static enum cp_status
get_logged(const struct cp_config *cfg, struct cp_login **lg, const char *needle,
    int *logged)
{
	char line[1024];
	FILE *f;
	int saved = dup(2), fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	enum cp_status rc;

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	rc = cp_login_get(cfg, lg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	*logged = 0;
	if ((f = fopen(errlog, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strstr(line, needle) != NULL)
				(*logged)++;
			printf("#   log: %s", line);
		}
		fclose(f);
	}
	return rc;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_rotation(const struct cp_config *cfg)
{
	struct cp_login *lg = NULL;
	struct cp_buf old_env, plain;
	char many[2048];
	double t0;
	int i, logged;
	size_t n = 0;

	cp_buf_init(&old_env, 4096);
	cp_buf_init(&plain, 64);
	put_keys(KEY_A "\n", 0600);
	is_int(cp_login_get(cfg, &lg), CP_OK, "keys and store");
	if (lg == NULL)
		return;
	t0 = now_seconds();
	ok(seals_with(lg, KEY_A), "seals with the only key, A");
	is_int(cp_seal(lg->keys, CP_SEAL_CODE, "c", 1, time(NULL) + 600, &old_env, NULL),
	    CP_OK, "a code sealed before the rotation");

	put_keys(KEY_B "\n" KEY_A "\n", 0600);
	is_int(cp_login_get(cfg, &lg), CP_OK, "rotated file, asked again at once");
	if (now_seconds() - t0 < 0.8)
		ok(seals_with(lg, KEY_A), "  within a second of the last look: not looked at yet");
	else
		ok(1, "# SKIP the machine took over 0.8 s between two calls");

	usleep(AFTER_RECHECK_US);
	is_int(cp_login_get(cfg, &lg), CP_OK, "a second later");
	ok(seals_with(lg, KEY_B), "  the new key B seals: reloaded without a restart");
	is_int(cp_open(lg->keys, CP_SEAL_CODE, old_env.data, old_env.len, time(NULL),
	    &plain, NULL, NULL), CP_OK, "  the code sealed with A before still opens");

	/* A changed file that cannot be used: the keys already loaded stay. */
	put_keys("this is not a key\n", 0600);
	usleep(AFTER_RECHECK_US);
	is_int(get_logged(cfg, &lg, "still using the keys loaded before", &logged), CP_OK,
	    "file replaced by an invalid one: still serving");
	ok(seals_with(lg, KEY_B), "  with the keys loaded before");
	is_int(logged, 1, "  one error logged");
	usleep(AFTER_RECHECK_US);
	is_int(get_logged(cfg, &lg, "key_file", &logged), CP_OK, "the same broken file, later");
	is_int(logged, 0, "  not logged again");

	for (i = 0; i <= CP_SEAL_MAX_KEYS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\n", i % 2 ? KEY_A : KEY_C);
	put_keys(many, 0600);
	usleep(AFTER_RECHECK_US);
	is_int(get_logged(cfg, &lg, "key file has 17 keys, the limit is 16", &logged), CP_OK,
	    "a 17-key file: still serving");
	ok(seals_with(lg, KEY_B), "  with the keys loaded before");
	is_int(logged, 1, "  the error says how many keys and the limit");

	unlink(keyfile);
	usleep(AFTER_RECHECK_US);
	is_int(get_logged(cfg, &lg, "No such file", &logged), CP_OK, "file removed: still serving");
	ok(seals_with(lg, KEY_B), "  with the keys loaded before");
	is_int(logged, 1, "  the error is logged");

	put_keys(KEY_C "\n" KEY_B "\n", 0600);
	usleep(AFTER_RECHECK_US);
	is_int(cp_login_get(cfg, &lg), CP_OK, "a valid file again");
	ok(seals_with(lg, KEY_C), "  its newest key C seals");

	/* Others may read it now: the keys may be out, so none are used. */
	chmod(keyfile, 0644);
	usleep(AFTER_RECHECK_US);
	is_int(get_logged(cfg, &lg, "others may now access it", &logged), CP_ERR_CONFIG,
	    "file made world-readable: refused (the endpoint answers 500)");
	is_int(logged, 1, "  and logged");
	ok(lg == NULL, "  no login context handed out");
	is_int(cp_login_get(cfg, &lg), CP_ERR_CONFIG, "  still refused on the next request");
	chmod(keyfile, 0600);
	is_int(cp_login_get(cfg, &lg), CP_OK, "chmod 600: served again at once");
	if (lg != NULL)
		ok(seals_with(lg, KEY_C), "  with the file's keys");
	cp_buf_free(&old_env);
	cp_buf_wipe_free(&plain);
}

int
main(void)
{
	char dir[] = "/tmp/test_login.XXXXXX", text[1024], err[512], cmd[128];
	struct cp_config cfg;

	if (gnutls_global_init() < 0 || mkdtemp(dir) == NULL) {
		ok(0, "setup");
		return tap_done();
	}
	snprintf(keyfile, sizeof(keyfile), "%s/keys", dir);
	snprintf(errlog, sizeof(errlog), "%s/err.log", dir);
	snprintf(text, sizeof(text), "public_url = https://proxy.example\n"
	    "idp_issuer = https://idp.example\nidp_client_id = cid\nidp_audience = api://test\n"
	    "gateway_url = https://gw.example/mcp\nkey_file = %s\nstore = bdb:%s\n"
	    "binding = off\n", keyfile, dir);
	is_int(cp_conf_parse("t.conf", text, strlen(text), &cfg, err, sizeof(err)), CP_OK,
	    "config parsed");
	cp_log_set_level(CP_LOG_INFO);
	test_rotation(&cfg);
	cp_conf_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", dir);
	return tap_done();
}
