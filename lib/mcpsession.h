/*
 * Mcp-Session-Id owners: the user each MCP session belongs to, so that a
 * session id seen by someone else (a log, a shared proxy, a guess) is no
 * use with their own token.  The MCP security best practices ("Session
 * Hijacking") ask servers to bind session ids to user information; the
 * proxy does it in front of the gateway, which may not.
 *
 * When the gateway's successful answer names a session id the proxy does
 * not know, the relay records it for the user whose token asked
 * (cp_mcpsession_claim); every later request carrying that id is checked
 * against it before anything is relayed (cp_mcpsession_check).  A
 * request with another user's session is answered 404, as for a session
 * the server does not know (MCP transports, "Session Management").
 *
 * One record per session in CP_NS_MCP_SESSION: the key is a keyed hash of
 * the session id (cp_keys_mac), so the store holds no usable id; the
 * value is the user id.  A record lives CP_MCPSESSION_TTL and is renewed
 * when a check finds it past half its life, so a session in use keeps
 * its owner.
 */
#ifndef CP_MCPSESSION_H
#define CP_MCPSESSION_H

#include <time.h>

#include "seal.h"
#include "status.h"
#include "store.h"

#define CP_MCPSESSION_TTL       (24 * 3600)
#define CP_MCPSESSION_MAX_USER  256     /* as CP_BINDING_MAX_USER_ID */

/* Whose session is session_id?  CP_OK: user_id's (the record is renewed
 * when past half its life); CP_ERR_NOT_FOUND: no record (a session the
 * proxy has not seen answered, or older than its record); CP_ERR_DENIED:
 * another user's.  Records made under every key of keys are found, so a
 * key rotation does not orphan them.  CP_ERR_INVALID for an empty id or
 * user id; otherwise the store's and cp_keys_mac's failures. */
enum cp_status cp_mcpsession_check(struct cp_store *st, const struct cp_keys *keys,
    const char *session_id, const char *user_id, time_t now);

/* Records user_id as the owner of session_id, a session the gateway has
 * just named, unless it has one: CP_OK when recorded or already
 * user_id's; CP_ERR_DENIED when another user's (left as it is).  The
 * insert is atomic (cp_store_add), so of two racing claims one wins and
 * the other sees its owner.  Failures as for cp_mcpsession_check. */
enum cp_status cp_mcpsession_claim(struct cp_store *st, const struct cp_keys *keys,
    const char *session_id, const char *user_id, time_t now);

#endif
