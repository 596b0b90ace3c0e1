/*
 * One HTTP request as the web server hands it over, under FastCGI or
 * plain CGI alike (doc/test-rig.md G1: FCGX_Accept has no CGI fallback, so CGI
 * reads the environment and stdio directly).
 *
 * Routing uses REQUEST_URI, never SCRIPT_NAME or PATH_INFO, which
 * mod_proxy_fcgi sets differently (doc/test-rig.md G7).
 */
#ifndef CP_REQUEST_H
#define CP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <fcgiapp.h>

#include "buf.h"
#include "ctx.h"
#include "form.h"
#include "status.h"

struct cp_config;

struct cp_req {
	FCGX_Request *fcgx;         /* NULL under plain CGI */
	char **envp;                /* the request's CGI variables */
	const struct cp_config *cfg;   /* the generation ctx holds, or NULL */
	struct cp_hold ctx;         /* what the request holds of ctx.h's context */
	char ctx_err[1024];         /* why cfg is NULL (cp_ctx_begin) */
	const char *method;
	struct cp_str path;         /* REQUEST_URI up to '?' */
	const char *query;          /* "" when none */
	bool head;                  /* HEAD: headers only */
	size_t body_read;           /* request body bytes read so far */
	struct timespec body_deadline;  /* CLOCK_MONOTONIC: the body must be in */

	/* Response state, kept by response.c. */
	int status;
	bool began;                 /* status line and headers written */
	bool gone;                  /* the client connection failed */
	bool has_cache_control;
	bool has_csp;               /* the handler queued its own CSP */
	struct cp_buf headers;      /* queued "Name: value\r\n" lines */
	size_t body_bytes;
	struct timespec started;
	struct cp_buf *capture;     /* not NULL: body bytes are also kept here (refresh.h) */
};

/* True for an RFC 9110 section 5.6.2 tchar (the bytes of a token). */
bool cp_tchar(unsigned char c);

/* Sets req up for the current request, whose body must then arrive
 * within CP_BODY_SECONDS.  fcgx NULL means plain CGI (envp = environ).
 * CP_ERR_SYNTAX or CP_ERR_LIMIT: REQUEST_URI or the method is missing,
 * too long or holds bytes we refuse (a method must be a token of at most
 * CP_MAX_METHOD bytes). */
enum cp_status cp_req_init(struct cp_req *req, FCGX_Request *fcgx, char **envp,
    const struct cp_config *cfg);
/* Gives back what req holds of the context (cp_ctx_end) and frees it. */
void cp_req_free(struct cp_req *req);

/* A CGI variable ("REQUEST_METHOD", "HTTP_ORIGIN"), or NULL. */
const char *cp_req_env(const struct cp_req *req, const char *name);

/* A request header by its HTTP name ("Authorization", "Mcp-Session-Id"),
 * or NULL when absent, empty, longer than CP_MAX_HEADER or holding a
 * control byte (such a header is treated as absent by design: callers
 * that care check cp_req_header_bad). */
const char *cp_req_header(const struct cp_req *req, const char *name);
/* True when the header is present but unusable (too long, control byte). */
bool cp_req_header_bad(const struct cp_req *req, const char *name);

/* True when req->path equals p exactly. */
bool cp_req_path_is(const struct cp_req *req, const char *p);

/* Parses the query string into f (see form.h for the rules). */
enum cp_status cp_req_query_form(const struct cp_req *req, struct cp_form *f);

/* Gives the request body until seconds after the request began, in
 * place of CP_BODY_SECONDS (an endpoint that takes larger bodies). */
void cp_req_body_seconds(struct cp_req *req, unsigned seconds);

/* Reads an application/x-www-form-urlencoded body of at most CP_MAX_FORM
 * bytes into f.  CP_ERR_INVALID: wrong Content-Type; CP_ERR_LIMIT: too
 * large; CP_ERR_IO: the body ended early; CP_ERR_TIMEOUT: it was not in
 * by the body deadline (answer 408). */
enum cp_status cp_req_body_form(struct cp_req *req, struct cp_form *f);

/* Reads up to n body bytes into p: what has arrived, waiting for at
 * least one byte no later than the body deadline.  *got is the count, 0
 * at the end of the body.  CP_ERR_TIMEOUT: the deadline passed with
 * nothing to read; CP_ERR_IO: the connection failed. */
enum cp_status cp_req_read(struct cp_req *req, void *p, size_t n, size_t *got);

/* Under plain CGI, reads and discards the rest of the request body
 * (CONTENT_LENGTH, at most CP_MAX_CGI_DRAIN bytes, until the body
 * deadline); does nothing under FastCGI, where the web server owns the
 * stream.  Call once, after the response. */
void cp_req_drain(struct cp_req *req);

/* Raw output; CP_ERR_IO once the client is gone (then req->gone). */
enum cp_status cp_req_write(struct cp_req *req, const void *p, size_t n);
enum cp_status cp_req_flush(struct cp_req *req);

#endif
