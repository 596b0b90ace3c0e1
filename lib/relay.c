#include "config.h"

#define _GNU_SOURCE             /* POLLRDHUP */
#include <ctype.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "relay.h"
#include "relayd.h"
#include "response.h"
#include "url.h"

/* JSON-RPC "Internal error" (JSON-RPC 2.0 section 5.1): the code of the
 * relay's own answers when the gateway gave nothing to pass on. */
#define RELAY_ERROR_CODE    (-32603)

/* One per thread (or per process under CGI and mod_fcgid).  The multi
 * handle lets one wait cover both the gateway transfer and the client's
 * connection (curl_multi_poll's extra fds), so a client that leaves is
 * seen as soon as its server tells us, not at the next heartbeat. */
struct cp_relay {
	CURL *easy;             /* kept: its connection cache is the reuse */
	CURLM *multi;
};

/* Set once by cp_relay_stop (SIGTERM): every transfer ends at its next
 * wake-up, at most CP_RELAY_POLL_MS later. */
static atomic_bool relay_stopping;

/* Why a transfer was ended from our side. */
enum relay_end {
	END_NONE,
	END_CLIENT_GONE,
	END_HEADERS_TIMEOUT,
	END_IDLE,
	END_STREAM_MAX,
	END_BODY_LIMIT,
	END_BODY_SHORT,
	END_BODY_TIMEOUT,
	END_BAD_STATUS,
	END_REFUSED,            /* the caller's answer hook said no */
	END_STOPPING            /* the relay process is shutting down */
};

