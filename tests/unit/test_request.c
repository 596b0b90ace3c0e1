/*
 * The request-body deadline (cp_req_read, cp_req_body_form) over real
 * file descriptors: plain CGI with a pipe as stdin, and FastCGI with
 * libfcgi accepting a connection from a child process that writes the
 * records a web server would, slowly, and then reads our answer.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"
#include "request.h"
#include "../tap.h"

static char *cgi_env[] = {
	"REQUEST_METHOD=POST", "REQUEST_URI=/token",
	"CONTENT_TYPE=application/x-www-form-urlencoded", "CONTENT_LENGTH=20", NULL
};

static double
since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A child that writes body to fd one byte every gap_ms, then holds fd
 * open for hold_ms; returns its pid. */
static pid_t
dribble(int fd, const char *body, int gap_ms, int hold_ms)
{
	struct timespec gap = { gap_ms / 1000, (gap_ms % 1000) * 1000000L };
	pid_t pid = fork();
	size_t i;

	if (pid != 0)
		return pid;
	for (i = 0; body[i]; i++) {
		if (write(fd, body + i, 1) != 1)
			_exit(1);
		if (gap_ms > 0)
			nanosleep(&gap, NULL);
	}
	usleep((useconds_t)hold_ms * 1000);
	_exit(0);
}

/* Plain CGI: body is what arrives on stdin (a pipe), byte by byte with
 * gap_ms between, the pipe left open for hold_ms.  Returns
 * cp_req_body_form's status; *secs is how long it took. */
static enum cp_status
cgi_form(const char *body, int gap_ms, int hold_ms, unsigned deadline,
    struct cp_form *f, double *secs)
{
	struct cp_req req;
	struct timespec t0;
	enum cp_status rc;
	int p[2], saved = dup(STDIN_FILENO);
	pid_t pid;

	*secs = 0;
	if (saved < 0 || pipe(p) != 0 || dup2(p[0], STDIN_FILENO) < 0)
		return CP_ERR_INTERNAL;
	close(p[0]);
	pid = dribble(p[1], body, gap_ms, hold_ms);
	close(p[1]);
	cp_req_init(&req, NULL, cgi_env, NULL);
	cp_req_body_seconds(&req, deadline);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cp_req_body_form(&req, f);
	*secs = since(&t0);
	cp_req_free(&req);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	return rc;
}

static void
test_cgi(void)
{
	struct cp_form f;
	double secs;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	rc = cgi_form("grant_type=x&code=yz", 0, 0, CP_BODY_SECONDS, &f, &secs);
	is_int(rc, CP_OK, "CGI: a whole body is read");
	is_str(cp_form_get(&f, "code"), "yz", "CGI: ... and parsed");
	cp_form_free(&f);

	/* RFC 3875 4.2: the server need not close stdin after the body. */
	rc = cgi_form("grant_type=x&code=yz", 0, 5000, CP_BODY_SECONDS, &f, &secs);
	is_int(rc, CP_OK, "CGI: a whole body with stdin left open is read");
	ok(secs < 0.5, "CGI: ... at once, no wait for an end of file (%.2f s)", secs);
	cp_form_free(&f);

	/* Every byte in time, the last at about 1 s: the deadline is 2 s. */
	rc = cgi_form("grant_type=x&code=yz", 50, 0, 2, &f, &secs);
	is_int(rc, CP_OK, "CGI: a body that trickles in before the deadline is read");
	cp_form_free(&f);

	/* A byte every 200 ms: each read is quick, the total is not. */
	rc = cgi_form("grant_type=x&code=yz", 200, 5000, 1, &f, &secs);
	is_int(rc, CP_ERR_TIMEOUT, "CGI: a byte every 200 ms with a 1 s deadline: timeout");
	ok(secs > 0.8 && secs < 2.5, "CGI: ... at the deadline (%.2f s)", secs);
	cp_form_free(&f);

	rc = cgi_form("grant", 0, 5000, 1, &f, &secs);
	is_int(rc, CP_ERR_TIMEOUT, "CGI: a body that stops half way: timeout");
	ok(secs > 0.8 && secs < 2.5, "CGI: ... at the deadline (%.2f s)", secs);
	cp_form_free(&f);

	rc = cgi_form("", 0, 5000, 0, &f, &secs);
	is_int(rc, CP_ERR_TIMEOUT, "CGI: deadline already passed: timeout");
	ok(secs < 0.5, "CGI: ... at once (%.2f s)", secs);
	cp_form_free(&f);

	rc = cgi_form("grant", 0, 0, CP_BODY_SECONDS, &f, &secs);
	is_int(rc, CP_ERR_IO, "CGI: a body shorter than Content-Length: i/o error");
	cp_form_free(&f);
}

