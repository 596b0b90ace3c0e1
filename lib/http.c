#include "config.h"

#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "url.h"

/* The transfer's private state, reached from libcurl's callbacks. */
struct transfer {
	struct cp_http_response *resp;
	enum cp_status body_rc;     /* why on_body refused: CP_ERR_LIMIT, _NOMEM */
};

/* Only https leaves the host; plain http is allowed to loopback so the
 * tests can run stand-ins without TLS.  The URL is parsed by libcurl
 * (url.c), never by hand. */
static enum cp_status
check_url(const char *url, const char **protocols)
{
	struct cp_url u;
	enum cp_status rc;

	if ((rc = cp_url_parse(url, &u)) != CP_OK)
		return rc;
	rc = CP_ERR_DENIED;
	if (u.user != NULL || u.password != NULL)
		goto out;
	if (strcmp(u.scheme, "https") == 0)
		*protocols = "https";
	else if (strcmp(u.scheme, "http") == 0 && cp_url_host_is_loopback(u.host))
		*protocols = "http";
	else
		goto out;
	rc = CP_OK;
out:
	cp_url_free(&u);
	return rc;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	/* A short count makes libcurl abort with CURLE_WRITE_ERROR. */
	if ((t->body_rc = cp_buf_add(&t->resp->body, p, len)) != CP_OK)
		return 0;
	return len;
}

/* Copies the value of header line `name: value` into dst when the line
 * names it; a value that does not fit is dropped, never truncated. */
static void
capture(const char *line, size_t len, const char *name, char *dst, size_t dstlen)
{
	size_t nlen = strlen(name), i, j, end;

	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return;
	for (i = nlen + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (end = len; end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
	    line[end - 1] == ' ' || line[end - 1] == '\t'); end--)
		;
	dst[0] = '\0';
	if (end - i >= dstlen)
		return;
	for (j = i; j < end; j++)
		if ((unsigned char)line[j] < 0x20 || (unsigned char)line[j] > 0x7e)
			return;
	memcpy(dst, line + i, end - i);
	dst[end - i] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	/* A new status line (an interim 1xx response) starts a new header
	 * block: forget what the previous one said. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		t->resp->content_type[0] = '\0';
		t->resp->request_id[0] = '\0';
		t->resp->error_type[0] = '\0';
		return len;
	}
	capture(p, len, "content-type", t->resp->content_type,
	    sizeof(t->resp->content_type));
	capture(p, len, "x-amzn-requestid", t->resp->request_id,
	    sizeof(t->resp->request_id));
	capture(p, len, "x-amzn-errortype", t->resp->error_type,
	    sizeof(t->resp->error_type));
	return len;
}

static enum cp_status
map_curl(CURLcode cc, const struct transfer *t)
{
	switch (cc) {
	case CURLE_OK:
		return CP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return CP_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return CP_ERR_LIMIT;
	case CURLE_WRITE_ERROR:
		return t->body_rc != CP_OK ? t->body_rc : CP_ERR_FETCH;
	case CURLE_OUT_OF_MEMORY:
		return CP_ERR_NOMEM;
	default:
		return CP_ERR_FETCH;
	}
}

/* What one transfer sends beyond its URL. */
struct request {
	const char *body;               /* NULL: GET */
	size_t len;
	const char *content_type;       /* "Content-Type: ..." header line */
	const struct cp_http_sigv4 *sig;        /* NULL: unsigned */
	long timeout_ms;
};

/* True when s is 1..max visible ASCII bytes: what a credential must be
 * before it goes into a header or libcurl's signer. */
bool
cp_http_visible(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s != NULL && s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || i >= max)
			return false;
	return s != NULL && i > 0;
}

/* Adds the SigV4 options: libcurl signs host, x-amz-date, the body hash
 * and every header we pass (so Content-Type and X-Amz-Security-Token are
 * covered).  AWS SigV4 "Create a canonical request"; curl's
 * CURLOPT_AWS_SIGV4 takes "<provider1>:<provider2>:<region>:<service>". */