struct transfer {
	struct cp_req *req;
	const struct cp_config *cfg;
	struct cp_elicit scan;
	const struct cp_relay_watch *watch;
	enum cp_status refused;         /* what watch->answer said (END_REFUSED) */
	long status;                    /* of the header block being read */
	bool began;                     /* the final header block was sent on */
	bool sse;
	struct cp_buf content_type;
	struct cp_buf passed;           /* headers to pass on: name NUL value NUL ... */
	struct cp_buf session_id;       /* the gateway's Mcp-Session-Id */
	bool has_session_id;
	bool body_len_known;
	unsigned long long body_left;   /* of CONTENT_LENGTH */
	struct cp_buf body;             /* a small body read whole (read_small_body) */
	bool body_whole;                /* ... and it is in body */
	size_t body_sent;
	enum relay_end why;
	int client_fd;                  /* the web-server connection, or -1 */
	short client_events;
	long long start, last_poll, last_upstream, last_client;  /* ms */
	long long client_quiet_until;   /* ms: client fd left out of the wait */
	long long headers_limit, stream_limit;                     /* ms */
	/* Where the SSE stream sent on to the client stands, so heartbeats
	 * go only between lines, never inside one. */
	bool at_line_start;
	bool at_boundary;               /* ... and between events */
	size_t line_len;
	bool settled;                   /* the stack was trimmed for the wait */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum cp_status
cp_relay_new(struct cp_relay **out)
{
	struct cp_relay *r;
	struct sigaction sa;

	*out = NULL;
	/* A client that went away must show up as a failed write, not kill
	 * the process: libfcgi and stdio write to it directly. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CP_ERR_NOMEM;
	if ((r->easy = curl_easy_init()) == NULL || (r->multi = curl_multi_init()) == NULL) {
		cp_relay_free(r);
		return CP_ERR_NOMEM;
	}
	*out = r;
	return CP_OK;
}

void
cp_relay_free(struct cp_relay *r)
{
	if (r == NULL)
		return;
	curl_multi_cleanup(r->multi);
	curl_easy_cleanup(r->easy);
	free(r);
}

bool
cp_relay_response_header_passed(const char *name, size_t len)
{
	static const char *const exact[] = {
		"WWW-Authenticate", "Retry-After", "Allow",
	};
	size_t i;

	if (len > 4 && strncasecmp(name, "Mcp-", 4) == 0)
		return true;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == len && strncasecmp(name, exact[i], len) == 0)
			return true;
	return false;
}

/* "MCP_SESSION_ID" (a CGI variable after HTTP_) -> "Mcp-Session-Id". */
static enum cp_status
header_name(struct cp_buf *out, const char *var, size_t n)
{
	enum cp_status rc = CP_OK;
	bool word_start = true;
	size_t i;

	for (i = 0; i < n && rc == CP_OK; i++) {
		char c = var[i];
		if (c == '_') {
			rc = cp_buf_addc(out, '-');
			word_start = true;
			continue;
		}
		rc = cp_buf_addc(out, word_start ? (char)toupper((unsigned char)c) :
		    (char)tolower((unsigned char)c));
		word_start = false;
	}
	return rc;
}

/* True when a request header's value v goes to the gateway: not empty,
 * within CP_MAX_HEADER, field-value bytes (cp_field_value_ok). */
static bool
value_passed(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n <= CP_MAX_HEADER && cp_field_value_ok(v, n);
}

/* Appends ": value" and the NUL that ends a line.  Plain copies, not
 * cp_buf_printf: the Authorization value is the bulk of every relayed
 * request and vsnprintf copied it a byte at a time. */
static enum cp_status
add_value(struct cp_buf *out, const char *value)
{
	enum cp_status rc = cp_buf_add(out, ": ", 2);

	return rc == CP_OK ? cp_buf_add(out, value, strlen(value) + 1) : rc;
}

static enum cp_status
add_line(struct cp_buf *out, const char *name, const char *value)
{
	enum cp_status rc = cp_buf_adds(out, name);

	return rc == CP_OK ? add_value(out, value) : rc;
}

/* The Mcp-* headers the proxy reads itself, with their CGI variables:
 * each goes upstream once, with the value cp_req_header read (the first,
 * when the web server passed the variable twice: lighttpd's mod_cgi gives
 * Mcp-Method and Mcp_Method one name), so that the session id checked
 * against its owner and the version, method and name checked against the
 * body (doc/protocol.md 13.13) are the ones the gateway gets.  The session
 * id goes with the fixed set, as it always has. */
#define SESSION_VAR "HTTP_MCP_SESSION_ID"
static const struct {
	const char *header, *var;
} read_once[] = {
	{ "MCP-Protocol-Version", "HTTP_MCP_PROTOCOL_VERSION" },
	{ "Mcp-Method", "HTTP_MCP_METHOD" },
	{ "Mcp-Name", "HTTP_MCP_NAME" },
};

/* True when the variable name var[0..n) is the session's or one of
 * read_once. */
static bool
read_by_proxy(const char *var, size_t n)
{
	size_t i;

	if (strlen(SESSION_VAR) == n && strncmp(var, SESSION_VAR, n) == 0)
		return true;
	for (i = 0; i < sizeof(read_once) / sizeof(read_once[0]); i++)
		if (strlen(read_once[i].var) == n && strncmp(var, read_once[i].var, n) == 0)
			return true;
	return false;
}

enum cp_status
cp_relay_request_headers(const struct cp_req *req, struct cp_buf *out)
{
	/* The fixed set (issue #4), then read_once, then every other Mcp-*.
	 * gateway_protocol_version stands in only for a client that sent
	 * no MCP-Protocol-Version (AgentCore needs one after initialize,
	 * doc/agentcore-okta.md 3.6), or one whose value would not be passed
	 * (bytes past ASCII, which cp_req_header takes and value_passed does
	 * not): replacing a client's own would tell the gateway another
	 * revision than the body speaks (a 2026-07-28 request carries its
	 * version in the body too). */
	static const char *const fixed[] = {
		"Authorization", "Accept", "Content-Type", "Last-Event-ID", "Mcp-Session-Id",
	};
	const char *v, *eq;
	size_t i, mcp = 0;
	char **e;
	enum cp_status rc = CP_OK;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && rc == CP_OK; i++)
		if ((v = cp_req_header(req, fixed[i])) != NULL)
			rc = add_line(out, fixed[i], v);
	for (i = 0; i < sizeof(read_once) / sizeof(read_once[0]) && rc == CP_OK; i++) {
		if ((v = cp_req_header(req, read_once[i].header)) != NULL && !value_passed(v))
			v = NULL;
		if (v == NULL && strcmp(read_once[i].header, "MCP-Protocol-Version") == 0)
			v = req->cfg->gateway_protocol_version;
		if (v != NULL)
			rc = add_line(out, read_once[i].header, v);
	}
	for (e = req->envp; e && *e && rc == CP_OK; e++) {
		if (strncmp(*e, "HTTP_MCP_", 9) != 0 || (eq = strchr(*e, '=')) == NULL ||
		    eq == *e + 9 || read_by_proxy(*e, (size_t)(eq - *e)))
			continue;
		/* Same rules as every header we read: length, control bytes.
		 * Spaces inside stay: an Mcp-Name may be "my tool"
		 * (doc/protocol.md 13.12), and it passes unchanged. */
		v = eq + 1;
		if (!value_passed(v))
			continue;
		if (++mcp > CP_RELAY_MAX_PASSED_HEADERS)
			return CP_ERR_LIMIT;
		if ((rc = header_name(out, *e + 5, (size_t)(eq - *e) - 5)) == CP_OK)
			rc = add_value(out, v);
	}
	return rc;
}

/* Copies a quoted-string starting at v[i] (the opening quote) to out;
 * returns the index after the closing quote, or 0 when unterminated. */
static size_t
quoted(const char *v, size_t i, struct cp_buf *out, enum cp_status *rc)
{
	size_t j = i + 1;

	while (v[j] && v[j] != '"')
		j += v[j] == '\\' && v[j + 1] ? 2 : 1;
	if (v[j] != '"')
		return 0;
	if (out)
		*rc = cp_buf_add(out, v + i, j + 1 - i);
	return j + 1;
}

enum cp_status
cp_relay_challenge(const char *v, const char *prm_url, struct cp_buf *out)
{
	enum cp_status rc = CP_OK;
	bool found = false, first = true, bearer = false, params = false;
	size_t i = 0, j, k;

	while (v[i] && rc == CP_OK) {
		unsigned char c = (unsigned char)v[i];

		if (c == '"') {
			if ((j = quoted(v, i, out, &rc)) == 0)
				return CP_ERR_SYNTAX;
			i = j;
			continue;
		}
		if (!cp_tchar(c)) {
			rc = cp_buf_addc(out, (char)c);
			i++;
			continue;
		}
		for (j = i; cp_tchar((unsigned char)v[j]); j++)
			;
		for (k = j; v[k] == ' ' || v[k] == '\t'; k++)
			;
		if (first)
			bearer = j - i == 6 && strncasecmp(v + i, "Bearer", 6) == 0;
		else
			params = true;
		first = false;
		/* RFC 9728 section 5.1: the parameter names the metadata of
		 * the resource the client talks to, which is us. */
		if (v[k] == '=' && v[k + 1] != '=' && j - i == 17 &&
		    strncasecmp(v + i, "resource_metadata", 17) == 0) {
			for (k++; v[k] == ' ' || v[k] == '\t'; k++)
				;
			if (v[k] == '"') {
				if ((k = quoted(v, k, NULL, &rc)) == 0)
					return CP_ERR_SYNTAX;
			} else
				while (cp_tchar((unsigned char)v[k]) || v[k] == '/' || v[k] == ':')
					k++;
			rc = cp_buf_printf(out, "resource_metadata=\"%s\"", prm_url);
			found = true;
			i = k;
			continue;
		}
		rc = cp_buf_add(out, v + i, j - i);
		i = j;
	}
	if (rc == CP_OK && !found && bearer)
		rc = cp_buf_printf(out, "%sresource_metadata=\"%s\"", params ? ", " : " ", prm_url);
	return rc;
}

/* True when fd is the file st describes (the same socket, say). */
static bool
same_file(int fd, const struct stat *st)
{
	struct stat other;

	return fstat(fd, &other) == 0 && other.st_dev == st->st_dev &&
	    other.st_ino == st->st_ino;
}

/* True when the web server dropped its connection to us.  Nothing may be
 * written on an idle stream, so the socket is asked (doc/test-rig.md G10). */
static bool
client_gone(struct transfer *t)
{
	struct pollfd pfd;

	if (t->req->gone)
		return true;
	if (t->client_fd < 0)
		return false;
	pfd.fd = t->client_fd;
	pfd.events = t->client_events;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) {
		cp_log(CP_LOG_DEBUG, "client connection closed (poll revents 0x%x)",
		    (unsigned)pfd.revents);
		return true;
	}
	return false;
}

