/*
 * cimd-proxy-admin: operator commands that are not endpoints.
 *
 *   cimd-proxy-admin keygen FILE     add a new key at the top of FILE
 *                                    (created mode 0600; older keys kept
 *                                    so what they sealed still opens)
 *   cimd-proxy-admin check-config    validate $CIMD_PROXY_CONF or the
 *                                    default path, print one line
 *   cimd-proxy-admin purge           delete every expired record from the
 *                                    configured store, print the count
 *                                    (the store also purges as it goes;
 *                                    this is for cron and for operators)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "store.h"

#define KEY_BYTES       32
#define MAX_KEY_FILE    65536

static int
usage(void)
{
	fprintf(stderr, "usage: cimd-proxy-admin keygen FILE\n"
	    "       cimd-proxy-admin check-config\n"
	    "       cimd-proxy-admin purge\n");
	return 2;
}

/* Reads FILE if it exists (its keys are kept after the new one). */
static int
read_old(const char *path, struct cp_buf *old)
{
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (cp_buf_add(old, chunk, (size_t)n) != CP_OK) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	close(fd);
	return n < 0 ? -1 : 0;
}

static int
keygen(const char *path)
{
	unsigned char key[KEY_BYTES];
	gnutls_datum_t raw = { key, sizeof(key) }, b64 = { NULL, 0 };
	struct cp_buf old, tmp;
	int fd = -1, ok = 1;

	cp_buf_init(&old, MAX_KEY_FILE);
	cp_buf_init(&tmp, 4096);
	if (read_old(path, &old) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, key, sizeof(key)) != 0 ||
	    gnutls_base64_encode2(&raw, &b64) != 0) {
		fprintf(stderr, "cimd-proxy-admin: cannot generate a key\n");
		goto out;
	}
	if (cp_buf_printf(&tmp, "%s.new", path) != CP_OK)
		goto out;
	/* Written beside the file and renamed, so a reader never sees half. */
	fd = open(cp_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b64.data, b64.size) != (ssize_t)b64.size ||
	    write(fd, "\n", 1) != 1 ||
	    (old.len && write(fd, old.data, old.len) != (ssize_t)old.len) ||
	    fsync(fd) != 0 || close(fd) != 0 || rename(cp_buf_cstr(&tmp), path) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			unlink(cp_buf_cstr(&tmp));
		goto out;
	}
	fd = -1;
	printf("%s: new key added (%s); make it readable by the web server user only\n",
	    path, old.len ? "older keys kept below it" : "first key");
	ok = 0;
out:
	gnutls_memset(key, 0, sizeof(key));
	if (b64.data) {
		gnutls_memset(b64.data, 0, b64.size);
		gnutls_free(b64.data);
	}
	cp_buf_wipe_free(&old);
	cp_buf_free(&tmp);
	return ok;
}

static int
check_config(void)
{
	struct cp_config cfg;
	char err[1024];
	const char *path = cp_conf_path();

	if (cp_conf_load(path, &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cp_conf_warning(&cfg) != NULL)
		fprintf(stderr, "%s: warning: %s\n", path, cp_conf_warning(&cfg));
	printf("%s: ok (MCP resource %s)\n", path, cfg.resource);
	cp_conf_free(&cfg);
	return 0;
}

/* Run as the web server user: files the store creates belong to whoever
 * creates them, and the endpoints must be able to open them. */
static int
purge(void)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	char err[1024];
	const char *path = cp_conf_path();
	size_t purged = 0;
	int ok = 1;

	if (cp_conf_load(path, &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	cp_log_init("admin");
	if (cp_store_open(&cfg, &st) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: cannot open the store (see above)\n");
		goto out;
	}
	if (cp_store_purge(st, time(NULL), &purged) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: purge failed after %zu records (see above)\n",
		    purged);
		goto out;
	}
	printf("purged %zu expired records\n", purged);
	ok = 0;
out:
	cp_store_close(st);
	cp_conf_free(&cfg);
	return ok;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "keygen") == 0)
		return keygen(argv[2]);
	if (argc == 2 && strcmp(argv[1], "check-config") == 0)
		return check_config();
	if (argc == 2 && strcmp(argv[1], "purge") == 0)
		return purge();
	return usage();
}
