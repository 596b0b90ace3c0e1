#include "config.h"

#include <string.h>

#include "buf.h"
#include "log.h"
#include "mcpsession.h"

/* The keyed hash's label: a session id hashes differently from anything
 * else hashed under the same keys. */
#define MAC_LABEL "mcp-session-id"

static bool
args_ok(const char *session_id, const char *user_id)
{
	size_t n = strlen(user_id);

	return session_id[0] != '\0' && n > 0 && n <= CP_MCPSESSION_MAX_USER;
}

/* Looks session_id's record up under each key, newest first: mac gets
 * the key the record is under, owner (emptied first) its user id and
 * *expires its expiry.  CP_ERR_NOT_FOUND under none. */
static enum cp_status
find(struct cp_store *st, const struct cp_keys *keys, const char *session_id,
    uint8_t mac[CP_KEYS_MAC_LEN], struct cp_buf *owner, time_t *expires)
{
	size_t i;
	enum cp_status rc;

	for (i = 0; i < CP_SEAL_MAX_KEYS; i++) {
		if ((rc = cp_keys_mac(keys, i, MAC_LABEL, session_id, strlen(session_id),
		    mac)) != CP_OK)
			return rc;      /* CP_ERR_NOT_FOUND past the last key */
		cp_buf_reset(owner);
		if ((rc = cp_store_get(st, CP_NS_MCP_SESSION, mac, CP_KEYS_MAC_LEN, owner,
		    expires)) != CP_ERR_NOT_FOUND)
			return rc;
	}
	return CP_ERR_NOT_FOUND;
}

enum cp_status
cp_mcpsession_check(struct cp_store *st, const struct cp_keys *keys,
    const char *session_id, const char *user_id, time_t now)
{
	uint8_t mac[CP_KEYS_MAC_LEN];
	struct cp_buf owner;
	time_t expires = 0;
	enum cp_status rc = CP_ERR_INVALID;

	cp_buf_init(&owner, CP_MCPSESSION_MAX_USER);
	if (!args_ok(session_id, user_id))
		goto out;
	if ((rc = find(st, keys, session_id, mac, &owner, &expires)) != CP_OK)
		goto out;
	rc = CP_ERR_DENIED;
	if (!cp_secret_eq(owner.data, owner.len, user_id, strlen(user_id)))
		goto out;
	rc = CP_OK;
	/* A session in use keeps its owner.  Losing this swap to another
	 * request of the same session means that one renewed it. */
	if (expires - now < CP_MCPSESSION_TTL / 2 &&
	    cp_store_swap(st, CP_NS_MCP_SESSION, mac, CP_KEYS_MAC_LEN, owner.data, owner.len,
	    owner.data, owner.len, now + CP_MCPSESSION_TTL) == CP_ERR_STORE)
		cp_log(CP_LOG_WARN, "Mcp-Session-Id owner record not renewed (store failed)");
out:
	cp_buf_free(&owner);
	return rc;
}

enum cp_status
cp_mcpsession_claim(struct cp_store *st, const struct cp_keys *keys,
    const char *session_id, const char *user_id, time_t now)
{
	uint8_t mac[CP_KEYS_MAC_LEN];
	enum cp_status rc;

	if ((rc = cp_mcpsession_check(st, keys, session_id, user_id, now)) != CP_ERR_NOT_FOUND)
		return rc;
	if ((rc = cp_keys_mac(keys, 0, MAC_LABEL, session_id, strlen(session_id), mac)) != CP_OK)
		return rc;
	rc = cp_store_add(st, CP_NS_MCP_SESSION, mac, CP_KEYS_MAC_LEN, user_id, strlen(user_id),
	    now + CP_MCPSESSION_TTL);
	if (rc != CP_ERR_REPLAY)
		return rc;
	/* Another claim came between the check and the add: its owner
	 * decides.  Gone again already, it was a record at its expiry. */
	rc = cp_mcpsession_check(st, keys, session_id, user_id, now);
	return rc == CP_ERR_NOT_FOUND ? CP_ERR_STORE : rc;
}
