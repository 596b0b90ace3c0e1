#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "limits.h"
#include "log.h"
#include "login.h"
#include "redirect.h"
#include "oauth.h"
#include "response.h"

/* How sealed objects are serialised; cp_login_sealed_len must agree. */
#define CP_LOGIN_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* How often a long-lived process looks at key_file for a rotation: a
 * stat per request would be cheap too, but once a second is soon enough
 * for an operator and bounds the work a flood of requests can cause. */
#define CP_KEYS_RECHECK_SECONDS 1

/* One version of key_file as stat sees it: keygen's rename gives a new
 * inode, an edit in place a new mtime or size, a chmod or chown a new
 * ctime.  err is the errno when stat failed (the rest is then zero). */
struct key_file_version {
	int err;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	struct timespec mtime, ctime;
};

static struct cp_login login;
static char *loaded_key_file;   /* what login.keys was read from */
static char *opened_store;      /* what login.st was opened on */
static struct key_file_version loaded_version;  /* of login.keys' file */
static struct key_file_version refused_version; /* last one logged as refused */
static bool refused_logged;
static struct timespec keys_checked;    /* CLOCK_MONOTONIC of the last stat */

/* True when a and b are both NULL or equal strings. */
static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* At exit: the store's environment is closed cleanly (Berkeley DB then
 * has nothing to recover) and key material leaves memory. */
static void
login_release(void)
{
	cp_store_close(login.st);
	cp_keys_free(login.keys);
	free(loaded_key_file);
	free(opened_store);
	memset(&login, 0, sizeof(login));
	loaded_key_file = opened_store = NULL;
}

/* Whether CP_KEYS_RECHECK_SECONDS have passed since keys_checked, which
 * then becomes now.  CLOCK_MONOTONIC: setting the wall clock moves
 * neither way. */
static bool
keys_check_due(void)
{
	struct timespec now;
	long long ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return true;
	ms = (long long)(now.tv_sec - keys_checked.tv_sec) * 1000 +
	    (now.tv_nsec - keys_checked.tv_nsec) / 1000000;
	if (ms < CP_KEYS_RECHECK_SECONDS * 1000LL)
		return false;
	keys_checked = now;
	return true;
}

