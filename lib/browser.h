/*
 * The browser id: a random 16-byte id sealed into a __Host- cookie
 * (CP_SEAL_BROWSER), which binds the login's and the session binding's
 * state to the browser that started them (RFC 9700 4.7.1; RFC 6265bis
 * 4.1.3.2 for the __Host- prefix).
 */
#ifndef CP_BROWSER_H
#define CP_BROWSER_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ctx.h"
#include "login.h"
#include "request.h"
#include "status.h"

#define CP_BROWSER_COOKIE   "__Host-cimd-browser"

/* Reads the browser id from the request's cookie called name (a sealed
 * CP_SEAL_BROWSER envelope).  CP_ERR_NOT_FOUND when there is none,
 * CP_ERR_DUPLICATE when it was sent twice, CP_ERR_SYNTAX / CP_ERR_CRYPTO /
 * CP_ERR_EXPIRED for a cookie we did not seal or that ran out. */
enum cp_status cp_browser_get(struct cp_req *req, struct cp_login *lg,
    const char *name, uint8_t id[CP_BROWSER_ID_LEN]);

/* Queues on req the cookie called name (a __Host- name) carrying id
 * sealed for ttl seconds: Max-Age=ttl; Path=/; Secure; HttpOnly;
 * SameSite=Lax (the IdP's redirect back is a top-level GET). */
enum cp_status cp_browser_set(struct cp_req *req, struct cp_login *lg,
    const char *name, int ttl, const uint8_t id[CP_BROWSER_ID_LEN]);

/* True when the request's cookie called name holds the browser whose
 * text form (cp_browser_text) is bound; compared in constant time.
 * False when bound is NULL or the cookie is missing or not ours. */
bool cp_browser_is(struct cp_req *req, struct cp_login *lg, const char *name,
    const char *bound);

/* The browser id for /authorize: the cookie's (a valid cookie is left as
 * it is; cp_consent_remember renews it), or a new random one whose sealed
 * cookie (Secure; HttpOnly; SameSite=Lax; Path=/; no Domain; 30 days) is
 * queued on req. */
enum cp_status cp_browser_ensure(struct cp_req *req, struct cp_login *lg,
    uint8_t id[CP_BROWSER_ID_LEN]);

/* The browser id as base64url text (22 chars) appended to out. */
enum cp_status cp_browser_text(const uint8_t id[CP_BROWSER_ID_LEN], struct cp_buf *out);

/* Queues on req the browser cookie of the request again, same id, for
 * CP_BROWSER_TTL, so that a consent record made from now on never
 * outlives the cookie that finds it.  cp_browser_get's failures. */
enum cp_status cp_browser_renew(struct cp_req *req, struct cp_login *lg);

#endif
