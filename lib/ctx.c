#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "ctx.h"
#include "log.h"
#include "request.h"

/* One version of a file as stat sees it: an atomic rename gives a new
 * inode, an edit in place a new mtime or size, a chmod or chown a new
 * ctime.  err is the errno when stat failed (the rest is then zero). */
struct file_version {
	int err;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	struct timespec mtime, ctime;
};

struct cp_gen {
	unsigned refs;              /* the current pointer counts as one */
	char *path;
	struct file_version version;
	struct cp_config cfg;
};

struct cp_keyring {
	unsigned refs;
	struct cp_keys *keys;
};

struct cp_storeref {
	unsigned refs;
	struct cp_store *st;
};

/* The process's context.  Everything in it is guarded by lock. */
static struct {
	pthread_mutex_t lock;
	bool registered;            /* cp_ctx_shutdown is registered with atexit */

	struct cp_gen *gen;         /* current configuration, or NULL */
	char *gen_failed_path;      /* the path whose load failed last */
	char gen_err[1024];         /* ... and why */
	struct file_version gen_refused;   /* a changed file last refused */
	bool gen_refused_logged;
	struct timespec gen_checked;

	struct cp_keyring *kr;      /* current keys, or NULL */
	char *key_file;             /* what kr was read from */
	struct file_version key_version;    /* of kr's file */
	struct file_version key_refused;    /* last one logged as refused */
	bool key_refused_logged;
	struct timespec keys_checked;

	struct cp_storeref *sr;     /* current store, or NULL */
	char *store_path;           /* what sr was opened on */
} ctx = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The calling thread's current request (cp_ctx_begin .. cp_ctx_end). */
static __thread struct cp_req *current;
/* What cp_login_get holds for a thread without a current request. */
static __thread struct cp_hold loose;

static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void
file_version(const char *path, struct file_version *v)
{
	struct stat sb;

	memset(v, 0, sizeof(*v));
	if (stat(path, &sb) != 0) {
		v->err = errno != 0 ? errno : EIO;
		return;
	}
	v->dev = sb.st_dev;
	v->ino = sb.st_ino;
	v->size = sb.st_size;
	v->mode = sb.st_mode;
	v->mtime = sb.st_mtim;
	v->ctime = sb.st_ctim;
}

static bool
same_version(const struct file_version *a, const struct file_version *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mode == b->mode &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Whether CP_CTX_RECHECK_SECONDS have passed since *last, which then
 * becomes now.  CLOCK_MONOTONIC: setting the wall clock moves neither way. */
static bool
check_due(struct timespec *last)
{
	struct timespec now;
	long long ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return true;
	ms = (long long)(now.tv_sec - last->tv_sec) * 1000 +
	    (now.tv_nsec - last->tv_nsec) / 1000000;
	if (ms < CP_CTX_RECHECK_SECONDS * 1000LL)
		return false;
	*last = now;
	return true;
}

/* Reference counting; the caller holds ctx.lock.  NULL is ignored. */
static void
gen_put(struct cp_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	cp_conf_free(&g->cfg);
	free(g->path);
	free(g);
}

static void
keyring_put(struct cp_keyring *kr)
{
	if (kr == NULL || --kr->refs > 0)
		return;
	cp_keys_free(kr->keys);
	free(kr);
}

static void
storeref_put(struct cp_storeref *sr)
{
	if (sr == NULL || --sr->refs > 0)
		return;
	cp_store_close(sr->st);
	free(sr);
}

static void
hold_release(struct cp_hold *h)
{
	keyring_put(h->kr);
	storeref_put(h->sr);
	gen_put(h->gen);
	memset(h, 0, sizeof(*h));
}

/* Loads path into a new generation (one reference, the caller's), or
 * NULL with the reason in err.  Stat before reading: a change made
 * while we read is then seen as a new version at the next check. */
static struct cp_gen *
gen_load(const char *path, char *err, size_t errlen)
{
	struct cp_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL || (g->path = strdup(path)) == NULL) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->refs = 1;
	file_version(path, &g->version);
	if (cp_conf_load(path, &g->cfg, err, errlen) != CP_OK) {
		free(g->path);
		free(g);
		return NULL;
	}
	return g;
}