/* Fills *v with what stat says of path now. */
static void
key_file_version(const char *path, struct key_file_version *v)
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
same_version(const struct key_file_version *a, const struct key_file_version *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mode == b->mode &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Loads cfg->key_file into login.keys, for a process that has no keys
 * or was pointed at another file.  CP_ERR_CONFIG (logged) when it cannot. */
static enum cp_status
keys_first_load(const struct cp_config *cfg)
{
	struct key_file_version v;
	char err[512];

	cp_keys_free(login.keys);
	login.keys = NULL;
	free(loaded_key_file);
	loaded_key_file = NULL;
	refused_logged = false;
	/* Stat before reading: a change made while we read is then seen as
	 * a new version at the next check, never missed. */
	key_file_version(cfg->key_file, &v);
	(void)clock_gettime(CLOCK_MONOTONIC, &keys_checked);
	if (cp_keys_load(cfg->key_file, &login.keys, err, sizeof(err)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "key_file: %s", err);
		return CP_ERR_CONFIG;
	}
	if ((loaded_key_file = strdup(cfg->key_file)) == NULL) {
		cp_keys_free(login.keys);
		login.keys = NULL;
		return CP_ERR_NOMEM;
	}
	loaded_version = v;
	return CP_OK;
}

/*
 * A rotation without a restart: at most once every CP_KEYS_RECHECK_SECONDS,
 * stat key_file and, when it is another version than the one loaded,
 * load it.  CP_OK while login.keys may be used (reloaded or kept),
 * CP_ERR_CONFIG after they were dropped.
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
	struct key_file_version v;
	struct cp_keys *fresh = NULL;
	char err[512];

	if (!keys_check_due())
		return CP_OK;
	key_file_version(cfg->key_file, &v);
	if (same_version(&v, &loaded_version))
		return CP_OK;
	if (v.err == 0 && cp_keys_mode_exposed(v.mode)) {
		cp_log(CP_LOG_ERROR, "key_file: %s: others may now access it or the "
		    "group write it (mode %04o): the keys are dropped and every "
		    "request fails until it is chmod 600 (or 640)",
		    cfg->key_file, (unsigned)(v.mode & 07777));
		cp_keys_free(login.keys);
		login.keys = NULL;
		return CP_ERR_CONFIG;
	}
	if (v.err != 0) {
		snprintf(err, sizeof(err), "%s: %s", cfg->key_file, strerror(v.err));
	} else if (cp_keys_load(cfg->key_file, &fresh, err, sizeof(err)) == CP_OK) {
		cp_keys_free(login.keys);
		login.keys = fresh;
		loaded_version = v;
		refused_logged = false;
		cp_log(CP_LOG_INFO, "key_file: %s changed: keys reloaded", cfg->key_file);
		return CP_OK;
	}
	if (!refused_logged || !same_version(&v, &refused_version))
		cp_log(CP_LOG_ERROR, "key_file changed but cannot be used: %s; "
		    "still using the keys loaded before until it is fixed", err);
	refused_version = v;
	refused_logged = true;
	return CP_OK;
}

enum cp_status
cp_login_get(const struct cp_config *cfg, struct cp_login **out)
{
	static bool registered;
	enum cp_status rc;

	*out = NULL;
	if (!registered && atexit(login_release) == 0)
		registered = true;
	login.cfg = cfg;
	if (login.keys == NULL || !same(loaded_key_file, cfg->key_file))
		rc = keys_first_load(cfg);
	else
		rc = keys_refresh(cfg);
	if (rc != CP_OK)
		return rc;
	if (login.st == NULL || !same(opened_store, cfg->store_path)) {
		cp_store_close(login.st);
		login.st = NULL;
		free(opened_store);
		opened_store = NULL;
		if ((rc = cp_store_open(cfg, &login.st)) != CP_OK) {
			cp_log(CP_LOG_ERROR, "store: cannot open: %s",
			    cp_status_str(rc));
			return CP_ERR_STORE;
		}
		if ((opened_store = strdup(cfg->store_path)) == NULL)
			return CP_ERR_NOMEM;
	}
	*out = &login;
	return CP_OK;
}

enum cp_status
cp_login_idp(struct cp_login *lg, struct cp_idp *idp)
{
	return cp_idp_discover(lg->cfg, lg->st, idp);
}

const char *
cp_login_idp_answer(const struct cp_idp *idp, const struct cp_form *f,
    const char *where, const char **code, const char **error)
{
	const char *iss = cp_form_get(f, "iss");

	*code = cp_form_get(f, "code");
	*error = cp_form_get(f, "error");
	if ((iss != NULL && strcmp(iss, idp->issuer) != 0) ||
	    (iss == NULL && idp->iss_parameter_supported)) {
		cp_log_security("%s: iss %s the IdP's issuer", where,
		    iss ? "differs from" : "missing although advertised by");
		return "The answer did not come from the expected identity provider "
		    "(iss mismatch).";
	}
	if (*code != NULL && *error != NULL)
		return "The identity provider's answer carries both a code and an error.";
	if (*code == NULL && *error == NULL)
		return "The identity provider's answer carries neither a code nor an error.";
	return NULL;
}

enum cp_status
cp_login_seal(struct cp_login *lg, enum cp_seal_purpose purpose,
    json_object *obj, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN])
{
	const char *text;
	size_t len = 0;

	text = json_object_to_json_string_length(obj, CP_LOGIN_JSON_FLAGS, &len);
	if (text == NULL)
		return CP_ERR_NOMEM;
	return cp_seal(lg->keys, purpose, text, len, expires, out, id);
}

size_t
cp_login_sealed_len(json_object *obj)
{
	size_t len = 0;

	if (json_object_to_json_string_length(obj, CP_LOGIN_JSON_FLAGS, &len) == NULL)
		return 0;
	return cp_seal_text_len(len);
}

enum cp_status
cp_login_open(struct cp_login *lg, enum cp_seal_purpose purpose,
    const char *envelope, time_t now, json_object **obj,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires)
{
	struct cp_buf plain;
	json_tokener *tok = NULL;
	json_object *o = NULL;
	enum cp_status rc;

	*obj = NULL;
	cp_buf_init(&plain, CP_SEAL_MAX_PLAIN);
	rc = cp_open(lg->keys, purpose, envelope, strlen(envelope), now, &plain,
	    id, expires);
	if (rc != CP_OK)
		goto out;
	rc = CP_ERR_NOMEM;
	if ((tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH)) == NULL)
		goto out;
	rc = CP_ERR_SYNTAX;
	o = json_tokener_parse_ex(tok, cp_buf_cstr(&plain), (int)plain.len);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    json_tokener_get_parse_end(tok) != plain.len)
		goto out;
	*obj = o;
	o = NULL;
	rc = CP_OK;
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	/* The plaintext holds IdP codes and refresh tokens. */
	cp_buf_wipe_free(&plain);
	return rc;
}