/* FastCGI records, as a web server writes them (FastCGI 1.0 spec,
 * section 3.3). */
static size_t
record(unsigned char *out, int type, const void *content, size_t len)
{
	out[0] = 1;
	out[1] = (unsigned char)type;
	out[2] = 0;
	out[3] = 1;                     /* request id 1 */
	out[4] = (unsigned char)(len >> 8);
	out[5] = (unsigned char)len;
	out[6] = out[7] = 0;
	memcpy(out + 8, content, len);
	return 8 + len;
}

static size_t
param(unsigned char *out, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	out[0] = (unsigned char)n;
	out[1] = (unsigned char)v;
	memcpy(out + 2, name, n);
	memcpy(out + 2 + n, value, v);
	return 2 + n + v;
}

/* True when s (NUL-free) occurs in buf[0..n). */
static int
contains(const unsigned char *buf, size_t n, const char *s)
{
	size_t i, k = strlen(s);

	for (i = 0; i + k <= n; i++)
		if (memcmp(buf + i, s, k) == 0)
			return 1;
	return 0;
}

/* The web server's side: a request whose body stops after 3 of its 20
 * bytes, then read the answer to the end.  Exits 0 when the answer held
 * a 408 and the end-of-request record. */
static void
web_server(const char *path)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	unsigned char buf[4096], params[512];
	struct sockaddr_un sa;
	size_t n = 0, pl = 0, got = 0;
	ssize_t r;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		_exit(2);
	pl += param(params + pl, "REQUEST_METHOD", "POST");
	pl += param(params + pl, "REQUEST_URI", "/token");
	pl += param(params + pl, "CONTENT_TYPE", "application/x-www-form-urlencoded");
	pl += param(params + pl, "CONTENT_LENGTH", "20");
	n += record(buf + n, 1, begin, sizeof(begin));          /* BEGIN_REQUEST */
	n += record(buf + n, 4, params, pl);                    /* PARAMS */
	n += record(buf + n, 4, "", 0);
	n += record(buf + n, 5, "a=1", 3);                      /* STDIN */
	if (write(fd, buf, n) != (ssize_t)n)
		_exit(3);
	while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	/* STDOUT content, then END_REQUEST (type 3) as the last record. */
	_exit(contains(buf, got, "Status: 408") && got >= 16 &&
	    buf[got - 16 + 1] == 3 ? 0 : 4);
}

static void
test_fcgi(void)
{
	char dir[] = "/tmp/cp-test-request.XXXXXX", path[64];
	static const char answer[] = "Status: 408 Request Timeout\r\n\r\n";
	FCGX_Request fcgx;
	struct cp_req req;
	struct cp_form f;
	struct timespec t0;
	enum cp_status rc;
	double secs;
	int lsock, status = -1;
	pid_t pid;

	memset(&f, 0, sizeof(f));
	if (mkdtemp(dir) == NULL) {
		ok(0, "FastCGI: temp dir");
		return;
	}
	snprintf(path, sizeof(path), "%s/s", dir);
	if (FCGX_Init() != 0 || (lsock = FCGX_OpenSocket(path, 4)) < 0 ||
	    FCGX_InitRequest(&fcgx, lsock, 0) != 0) {
		ok(0, "FastCGI: listening socket");
		return;
	}
	if ((pid = fork()) == 0)
		web_server(path);
	ok(FCGX_Accept_r(&fcgx) == 0, "FastCGI: request accepted");
	cp_req_init(&req, &fcgx, fcgx.envp, NULL);
	cp_req_body_seconds(&req, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cp_req_body_form(&req, &f);
	secs = since(&t0);
	is_int(rc, CP_ERR_TIMEOUT, "FastCGI: a body that stops half way: timeout");
	ok(secs > 0.8 && secs < 2.5, "FastCGI: ... at the deadline (%.2f s)", secs);
	is_int(cp_req_write(&req, answer, sizeof(answer) - 1), CP_OK,
	    "FastCGI: the answer can still be written");
	cp_req_free(&req);
	FCGX_Finish_r(&fcgx);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "FastCGI: the web server got the 408 and the end of the request (%d)",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	cp_form_free(&f);
	FCGX_Free(&fcgx, 1);
	close(lsock);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_cgi();
	test_fcgi();
	return tap_done();
}
