/*
 * Revocation by the operator (cimd-proxy-admin revoke --user ID |
 * --client URL).  Refresh envelopes are sealed, not stored, so they are
 * revoked by date: one record in CP_NS_REVOKED, keyed "user:" + the
 * user's id (the idp_user_claim of the IdP's access token) or "client:"
 * + the client_id, holds the time of the revocation in decimal and lives
 * CP_REFRESH_TTL, as long as any envelope sealed before it.  A refresh
 * envelope sealed at or before that time (its expiry minus
 * CP_REFRESH_TTL) is refused with invalid_grant; logins after it are
 * not affected.  A later revocation of the same id replaces the record.
 */
#ifndef CP_REVOKE_H
#define CP_REVOKE_H

#include <time.h>

#include <json-c/json.h>

#include "conf.h"
#include "status.h"
#include "store.h"

#define CP_REVOKE_MAX_ID    2048    /* a client_id URL or a user id */

enum cp_revoke_kind { CP_REVOKE_USER, CP_REVOKE_CLIENT };

/* Records that every refresh envelope of id sealed up to now is
 * revoked.  CP_ERR_INVALID for an empty or over-long id; the store's
 * failures. */
enum cp_status cp_revoke_record(struct cp_store *st, enum cp_revoke_kind kind,
    const char *id, time_t now);

/* Whether the refresh envelope env (its "user" and "client_id"),
 * expiring at expires, is revoked: CP_OK when not, CP_ERR_DENIED when
 * it is, CP_ERR_STORE when the store cannot say (the caller answers
 * 503). */
enum cp_status cp_revoke_check(struct cp_store *st, json_object *env, time_t expires);

/* Sets "user" in plain to the user the IdP's token answer idp is for:
 * the idp_user_claim of its access token, verified as the relay
 * verifies it (bearer.h).  Nothing is set when the access token does
 * not verify (the relay would refuse it too); CP_ERR_NOMEM only. */
enum cp_status cp_revoke_user_set(const struct cp_config *cfg, struct cp_store *st,
    json_object *idp, json_object *plain);

#endif
