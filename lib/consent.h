/*
 * The browser side of the login: the __Host- browser-binding cookie,
 * remembered consent, and the consent page (PROTOCOL.md 9; MCP-BP
 * "Consent Cookie Security", "Consent UI Requirements").
 */
#ifndef CP_CONSENT_H
#define CP_CONSENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "login.h"
#include "request.h"
#include "status.h"

#define CP_BROWSER_COOKIE   "__Host-cimd-browser"
#define CP_DOC_HASH_LEN     43      /* base64url of a SHA-256 */

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

/* True when this browser approved client_id with the document hash
 * doc_hash within CP_CONSENT_TTL.  A store failure reads as false: the
 * page is shown again, which is safe. */
bool cp_consent_remembered(struct cp_login *lg, const char *browser,
    const char *client_id, const char *doc_hash);

/* Records that browser (cp_browser_text form) approved client_id with
 * the document hash doc_hash, until expires.  Called only once the
 * login that followed the approval succeeded, so an approval alone
 * stores nothing.  CP_ERR_STORE when the record could not be saved. */
enum cp_status cp_consent_record(struct cp_login *lg, const char *browser,
    const char *client_id, const char *doc_hash, time_t expires);

/* Queues on req the browser cookie of the request again, same id, for
 * CP_BROWSER_TTL, so that a consent record made from now on never
 * outlives the cookie that finds it.  cp_browser_get's failures. */
enum cp_status cp_browser_renew(struct cp_req *req, struct cp_login *lg);

/* What the consent page shows; every string comes from the client (or
 * its document) and is escaped here. */
struct cp_consent_view {
	const char *client_id;
	const char *client_name;    /* self-declared; may be NULL */
	const char *client_uri;     /* self-declared https home page; may be NULL */
	const char *redirect_uri;
	const char *scope;
	const char *request;        /* the sealed form token */
	const char *form_origin;    /* extra form-action origins (IdP), space-separated */
	bool operator_registered;   /* client_static: client_id is no URL */
};

/* Sends the 200 consent page: the client's host first, its self-declared
 * name and home page (as text, never a link), where the code goes (with a warning for loopback), the scopes,
 * the full client_id, and Approve/Deny posting to /authorize. */
enum cp_status cp_consent_page(struct cp_req *req, const struct cp_consent_view *v);

#endif