/* Follows the bytes sent to the client through SSE lines (CR, LF or
 * CRLF end a line; an empty line ends an event). */
static void
track_lines(struct transfer *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			t->at_boundary = t->line_len == 0;
			t->line_len = 0;
			t->at_line_start = true;
		} else if (p[i] != '\r') {
			t->line_len++;
			t->at_line_start = false;
		} else
			t->at_line_start = false;   /* an LF may follow */
	}
}

/* A comment line keeps an idle stream's connections alive and reveals a
 * client that went away (its write fails).  Between events it also
 * closes with the blank line; inside an event that would dispatch it
 * early, so there only the comment line goes out. */
static bool
heartbeat(struct transfer *t, long long now)
{
	const char *beat = t->at_boundary ? CP_RELAY_HEARTBEAT "\n" : CP_RELAY_HEARTBEAT;

	t->last_client = now;
	return cp_req_write(t->req, beat, strlen(beat)) == CP_OK &&
	    cp_req_flush(t->req) == CP_OK;
}

void
cp_relay_stop(void)
{
	atomic_store(&relay_stopping, true);
}

/* The deadlines, the client's connection and the heartbeat, checked on
 * every wake-up of the transfer.  Returns 1 (and sets t->why) to end it. */
static int
check(struct transfer *t)
{
	long long now = now_ms();

	if (atomic_load(&relay_stopping)) {
		t->why = END_STOPPING;
		return 1;
	}
	if (now - t->start >= t->stream_limit) {
		t->why = END_STREAM_MAX;
		return 1;
	}
	if (!t->began && now - t->start >= t->headers_limit) {
		t->why = END_HEADERS_TIMEOUT;
		return 1;
	}
	if (t->began && !t->sse && now - t->last_upstream >= CP_RELAY_IDLE_SECONDS * 1000LL) {
		t->why = END_IDLE;
		return 1;
	}
	if (now - t->last_poll >= CP_RELAY_POLL_MS) {
		t->last_poll = now;
		if (client_gone(t)) {
			t->why = END_CLIENT_GONE;
			return 1;
		}
	}
	if (t->began && t->sse && t->at_line_start &&
	    now - t->last_client >= t->cfg->heartbeat_seconds * 1000LL && !heartbeat(t, now)) {
		t->why = END_CLIENT_GONE;
		return 1;
	}
	return 0;
}

static int
on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return check(userdata);
}

static size_t
on_read(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t want = size * nmemb, got;
	enum cp_status rc;

	if (t->body_len_known && want > t->body_left)
		want = (size_t)t->body_left;
	/* One byte past the limit tells an oversized body from a full one. */
	if (t->body_sent + want > CP_RELAY_MAX_BODY)
		want = CP_RELAY_MAX_BODY + 1 - t->body_sent;
	if (want == 0)
		return 0;
	rc = cp_req_read(t->req, p, want, &got);
	if (rc != CP_OK || (got == 0 && t->body_len_known)) {
		t->why = rc == CP_ERR_TIMEOUT ? END_BODY_TIMEOUT : END_BODY_SHORT;
		return CURL_READFUNC_ABORT;
	}
	t->body_sent += got;
	if (t->body_sent > CP_RELAY_MAX_BODY) {
		t->why = END_BODY_LIMIT;
		return CURL_READFUNC_ABORT;
	}
	if (t->body_len_known)
		t->body_left -= (unsigned long long)got;
	return got;
}

