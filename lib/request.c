#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "limits.h"
#include "request.h"
#include "url.h"

const char *
cp_req_env(const struct cp_req *req, const char *name)
{
	size_t n = strlen(name);
	char **e;

	for (e = req->envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* "Mcp-Session-Id" -> "HTTP_MCP_SESSION_ID". */
static bool
header_var(const char *name, char *var, size_t varlen)
{
	size_t i, n = strlen(name);

	if (n + 6 > varlen)
		return false;
	memcpy(var, "HTTP_", 5);
	for (i = 0; i < n; i++)
		var[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	var[5 + n] = '\0';
	return true;
}

static const char *
header_raw(const struct cp_req *req, const char *name)
{
	char var[96];

	if (!header_var(name, var, sizeof(var)))
		return NULL;
	/* Servers pass Content-Type and Content-Length without HTTP_. */
	if (strcmp(var, "HTTP_CONTENT_TYPE") == 0 || strcmp(var, "HTTP_CONTENT_LENGTH") == 0)
		return cp_req_env(req, var + 5);
	return cp_req_env(req, var);
}

static bool
header_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (i >= CP_MAX_HEADER || ((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f)
			return false;
	return true;
}

const char *
cp_req_header(const struct cp_req *req, const char *name)
{
	const char *v = header_raw(req, name);

	return v && v[0] && header_ok(v) ? v : NULL;
}

bool
cp_req_header_bad(const struct cp_req *req, const char *name)
{
	const char *v = header_raw(req, name);

	return v && !header_ok(v);
}

bool
cp_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 9110 section 9.1: a method is a token (1*tchar). */
static bool
method_ok(const char *m)
{
	size_t i;

	for (i = 0; m[i] != '\0'; i++)
		if (i == CP_MAX_METHOD || !cp_tchar((unsigned char)m[i]))
			return false;
	return i > 0;
}

enum cp_status
cp_req_init(struct cp_req *req, FCGX_Request *fcgx, char **envp,
    const struct cp_config *cfg)
{
	const char *uri, *q;
	size_t n;

	memset(req, 0, sizeof(*req));
	req->fcgx = fcgx;
	req->envp = envp;
	req->cfg = cfg;
	req->status = 0;
	cp_buf_init(&req->headers, CP_MAX_OUT_HEADERS);
	clock_gettime(CLOCK_MONOTONIC, &req->started);
	req->method = cp_req_env(req, "REQUEST_METHOD");
	req->path = CP_STR("-");
	req->query = "";
	if (req->method == NULL || !method_ok(req->method))
		return CP_ERR_SYNTAX;
	req->head = strcmp(req->method, "HEAD") == 0;
	uri = cp_req_env(req, "REQUEST_URI");
	if (uri == NULL || uri[0] != '/')
		return CP_ERR_SYNTAX;
	if ((n = strlen(uri)) > CP_MAX_URI)
		return CP_ERR_LIMIT;
	if (!cp_is_visible_ascii(uri, n))
		return CP_ERR_SYNTAX;
	q = memchr(uri, '?', n);
	req->path.ptr = uri;
	req->path.len = q ? (size_t)(q - uri) : n;
	req->query = q ? q + 1 : "";
	if (strlen(req->query) > CP_MAX_QUERY)
		return CP_ERR_LIMIT;
	return CP_OK;
}

void
cp_req_free(struct cp_req *req)
{
	cp_buf_free(&req->headers);
}

bool
cp_req_path_is(const struct cp_req *req, const char *p)
{
	return cp_str_eq_c(req->path, p);
}

enum cp_status
cp_req_query_form(const struct cp_req *req, struct cp_form *f)
{
	return cp_form_parse(req->query, strlen(req->query), f);
}

long
cp_req_read(struct cp_req *req, void *p, size_t n)
{
	size_t got;
	int r;

	if (n > 0x7fffffff)
		n = 0x7fffffff;
	if (req->fcgx) {
		r = FCGX_GetStr(p, (int)n, req->fcgx->in);
		if (r > 0)
			req->body_read += (size_t)r;
		return r < 0 ? -1 : r;
	}
	got = fread(p, 1, n, stdin);
	req->body_read += got;
	return got == 0 && ferror(stdin) ? -1 : (long)got;
}

/*
 * RFC 3875 section 4.2: a script reads no more than CONTENT_LENGTH bytes
 * and the server need not signal EOF, so the count decides.  Apache
 * mod_cgid resets the connection when a script exits with body bytes
 * unread, which cuts the response short and leaves the client waiting.
 */
void
cp_req_drain(struct cp_req *req)
{
	const char *cl = cp_req_header(req, "Content-Length");
	char chunk[4096], *end;
	unsigned long want;
	size_t n;

	if (req->fcgx != NULL || cl == NULL || !isdigit((unsigned char)cl[0]))
		return;
	want = strtoul(cl, &end, 10);
	if (*end != '\0' || want > CP_MAX_CGI_DRAIN)
		return;
	while (req->body_read < want) {
		n = want - req->body_read;
		if (cp_req_read(req, chunk, n < sizeof(chunk) ? n : sizeof(chunk)) <= 0)
			break;
	}
}

enum cp_status
cp_req_body_form(struct cp_req *req, struct cp_form *f)
{
	const char *ct = cp_req_header(req, "Content-Type");
	const char *cl = cp_req_header(req, "Content-Length");
	struct cp_buf body;
	char chunk[4096];
	unsigned long want = 0;
	long r;
	enum cp_status rc;
	size_t tlen = strlen("application/x-www-form-urlencoded");

	f->n = 0;
	/* The media type, optionally followed by parameters (";charset=..."). */
	if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", tlen) != 0 ||
	    (ct[tlen] != '\0' && ct[tlen] != ';' && ct[tlen] != ' '))
		return CP_ERR_INVALID;
	if (cl != NULL) {
		char *end;
		want = strtoul(cl, &end, 10);
		if (*end != '\0' || !isdigit((unsigned char)cl[0]))
			return CP_ERR_SYNTAX;
		if (want > CP_MAX_FORM)
			return CP_ERR_LIMIT;
	}
	cp_buf_init(&body, CP_MAX_FORM);
	while ((r = cp_req_read(req, chunk, sizeof(chunk))) > 0)
		if ((rc = cp_buf_add(&body, chunk, (size_t)r)) != CP_OK)
			return rc;
	if (r < 0 || (cl != NULL && body.len != want)) {
		cp_buf_free(&body);
		return CP_ERR_IO;
	}
	rc = cp_form_parse(cp_buf_cstr(&body), body.len, f);
	cp_buf_wipe_free(&body);        /* may hold codes and verifiers */
	return rc;
}

enum cp_status
cp_req_write(struct cp_req *req, const void *p, size_t n)
{
	if (req->gone)
		return CP_ERR_IO;
	if (req->fcgx) {
		while (n > 0) {
			int chunk = n > 0x40000000 ? 0x40000000 : (int)n;
			if (FCGX_PutStr(p, chunk, req->fcgx->out) != chunk) {
				req->gone = true;
				return CP_ERR_IO;
			}
			p = (const char *)p + chunk;
			n -= (size_t)chunk;
		}
		return CP_OK;
	}
	if (fwrite(p, 1, n, stdout) != n) {
		req->gone = true;
		return CP_ERR_IO;
	}
	return CP_OK;
}

enum cp_status
cp_req_flush(struct cp_req *req)
{
	if (req->gone)
		return CP_ERR_IO;
	if (req->fcgx ? FCGX_FFlush(req->fcgx->out) != 0 : fflush(stdout) != 0) {
		req->gone = true;
		return CP_ERR_IO;
	}
	return CP_OK;
}