/* A weakening setting, shown whatever log_level says. */
static void
gen_announce(const struct cp_gen *g)
{
	const char *warning;

	if ((warning = cp_conf_warning(&g->cfg)) != NULL) {
		cp_log_set_level(CP_LOG_WARN);
		cp_log(CP_LOG_WARN, "%s: %s", g->path, warning);
	}
	cp_log_set_level(g->cfg.log_level);
}

/* Makes g (one reference, which becomes the current pointer's) current. */
static void
gen_install(struct cp_gen *g)
{
	gen_put(ctx.gen);
	ctx.gen = g;
	free(ctx.gen_failed_path);
	ctx.gen_failed_path = NULL;
	ctx.gen_refused_logged = false;
	gen_announce(g);
}

/* The current generation's file changed: load it, or keep the one in
 * use (a file half-way through an edit says nothing against it) with
 * one error per refused version. */
static void
gen_recheck(void)
{
	struct file_version v;
	struct cp_gen *fresh;
	char err[1024];

	file_version(ctx.gen->path, &v);
	if (same_version(&v, &ctx.gen->version))
		return;
	if ((fresh = gen_load(ctx.gen->path, err, sizeof(err))) != NULL) {
		cp_log(CP_LOG_INFO, "%s changed: configuration reloaded", ctx.gen->path);
		gen_install(fresh);
		return;
	}
	if (!ctx.gen_refused_logged || !same_version(&v, &ctx.gen_refused)) {
		cp_log(CP_LOG_ERROR, "configuration changed but cannot be used: %s; "
		    "still using the one loaded before until it is fixed", err);
		cp_audit(&ctx.gen->cfg, NULL, &(struct cp_audit_event){
		    .kind = CP_AUDIT_CONFIG_ERROR, .reason = err });
	}
	ctx.gen_refused = v;
	ctx.gen_refused_logged = true;
}

/* The generation for path with a reference for the caller, or NULL with
 * the reason in err.  A path that failed is not loaded again until
 * another path was asked for, as the program did before it had reloads.
 * The caller holds ctx.lock. */
static struct cp_gen *
gen_acquire(const char *path, char *err, size_t errlen)
{
	struct cp_gen *g;

	if (ctx.gen != NULL && same(ctx.gen->path, path)) {
		if (check_due(&ctx.gen_checked))
			gen_recheck();
		ctx.gen->refs++;
		return ctx.gen;
	}
	if (ctx.gen_failed_path != NULL && same(ctx.gen_failed_path, path)) {
		snprintf(err, errlen, "%s", ctx.gen_err);
		return NULL;
	}
	if ((g = gen_load(path, ctx.gen_err, sizeof(ctx.gen_err))) == NULL) {
		gen_put(ctx.gen);
		ctx.gen = NULL;
		free(ctx.gen_failed_path);
		ctx.gen_failed_path = strdup(path);
		snprintf(err, errlen, "%s", ctx.gen_err);
		/* No audit_log to go by: syslog, once per path. */
		cp_audit(NULL, NULL, &(struct cp_audit_event){
		    .kind = CP_AUDIT_CONFIG_ERROR, .reason = ctx.gen_err });
		return NULL;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &ctx.gen_checked);
	gen_install(g);
	g->refs++;
	return g;
}

enum cp_status
cp_ctx_begin(struct cp_req *req, const char *path, char *err, size_t errlen)
{
	struct cp_gen *g;

	memset(&req->ctx, 0, sizeof(req->ctx));
	req->cfg = NULL;
	current = req;
	pthread_mutex_lock(&ctx.lock);
	if (!ctx.registered && atexit(cp_ctx_shutdown) == 0)
		ctx.registered = true;
	g = gen_acquire(path, err, errlen);
	pthread_mutex_unlock(&ctx.lock);
	if (g == NULL)
		return CP_ERR_CONFIG;
	req->ctx.gen = g;
	req->cfg = &g->cfg;
	return CP_OK;
}

