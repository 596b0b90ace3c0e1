/*
 * Refresh races (RFC 6749 6, OAuth 2.1 4.3.1): editors refresh from two
 * windows at once and retry a refresh whose answer was lost, while an IdP
 * that rotates refresh tokens may take a second use of one for theft and
 * revoke the whole grant.  So each refresh envelope reaches the IdP once:
 * the first request claims it in the store, a request with the same
 * envelope meanwhile waits for that one's answer, and a repeat within
 * refresh_grace_seconds of the claim gets that answer again (kept sealed
 * in the store, so every process and host of a fleet sees it).  A use
 * after the window is a replay: refused with invalid_grant, and the
 * caller revokes the grant as for a code used twice (RFC 6749 4.1.2).
 */
#ifndef CP_REFRESH_H
#define CP_REFRESH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "limits.h"
#include "login.h"
#include "request.h"
#include "seal.h"
#include "status.h"

/* How long a repeat waits for the first request's answer: the IdP
 * discovery and token calls each have CP_HTTP_TIMEOUT_MS. */
#define CP_REFRESH_WAIT_SECONDS     25
#define CP_REFRESH_POLL_MS          100
#define CP_REFRESH_KEY_MAX          48

struct cp_refresh {
	char claim_key[CP_REFRESH_KEY_MAX];
	char answer_key[CP_REFRESH_KEY_MAX];
	size_t claim_len, answer_len;
	time_t claimed;             /* when the first request claimed it */
	const char *client_id;
	bool answered;              /* a response was sent: the caller stops */
	bool reused;                /* that response refused a use after the
	                             * window: the caller revokes the grant */
	struct cp_buf answer;       /* the first request's answer, captured */
};

/*
 * Called for a refresh envelope that opened (id and expires from
 * cp_login_open) and whose client_id matched, right before the IdP call.
 * CP_OK with r->answered false: this request is the first, its response
 * body is captured from now on; call the IdP, answer, then
 * cp_refresh_finish.  CP_OK with r->answered: the response was sent
 * (the first answer again, invalid_grant with r->reused, or 503 when the
 * store failed or the first request did not finish in time).  Other
 * statuses only when no response could be sent (CP_ERR_NOMEM, CP_ERR_IO).
 * r is the caller's; cp_refresh_finish frees it in every case.
 */
enum cp_status cp_refresh_begin(struct cp_req *req, struct cp_login *lg,
    const uint8_t id[CP_SEAL_ID_LEN], time_t expires, const char *client_id,
    struct cp_refresh *r);

/* After the first request answered: a 200 is kept, sealed, for repeats
 * until the window closes; any other answer releases the claim (the IdP
 * did not rotate the token, or we cannot tell), so a retry goes to the
 * IdP.  Frees r; harmless after a cp_refresh_begin that answered. */
void cp_refresh_finish(struct cp_req *req, struct cp_login *lg, struct cp_refresh *r);

/* The error a client gets when the IdP refused a refresh with
 * idp_error: invalid_scope stays, anything else means the refresh token
 * is dead and is invalid_grant, so the client starts a new login (never
 * invalid_request, which clients treat as their own bug). */
const char *cp_refresh_idp_error(const char *idp_error);

#endif