/* The gateway's final header block is complete: send status and headers. */
static bool
begin(struct transfer *t)
{
	const char *ct = t->content_type.len ? cp_buf_cstr(&t->content_type) : NULL;
	enum cp_elicit_framing framing = cp_elicit_framing_of(ct);
	const char *name;
	size_t off, v;
	enum cp_status rc;

	if (t->status < 200 || t->status > 599) {
		t->why = END_BAD_STATUS;
		return false;
	}
	/* The caller sees the answer before the client does (a new session
	 * is recorded before its id is out). */
	if (t->watch && t->watch->answer && (t->refused = t->watch->answer(t->watch->arg,
	    (int)t->status, t->has_session_id ? cp_buf_cstr(&t->session_id) : NULL)) != CP_OK) {
		t->why = END_REFUSED;
		return false;
	}
	t->sse = framing == CP_ELICIT_SSE;
	cp_elicit_init(&t->scan, framing, t->watch ? t->watch->found : NULL,
	    t->watch ? t->watch->arg : NULL);
	/* The gateway's headers, now that its answer is passed on. */
	for (off = 0; off < t->passed.len; off = v + strlen(t->passed.data + v) + 1) {
		name = t->passed.data + off;
		v = off + strlen(name) + 1;
		if (cp_resp_header(t->req, name, t->passed.data + v) != CP_OK)
			cp_log(CP_LOG_WARN, "gateway header %.64s dropped", name);
	}
	/* nginx and its kin buffer unless told not to. */
	cp_resp_header(t->req, "X-Accel-Buffering", "no");
	rc = cp_resp_begin(t->req, (int)t->status, ct);
	t->began = true;
	t->last_client = t->last_upstream;
	/* An SSE answer may wait long for its first event; the client
	 * should know the stream is open.  A comment goes with the headers:
	 * a web server that sends headers only with body bytes (Apache's
	 * proxies) then sends them at once too. */
	if (rc == CP_OK && t->sse && (rc = cp_req_write(t->req, CP_RELAY_OPENED,
	    strlen(CP_RELAY_OPENED))) == CP_OK)
		rc = cp_req_flush(t->req);
	if (rc != CP_OK) {
		t->why = END_CLIENT_GONE;
		return false;
	}
	return true;
}