void
cp_ctx_end(struct cp_req *req)
{
	pthread_mutex_lock(&ctx.lock);
	hold_release(&req->ctx);
	pthread_mutex_unlock(&ctx.lock);
	if (current == req)
		current = NULL;
}

/* Loads cfg->key_file as the current keys, for a process that has none
 * or was pointed at another file.  CP_ERR_CONFIG (logged) when it cannot.
 * The caller holds ctx.lock. */
static enum cp_status
keys_first_load(const struct cp_config *cfg)
{
	struct file_version v;
	struct cp_keyring *kr;
	char err[512];

	keyring_put(ctx.kr);
	ctx.kr = NULL;
	free(ctx.key_file);
	ctx.key_file = NULL;
	ctx.key_refused_logged = false;
	file_version(cfg->key_file, &v);
	(void)clock_gettime(CLOCK_MONOTONIC, &ctx.keys_checked);
	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		return CP_ERR_NOMEM;
	kr->refs = 1;
	if (cp_keys_load(cfg->key_file, &kr->keys, err, sizeof(err)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "key_file: %s", err);
		free(kr);
		return CP_ERR_CONFIG;
	}
	if ((ctx.key_file = strdup(cfg->key_file)) == NULL) {
		keyring_put(kr);
		return CP_ERR_NOMEM;
	}
	ctx.kr = kr;
	ctx.key_version = v;
	return CP_OK;
}

/*
 * A rotation without a restart: at most once every CP_CTX_RECHECK_SECONDS,
 * stat key_file and, when it is another version than the one loaded,
 * load it.  CP_OK while the current keys may be used (reloaded or kept),
 * CP_ERR_CONFIG after they were dropped.  The caller holds ctx.lock.
 *
 * When the new version cannot be loaded, the keys already loaded are
 * kept, with one error logged per version, and the file is tried again
 * at each check (so a fix is picked up without a restart).  Keeping them
 * grants nothing: they are exactly the keys this process accepted a
 * moment ago, whose file was checked then, and a file we cannot read or
 * parse (a rotation done as the wrong user, an editor half-way through,
 * a 17th key) says nothing about them, so answering 500 would turn an
 * operator's slip into an outage while adding no protection.  Nothing of
 * a refused file is ever used, not even its valid lines.  Revoking a key
 * still works: the operator writes a valid file without it, which is
 * loaded within a second.  The one exception fails closed: a file that
 * others may now read, or the group write, means the keys (very likely
 * the ones in memory) may be known to or planted by someone else, which
 * is why cp_keys_load refuses such a file at start; a running process
 * drops its keys too and answers 500 until the mode is fixed.
 */
static enum cp_status
keys_refresh(const struct cp_config *cfg)
{
	struct file_version v;
	struct cp_keyring *fresh;
	char err[512];

	if (!check_due(&ctx.keys_checked))
		return CP_OK;
	file_version(cfg->key_file, &v);
	if (same_version(&v, &ctx.key_version))
		return CP_OK;
	if (v.err == 0 && cp_keys_mode_exposed(v.mode)) {
		cp_log(CP_LOG_ERROR, "key_file: %s: others may now access it or the "
		    "group write it (mode %04o): the keys are dropped and every "
		    "request fails until it is chmod 600 (or 640)",
		    cfg->key_file, (unsigned)(v.mode & 07777));
		keyring_put(ctx.kr);
		ctx.kr = NULL;
		return CP_ERR_CONFIG;
	}
	if (v.err != 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg->key_file, strerror(v.err));
	} else if ((fresh = calloc(1, sizeof(*fresh))) == NULL) {
		return CP_OK;
	} else if (cp_keys_load(cfg->key_file, &fresh->keys, err, sizeof(err)) == CP_OK) {
		fresh->refs = 1;
		keyring_put(ctx.kr);
		ctx.kr = fresh;
		ctx.key_version = v;
		ctx.key_refused_logged = false;
		cp_log(CP_LOG_INFO, "key_file: %s changed: keys reloaded", cfg->key_file);
		return CP_OK;
	} else
		free(fresh);
	if (!ctx.key_refused_logged || !same_version(&v, &ctx.key_refused))
		cp_log(CP_LOG_ERROR, "key_file changed but cannot be used: %s; "
		    "still using the keys loaded before until it is fixed", err);
	ctx.key_refused = v;
	ctx.key_refused_logged = true;
	return CP_OK;
}