const char *
cp_login_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

enum cp_status
cp_login_set(json_object *obj, const char *key, const char *value)
{
	json_object *v;

	if (value == NULL)
		return CP_OK;
	if ((v = json_object_new_string(value)) == NULL)
		return CP_ERR_NOMEM;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return CP_ERR_NOMEM;
	}
	return CP_OK;
}

enum cp_status
cp_login_redirect(struct cp_req *req, int status, const char *location)
{
	enum cp_status rc;

	if ((rc = cp_resp_header(req, "Location", location)) != CP_OK)
		return rc;
	return cp_resp_begin(req, status, NULL);
}

enum cp_status
cp_login_redirect_error(struct cp_req *req, int status,
    const char *redirect_uri, const char *error, const char *description,
    const char *state)
{
	struct cp_oauth_param p[] = {
		{ "error", error },
		{ "error_description", description },
		{ "state", state },
		{ "iss", req->cfg->public_url },
	};
	struct cp_buf url;
	enum cp_status rc;

	cp_buf_init(&url, CP_MAX_REDIRECT);
	rc = cp_oauth_redirect(&url, redirect_uri, p, sizeof(p) / sizeof(p[0]));
	if (rc == CP_OK)
		rc = cp_login_redirect(req, status, cp_buf_cstr(&url));
	cp_buf_free(&url);
	return rc;
}

enum cp_status
cp_login_client_get(struct cp_login *lg, const char *client_id,
    struct cp_login_client *c, char *why, size_t whylen)
{
	enum cp_cimd_source src = CP_CIMD_SRC_NONE;
	const char *reason = NULL;
	struct cp_buf hash;
	enum cp_status rc;

	memset(c, 0, sizeof(*c));
	rc = cp_cimd_resolve(lg->cfg, lg->st, client_id, &c->doc, &src, &reason);
	if (rc == CP_ERR_STORE || rc == CP_ERR_NOMEM)
		return rc;
	if (rc != CP_OK) {
		cp_log(CP_LOG_INFO, "client %.200s refused: %s (%s)", client_id,
		    reason ? reason : "-", cp_status_str(rc));
		snprintf(why, whylen, "%s %.200s: %s.",
		    rc == CP_ERR_DENIED ? "This server does not accept the application" :
		    rc == CP_ERR_NOT_FOUND ? "The application's client metadata document is gone" :
		    rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT || rc == CP_ERR_UPSTREAM ?
		    "The application's client metadata document could not be fetched" :
		    "The application's client_id or client metadata document is not acceptable",
		    client_id, reason ? reason : cp_status_str(rc));
		return rc;
	}
	cp_log(CP_LOG_DEBUG, "client %.200s from %s", client_id, cp_cimd_source_str(src));
	cp_buf_init(&hash, sizeof(c->doc_hash) - 1);
	if ((rc = cp_b64url_encode(c->doc.hash, sizeof(c->doc.hash), &hash)) == CP_OK)
		memcpy(c->doc_hash, hash.data, hash.len + 1);
	cp_buf_free(&hash);
	return rc;
}

void
cp_login_client_free(struct cp_login_client *c)
{
	cp_cimd_doc_free(&c->doc);
	memset(c, 0, sizeof(*c));
}

bool
cp_login_redirect_ok(const struct cp_login_client *c, const char *redirect_uri)
{
	return cp_redirect_uri_match(&c->doc, redirect_uri);
}