/* One header line from the gateway (libcurl hands them over whole). */
static bool
header_line(struct transfer *t, const char *p, size_t len)
{
	struct cp_buf value, rewritten;
	const char *colon;
	size_t vs, ve, need, i;
	enum cp_status rc = CP_OK;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);
		t->status = 0;
		if (sp && (size_t)(sp - p) + 4 <= len && isdigit((unsigned char)sp[1]) &&
		    isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
			t->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
		return true;
	}
	/* Informational blocks (103 Early Hints) are not passed on. */
	if (t->status >= 100 && t->status < 200)
		return true;
	if ((colon = memchr(p, ':', len)) == NULL || colon == p || !cp_tchar((unsigned char)p[0])) {
		cp_log(CP_LOG_WARN, "gateway sent a malformed header line; dropped");
		return true;
	}
	for (vs = (size_t)(colon - p) + 1; vs < len && (p[vs] == ' ' || p[vs] == '\t'); vs++)
		;
	for (ve = len; ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'); ve--)
		;
	if ((size_t)(colon - p) == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
		cp_buf_reset(&t->content_type);
		if (ve - vs > 0 && cp_field_value_ok(p + vs, ve - vs) &&
		    cp_buf_add(&t->content_type, p + vs, ve - vs) != CP_OK)
			cp_buf_init(&t->content_type, CP_RELAY_MAX_CONTENT_TYPE);
		return true;
	}
	if (!cp_relay_response_header_passed(p, (size_t)(colon - p)))
		return true;
	for (i = 0; i < (size_t)(colon - p); i++)
		if (!cp_tchar((unsigned char)p[i]))
			break;
	if (i < (size_t)(colon - p) || !cp_field_value_ok(p + vs, ve - vs)) {
		cp_log(CP_LOG_WARN, "gateway sent a header with control bytes; dropped");
		return true;
	}
	/* One session per answer: the first is the one the caller hears of
	 * and the client gets; a second could name another session. */
	if ((size_t)(colon - p) == 14 && strncasecmp(p, "Mcp-Session-Id", 14) == 0) {
		/* MCP transports "Session Management": visible ASCII only. */
		if (t->has_session_id || ve == vs || !cp_is_visible_ascii(p + vs, ve - vs)) {
			cp_log(CP_LOG_WARN, "gateway sent a second or malformed Mcp-Session-Id; "
			    "dropped");
			return true;
		}
		if (cp_buf_add(&t->session_id, p + vs, ve - vs) != CP_OK) {
			cp_buf_init(&t->session_id, CP_MAX_HEADER);
			cp_log(CP_LOG_WARN, "gateway sent an Mcp-Session-Id over %d bytes; dropped",
			    CP_MAX_HEADER);
			return true;
		}
		t->has_session_id = true;
	}
	cp_buf_init(&value, CP_MAX_HEADER);
	cp_buf_init(&rewritten, CP_MAX_HEADER);
	rc = cp_buf_add(&value, p + vs, ve - vs);
	if (rc == CP_OK && (size_t)(colon - p) == 16 &&
	    strncasecmp(p, "WWW-Authenticate", 16) == 0 &&
	    (rc = cp_relay_challenge(cp_buf_cstr(&value), t->cfg->prm_url,
	    &rewritten)) == CP_OK) {
		cp_buf_reset(&value);
		rc = cp_buf_add(&value, rewritten.data, rewritten.len);
	}
	/* Kept as name NUL value NUL until begin() knows the answer is
	 * passed on; a header that does not fit is dropped, not the rest. */
	need = (size_t)(colon - p) + value.len + 2;
	if (rc == CP_OK && t->passed.len + need > t->passed.max)
		rc = CP_ERR_LIMIT;
	if (rc == CP_OK && (rc = cp_buf_add(&t->passed, p, (size_t)(colon - p))) == CP_OK &&
	    (rc = cp_buf_addc(&t->passed, '\0')) == CP_OK &&
	    (rc = cp_buf_add(&t->passed, value.data, value.len)) == CP_OK)
		rc = cp_buf_addc(&t->passed, '\0');
	if (rc != CP_OK)
		cp_log(CP_LOG_WARN, "gateway header %.*s dropped: %s", (int)(colon - p), p,
		    cp_status_str(rc));
	cp_buf_free(&value);
	cp_buf_free(&rewritten);
	return true;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb, n = len;

	t->last_upstream = now_ms();
	if (t->began)
		return len;             /* trailers are not passed on */
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n > 0)
		return header_line(t, p, n) ? len : 0;
	if (t->status >= 100 && t->status < 200) {
		t->status = 0;
		return len;
	}
	return begin(t) ? len : 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;

	t->last_upstream = now_ms();
	if (!t->began)
		return 0;
	/* Each SSE chunk goes out at once: an event must reach the client
	 * when the gateway sends it.  Any other answer is one JSON-RPC
	 * message the client reads whole, so it leaves as libfcgi's buffer
	 * fills and, for the usual small answer, in the same write as the
	 * end of the response. */
	if (cp_resp_body(t->req, p, len) != CP_OK ||
	    (t->sse && cp_req_flush(t->req) != CP_OK)) {
		t->why = END_CLIENT_GONE;
		return 0;
	}
	t->last_client = t->last_upstream;
	if (t->sse)
		track_lines(t, p, len);
	/* After forwarding: the scan never holds the stream back. */
	cp_elicit_feed(&t->scan, p, len);
	return len;
}

enum cp_status
cp_relay_error(struct cp_req *req, int status, int code, const char *message)
{
	return cp_relay_error_id(req, status, NULL, code, message);
}

enum cp_status
cp_relay_error_id(struct cp_req *req, int status, json_object *id, int code,
    const char *message)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	enum cp_status rc = CP_ERR_NOMEM;

	/* JSON-RPC 2.0 section 4: an id is a string, a number or null. */
	if (id != NULL && !json_object_is_type(id, json_type_string) &&
	    !json_object_is_type(id, json_type_int) && !json_object_is_type(id, json_type_double))
		id = NULL;
	if (o && e && json_object_object_add(o, "jsonrpc", json_object_new_string("2.0")) == 0 &&
	    json_object_object_add(o, "id", json_object_get(id)) == 0 &&
	    json_object_object_add(e, "code", json_object_new_int(code)) == 0 &&
	    json_object_object_add(e, "message", json_object_new_string(message)) == 0 &&
	    json_object_object_add(o, "error", e) == 0) {
		e = NULL;
		rc = cp_resp_json(req, status, o);
	}
	json_object_put(e);
	json_object_put(o);
	return rc;
}

/* Status and message for a transfer that ended before any answer. */
static int
failure(const struct transfer *t, CURLcode cc, const char **message)
{
	switch (t->why) {
	case END_BODY_LIMIT:
		*message = "request body too large";
		return 413;
	case END_BODY_SHORT:
		*message = "request body ended early";
		return 400;
	case END_BODY_TIMEOUT:
		*message = "the request body did not arrive in time";
		return 408;
	case END_HEADERS_TIMEOUT:
	case END_STREAM_MAX:
		*message = "the MCP gateway did not answer in time";
		return 504;
	case END_BAD_STATUS:
		*message = "the MCP gateway sent an invalid answer";
		return 502;
	case END_STOPPING:
		*message = "the relay is restarting; try again";
		return 503;
	case END_REFUSED:
		if (t->refused == CP_ERR_STORE) {
			*message = "the proxy cannot reach its state store";
			return 503;
		}
		*message = "the MCP gateway sent an answer the proxy cannot pass on";
		return 502;
	default:
		break;
	}
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*message = "the MCP gateway did not answer in time";
		return 504;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		*message = "the MCP gateway is unreachable";
		return 502;
	default:
		*message = "the MCP gateway sent an invalid answer";
		return 502;
	}
}

