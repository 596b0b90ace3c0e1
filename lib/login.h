/*
 * What the login handlers (/authorize, /callback, /token, and the
 * session binding's) share: their lifetimes, sealed envelopes whose
 * plaintext is a flat JSON object of strings, and the /authorize and
 * /callback error pages.  The keys and store come from ctx.h, the
 * client from client.h, redirects from redirect.h, the IdP legs from
 * idp_login.h, the browser cookie from browser.h.
 */
#ifndef CP_LOGIN_H
#define CP_LOGIN_H

#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "cimd.h"
#include "conf.h"
#include "ctx.h"
#include "request.h"
#include "idp.h"
#include "seal.h"
#include "store.h"

#define CP_AUTHZ_STATE_TTL  600             /* sealed IdP state: 10 min (MCP-BP) */
#define CP_CODE_TTL         600             /* our code: RFC 6749 4.1.2 "max 10 min" */
#define CP_CSRF_TTL         600             /* a consent form stays valid 10 min */
#define CP_REFRESH_TTL      (90 * 86400)    /* our refresh-token envelope */
#define CP_BROWSER_TTL      (30 * 86400)    /* __Host-cimd-browser cookie */
#define CP_CONSENT_TTL      CP_BROWSER_TTL  /* remembered consent; its login renews the cookie */
#define CP_BROWSER_ID_LEN   16
#define CP_MAX_WHY          512             /* a sentence for an error page */
/* consent = "remember" in the IdP state and the code: the user approved
 * under consent = remember, stored by /token once the IdP accepted. */
#define CP_CONSENT_REMEMBER_MARK "remember"

/* Seals obj (a JSON object) for purpose until expires; appends the
 * envelope to out and its id to id (may be NULL). */
enum cp_status cp_login_seal(struct cp_login *lg, enum cp_seal_purpose purpose,
    json_object *obj, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN]);

/* The length of the envelope cp_login_seal would make from obj; 0 when
 * json-c cannot serialise it (out of memory). */
size_t cp_login_sealed_len(json_object *obj);

/* Opens an envelope sealed by cp_login_seal; *obj (caller puts) is a JSON
 * object.  cp_open's failures, plus CP_ERR_SYNTAX when the plaintext is
 * not a JSON object. */
enum cp_status cp_login_open(struct cp_login *lg, enum cp_seal_purpose purpose,
    const char *envelope, time_t now, json_object **obj,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires);

/* The string member key of obj, or NULL when absent or not a string. */
const char *cp_login_str(json_object *obj, const char *key);

/* Adds key = value to obj when value is not NULL.  CP_ERR_NOMEM. */
enum cp_status cp_login_set(json_object *obj, const char *key, const char *value);

/* The 503 page of /authorize and /callback when the store is down. */
enum cp_status cp_login_page_store(struct cp_req *req);

/* The page for a query or form /authorize or /callback refuses to read
 * (RFC 6749 3.1: no parameter twice; form.h: no bad encoding or control
 * bytes), or a form that did not arrive by the body deadline (408). */
enum cp_status cp_login_page_bad_params(struct cp_req *req, enum cp_status rc);

#endif
