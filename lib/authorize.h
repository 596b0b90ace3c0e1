/*
 * The authorization endpoint (PROTOCOL.md 8-10, DESIGN.md flow 1) and
 * the IdP's return to /callback.
 *
 * GET /authorize checks the client and its redirect_uri (errors: a 400
 * page, never a redirect), then the request (errors: a redirect to the
 * client), binds the browser with a __Host- cookie, asks for consent and
 * sends the browser to the IdP with a sealed state.  POST /authorize is
 * the consent form's answer.  GET /callback opens that state and hands
 * the client a sealed code wrapping the IdP's.
 */
#ifndef CP_AUTHORIZE_H
#define CP_AUTHORIZE_H

#include "request.h"
#include "status.h"

/* Serves GET or POST /authorize; sends exactly one response.  Returns
 * non-OK only when nothing could be sent (the caller answers 500). */
enum cp_status cp_authorize_handle(struct cp_req *req);

/* Serves GET /callback, under the same contract. */
enum cp_status cp_callback_handle(struct cp_req *req);

#endif
