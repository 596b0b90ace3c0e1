#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bearer.h"
#include "buf.h"
#include "log.h"
#include "login.h"
#include "revoke.h"

#define KEY_USER    "user:"
#define KEY_CLIENT  "client:"
#define MAX_KEY     (sizeof(KEY_CLIENT) + CP_REVOKE_MAX_ID)
#define MAX_VALUE   24      /* a time_t in decimal */

/* The store key of a revocation into key; 0 for an unusable id. */
static size_t
record_key(enum cp_revoke_kind kind, const char *id, char key[MAX_KEY])
{
	const char *prefix = kind == CP_REVOKE_USER ? KEY_USER : KEY_CLIENT;
	size_t n = id ? strnlen(id, CP_REVOKE_MAX_ID + 1) : 0;

	if (n == 0 || n > CP_REVOKE_MAX_ID)
		return 0;
	memcpy(key, prefix, strlen(prefix));
	memcpy(key + strlen(prefix), id, n);
	return strlen(prefix) + n;
}

enum cp_status
cp_revoke_record(struct cp_store *st, enum cp_revoke_kind kind, const char *id, time_t now)
{
	char key[MAX_KEY], value[MAX_VALUE];
	size_t klen = record_key(kind, id, key);
	int n;

	if (klen == 0 || now < 0)
		return CP_ERR_INVALID;
	n = snprintf(value, sizeof(value), "%" PRIdMAX, (intmax_t)now);
	return cp_store_put(st, CP_NS_REVOKED, key, klen, value, (size_t)n,
	    now + CP_REFRESH_TTL);
}

/* CP_OK when id has no revocation at or after sealed, CP_ERR_DENIED when
 * it has, CP_ERR_STORE. */
static enum cp_status
check_one(struct cp_store *st, enum cp_revoke_kind kind, const char *id, time_t sealed)
{
	char key[MAX_KEY];
	size_t klen = record_key(kind, id, key), i;
	struct cp_buf v;
	intmax_t at = 0;
	enum cp_status rc;

	if (klen == 0)
		return CP_OK;
	cp_buf_init(&v, MAX_VALUE);
	rc = cp_store_get(st, CP_NS_REVOKED, key, klen, &v, NULL);
	if (rc == CP_ERR_NOT_FOUND) {
		rc = CP_OK;
		goto out;
	}
	if (rc != CP_OK) {
		rc = CP_ERR_STORE;
		goto out;
	}
	for (i = 0; i < v.len && v.data[i] >= '0' && v.data[i] <= '9'; i++)
		at = at * 10 + (v.data[i] - '0');
	/* A record we did not write revokes: fail closed. */
	rc = v.len == 0 || i != v.len || sealed <= at ? CP_ERR_DENIED : CP_OK;
out:
	cp_buf_free(&v);
	return rc;
}

enum cp_status
cp_revoke_check(struct cp_store *st, json_object *env, time_t expires)
{
	time_t sealed = expires - CP_REFRESH_TTL;
	enum cp_status rc;

	rc = check_one(st, CP_REVOKE_CLIENT, cp_login_str(env, "client_id"), sealed);
	if (rc == CP_OK)
		rc = check_one(st, CP_REVOKE_USER, cp_login_str(env, "user"), sealed);
	return rc;
}

enum cp_status
cp_revoke_user_set(const struct cp_config *cfg, struct cp_store *st, json_object *idp,
    json_object *plain)
{
	const char *at = cp_login_str(idp, "access_token");
	json_object *claims = NULL;
	enum cp_status rc;

	if (at == NULL)
		return CP_OK;
	rc = cp_bearer_verify(cfg, st, cp_str_c(at), &claims);
	if (rc != CP_OK) {
		cp_log(CP_LOG_WARN, "the IdP's access token did not verify (%s): its refresh "
		    "token can be revoked by client only", cp_status_str(rc));
		return CP_OK;
	}
	rc = cp_login_set(plain, "user", cp_login_str(claims, cfg->idp_user_claim));
	json_object_put(claims);
	return rc;
}
