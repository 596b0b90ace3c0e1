/*
 * cimd-proxy-admin: operator commands that are not endpoints.
 *
 *   cimd-proxy-admin keygen [--keep N] FILE
 *                                    add a new key at the top of FILE;
 *                                    older keys are kept below it so what
 *                                    they sealed still opens (all of them,
 *                                    or the newest N - 1 with --keep N).
 *                                    FILE keeps its owner, group and mode
 *                                    (a new FILE: mode 0600).  Refuses to
 *                                    write a file the endpoints would
 *                                    refuse (over CP_SEAL_MAX_KEYS keys, a
 *                                    bad old line)
 *   cimd-proxy-admin check-config    validate $CIMD_PROXY_CONF or the
 *                                    default path and its key_file, print
 *                                    one line; with store = postgresql:,
 *                                    also connect and check the table and
 *                                    the role's rights
 *   cimd-proxy-admin init-store [FILE]
 *                                    apply the schema (FILE, default the
 *                                    installed cimd-proxy.sql) through the
 *                                    configured conninfo; idempotent
 *   cimd-proxy-admin purge           delete every expired record from the
 *                                    configured store, print the count
 *                                    (the store also purges as it goes;
 *                                    this is for cron and for operators)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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
#include "seal.h"
#include "store.h"

#define KEY_BYTES       CP_SEAL_KEY_LEN
#define MAX_KEY_FILE    65536   /* an old key file read for rotation */
#define KEEP_ALL        0       /* keygen's default: drop no key */
#define KEY_FILE_MODES  0640    /* the most a rotated file keeps of the old
                                 * mode: what cp_keys_load accepts */
#define MAX_SCHEMA_FILE 65536
#define SCHEMA_FILE     CP_PKGDATADIR "/cimd-proxy.sql"

static int
usage(void)
{
	fprintf(stderr, "usage: cimd-proxy-admin keygen [--keep N] FILE\n"
	    "           add a key at the top of FILE; --keep N (1 to %d) keeps\n"
	    "           only the newest N keys afterwards (default: all, at\n"
	    "           most %d)\n"
	    "       cimd-proxy-admin check-config\n"
	    "       cimd-proxy-admin init-store [FILE]\n"
	    "       cimd-proxy-admin purge\n", CP_SEAL_MAX_KEYS, CP_SEAL_MAX_KEYS);
	return 2;
}

/* One key line of a key file, trimmed the way cp_keys_parse trims it. */
struct key_line {
	const char *p;
	size_t n;
};

/* Finds the next non-blank line of text[*at..len), trimmed of blanks and
 * CR; advances *at past it.  false at the end of the text. */
static bool
next_key_line(const char *text, size_t len, size_t *at, struct key_line *l)
{
	const char *line, *nl;
	size_t n;

	while (*at < len) {
		line = text + *at;
		if ((nl = memchr(line, '\n', len - *at)) == NULL)
			nl = text + len;
		*at = (size_t)(nl - text) + (nl < text + len);
		n = (size_t)(nl - line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
		    line[n - 1] == '\t'))
			n--;
		while (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		if (n > 0) {
			l->p = line;
			l->n = n;
			return true;
		}
	}
	return false;
}

/*
 * Reads the key file at path into old, with *sb its stat, unless it does
 * not exist (*exists false).  A symbolic link is refused: the rename
 * would replace the link, not the file it names.  0, or -1 with a message
 * printed.
 */
static int
read_old(const char *path, struct cp_buf *old, struct stat *sb, bool *exists)
{
	char chunk[4096];
	ssize_t n = 0;
	int fd, ret = -1;

	*exists = false;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			fprintf(stderr, "cimd-proxy-admin: %s is a symbolic link: run "
			    "keygen on the file it names\n", path);
		else
			fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, sb) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb->st_mode)) {
		fprintf(stderr, "cimd-proxy-admin: %s: not a regular file\n", path);
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (cp_buf_add(old, chunk, (size_t)n) != CP_OK) {
			fprintf(stderr, "cimd-proxy-admin: %s: larger than %d bytes: "
			    "not a key file\n", path, MAX_KEY_FILE);
			goto out;
		}
	if (n < 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		goto out;
	}
	*exists = true;
	ret = 0;
out:
	gnutls_memset(chunk, 0, sizeof(chunk));
	close(fd);
	return ret;
}

/*
 * Gives the new key file (fd) the old one's owner and group, and its mode
 * within KEY_FILE_MODES: a root who rotates the key of a www-data server
 * must not leave a file www-data cannot read.  0, or -1 with a message.
 */
static int
keep_owner_mode(int fd, const char *path, const struct stat *old)
{
	struct stat now;
	mode_t mode = old->st_mode & KEY_FILE_MODES;

	if (fstat(fd, &now) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s.new: %s\n", path, strerror(errno));
		return -1;
	}
	if ((now.st_uid != old->st_uid || now.st_gid != old->st_gid) &&
	    fchown(fd, old->st_uid, old->st_gid) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s belongs to uid %u gid %u and the new "
		    "file cannot (%s): run keygen as root or as that user\n", path,
		    (unsigned)old->st_uid, (unsigned)old->st_gid, strerror(errno));
		return -1;
	}
	/* After fchown, which may clear mode bits. */
	if (fchmod(fd, mode) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s.new: %s\n", path, strerror(errno));
		return -1;
	}
	if ((old->st_mode & 07777) != mode)
		printf("%s: mode %04o narrowed to %04o (the endpoints refuse more)\n",
		    path, (unsigned)(old->st_mode & 07777), (unsigned)mode);
	return 0;
}