static enum cp_status
sign(CURL *c, const struct cp_http_sigv4 *sig, struct curl_slist **hdrs,
    struct cp_buf *provider, struct cp_buf *token_hdr)
{
	struct curl_slist *h;
	enum cp_status rc;
	CURLcode cc = CURLE_OK;

	if (!cp_http_visible(sig->region, CP_HTTP_MAX_CREDENTIAL) ||
	    !cp_http_visible(sig->service, CP_HTTP_MAX_CREDENTIAL) ||
	    !cp_http_visible(sig->access_key_id, CP_HTTP_MAX_CREDENTIAL) ||
	    !cp_http_visible(sig->secret_access_key, CP_HTTP_MAX_CREDENTIAL) ||
	    (sig->session_token != NULL &&
	    !cp_http_visible(sig->session_token, CP_HTTP_MAX_SESSION_TOKEN)) ||
	    strchr(sig->region, ':') != NULL || strchr(sig->service, ':') != NULL)
		return CP_ERR_INVALID;
	if ((rc = cp_buf_printf(provider, "aws:amz:%s:%s", sig->region,
	    sig->service)) != CP_OK)
		return rc;
	if (sig->session_token != NULL) {
		if ((rc = cp_buf_printf(token_hdr, "X-Amz-Security-Token: %s",
		    sig->session_token)) != CP_OK)
			return rc;
		if ((h = curl_slist_append(*hdrs, cp_buf_cstr(token_hdr))) == NULL)
			return CP_ERR_NOMEM;
		*hdrs = h;
	}
	CP_CURL_SET(cc, c, CURLOPT_AWS_SIGV4, cp_buf_cstr(provider));
	CP_CURL_SET(cc, c, CURLOPT_USERNAME, sig->access_key_id);
	CP_CURL_SET(cc, c, CURLOPT_PASSWORD, sig->secret_access_key);
	return cc == CURLE_OK ? CP_OK : CP_ERR_INTERNAL;
}

/* One transfer on a fresh easy handle: a handle per call keeps the
 * module free of shared state, so threaded endpoints may call it. */
static enum cp_status
transfer(const struct cp_config *cfg, const char *url, const struct request *rq,
    struct cp_http_response *resp)
{
	struct transfer t = { resp, CP_OK };
	struct curl_slist *hdrs = NULL, *h;
	struct cp_buf provider, token_hdr;
	const char *protocols = NULL;
	enum cp_status rc;
	CURLcode cc = CURLE_OK;
	CURL *c = NULL;

	memset(resp, 0, sizeof(*resp));
	cp_buf_init(&resp->body, CP_HTTP_MAX_BODY);
	cp_buf_init(&provider, CP_HTTP_MAX_CREDENTIAL * 2 + 16);
	cp_buf_init(&token_hdr, CP_HTTP_MAX_SESSION_TOKEN + 32);
	if ((rc = check_url(url, &protocols)) != CP_OK) {
		cp_log(CP_LOG_WARN, "http: refused URL %.200s (https, or http to loopback)", url);
		goto out;
	}
	rc = CP_ERR_NOMEM;
	if ((c = curl_easy_init()) == NULL)
		goto out;
	if ((h = curl_slist_append(hdrs, "Accept: application/json")) == NULL)
		goto out;
	hdrs = h;
	/*
	 * Bodies are small; never wait for a 100-continue.  Signed requests
	 * must not carry the "Expect:" removal line: libcurl before 8.3.0
	 * (Debian 12 has 7.88) lists it in SignedHeaders although it sends
	 * no such header, and AWS then refuses the signature (curl issue
	 * #11664, fixed by curl PR #11668).  They need none: libcurl adds
	 * Expect only past EXPECT_100_THRESHOLD (1 MB since 7.62), and
	 * CP_HTTP_MAX_SIGNED_BODY keeps them below it.
	 */
	if (rq->sig == NULL) {
		if ((h = curl_slist_append(hdrs, "Expect:")) == NULL)
			goto out;
		hdrs = h;
	} else if (rq->len > CP_HTTP_MAX_SIGNED_BODY) {
		rc = CP_ERR_LIMIT;
		goto out;
	}
	if (rq->body != NULL) {
		if ((h = curl_slist_append(hdrs, rq->content_type)) == NULL)
			goto out;
		hdrs = h;
	}
	if (rq->sig != NULL && (rc = sign(c, rq->sig, &hdrs, &provider,
	    &token_hdr)) != CP_OK)
		goto out;

