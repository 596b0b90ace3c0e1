/*
 * Session bindings (doc/design.md flow 2 and 3; doc/agentcore-okta.md 7.1): when
 * the gateway answers with a URL elicitation, the relay records which
 * user it was for and the exact bearer token they sent, so that
 * /sessionbinding/callback can later check the browser user and complete
 * the session with AgentCore on their behalf.
 *
 * One record in CP_NS_BINDING, keyed by the session URI, a JSON object:
 *   {"v":1, "user_id":"00u...", "token":"v1.<sealed>", "created":N,
 *    "expires":N, "consumed":false}
 * The token is sealed with CP_SEAL_AT_REST (seal.h) until the record
 * expires, so the store never holds it in the clear.  A record lives
 * CP_BINDING_TTL seconds and is consumed at most once.
 */
#ifndef CP_BINDING_H
#define CP_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "seal.h"
#include "status.h"
#include "store.h"

#define CP_BINDING_TTL          600     /* 10 minutes (doc/agentcore-okta.md 7.1) */
/* The store keeps a record this long past its expiry, so that
 * /sessionbinding can tell "expired" (410) from "unknown" (404). */
#define CP_BINDING_GRACE        600
#define CP_BINDING_MAX_USER_ID  256
#define CP_BINDING_MAX_RECORD   (CP_SEAL_MAX_PLAIN * 2)
/* Store races cp_binding_put sits out before giving up: each lost race
 * means another writer changed the record between its read and write. */
#define CP_BINDING_PUT_TRIES    4

struct cp_binding_record {
	char *user_id;
	struct cp_buf token;    /* the bearer token, opened; wiped on free */
	time_t created;
	time_t expires;
	bool consumed;
};

/*
 * Stores the binding for session_uri when it has none: user_id, the
 * token sealed for CP_SEAL_AT_REST, created = now, expires = now +
 * CP_BINDING_TTL, not consumed.  A binding never changes hands and is
 * never revived: when one is already there (expired or not, until the
 * store purges it),
 *   - the same user's, not yet consumed: its token and expiry are
 *     refreshed (the gateway elicited again for the same session), CP_OK
 *     with *refreshed (may be NULL) set;
 *   - another user's: CP_ERR_DENIED, nothing changes (the caller logs it
 *     as a security event);
 *   - the same user's, consumed: CP_ERR_REPLAY, it stays consumed;
 *   - a record we did not write: CP_ERR_SYNTAX, left alone.
 * Each step is an atomic store operation (add, or compare-and-swap
 * against the record read), so a racing writer can never be overwritten;
 * after CP_BINDING_PUT_TRIES lost races CP_ERR_STORE.  CP_ERR_INVALID for
 * an empty or over-long user id, CP_ERR_LIMIT for a token over
 * CP_SEAL_MAX_PLAIN; otherwise cp_seal's and the store's failures.
 */
enum cp_status cp_binding_put(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, const char *user_id, const char *token,
    size_t token_len, time_t now, bool *refreshed);

/* Reads the binding for session_uri into *b (the caller frees it with
 * cp_binding_free, also after a failure).  CP_ERR_NOT_FOUND: absent (or
 * expired more than CP_BINDING_GRACE ago); CP_ERR_EXPIRED: past its
 * expiry (b->user_id and b->consumed are then set, b->token empty);
 * CP_ERR_SYNTAX: a record we did not write; CP_ERR_CRYPTO: the token
 * does not open with the current keys. */
enum cp_status cp_binding_get(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, time_t now, struct cp_binding_record *b);

/* Reads the binding like cp_binding_get and marks it consumed in the
 * same compare-and-swap, so of two racing callers only one succeeds.
 * CP_ERR_REPLAY: already consumed (or consumed meanwhile). */
enum cp_status cp_binding_consume(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, time_t now, struct cp_binding_record *b);

void cp_binding_free(struct cp_binding_record *b);

#endif
