/*
 * Consent: remembered approvals and the consent page (doc/protocol.md 9; MCP-BP
 * "Consent Cookie Security", "Consent UI Requirements").
 */
#ifndef CP_CONSENT_H
#define CP_CONSENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "browser.h"
#include "login.h"
#include "request.h"
#include "status.h"

#define CP_DOC_HASH_LEN     43      /* base64url of a SHA-256 */

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