static const char *
end_str(enum relay_end why)
{
	switch (why) {
	case END_CLIENT_GONE: return "client went away";
	case END_HEADERS_TIMEOUT: return "no answer in time";
	case END_IDLE: return "answer stalled";
	case END_STREAM_MAX: return "stream_max_seconds reached";
	case END_BODY_LIMIT: return "request body too large";
	case END_BODY_SHORT: return "request body ended early";
	case END_BODY_TIMEOUT: return "request body too slow";
	case END_BAD_STATUS: return "invalid status";
	case END_REFUSED: return "answer refused";
	case END_STOPPING: return "relay stopping";
	case END_NONE: break;
	}
	return "upstream transfer failed";
}

/*
 * Reads a body of known length up to CP_RELAY_INLINE_BODY whole, so that
 * libcurl sends it in the same write as the request headers (one segment
 * upstream instead of two, and no wait for the socket in between).
 * Larger or chunked bodies stream through on_read.  CP_ERR_IO when the
 * web server's body ends early or fails, CP_ERR_TIMEOUT when it is not
 * in by the body deadline, before anything went upstream.
 */
static enum cp_status
read_small_body(struct transfer *t)
{
	char chunk[CP_RELAY_INLINE_BODY];
	size_t want = (size_t)t->body_left, got;
	enum cp_status rc;

	while (t->body.len < want) {
		if ((rc = cp_req_read(t->req, chunk, want - t->body.len, &got)) != CP_OK)
			return rc;
		if (got == 0)
			return CP_ERR_IO;
		if ((rc = cp_buf_add(&t->body, chunk, got)) != CP_OK)
			return rc;
	}
	t->body_sent = t->body.len;
	t->body_left = 0;
	t->body_whole = true;
	return CP_OK;
}

/* Sets the per-request options; the handle keeps its connections. */
static enum cp_status
setup(struct cp_relay *r, struct transfer *t, struct curl_slist **headers)
{
	const struct cp_config *cfg = t->cfg;
	struct cp_req *req = t->req;
	struct cp_buf lines;
	const char *cl = cp_req_header(req, "Content-Length");
	bool post = strcmp(req->method, "POST") == 0;
	struct curl_slist *h = NULL, *n;
	CURL *c = r->easy;
	CURLcode cc = CURLE_OK;
	size_t off;
	char *end;
	enum cp_status rc;

	cp_buf_init(&lines, CP_MAX_OUT_HEADERS * 4);
	if ((rc = cp_relay_request_headers(req, &lines)) != CP_OK)
		goto out;
	rc = CP_ERR_NOMEM;
	for (off = 0; off < lines.len; off += strlen(lines.data + off) + 1) {
		if ((n = curl_slist_append(h, lines.data + off)) == NULL)
			goto out;
		h = n;
	}
	/* Empty values stop libcurl adding defaults the client never sent;
	 * no Expect: the body streams at once. */
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto out;
	h = n;
	if (cp_req_header(req, "Accept") == NULL && (n = curl_slist_append(h, "Accept:")) == NULL)
		goto out;
	h = n;
	if (post && cp_req_header(req, "Content-Type") == NULL &&
	    (n = curl_slist_append(h, "Content-Type:")) == NULL)
		goto out;
	h = n;
	if (post && cl != NULL) {
		t->body_left = strtoull(cl, &end, 10);
		if (!isdigit((unsigned char)cl[0]) || *end != '\0') {
			rc = CP_ERR_SYNTAX;
			goto out;
		}
		t->body_len_known = true;
		if (t->body_left > CP_RELAY_MAX_BODY) {
			rc = CP_ERR_LIMIT;
			goto out;
		}
		if (t->body_left <= CP_RELAY_INLINE_BODY && (rc = read_small_body(t)) != CP_OK)
			goto out;
	} else if (post && (n = curl_slist_append(h, "Transfer-Encoding: chunked")) == NULL)
		goto out;
	h = n;

	curl_easy_reset(c);
	CP_CURL_SET(cc, c, CURLOPT_URL, cfg->gateway_url);
	CP_CURL_SET(cc, c, CURLOPT_PROTOCOLS_STR, "http,https");
	CP_CURL_SET(cc, c, CURLOPT_FOLLOWLOCATION, 0L);
	CP_CURL_SET(cc, c, CURLOPT_NOSIGNAL, 1L);
	CP_CURL_SET(cc, c, CURLOPT_CONNECTTIMEOUT_MS, (long)CP_RELAY_CONNECT_MS);
	CP_CURL_SET(cc, c, CURLOPT_TCP_KEEPALIVE, 1L);
	CP_CURL_SET(cc, c, CURLOPT_BUFFERSIZE, (long)CP_RELAY_RECV_BUFFER);
	CP_CURL_SET(cc, c, CURLOPT_UPLOAD_BUFFERSIZE, (long)CP_RELAY_SEND_BUFFER);
	/* tls_ca_file alone, without libcurl's CA directory: with GnuTLS
	 * each connection loads every certificate it trusts, and Debian's
	 * directory (290) makes a held https stream cost 3.8 MB instead of
	 * 75 KB (doc/relay-rig.md 4). */
	if (cfg->tls_ca_file) {
		CP_CURL_SET(cc, c, CURLOPT_CAINFO, cfg->tls_ca_file);
		CP_CURL_SET(cc, c, CURLOPT_CAPATH, (char *)NULL);
	}
	CP_CURL_SET(cc, c, CURLOPT_HTTPHEADER, h);
	CP_CURL_SET(cc, c, CURLOPT_HEADERFUNCTION, on_header);
	CP_CURL_SET(cc, c, CURLOPT_HEADERDATA, t);
	CP_CURL_SET(cc, c, CURLOPT_WRITEFUNCTION, on_body);
	CP_CURL_SET(cc, c, CURLOPT_WRITEDATA, t);
	CP_CURL_SET(cc, c, CURLOPT_XFERINFOFUNCTION, on_progress);
	CP_CURL_SET(cc, c, CURLOPT_XFERINFODATA, t);
	CP_CURL_SET(cc, c, CURLOPT_NOPROGRESS, 0L);
	if (post && t->body_whole) {
		/* Read whole by read_small_body; the buffer outlives the
		 * transfer (freed by cp_relay_run). */
		CP_CURL_SET(cc, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body.len);
		CP_CURL_SET(cc, c, CURLOPT_POSTFIELDS, t->body.len ? t->body.data : "");
	} else if (post) {
		CP_CURL_SET(cc, c, CURLOPT_POST, 1L);
		CP_CURL_SET(cc, c, CURLOPT_READFUNCTION, on_read);
		CP_CURL_SET(cc, c, CURLOPT_READDATA, t);
		CP_CURL_SET(cc, c, CURLOPT_POSTFIELDSIZE_LARGE,
		    t->body_len_known ? (curl_off_t)t->body_left : (curl_off_t)-1);
	} else if (strcmp(req->method, "DELETE") == 0)
		CP_CURL_SET(cc, c, CURLOPT_CUSTOMREQUEST, "DELETE");
	else
		CP_CURL_SET(cc, c, CURLOPT_HTTPGET, 1L);
	/* A refused option is a libcurl without what we need (http, a
	 * protocol list), not something a request can cause. */
	if (cc != CURLE_OK) {
		cp_log(CP_LOG_ERROR, "libcurl refused an option of the relay: %s",
		    curl_easy_strerror(cc));
		rc = CP_ERR_INTERNAL;
		goto out;
	}
	*headers = h;
	h = NULL;
	rc = CP_OK;
out:
	curl_slist_free_all(h);
	cp_buf_free(&lines);
	return rc;
}

