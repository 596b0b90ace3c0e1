/*
 * The page /authorize shows when the client's document cannot be had
 * (RFC 6749 4.1.2.1: the redirect_uri is not trusted yet, so the user is
 * told, never redirected).
 */
#ifndef CP_CIMD_PAGE_H
#define CP_CIMD_PAGE_H

#include "request.h"
#include "status.h"

/* Answers the failure rc of cp_cimd_resolve, with why the sentence
 * describing it: when the client's server did not answer
 * (cp_cimd_failure_transient), 503 with Retry-After saying so; else 400
 * naming the rule the client_id or document broke. */
enum cp_status cp_cimd_failure_page(struct cp_req *req, enum cp_status rc,
    const char *why);

#endif
