#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <unistd.h>

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
	cp_req_body_seconds(req, CP_BODY_SECONDS);
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
	cp_ctx_end(req);
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

void
cp_req_body_seconds(struct cp_req *req, unsigned seconds)
{
	req->body_deadline = req->started;
	req->body_deadline.tv_sec += (time_t)seconds;
}

/* Milliseconds left until the body deadline; 0 once it has passed. */
static long
body_ms_left(const struct cp_req *req)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(req->body_deadline.tv_sec - now.tv_sec) * 1000 +
	    (req->body_deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (long)ms;
}

/*
 * FastCGI.  FCGX_GetStr returns only when it has all n bytes or the body
 * ended, and libfcgi reads the socket with a plain blocking read(), so
 * neither bounds a client that sends a byte now and then.  Bytes libfcgi
 * already holds are taken as they are.  Otherwise one byte is asked for,
 * which refills the buffer at most once, under SO_RCVTIMEO set to the
 * time left: a read that times out fails with EAGAIN, which libfcgi
 * keeps as the input stream's error and which closes the connection in
 * FCGX_Finish_r.  The output stream is separate, so the 408 still goes
 * out.  A poll() here could not tell whether libfcgi's own buffer holds
 * the next record already, and would then wait for bytes that were
 * never to come.
 */
static enum cp_status
read_fcgi(struct cp_req *req, char *p, size_t n, size_t *got)
{
	FCGX_Stream *in = req->fcgx->in;
	static const struct timeval forever = { 0, 0 };
	struct timeval tv;
	long ms;
	size_t have;
	int r, err;

	*got = 0;
	if (in->rdNext == in->stop && !in->isClosed) {
		if ((ms = body_ms_left(req)) == 0)
			return CP_ERR_TIMEOUT;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		if (setsockopt(req->fcgx->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
			return CP_ERR_IO;
		r = FCGX_GetStr(p, 1, in);
		setsockopt(req->fcgx->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
		if (r != 1) {
			err = FCGX_GetError(in);
			if (err == EAGAIN || err == EWOULDBLOCK)
				return CP_ERR_TIMEOUT;
			return err != 0 ? CP_ERR_IO : CP_OK;
		}
		*got = 1;
	}
	have = (size_t)(in->stop - in->rdNext);
	if (have > n - *got)
		have = n - *got;
	if (have > 0)
		*got += (size_t)FCGX_GetStr(p + *got, (int)have, in);
	return *got == 0 && FCGX_GetError(in) != 0 ? CP_ERR_IO : CP_OK;
}

/* Plain CGI: stdin is a pipe, a socket or a file, read without stdio so
 * that poll() sees every byte not yet taken. */
static enum cp_status
read_cgi(struct cp_req *req, char *p, size_t n, size_t *got)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t r;
	long ms;

	*got = 0;
	for (;;) {
		if ((ms = body_ms_left(req)) == 0)
			return CP_ERR_TIMEOUT;
		r = poll(&pfd, 1, (int)ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (pfd.revents & POLLNVAL))
			return CP_ERR_IO;
		if (r == 0)
			continue;
		r = read(STDIN_FILENO, p, n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return CP_ERR_IO;
		*got = (size_t)r;
		return CP_OK;
	}
}

enum cp_status
cp_req_read(struct cp_req *req, void *p, size_t n, size_t *got)
{
	enum cp_status rc;

	*got = 0;
	if (n == 0)
		return CP_OK;
	if (n > 0x7fffffff)
		n = 0x7fffffff;
	rc = req->fcgx ? read_fcgi(req, p, n, got) : read_cgi(req, p, n, got);
	req->body_read += *got;
	return rc;
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
		if (cp_req_read(req, chunk, n < sizeof(chunk) ? n : sizeof(chunk), &n) != CP_OK ||
		    n == 0)
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
	size_t got, room;
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
	/* RFC 3875 section 4.2: under CGI, no more than CONTENT_LENGTH bytes
	 * are read (the server need not close stdin after them).  FastCGI
	 * ends the body with an empty record, which is read too. */
	for (;;) {
		room = sizeof(chunk);
		if (req->fcgx == NULL && cl != NULL && want - body.len < room)
			room = want - body.len;
		if (room == 0)
			break;
		if ((rc = cp_req_read(req, chunk, room, &got)) != CP_OK)
			goto out;
		if (got == 0)
			break;
		if ((rc = cp_buf_add(&body, chunk, got)) != CP_OK)
			goto out;
	}
	if (cl != NULL && body.len != want) {
		rc = CP_ERR_IO;
		goto out;
	}
	rc = cp_form_parse(cp_buf_cstr(&body), body.len, f);
out:
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