/* Reads and drops a request body of at most CP_RELAY_INLINE_BODY bytes
 * up to its end. */
static void
skip_body(struct cp_req *req)
{
	char chunk[1024];
	size_t got, total = 0;

	while (total <= CP_RELAY_INLINE_BODY &&
	    cp_req_read(req, chunk, sizeof(chunk), &got) == CP_OK && got > 0)
		total += got;
}

/*
 * Runs the transfer set up on r->easy to its end.  Each wait covers the
 * gateway's sockets and the client's connection: the web server closing
 * that connection (a client reset under lighttpd) makes it readable, and
 * the transfer ends at once.  Readable for any other reason (request
 * body or records not read yet), the fd is left out of the wait for
 * CP_RELAY_POLL_MS and check() polls it on that period instead.
 */
static CURLcode
perform(struct cp_relay *r, struct transfer *t)
{
	struct curl_waitfd extra;
	CURLMsg *msg;
	CURLcode cc = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, left, waiting;
	long long now, wait;

	if (curl_multi_add_handle(r->multi, r->easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running) {
		if (curl_multi_perform(r->multi, &running) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (!running)
			break;
		if (check(t))
			break;
		/* An SSE stream now spends its life in this loop: what the
		 * token check and the setup touched of the stack goes back. */
		if (t->began && t->sse && !t->settled) {
			t->settled = true;
			cp_relayd_stack_trim();
		}
		now = now_ms();
		waiting = t->client_fd >= 0 && t->client_events != 0 &&
		    now >= t->client_quiet_until;
		/* An idle stream wakes once a second (deadlines, SIGTERM) or
		 * for its heartbeat, not every poll period: thousands wait. */
		wait = waiting ? CP_RELAY_WAIT_MS : CP_RELAY_POLL_MS;
		if (t->began && t->sse && t->last_client + t->cfg->heartbeat_seconds * 1000LL -
		    now < wait)
			wait = t->last_client + t->cfg->heartbeat_seconds * 1000LL - now;
		if (wait < 1)
			wait = 1;
		extra.fd = t->client_fd;
		extra.events = CURL_WAIT_POLLIN;
		extra.revents = 0;
		if (curl_multi_poll(r->multi, waiting ? &extra : NULL, waiting ? 1 : 0,
		    (int)wait, NULL) != CURLM_OK) {
			cc = CURLE_RECV_ERROR;
			break;
		}
		if (waiting && extra.revents != 0) {
			if (client_gone(t)) {
				t->why = END_CLIENT_GONE;
				break;
			}
			t->client_quiet_until = now_ms() + CP_RELAY_POLL_MS;
		}
	}
	while ((msg = curl_multi_info_read(r->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == r->easy)
			cc = msg->data.result;
	curl_multi_remove_handle(r->multi, r->easy);
	return cc;
}

enum cp_status
cp_relay_run(struct cp_relay *r, struct cp_req *req, const struct cp_relay_watch *watch)
{
	struct transfer t;
	struct curl_slist *headers = NULL;
	struct stat st;
	const char *message;
	CURLcode cc;
	enum cp_status rc;
	int status;

	memset(&t, 0, sizeof(t));
	t.req = req;
	t.cfg = req->cfg;
	t.watch = watch;
	t.start = t.last_poll = t.last_upstream = t.last_client = now_ms();
	t.stream_limit = req->cfg->stream_max_seconds * 1000LL;
	t.headers_limit = CP_RELAY_HEADERS_SECONDS * 1000LL;
	if (t.headers_limit > t.stream_limit)
		t.headers_limit = t.stream_limit;
	t.at_line_start = t.at_boundary = true;
	cp_req_body_seconds(req, CP_RELAY_BODY_SECONDS);
	cp_buf_init(&t.content_type, CP_RELAY_MAX_CONTENT_TYPE);
	cp_buf_init(&t.passed, CP_MAX_OUT_HEADERS);
	cp_buf_init(&t.session_id, CP_MAX_HEADER);
	cp_buf_init(&t.body, CP_RELAY_INLINE_BODY);
	cp_elicit_init(&t.scan, CP_ELICIT_OFF, NULL, NULL);
	/* FastCGI: the connection socket, where the server's close shows as
	 * POLLRDHUP.  CGI: stdout, a pipe or socket whose reader left.  Apache
	 * mod_cgid hands a CGI one socket as both stdin and stdout and shuts
	 * its write side once the request body is sent: there POLLRDHUP is
	 * the end of the body, and only POLLHUP (both sides closed) means
	 * the client went away. */
	if (req->fcgx) {
		t.client_fd = req->fcgx->ipcFd;
		t.client_events = POLLRDHUP;
	} else {
		t.client_fd = STDOUT_FILENO;
		t.client_events = fstat(STDOUT_FILENO, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    !same_file(STDIN_FILENO, &st) ? POLLRDHUP : 0;
	}

	/* A GET or DELETE has no body, but its end (an empty FastCGI stdin
	 * record) is still unread: read it, so that the connection becomes
	 * readable again only when the server closes it (perform). */
	if (req->fcgx && strcmp(req->method, "POST") != 0)
		skip_body(req);
	switch ((rc = setup(r, &t, &headers))) {
	case CP_OK:
		break;
	case CP_ERR_LIMIT:
		rc = cp_relay_error(req, 413, RELAY_ERROR_CODE, "request body too large");
		goto out;
	case CP_ERR_SYNTAX:
		rc = cp_relay_error(req, 400, RELAY_ERROR_CODE, "malformed Content-Length");
		goto out;
	case CP_ERR_IO:
		cp_log(CP_LOG_INFO, "relay to gateway failed: %s", end_str(END_BODY_SHORT));
		rc = cp_relay_error(req, 400, RELAY_ERROR_CODE, "request body ended early");
		goto out;
	case CP_ERR_TIMEOUT:
		cp_log(CP_LOG_INFO, "relay to gateway failed: %s", end_str(END_BODY_TIMEOUT));
		rc = cp_relay_error(req, 408, RELAY_ERROR_CODE, "the request body did not arrive in time");
		goto out;
	default:
		goto out;
	}
	if (t.body_whole && watch && watch->request &&
	    (rc = watch->request(watch->arg, t.body.data ? t.body.data : "", t.body.len)) != CP_OK) {
		if (rc == CP_ERR_LIMIT)
			rc = cp_relay_error(req, 503, RELAY_ERROR_CODE, "too many open streams; retry later");
		else if (rc == CP_ERR_DENIED)
			rc = CP_OK;     /* the hook answered */
		goto out;
	}
	cc = perform(r, &t);
	if (t.began) {
		if (cc == CURLE_OK)
			cp_elicit_end(&t.scan);
		else if (t.why == END_CLIENT_GONE || t.why == END_STOPPING)
			cp_log(CP_LOG_INFO, "relay ended: %s", end_str(t.why));
		else
			cp_log(t.why == END_STREAM_MAX ? CP_LOG_INFO : CP_LOG_WARN,
			    "relay ended mid-answer: %s (%s)", end_str(t.why), curl_easy_strerror(cc));
		rc = CP_OK;
		goto out;
	}
	status = failure(&t, cc, &message);
	cp_log(status >= 500 ? CP_LOG_WARN : CP_LOG_INFO, "relay to gateway failed: %s (%s)",
	    end_str(t.why), curl_easy_strerror(cc));
	rc = cp_relay_error(req, status, RELAY_ERROR_CODE, message);
out:
	/* The handle outlives headers: it must not keep pointing at them. */
	cc = CURLE_OK;
	CP_CURL_SET(cc, r->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_slist_free_all(headers);
	cp_elicit_free(&t.scan);
	cp_buf_free(&t.content_type);
	cp_buf_free(&t.passed);
	cp_buf_free(&t.session_id);
	cp_buf_free(&t.body);
	return rc;
}