/* The store cfg names, opened unless it is the current one.  The caller
 * holds ctx.lock. */
static enum cp_status
store_use(const struct cp_config *cfg)
{
	struct cp_storeref *sr;
	enum cp_status rc;

	if (ctx.sr != NULL && same(ctx.store_path, cfg->store_path))
		return CP_OK;
	storeref_put(ctx.sr);
	ctx.sr = NULL;
	free(ctx.store_path);
	ctx.store_path = NULL;
	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		return CP_ERR_NOMEM;
	sr->refs = 1;
	if ((rc = cp_store_open(cfg, &sr->st)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "store: cannot open: %s", cp_status_str(rc));
		free(sr);
		return CP_ERR_STORE;
	}
	if ((ctx.store_path = strdup(cfg->store_path)) == NULL) {
		storeref_put(sr);
		return CP_ERR_NOMEM;
	}
	ctx.sr = sr;
	return CP_OK;
}

/* Fills h with references on the current keys and store for cfg. */
static enum cp_status
hold_login(struct cp_hold *h, const struct cp_config *cfg)
{
	enum cp_status rc;

	pthread_mutex_lock(&ctx.lock);
	if (!ctx.registered && atexit(cp_ctx_shutdown) == 0)
		ctx.registered = true;
	keyring_put(h->kr);
	storeref_put(h->sr);
	h->kr = NULL;
	h->sr = NULL;
	memset(&h->lg, 0, sizeof(h->lg));
	if (ctx.kr == NULL || !same(ctx.key_file, cfg->key_file))
		rc = keys_first_load(cfg);
	else
		rc = keys_refresh(cfg);
	if (rc == CP_OK)
		rc = store_use(cfg);
	if (rc == CP_OK) {
		h->kr = ctx.kr;
		h->kr->refs++;
		h->sr = ctx.sr;
		h->sr->refs++;
		h->lg.cfg = cfg;
		h->lg.keys = h->kr->keys;
		h->lg.st = h->sr->st;
	}
	pthread_mutex_unlock(&ctx.lock);
	return rc;
}

enum cp_status
cp_ctx_login(struct cp_req *req, struct cp_login **out)
{
	enum cp_status rc;

	*out = NULL;
	if (req->cfg == NULL)
		return CP_ERR_CONFIG;
	if ((rc = hold_login(&req->ctx, req->cfg)) != CP_OK)
		return rc;
	*out = &req->ctx.lg;
	return CP_OK;
}

enum cp_status
cp_login_get(const struct cp_config *cfg, struct cp_login **out)
{
	struct cp_hold *h = current ? &current->ctx : &loose;
	enum cp_status rc;

	*out = NULL;
	if ((rc = hold_login(h, cfg)) != CP_OK)
		return rc;
	*out = &h->lg;
	return CP_OK;
}

int
cp_ctx_check_config(const char *path)
{
	struct cp_config cfg;
	char err[1024];
	const char *warning;

	if (cp_conf_load(path, &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if ((warning = cp_conf_warning(&cfg)) != NULL)
		fprintf(stderr, "%s: warning: %s\n", path, warning);
	printf("%s: ok\n", path);
	cp_conf_free(&cfg);
	return 0;
}

void
cp_ctx_shutdown(void)
{
	pthread_mutex_lock(&ctx.lock);
	/* The store's environment is closed cleanly (Berkeley DB then has
	 * nothing to recover) and key material leaves memory. */
	hold_release(&loose);
	keyring_put(ctx.kr);
	storeref_put(ctx.sr);
	gen_put(ctx.gen);
	free(ctx.key_file);
	free(ctx.store_path);
	free(ctx.gen_failed_path);
	ctx.kr = NULL;
	ctx.sr = NULL;
	ctx.gen = NULL;
	ctx.key_file = ctx.store_path = ctx.gen_failed_path = NULL;
	pthread_mutex_unlock(&ctx.lock);
}
