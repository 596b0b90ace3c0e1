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
 *   cimd-proxy-admin status          configuration summary, key ids (the
 *                                    newest's age), live records per kind
 *   cimd-proxy-admin test            store, IdP discovery and JWKS, gateway
 *                                    (MCP initialize), AgentCore over TLS:
 *                                    each ok, or the failure and the fix
 *   cimd-proxy-admin revoke --user ID | --client URL
 *                                    refresh tokens issued until now answer
 *                                    invalid_grant; a user's pending
 *                                    bindings are deleted (revoke.h)
 *   cimd-proxy-admin retire-key ID   drop an older key from key_file
 *
 * purge, status, test, revoke and retire-key take --json after the
 * command: one JSON object on stdout.  Exit status: 0 done, 1 failed or
 * refused (the reason on stderr), 2 usage.  man/cimd-proxy-admin.8.
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

#include <json-c/json.h>

#include "buf.h"
#include "conf.h"
#include "http.h"
#include "idp.h"
#include "log.h"
#include "login.h"
#include "revoke.h"
#include "seal.h"
#include "store.h"

#define KEY_BYTES       CP_SEAL_KEY_LEN
#define MAX_KEY_FILE    65536   /* an old key file read for rotation */
#define KEEP_ALL        0       /* keygen's default: drop no key */
#define KEY_FILE_MODES  0640    /* the most a rotated file keeps of the old
                                 * mode: what cp_keys_load accepts */
#define MAX_SCHEMA_FILE 65536
#define SCHEMA_FILE     CP_PKGDATADIR "/cimd-proxy.sql"
#define MAX_SCAN        (64 * 1024 * 1024)  /* revoke: the bindings read at once */
#define TEST_PROBE_TTL  60      /* test's probe record, should its delete fail */

/* --json: each command prints one JSON object on stdout instead of
 * lines; messages about failures still go to stderr. */
static bool json_out;

static int
usage(void)
{
	fprintf(stderr, "usage: cimd-proxy-admin keygen [--keep N] FILE\n"
	    "           add a key at the top of FILE; --keep N (1 to %d) keeps\n"
	    "           only the newest N keys afterwards (default: all, at\n"
	    "           most %d)\n"
	    "       cimd-proxy-admin check-config\n"
	    "       cimd-proxy-admin init-store [FILE]\n"
	    "       cimd-proxy-admin purge [--json]\n"
	    "       cimd-proxy-admin status [--json]\n"
	    "       cimd-proxy-admin test [--json]\n"
	    "       cimd-proxy-admin revoke [--json] --user ID | --client URL\n"
	    "       cimd-proxy-admin retire-key [--json] ID\n"
	    "exit status: 0 done, 1 failed or refused, 2 usage\n",
	    CP_SEAL_MAX_KEYS, CP_SEAL_MAX_KEYS);
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

/* Creates path.new (its name into tmp) with O_EXCL | O_NOFOLLOW, so a
 * link or file planted there is never written through and two rewrites
 * at once cannot both win.  The descriptor, or -1 with a message naming
 * cmd, the command to run again. */
static int
open_tmp(const char *path, struct cp_buf *tmp, const char *cmd)
{
	int fd;

	if (cp_buf_printf(tmp, "%s.new", path) != CP_OK)
		return -1;
	fd = open(cp_buf_cstr(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "cimd-proxy-admin: %s already exists (left by an "
			    "interrupted %s, or put there by someone else): look at "
			    "it, remove it, then run %s again; %s is unchanged\n",
			    cp_buf_cstr(tmp), cmd, cmd, path);
		else
			fprintf(stderr, "cimd-proxy-admin: %s: %s\n", cp_buf_cstr(tmp),
			    strerror(errno));
	}
	return fd;
}

/*
 * Finishes a key file rewrite: *fd (tmp, made with O_EXCL) gets old's
 * owner and mode (old NULL: a new file), text, an fsync, and is renamed
 * over path, so a reader sees the old file or the new one, never half.
 * *fd is closed (-1).  0, or -1 with a message; tmp is then the caller's
 * to unlink.
 */
static int
commit_keys(const char *path, int *fd, const char *tmp, const struct cp_buf *text,
    const struct stat *old)
{
	int ret;

	if (old != NULL && keep_owner_mode(*fd, path, old) != 0)
		return -1;
	if (write(*fd, text->data, text->len) != (ssize_t)text->len || fsync(*fd) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	ret = close(*fd);
	*fd = -1;
	if (ret != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "cimd-proxy-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	sync_dir(path);
	return 0;
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
	if ((fd = open_tmp(path, &tmp, "keygen")) < 0)
		goto out;
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
	if (commit_keys(path, &fd, cp_buf_cstr(&tmp), &text, exists ? &oldsb : NULL) != 0)
		goto out;
	created = false;
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
	if (json_out)
		printf("{\"purged\":%zu}\n", purged);
	else
		printf("purged %zu expired records\n", purged);
	ok = 0;
out:
	cp_store_close(st);
	cp_conf_free(&cfg);
	return ok;
}

/* Prints obj (and puts it) when --json, else nothing; text mode prints
 * as it goes. */
static void
json_print(json_object *obj)
{
	if (json_out)
		printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

static void
jset(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

/* The configuration named by $CIMD_PROXY_CONF or the default path, with
 * the warning printed; 0, or 1 with the error printed. */
static int
load_config(struct cp_config *cfg)
{
	char err[1024];
	const char *path = cp_conf_path();

	if (cp_conf_load(path, cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cp_conf_warning(cfg) != NULL)
		fprintf(stderr, "%s: warning: %s\n", path, cp_conf_warning(cfg));
	cp_log_init("admin");
	return 0;
}

/* The kid seal.h gives a key line (the first byte of SHA-256 of the
 * key), or -1 when the line is not base64 of a key. */
static int
line_kid(const struct key_line *l)
{
	gnutls_datum_t in = { (unsigned char *)l->p, (unsigned)l->n }, raw = { NULL, 0 };
	unsigned char digest[32];
	int kid = -1;

	if (gnutls_base64_decode2(&in, &raw) != 0)
		return -1;
	if (raw.size == KEY_BYTES &&
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, raw.data, raw.size, digest) == 0)
		kid = digest[0];
	gnutls_memset(raw.data, 0, raw.size);
	gnutls_free(raw.data);
	return kid;
}

/* Reads the key file as the endpoints do, into text (for line_kid);
 * *sb its stat.  0, or 1 with the error printed. */
static int
read_keys(const char *path, struct cp_buf *text, struct stat *sb)
{
	struct cp_keys *keys = NULL;
	bool exists;
	char err[1024];

	if (cp_keys_load(path, &keys, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "key_file: %s\n", err);
		return 1;
	}
	cp_keys_free(keys);
	if (read_old(path, text, sb, &exists) != 0)
		return 1;
	return exists ? 0 : 1;
}

/*
 * status: the configuration in brief, the keys (id, position; the age of
 * the newest, from the key file's modification time: the file keeps no
 * dates) and the live records per store namespace.  Opens the store, so
 * run it as the web server user (a Berkeley DB store it creates would
 * belong to whoever runs this).  0, or 1 when something could not be
 * read (what could be is printed).
 */
static int
status(void)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_buf text;
	struct key_line l;
	struct stat sb;
	json_object *out = json_object_new_object(), *keys, *store, *k;
	time_t now = time(NULL);
	size_t at = 0, n, pos = 0;
	char idhex[3];
	int ns, ok = 1;

	cp_buf_init(&text, MAX_KEY_FILE);
	if (load_config(&cfg) != 0) {
		json_object_put(out);
		return 1;
	}
	jset(out, "config", json_object_new_string(cfg.source));
	jset(out, "resource", json_object_new_string(cfg.resource));
	jset(out, "idp_issuer", json_object_new_string(cfg.idp_issuer));
	jset(out, "gateway_url", json_object_new_string(cfg.gateway_url));
	jset(out, "store", json_object_new_string(cfg.store_kind == CP_STORE_BDB ?
	    "bdb" : "postgresql"));
	jset(out, "binding", json_object_new_string(cfg.binding == CP_BINDING_AGENTCORE ?
	    "agentcore" : "off"));
	jset(out, "consent", json_object_new_string(cfg.consent == CP_CONSENT_REMEMBER ?
	    "remember" : cfg.consent == CP_CONSENT_ALWAYS ? "always" : "off"));
	if (!json_out) {
		printf("config %s\n  resource %s\n  idp_issuer %s\n  gateway_url %s\n"
		    "  store %s, binding %s, consent %s\n", cfg.source, cfg.resource,
		    cfg.idp_issuer, cfg.gateway_url, cfg.store_kind == CP_STORE_BDB ?
		    "bdb" : "postgresql", cfg.binding == CP_BINDING_AGENTCORE ?
		    "agentcore" : "off", cfg.consent == CP_CONSENT_REMEMBER ? "remember" :
		    cfg.consent == CP_CONSENT_ALWAYS ? "always" : "off");
		printf("keys %s\n", cfg.key_file);
	}
	keys = json_object_new_array();
	jset(out, "keys", keys);
	if (read_keys(cfg.key_file, &text, &sb) != 0)
		goto store;
	while (next_key_line(text.data, text.len, &at, &l)) {
		k = json_object_new_object();
		snprintf(idhex, sizeof(idhex), "%02x", line_kid(&l) & 0xff);
		jset(k, "id", json_object_new_string(idhex));
		jset(k, "position", json_object_new_int((int)pos));
		jset(k, "seals", json_object_new_boolean(pos == 0));
		if (pos == 0)
			jset(k, "age_seconds", json_object_new_int64((int64_t)(now - sb.st_mtime)));
		json_object_array_add(keys, k);
		if (!json_out) {
			if (pos == 0)
				printf("  %02x  newest, seals; added %lld s ago (the key file's "
				    "modification time)\n", line_kid(&l), (long long)(now - sb.st_mtime));
			else
				printf("  %02x  older, opens only; retire it once the newest is "
				    "%d days old (cimd-proxy-admin retire-key %02x)\n", line_kid(&l),
				    CP_REFRESH_TTL / 86400, line_kid(&l));
		}
		pos++;
	}
store:
	store = json_object_new_object();
	jset(out, "records", store);
	if (cp_store_open(&cfg, &st) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: cannot open the store (see above)\n");
		goto out;
	}
	if (!json_out)
		printf("store records (live)\n");
	for (ns = CP_NS_ONCE; ns < CP_NS_COUNT; ns++) {
		if (cp_store_count(st, (enum cp_store_ns)ns, now, &n) != CP_OK) {
			fprintf(stderr, "cimd-proxy-admin: cannot count the %s records (see above)\n",
			    cp_store_ns_name((enum cp_store_ns)ns));
			goto out;
		}
		jset(store, cp_store_ns_name((enum cp_store_ns)ns), json_object_new_int64((int64_t)n));
		if (!json_out)
			printf("  %-22s %zu\n", cp_store_ns_name((enum cp_store_ns)ns), n);
	}
	ok = pos > 0 ? 0 : 1;
out:
	jset(out, "ok", json_object_new_boolean(ok == 0));
	json_print(out);
	cp_store_close(st);
	cp_buf_wipe_free(&text);
	cp_conf_free(&cfg);
	return ok;
}

/* Deletes the pending (not consumed) session bindings of user_id; *n
 * counts them.  CP_OK or the store's failure. */
static enum cp_status
drop_bindings(struct cp_store *st, const char *user_id, time_t now, size_t *n)
{
	struct cp_buf scan;
	struct cp_store_rec r;
	json_object *rec, *v;
	char *text;
	size_t at = 0;
	enum cp_status rc;

	*n = 0;
	cp_buf_init(&scan, MAX_SCAN);
	if ((rc = cp_store_scan(st, CP_NS_BINDING, now, &scan)) != CP_OK)
		goto out;
	while (cp_store_rec_next(&scan, &at, &r)) {
		if ((text = cp_strndup((const char *)r.value, r.vlen)) == NULL) {
			rc = CP_ERR_NOMEM;
			goto out;
		}
		rec = json_tokener_parse(text);
		free(text);
		if (rec == NULL)
			continue;
		if (json_object_object_get_ex(rec, "user_id", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), user_id) == 0 &&
		    !(json_object_object_get_ex(rec, "consumed", &v) &&
		    json_object_get_boolean(v))) {
			rc = cp_store_del(st, CP_NS_BINDING, r.key, r.klen);
			if (rc == CP_OK)
				(*n)++;
			else if (rc != CP_ERR_NOT_FOUND) {
				json_object_put(rec);
				goto out;
			}
			rc = CP_OK;
		}
		json_object_put(rec);
	}
out:
	cp_buf_wipe_free(&scan);
	return rc;
}

/*
 * revoke --user ID | --client URL (revoke.h): refresh tokens sealed up to
 * now stop working at their next refresh (invalid_grant); for a user,
 * their pending session bindings are deleted too (the browser step then
 * answers that the binding is unknown).  Bindings record no client, so
 * --client touches refresh tokens only.  0; 1 when the store failed.
 */
static int
revoke_cmd(const char *opt, const char *id)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	json_object *out;
	enum cp_revoke_kind kind = strcmp(opt, "--user") == 0 ? CP_REVOKE_USER : CP_REVOKE_CLIENT;
	time_t now = time(NULL);
	size_t n = 0;
	int ok = 1;

	if (load_config(&cfg) != 0)
		return 1;
	if (cp_store_open(&cfg, &st) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: cannot open the store (see above)\n");
		goto out;
	}
	if (cp_revoke_record(st, kind, id, now) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: the revocation was not recorded (see above)\n");
		goto out;
	}
	if (kind == CP_REVOKE_USER && drop_bindings(st, id, now, &n) != CP_OK) {
		fprintf(stderr, "cimd-proxy-admin: refresh tokens revoked, but the pending "
		    "bindings could not be read or deleted (see above): run revoke again\n");
		goto out;
	}
	ok = 0;
	if (json_out) {
		out = json_object_new_object();
		jset(out, kind == CP_REVOKE_USER ? "user" : "client_id", json_object_new_string(id));
		jset(out, "revoked_at", json_object_new_int64((int64_t)now));
		jset(out, "bindings_deleted", json_object_new_int64((int64_t)n));
		json_print(out);
	} else {
		printf("%s %s: refresh tokens issued until now are revoked (their next refresh "
		    "answers invalid_grant); %zu pending bindings deleted\n",
		    kind == CP_REVOKE_USER ? "user" : "client", id, n);
	}
out:
	cp_store_close(st);
	cp_conf_free(&cfg);
	return ok;
}

/* One line of `test`: ok, or the failure and what to fix. */
static int
test_line(json_object *arr, const char *what, bool ok, const char *detail, const char *fix)
{
	json_object *o = json_object_new_object();

	jset(o, "check", json_object_new_string(what));
	jset(o, "ok", json_object_new_boolean(ok));
	jset(o, "detail", json_object_new_string(detail));
	if (!ok)
		jset(o, "fix", json_object_new_string(fix));
	json_object_array_add(arr, o);
	if (!json_out) {
		printf("%-4s %-18s %s\n", ok ? "ok" : "FAIL", what, detail);
		if (!ok)
			printf("     fix: %s\n", fix);
	}
	return ok ? 0 : 1;
}

/* The MCP initialize request of `test` (MCP 2025-06-18, lifecycle). */
#define MCP_INITIALIZE "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"," \
	"\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}," \
	"\"clientInfo\":{\"name\":\"cimd-proxy-admin\",\"version\":\"" PACKAGE_VERSION "\"}}}"

/*
 * test: what the endpoints depend on, each line ok or the failure and
 * what to fix: the store (write, read, delete a probe record), the IdP
 * (discovery, then the JWKS), the gateway (an MCP initialize without a
 * token: any answer but a 5xx shows it is there; a gateway that wants a
 * token answers 401), the AgentCore endpoint over TLS (binding =
 * agentcore; any HTTP answer proves the TLS handshake).  Run it as the
 * web server user, on the host that serves.  0 all ok, 1 any failed.
 */
static int
test(void)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_idp idp;
	struct cp_http_response resp;
	struct cp_buf v;
	json_object *out = json_object_new_object(), *arr = json_object_new_array(), *jwks = NULL;
	char detail[512], probe[32];
	uint8_t rnd[8];
	enum cp_status rc;
	int failed = 0;

	memset(&idp, 0, sizeof(idp));
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&v, 64);
	jset(out, "checks", arr);
	if (load_config(&cfg) != 0) {
		json_object_put(out);
		return 1;
	}
	/* The store: open, write, read back, delete. */
	rc = cp_store_open(&cfg, &st);
	if (rc == CP_OK && (rc = cp_random(rnd, sizeof(rnd))) == CP_OK) {
		memcpy(probe, "admin-test:", 11);
		cp_hex(rnd, sizeof(rnd), probe + 11);
		if ((rc = cp_store_put(st, CP_NS_RATE, probe, strlen(probe), "1", 1,
		    time(NULL) + TEST_PROBE_TTL)) == CP_OK &&
		    (rc = cp_store_get(st, CP_NS_RATE, probe, strlen(probe), &v, NULL)) == CP_OK)
			rc = cp_store_del(st, CP_NS_RATE, probe, strlen(probe));
	}
	snprintf(detail, sizeof(detail), "%s: %s", cfg.store_kind == CP_STORE_BDB ? "bdb" :
	    "postgresql", rc == CP_OK ? "wrote, read and deleted a record" : cp_status_str(rc));
	failed |= test_line(arr, "store", rc == CP_OK, detail,
	    cfg.store_kind == CP_STORE_BDB ? "run as the web server user; the store directory "
	    "must be writable by it (see the log lines above)" :
	    "check the conninfo, that the server is up, and cimd-proxy-admin check-config");
	/* The IdP. */
	rc = cp_idp_discover(&cfg, NULL, &idp);
	snprintf(detail, sizeof(detail), "%s/.well-known/openid-configuration: %s",
	    cfg.idp_issuer, rc == CP_OK ? "issuer matches, endpoints present" : cp_status_str(rc));
	failed |= test_line(arr, "idp discovery", rc == CP_OK, detail,
	    "check idp_issuer (byte for byte the issuer the IdP names), DNS, the firewall, "
	    "and tls_ca_file when the IdP's certificate is from a private CA");
	if (rc == CP_OK) {
		rc = cp_idp_jwks(&cfg, NULL, &idp, false, &jwks);
		snprintf(detail, sizeof(detail), "%s: %s", idp.jwks_uri, rc == CP_OK ?
		    "a JWK Set" : cp_status_str(rc));
		failed |= test_line(arr, "idp jwks", rc == CP_OK, detail,
		    "the IdP's jwks_uri must answer a JWK Set over https from this host");
	}
	/* The gateway. */
	rc = cp_http_post_json(&cfg, cfg.gateway_url, MCP_INITIALIZE, strlen(MCP_INITIALIZE), &resp);
	if (rc == CP_OK)
		snprintf(detail, sizeof(detail), "%s: initialize answered HTTP %ld",
		    cfg.gateway_url, resp.status);
	else
		snprintf(detail, sizeof(detail), "%s: %s", cfg.gateway_url, cp_status_str(rc));
	failed |= test_line(arr, "gateway", rc == CP_OK && resp.status < 500, detail,
	    "check gateway_url, DNS and the firewall; a 5xx is the gateway's own failure");
	cp_buf_free(&resp.body);
	/* AgentCore. */
	if (cfg.binding == CP_BINDING_AGENTCORE) {
		rc = cp_http_get(&cfg, cfg.agentcore_endpoint, &resp);
		snprintf(detail, sizeof(detail), "%s: %s", cfg.agentcore_endpoint,
		    rc == CP_OK ? "TLS handshake done, HTTP answered" : cp_status_str(rc));
		failed |= test_line(arr, "agentcore", rc == CP_OK, detail,
		    "check agentcore_region or agentcore_endpoint, DNS, the firewall or "
		    "proxy, and tls_ca_file");
		cp_buf_free(&resp.body);
	}
	jset(out, "ok", json_object_new_boolean(!failed));
	json_print(out);
	json_object_put(jwks);
	cp_idp_free(&idp);
	cp_store_close(st);
	cp_buf_free(&v);
	cp_conf_free(&cfg);
	return failed;
}

/* A key id as status prints it: two hex digits; -1 when not one. */
static int
parse_kid(const char *s)
{
	int v = 0, i;

	if (strlen(s) != 2)
		return -1;
	for (i = 0; i < 2; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= s[i] - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * retire-key ID: removes the older key(s) with that id from the
 * configured key_file, rewritten as keygen writes it (FILE.new, owner
 * and mode kept, one rename).  What only that key sealed stops opening:
 * refresh tokens then answer invalid_grant.  The newest key, which
 * seals, is never retired.  0; 1 when refused or failed.
 */
static int
retire_key(const char *idtext)
{
	struct cp_config cfg;
	struct cp_buf old, text, tmp;
	struct key_line l;
	struct stat sb;
	json_object *out;
	size_t at = 0, pos = 0, removed = 0, kept = 0;
	bool exists = false, created = false;
	int kid = parse_kid(idtext), fd = -1, ok = 1;

	if (kid < 0) {
		fprintf(stderr, "cimd-proxy-admin: retire-key %s: give a key id as "
		    "cimd-proxy-admin status prints it (two hex digits)\n", idtext);
		return 2;
	}
	if (load_config(&cfg) != 0)
		return 1;
	cp_buf_init(&old, MAX_KEY_FILE);
	cp_buf_init(&text, CP_SEAL_MAX_KEY_FILE);
	cp_buf_init(&tmp, strlen(cfg.key_file) + sizeof(".new"));
	if ((fd = open_tmp(cfg.key_file, &tmp, "retire-key")) < 0)
		goto out;
	created = true;
	if (read_old(cfg.key_file, &old, &sb, &exists) != 0)
		goto out;
	for (; next_key_line(old.data, old.len, &at, &l); pos++) {
		if (line_kid(&l) == kid) {
			if (pos == 0) {
				fprintf(stderr, "cimd-proxy-admin: key %02x is the newest, the one "
				    "that seals: run keygen first, then retire it once what it "
				    "sealed has expired; nothing written\n", kid);
				goto out;
			}
			removed++;
			continue;
		}
		if (cp_buf_add(&text, l.p, l.n) != CP_OK || cp_buf_addc(&text, '\n') != CP_OK)
			goto out;
		kept++;
	}
	if (removed == 0) {
		fprintf(stderr, "cimd-proxy-admin: %s has no key %02x (cimd-proxy-admin status "
		    "lists them); nothing written\n", cfg.key_file, kid);
		goto out;
	}
	if (commit_keys(cfg.key_file, &fd, cp_buf_cstr(&tmp), &text, &sb) != 0)
		goto out;
	created = false;
	ok = 0;
	if (json_out) {
		out = json_object_new_object();
		jset(out, "key_file", json_object_new_string(cfg.key_file));
		jset(out, "retired", json_object_new_string(idtext));
		jset(out, "keys_left", json_object_new_int64((int64_t)kept));
		json_print(out);
	} else {
		printf("%s: key %02x retired, %zu keys left; what only it sealed no longer "
		    "opens\n", cfg.key_file, kid, kept);
	}
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(cp_buf_cstr(&tmp));
	cp_buf_wipe_free(&old);
	cp_buf_wipe_free(&text);
	cp_buf_free(&tmp);
	cp_conf_free(&cfg);
	return ok;
}

int
main(int argc, char **argv)
{
	int keep = KEEP_ALL;

	/* --json right after the command, for the commands that take it. */
	if (argc >= 3 && strcmp(argv[2], "--json") == 0) {
		json_out = true;
		memmove(argv + 2, argv + 3, (size_t)(argc - 2) * sizeof(*argv));
		argc--;
	}
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0 && !json_out) {
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
	if (argc == 2 && strcmp(argv[1], "check-config") == 0 && !json_out)
		return check_config();
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "init-store") == 0 && !json_out)
		return init_store(argc == 3 ? argv[2] : SCHEMA_FILE);
	if (argc == 2 && strcmp(argv[1], "purge") == 0)
		return purge();
	if (argc == 2 && strcmp(argv[1], "status") == 0)
		return status();
	if (argc == 2 && strcmp(argv[1], "test") == 0)
		return test();
	if (argc == 4 && strcmp(argv[1], "revoke") == 0 &&
	    (strcmp(argv[2], "--user") == 0 || strcmp(argv[2], "--client") == 0) &&
	    argv[3][0] != '\0' && strlen(argv[3]) <= CP_REVOKE_MAX_ID)
		return revoke_cmd(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "retire-key") == 0)
		return retire_key(argv[2]);
	return usage();
}