	CP_CURL_SET(cc, c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	CP_CURL_SET(cc, c, CURLOPT_PROTOCOLS_STR, protocols);
#else
	CP_CURL_SET(cc, c, CURLOPT_PROTOCOLS, strcmp(protocols, "https") == 0 ?
	    CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
	CP_CURL_SET(cc, c, CURLOPT_NOSIGNAL, 1L);
	CP_CURL_SET(cc, c, CURLOPT_FOLLOWLOCATION, 0L);
	CP_CURL_SET(cc, c, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	CP_CURL_SET(cc, c, CURLOPT_CONNECTTIMEOUT_MS, (long)CP_HTTP_CONNECT_MS);
	CP_CURL_SET(cc, c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)CP_HTTP_MAX_BODY);
	CP_CURL_SET(cc, c, CURLOPT_SSL_VERIFYPEER, 1L);
	CP_CURL_SET(cc, c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg != NULL && cfg->tls_ca_file != NULL)
		CP_CURL_SET(cc, c, CURLOPT_CAINFO, cfg->tls_ca_file);
	CP_CURL_SET(cc, c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	CP_CURL_SET(cc, c, CURLOPT_HTTPHEADER, hdrs);
	CP_CURL_SET(cc, c, CURLOPT_WRITEFUNCTION, on_body);
	CP_CURL_SET(cc, c, CURLOPT_WRITEDATA, &t);
	CP_CURL_SET(cc, c, CURLOPT_HEADERFUNCTION, on_header);
	CP_CURL_SET(cc, c, CURLOPT_HEADERDATA, &t);
	if (rq->body != NULL) {
		CP_CURL_SET(cc, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
		CP_CURL_SET(cc, c, CURLOPT_POSTFIELDS, rq->body);
	}
	if (cc != CURLE_OK) {
		rc = CP_ERR_INTERNAL;
		goto out;
	}

	cc = curl_easy_perform(c);
	if ((rc = map_curl(cc, &t)) != CP_OK) {
		cp_log(CP_LOG_WARN, "http: %s %.200s: %s", rq->body ? "POST" : "GET", url,
		    curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK) {
		rc = CP_ERR_INTERNAL;
		goto out;
	}
	rc = CP_OK;
out:
	if (rc != CP_OK) {
		cp_buf_free(&resp->body);
		resp->status = 0;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	cp_buf_free(&provider);
	/* The session token is a credential. */
	cp_buf_wipe_free(&token_hdr);
	return rc;
}

enum cp_status
cp_http_get(const struct cp_config *cfg, const char *url,
    struct cp_http_response *resp)
{
	const struct request rq = { NULL, 0, NULL, NULL, CP_HTTP_TIMEOUT_MS };

	return transfer(cfg, url, &rq, resp);
}

enum cp_status
cp_http_post_form(const struct cp_config *cfg, const char *url,
    const char *body, size_t len, struct cp_http_response *resp)
{
	const struct request rq = { body ? body : "", len,
	    "Content-Type: application/x-www-form-urlencoded", NULL,
	    CP_HTTP_TIMEOUT_MS };

	return transfer(cfg, url, &rq, resp);
}

enum cp_status
cp_http_post_json_sigv4(const struct cp_config *cfg, const char *url,
    const char *body, size_t len, const struct cp_http_sigv4 *sig,
    long timeout_ms, struct cp_http_response *resp)
{
	const struct request rq = { body ? body : "", len,
	    "Content-Type: application/json", sig, timeout_ms };

	return transfer(cfg, url, &rq, resp);
}