/* Flushes the directory holding path, so the rename survives a crash. */
static void
sync_dir(const char *path)
{
	struct cp_buf dir;
	const char *slash = strrchr(path, '/');
	int fd;

	cp_buf_init(&dir, strlen(path) + 2);
	if (cp_buf_add(&dir, slash == NULL ? "." : path,
	    slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path)) == CP_OK &&
	    (fd = open(cp_buf_cstr(&dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	cp_buf_free(&dir);
}

/*
 * keygen: FILE.new is created with O_EXCL | O_NOFOLLOW, so a link or file
 * planted there is never written through, and two keygens at once cannot
 * both win (the loser stops before reading FILE); the old keys are read
 * after that, the new file is filled, given FILE's owner and mode,
 * synced and renamed over FILE, so a reader sees the old file or the
 * new one, never half.  keep is KEEP_ALL or 1..CP_SEAL_MAX_KEYS.
 */
static int
keygen(const char *path, int keep)
{
	unsigned char key[KEY_BYTES];
	gnutls_datum_t raw = { key, sizeof(key) }, b64 = { NULL, 0 };
	struct cp_buf old, text, tmp;
	struct cp_keys *checked = NULL;
	struct key_line l;
	struct stat oldsb;
	char err[512];
	size_t at, cut = 0, nold = 0, nkept = 0;
	bool exists = false, created = false;
	int fd = -1, ok = 1;

	cp_buf_init(&old, MAX_KEY_FILE);
	cp_buf_init(&text, CP_SEAL_MAX_KEY_FILE);
	cp_buf_init(&tmp, strlen(path) + sizeof(".new"));
	if (cp_buf_printf(&tmp, "%s.new", path) != CP_OK)
		goto out;
	fd = open(cp_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "cimd-proxy-admin: %s already exists (left by an "
			    "interrupted keygen, or put there by someone else): look at "
			    "it, remove it, then run keygen again; %s is unchanged\n",
			    cp_buf_cstr(&tmp), path);
		else
			fprintf(stderr, "cimd-proxy-admin: %s: %s\n", cp_buf_cstr(&tmp),
			    strerror(errno));
		goto out;
	}
	created = true;
	if (read_old(path, &old, &oldsb, &exists) != 0)
		goto out;
	for (at = 0; next_key_line(old.data, old.len, &at, &l); nold++)
		if (keep == KEEP_ALL || nold + 1 < (size_t)keep) {
			nkept++;
			cut = at;
		}
	if (keep == KEEP_ALL && nold + 1 > CP_SEAL_MAX_KEYS) {
		fprintf(stderr, "cimd-proxy-admin: %s: key file has %zu keys, the limit is "
		    "%d: use --keep N to add one and keep only the newest N (N at most "
		    "%d); nothing written\n", path, nold, CP_SEAL_MAX_KEYS, CP_SEAL_MAX_KEYS);
		goto out;
	}
	/* What is kept must load, under the old file's own line numbers. */
	if (nkept > 0 && cp_keys_parse(path, old.data, cut, &checked, err,
	    sizeof(err)) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: %s; nothing written\n", err);
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, key, sizeof(key)) != 0 ||
	    gnutls_base64_encode2(&raw, &b64) != 0) {
		fprintf(stderr, "cimd-proxy-admin: cannot generate a key\n");
		goto out;
	}
	if (cp_buf_add(&text, b64.data, b64.size) != CP_OK ||
	    cp_buf_addc(&text, '\n') != CP_OK)
		goto out;
	for (at = 0; next_key_line(old.data, cut, &at, &l); )
		if (cp_buf_add(&text, l.p, l.n) != CP_OK || cp_buf_addc(&text, '\n') != CP_OK) {
			fprintf(stderr, "cimd-proxy-admin: %s: the new file would be larger "
			    "than %d bytes\n", path, CP_SEAL_MAX_KEY_FILE);
			goto out;
		}
	if (exists && keep_owner_mode(fd, path, &oldsb) != 0)
		goto out;
	if (write(fd, text.data, text.len) != (ssize_t)text.len ||
	    fsync(fd) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", cp_buf_cstr(&tmp),
		    strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", cp_buf_cstr(&tmp),
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(cp_buf_cstr(&tmp), path) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		goto out;
	}
	created = false;
	sync_dir(path);
	if (!exists)
		printf("%s: first key written (mode 0600); make it readable by the web "
		    "server user only\n", path);
	else
		printf("%s: new key added, %zu older kept, %zu dropped; owner and mode "
		    "kept\n", path, nkept, nold - nkept);
	ok = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(cp_buf_cstr(&tmp));
	gnutls_memset(key, 0, sizeof(key));
	if (b64.data) {
		gnutls_memset(b64.data, 0, b64.size);
		gnutls_free(b64.data);
	}
	cp_keys_free(checked);
	cp_buf_wipe_free(&old);
	cp_buf_wipe_free(&text);
	cp_buf_free(&tmp);
	return ok;
}

/* --keep's value: 1 to CP_SEAL_MAX_KEYS in decimal, else -1. */
static int
parse_keep(const char *s)
{
	int v = 0;

	if (*s == '\0' || strlen(s) > 2)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v >= 1 && v <= CP_SEAL_MAX_KEYS ? v : -1;
}

/* The configuration, then its key_file as the endpoints load it (mode,
 * every line, the number of keys), so an error shows here before every
 * endpoint answers 500.  Run it as root or the web server user: others
 * cannot read the key file.  A PostgreSQL store is checked by
 * connecting: the table, the role's rights, a writable server.  A
 * Berkeley DB store is not opened here, since opening creates it, owned
 * by whoever runs this. */
static int
check_config(void)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_keys *keys = NULL;
	char err[1024];
	const char *path = cp_conf_path();
	int ok = 1;

	if (cp_conf_load(path, &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cp_conf_warning(&cfg) != NULL)
		fprintf(stderr, "%s: warning: %s\n", path, cp_conf_warning(&cfg));
	switch (cp_keys_load(cfg.key_file, &keys, err, sizeof(err))) {
	case CP_OK:
		break;
	case CP_ERR_IO:
		fprintf(stderr, "%s: key_file: %s (run check-config as root or as the "
		    "web server user, who must be able to read it)\n", path, err);
		goto out;
	default:
		fprintf(stderr, "%s: key_file: %s\n", path, err);
		goto out;
	}
	cp_log_init("admin");
	if (cfg.store_kind == CP_STORE_POSTGRESQL &&
	    (cp_store_open(&cfg, &st) != CP_OK || cp_store_check(st) != CP_OK)) {
		fprintf(stderr, "%s: store: the PostgreSQL store is not usable (see above)\n", path);
		goto out;
	}
	printf("%s: ok (MCP resource %s%s)\n", path, cfg.resource,
	    st ? "; PostgreSQL store reachable, table and rights in order" : "");
	ok = 0;
out:
	cp_store_close(st);
	cp_keys_free(keys);
	cp_conf_free(&cfg);
	return ok;
}

/* Reads the schema script at path into sql: 0, or -1 with a message
 * printed (unreadable, empty, or over MAX_SCHEMA_FILE). */
static int
read_schema(const char *path, struct cp_buf *sql)
{
	char chunk[4096];
	size_t n;
	FILE *f;
	int ret = -1;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (cp_buf_add(sql, chunk, n) != CP_OK) {
			fprintf(stderr, "cimd-proxy-admin: %s: larger than %d bytes: "
			    "not the schema\n", path, MAX_SCHEMA_FILE);
			goto out;
		}
	if (ferror(f))
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
	else if (sql->len == 0)
		fprintf(stderr, "cimd-proxy-admin: %s: empty\n", path);
	else
		ret = 0;
out:
	fclose(f);
	return ret;
}

/* Applies the schema script through the configured conninfo, as the
 * role it names (which needs CREATE on the schema the first time). */
static int
init_store(const char *file)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_buf sql;
	char err[1024];
	const char *path = cp_conf_path();
	int ok = 1;

	cp_buf_init(&sql, MAX_SCHEMA_FILE);
	if (cp_conf_load(path, &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		cp_buf_free(&sql);
		return 1;
	}
	cp_log_init("admin");
	if (cfg.store_kind != CP_STORE_POSTGRESQL) {
		printf("store = bdb: needs no initialisation: the store is created when first "
		    "opened\n");
		ok = 0;
		goto out;
	}
	if (read_schema(file, &sql) != 0)
		goto out;
	if (cp_store_open(&cfg, &st) != CP_OK ||
	    cp_store_apply_schema(st, cp_buf_cstr(&sql)) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: the schema was not applied (see above)\n");
		goto out;
	}
	printf("schema %s applied\n", file);
	ok = 0;
out:
	cp_store_close(st);
	cp_buf_free(&sql);
	cp_conf_free(&cfg);
	return ok;
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
	int keep = KEEP_ALL;

	if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
		if (argc == 5 && strcmp(argv[2], "--keep") == 0) {
			if ((keep = parse_keep(argv[3])) < 0) {
				fprintf(stderr, "cimd-proxy-admin: --keep %s: give a number "
				    "of keys from 1 to %d\n", argv[3], CP_SEAL_MAX_KEYS);
				return 2;
			}
			return keygen(argv[4], keep);
		}
		if (argc == 3 && argv[2][0] != '-')
			return keygen(argv[2], keep);
		return usage();
	}
	if (argc == 2 && strcmp(argv[1], "check-config") == 0)
		return check_config();
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "init-store") == 0)
		return init_store(argc == 3 ? argv[2] : SCHEMA_FILE);
	if (argc == 2 && strcmp(argv[1], "purge") == 0)
		return purge();
	return usage();
}
