#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "limits.h"
#include "response.h"

#define CSP_HTML "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; " \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const char *
cp_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

static bool
header_text_ok(const char *s, bool is_name)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (is_name && (c == ':' || c == ' ')))
			return false;
	}
	return i > 0 || !is_name;
}

enum cp_status
cp_resp_header(struct cp_req *req, const char *name, const char *value)
{
	if (req->began)
		return CP_ERR_INTERNAL;
	if (!header_text_ok(name, true) || !header_text_ok(value, false))
		return CP_ERR_INVALID;
	if (strcasecmp(name, "Cache-Control") == 0)
		req->has_cache_control = true;
	if (strcasecmp(name, "Content-Security-Policy") == 0)
		req->has_csp = true;
	return cp_buf_printf(&req->headers, "%s: %s\r\n", name, value);
}

enum cp_status
cp_resp_begin(struct cp_req *req, int status, const char *content_type)
{
	struct cp_buf h;
	enum cp_status rc;

	if (req->began)
		return CP_ERR_INTERNAL;
	req->began = true;
	req->status = status;
	cp_buf_init(&h, CP_MAX_OUT_HEADERS * 2);
	rc = cp_buf_printf(&h, "Status: %d %s\r\n", status, cp_http_reason(status));
	if (rc == CP_OK && content_type)
		rc = cp_buf_printf(&h, "Content-Type: %s\r\n", content_type);
	if (rc == CP_OK && !req->has_cache_control)
		rc = cp_buf_adds(&h, "Cache-Control: no-store\r\nPragma: no-cache\r\n");
	if (rc == CP_OK)
		rc = cp_buf_adds(&h, "X-Content-Type-Options: nosniff\r\n"
		    "Referrer-Policy: no-referrer\r\n");
	/* A page may narrow or extend form-action (the consent page posts
	 * to a redirect); it then queues a whole policy of its own. */
	if (rc == CP_OK && content_type && strncmp(content_type, "text/html", 9) == 0)
		rc = cp_buf_adds(&h, req->has_csp ? "X-Frame-Options: DENY\r\n" :
		    "Content-Security-Policy: " CSP_HTML "\r\nX-Frame-Options: DENY\r\n");
	if (rc == CP_OK)
		rc = cp_buf_add(&h, cp_buf_cstr(&req->headers), req->headers.len);
	if (rc == CP_OK)
		rc = cp_buf_adds(&h, "\r\n");
	if (rc == CP_OK)
		rc = cp_req_write(req, h.data, h.len);
	cp_buf_free(&h);
	return rc;
}

enum cp_status
cp_resp_body(struct cp_req *req, const void *p, size_t n)
{
	if (!req->began)
		return CP_ERR_INTERNAL;
	req->body_bytes += n;
	if (req->capture != NULL && cp_buf_add(req->capture, p, n) != CP_OK)
		req->capture = NULL;
	if (req->head)
		return CP_OK;
	return cp_req_write(req, p, n);
}

enum cp_status
cp_resp_empty(struct cp_req *req, int status)
{
	return cp_resp_begin(req, status, NULL);
}

enum cp_status
cp_resp_json(struct cp_req *req, int status, json_object *obj)
{
	size_t len = 0;
	const char *text;
	enum cp_status rc;

	text = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL || len > CP_MAX_JSON_BODY)
		return CP_ERR_LIMIT;
	if ((rc = cp_resp_begin(req, status, "application/json")) != CP_OK)
		return rc;
	return cp_resp_body(req, text, len);
}

enum cp_status
cp_resp_oauth_error(struct cp_req *req, int status, const char *error,
    const char *description)
{
	json_object *o = json_object_new_object();
	enum cp_status rc = CP_ERR_NOMEM;

	if (o == NULL)
		return rc;
	if (json_object_object_add(o, "error", json_object_new_string(error)) == 0 &&
	    (description == NULL || json_object_object_add(o, "error_description",
	    json_object_new_string(description)) == 0))
		rc = cp_resp_json(req, status, o);
	json_object_put(o);
	return rc;
}

enum cp_status
cp_resp_redirect(struct cp_req *req, const char *location)
{
	enum cp_status rc;

	if ((rc = cp_resp_header(req, "Location", location)) != CP_OK)
		return rc;
	return cp_resp_begin(req, 302, NULL);
}

enum cp_status
cp_html_escape(struct cp_buf *b, const char *s)
{
	enum cp_status rc = CP_OK;

	for (; *s && rc == CP_OK; s++) {
		switch (*s) {
		case '&': rc = cp_buf_adds(b, "&amp;"); break;
		case '<': rc = cp_buf_adds(b, "&lt;"); break;
		case '>': rc = cp_buf_adds(b, "&gt;"); break;
		case '"': rc = cp_buf_adds(b, "&quot;"); break;
		case '\'': rc = cp_buf_adds(b, "&#39;"); break;
		default:
			rc = (unsigned char)*s < 0x20 || *s == 0x7f ?
			    cp_buf_addc(b, '?') : cp_buf_addc(b, *s);
		}
	}
	return rc;
}

enum cp_status
cp_resp_html(struct cp_req *req, int status, const char *title,
    const char *body_html)
{
	struct cp_buf page;
	enum cp_status rc;

	cp_buf_init(&page, CP_MAX_JSON_BODY);
	rc = cp_buf_adds(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\"><title>");
	if (rc == CP_OK)
		rc = cp_html_escape(&page, title);
	if (rc == CP_OK)
		rc = cp_buf_adds(&page, "</title><style>body{font:16px/1.5 system-ui,"
		    "sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}"
		    "h1{font-size:1.4em}.warn{background:#fff3cd;padding:.5em 1em}"
		    "code{background:#f4f4f4;padding:0 .2em}</style></head><body><h1>");
	if (rc == CP_OK)
		rc = cp_html_escape(&page, title);
	if (rc == CP_OK)
		rc = cp_buf_adds(&page, "</h1>\n");
	if (rc == CP_OK)
		rc = cp_buf_adds(&page, body_html);
	if (rc == CP_OK)
		rc = cp_buf_adds(&page, "\n</body></html>\n");
	if (rc == CP_OK && (rc = cp_resp_begin(req, status, "text/html; charset=utf-8")) == CP_OK)
		rc = cp_resp_body(req, page.data, page.len);
	cp_buf_free(&page);
	return rc;
}

enum cp_status
cp_resp_page(struct cp_req *req, int status, const char *title, const char *text)
{
	struct cp_buf body;
	enum cp_status rc;

	cp_buf_init(&body, CP_MAX_JSON_BODY);
	rc = cp_buf_adds(&body, "<p>");
	if (rc == CP_OK)
		rc = cp_html_escape(&body, text);
	if (rc == CP_OK)
		rc = cp_buf_adds(&body, "</p>");
	if (rc == CP_OK)
		rc = cp_resp_html(req, status, title, cp_buf_cstr(&body));
	cp_buf_free(&body);
	return rc;
}

enum cp_status
cp_resp_json_public(struct cp_req *req, json_object *doc)
{
	enum cp_status rc;

	if (doc == NULL)
		return CP_ERR_NOMEM;
	cp_resp_header(req, "Cache-Control", "public, max-age=300");
	rc = cp_resp_json(req, 200, doc);
	json_object_put(doc);
	return rc;
}
