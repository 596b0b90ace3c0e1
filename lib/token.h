/*
 * The token endpoint (PROTOCOL.md 11): the authorization_code and
 * refresh_token grants of public CIMD clients, each unwrapping our own
 * sealed envelope and forwarding to the IdP with the static IdP client.
 */
#ifndef CP_TOKEN_H
#define CP_TOKEN_H

#include "request.h"
#include "status.h"

/* Serves one POST /token and sends exactly one JSON response (RFC 6749
 * 5.1/5.2, always no-store).  Returns non-OK only when nothing could be
 * sent; the caller then answers 500. */
enum cp_status cp_token_handle(struct cp_req *req);

#endif
