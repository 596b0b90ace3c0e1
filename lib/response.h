/*
 * Responses: status, headers, JSON, redirects and HTML pages, each with
 * the security headers every response carries (Cache-Control: no-store
 * unless a handler sets its own, nosniff, no-referrer; HTML adds a CSP
 * with frame-ancestors 'none' and X-Frame-Options: DENY).
 *
 * A handler queues extra headers with cp_resp_header, then sends exactly
 * one response.  Every function returns CP_ERR_IO when the client is
 * gone; handlers need not treat that as their failure.
 */
#ifndef CP_RESPONSE_H
#define CP_RESPONSE_H

#include <json-c/json.h>

#include "buf.h"
#include "request.h"
#include "status.h"

/* Queues "name: value".  CP_ERR_INVALID when either holds CR, LF or
 * another control byte (header injection); CP_ERR_LIMIT past the cap. */
enum cp_status cp_resp_header(struct cp_req *req, const char *name,
    const char *value);

/* Writes the status and all headers; content_type may be NULL (no body). */
enum cp_status cp_resp_begin(struct cp_req *req, int status,
    const char *content_type);
/* Body bytes after cp_resp_begin (dropped for HEAD). */
enum cp_status cp_resp_body(struct cp_req *req, const void *p, size_t n);

/* A whole response with no body (204, 202, 405 ...). */
enum cp_status cp_resp_empty(struct cp_req *req, int status);
/* A whole JSON response; does not take ownership of obj. */
enum cp_status cp_resp_json(struct cp_req *req, int status, json_object *obj);
/* RFC 6749 section 5.2 error object; description may be NULL. */
enum cp_status cp_resp_oauth_error(struct cp_req *req, int status,
    const char *error, const char *description);
/* 302 to location, which the caller has already validated. */
enum cp_status cp_resp_redirect(struct cp_req *req, const char *location);
/* A small HTML page; title and text are escaped here. */
enum cp_status cp_resp_page(struct cp_req *req, int status, const char *title,
    const char *text);
/* An HTML page whose body_html the caller built with cp_html_escape. */
enum cp_status cp_resp_html(struct cp_req *req, int status, const char *title,
    const char *body_html);

/* Appends s HTML-escaped (& < > " ' and control bytes). */
enum cp_status cp_html_escape(struct cp_buf *b, const char *s);

/* The reason phrase for an HTTP status. */
const char *cp_http_reason(int status);

/* Sends doc (which it puts; NULL means json-c ran out of memory:
 * CP_ERR_NOMEM, nothing sent) as a 200 JSON answer that caches may keep
 * for 5 minutes: the published metadata documents. */
enum cp_status cp_resp_json_public(struct cp_req *req, json_object *doc);

#endif
