/*
 * Session binding (doc/design.md flow 3; doc/agentcore-okta.md 2, 5, 7; the
 * issue #5 contract): the browser that opened an AgentCore elicitation
 * URL comes back to
 *
 *   GET /sessionbinding/callback?session_id=<session URI>
 *       binding found, unexpired, unconsumed -> 302 to the IdP
 *       (prompt=none, our PKCE S256, nonce, sealed once-only state) and
 *       the __Host-cimd-sb cookie binding the state to this browser;
 *   GET /sessionbinding/okta-callback?code=..&state=..[&iss=..]
 *       code exchanged, ID token verified (iss, aud = idp_client_id, exp,
 *       nonce), its sub compared in constant time with the binding's user;
 *       on a match the binding is consumed once and AgentCore's
 *       CompleteResourceTokenAuth called with the stored bearer token.
 *
 * The PKCE verifier, nonce, session URI and attempt number live in a
 * CP_NS_SBTX store record keyed by the sealed state's once-only id
 * (seal.h), never in the browser; the state carries only the browser id
 * its cookie must match.  `binding = off` makes both endpoints 404.
 *
 * Contract note: an expired binding answers 410 only while the store
 * still remembers it (binding.h: CP_BINDING_GRACE past its expiry);
 * after that it reads as unknown (404).  Both pages give the same advice.
 */
#ifndef CP_SBIND_H
#define CP_SBIND_H

#include <stddef.h>

#include "buf.h"
#include "form.h"
#include "login.h"
#include "elicit.h"
#include "oauth.h"
#include "handle/handle.h"
#include "request.h"
#include "status.h"

#define CP_SB_COOKIE            "__Host-cimd-sb"
#define CP_SB_CALLBACK_PATH     "/sessionbinding/callback"
#define CP_SB_IDP_CALLBACK_PATH "/sessionbinding/okta-callback"
#define CP_SB_STATE_TTL         600     /* state, its record and the cookie */
#define CP_SB_MAX_ATTEMPTS      2       /* prompt=none, then one interactive login */
#define CP_SB_SECRET_BYTES      32      /* verifier and nonce: 43 base64url chars */
#define CP_SB_MAX_NONCE         64
#define CP_SB_MAX_TX            4096    /* one encoded transaction record */
#define CP_SB_USER_HASH_LEN     16      /* hex chars of SHA-256 in security logs */
#define CP_SB_LOG_URI           48      /* bytes of a session URI a log line shows */
#define CP_SB_RETRY "Go back to your editor and retry the tool call to get a new link."

/* One session-binding login transaction (the CP_NS_SBTX record). */
struct cp_sbind_tx {
	char session_uri[CP_ELICIT_MAX_SESSION_URI + 1];
	char verifier[CP_PKCE_VERIFIER_MAX + 1];
	char nonce[CP_SB_MAX_NONCE + 1];
	int attempt;                    /* 1 .. CP_SB_MAX_ATTEMPTS */
};

/* Appends tx as the record text
 *   {"v":1,"session_uri":..,"verifier":..,"nonce":..,"attempt":N}
 * to out.  CP_ERR_INVALID when a field breaks the rules decode checks. */
enum cp_status cp_sbind_tx_encode(const struct cp_sbind_tx *tx, struct cp_buf *out);

/* Parses record text s[0..len) into *tx.  CP_ERR_SYNTAX for anything
 * cp_sbind_tx_encode would not have written (other version, a member
 * missing, of the wrong type or twice, a bad session URI, verifier or
 * nonce, an attempt out of range); *tx is then zeroed. */
enum cp_status cp_sbind_tx_decode(const char *s, size_t len, struct cp_sbind_tx *tx);

/* The first CP_SB_USER_HASH_LEN hex characters of SHA-256(user_id), for
 * security log lines that must tell users apart without naming them;
 * out is NUL-terminated ("" if hashing fails). */
void cp_sbind_user_hash(const char *user_id, char out[CP_SB_USER_HASH_LEN + 1]);

/* The page status for an AgentCore call that ended with rc and, when rc
 * is CP_OK, HTTP status: 200 -> 200; 429 -> 503; timeout -> 504;
 * unreachable (connect or TLS failure) and any other answer (403, 400,
 * 5xx, ...) -> 502; anything else (bad credential, our bug) -> 500. */
int cp_sbind_agentcore_page(enum cp_status rc, long http_status);

/* Appends the body of a session-binding page: text as a paragraph and,
 * when detail is not NULL, detail in <code> (an IdP error code, a request
 * id), both HTML-escaped. */
enum cp_status cp_sbind_page_html(struct cp_buf *b, const char *text,
    const char *detail);

/* What the two session-binding handlers (lib/handle/sessionbinding-*.c)
 * share.  Each page function sends one session-binding page with the
 * default HTML security headers and returns how sending went. */
enum cp_status cp_sbind_page(struct cp_req *req, int status, const char *title,
    const char *text, const char *detail);
enum cp_status cp_sbind_page_store(struct cp_req *req);             /* 503 */
enum cp_status cp_sbind_page_bad_link(struct cp_req *req);          /* 400 */
enum cp_status cp_sbind_page_bad_state(struct cp_req *req, const char *text); /* 400 */
enum cp_status cp_sbind_page_gone(struct cp_req *req, const char *why);       /* 410 */

/* The IdP's discovery document into idp.  Otherwise sends the error page
 * (503 store, 502 unreachable), sets *sent and returns how sending went. */
enum cp_status cp_sbind_idp_or_page(struct cp_req *req, struct cp_login *lg,
    struct cp_idp *idp, bool *sent);

/* Short, log-safe form of a session URI (a page never shows it). */
const char *cp_sbind_log_uri(const char *session_uri);

/* Starts (attempt 1, prompt=none) or restarts (attempt 2) the IdP login
 * for session_uri: verifier, nonce, sealed state keying the transaction
 * record, the browser cookie, and the redirect (sbind.c says more). */
enum cp_status cp_sbind_to_idp(struct cp_req *req, struct cp_login *lg,
    const struct cp_idp *idp, const char *session_uri, int attempt);

/* Query parsing and the request's keys and store, which both handlers
 * start with.  Returns CP_OK with *lg NULL when it already answered. */
enum cp_status cp_sbind_begin(struct cp_req *req, struct cp_form *f,
    struct cp_login **lg, bool from_idp);

#endif
