/*
 * redirect_uri rules: which URIs a client document may register, and
 * whether a requested redirect_uri matches one of them (doc/protocol.md 8.4,
 * 8.5; RFC 6749 section 3.1.2; RFC 8252 sections 7.3 and 8.3; RFC 9700
 * section 2.1).
 */
#ifndef CP_REDIRECT_H
#define CP_REDIRECT_H

#include <stdbool.h>

#include "cimd.h"
#include "request.h"
#include "status.h"

/* Checks one registered redirect URI: absolute, no fragment, no user or
 * password, scheme https (any host) or http with a loopback host
 * (127.0.0.1, [::1], localhost).  Private-use schemes (RFC 8252 7.1),
 * javascript:, data: and plain http elsewhere are refused: MCP clients
 * use loopback or https (MCP-A "Communication Security").  Returns CP_OK
 * or CP_ERR_INVALID with *why (may be NULL) set. */
enum cp_status cp_redirect_uri_check(const char *uri, const char **why);

/* True when requested equals one of doc's redirect_uris byte for byte,
 * or when both are http loopback URIs identical except for the port,
 * which floats (RFC 8252 7.3) whether or not the registered one has a
 * port.  Host, path and query always match exactly; "localhost" never
 * equals "127.0.0.1"; https ports never float; a requested URI with a
 * fragment, a user or a password never matches. */
bool cp_redirect_uri_match(const struct cp_cimd_doc *doc, const char *requested);

/* Sends a redirect with status 302 (or 303 after a POST, RFC 9700
 * 4.12) to location, which the caller validated. */
enum cp_status cp_redirect_send(struct cp_req *req, int status,
    const char *location);

/* Sends the client an authorization error response (RFC 6749 4.1.2.1)
 * at its trusted redirect_uri, with its state when it sent one and
 * iss = public_url (RFC 9207 2); description may be NULL. */
enum cp_status cp_redirect_error(struct cp_req *req, int status,
    const char *redirect_uri, const char *error, const char *description,
    const char *state);

#endif
