#include "config.h"

#define _GNU_SOURCE             /* getaddrinfo_a */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "cimd.h"
#include "fetch.h"
#include "http.h"
#include "log.h"
#include "url.h"

/* Special-use IPv4 blocks (RFC 6890, IANA IPv4 Special-Purpose Address
 * Registry, RFC 6598, RFC 5737, RFC 2544).  The IPv6 rule is an allowlist
 * (global unicast 2000::/3) with holes, see v6_special. */
static const struct {
	unsigned char net[4];
	unsigned prefix;
	const char *why;
} v4_special[] = {
	{ { 0, 0, 0, 0 }, 8, "unspecified (0.0.0.0/8)" },
	{ { 10, 0, 0, 0 }, 8, "private (10/8)" },
	{ { 100, 64, 0, 0 }, 10, "carrier-grade NAT (100.64/10)" },
	{ { 127, 0, 0, 0 }, 8, "loopback (127/8)" },
	{ { 169, 254, 0, 0 }, 16, "link-local or metadata service (169.254/16)" },
	{ { 172, 16, 0, 0 }, 12, "private (172.16/12)" },
	{ { 192, 0, 0, 0 }, 24, "IETF protocol assignments (192.0.0/24)" },
	{ { 192, 0, 2, 0 }, 24, "documentation (192.0.2/24)" },
	{ { 192, 88, 99, 0 }, 24, "6to4 relay anycast (192.88.99/24)" },
	{ { 192, 168, 0, 0 }, 16, "private (192.168/16)" },
	{ { 198, 18, 0, 0 }, 15, "benchmarking (198.18/15)" },
	{ { 198, 51, 100, 0 }, 24, "documentation (198.51.100/24)" },
	{ { 203, 0, 113, 0 }, 24, "documentation (203.0.113/24)" },
	{ { 224, 0, 0, 0 }, 4, "multicast (224/4)" },
	{ { 240, 0, 0, 0 }, 4, "reserved or broadcast (240/4)" },
};

/* True when the first prefix bits of a and b agree. */
static bool
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static const char *
v4_special_why(const unsigned char *a)
{
	size_t i;

	for (i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++)
		if (prefix_eq(a, v4_special[i].net, v4_special[i].prefix))
			return v4_special[i].why;
	return NULL;
}

static const char *
v6_special_why(const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char zero[16] = { 0 };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const unsigned char nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
	static const unsigned char teredo[4] = { 0x20, 0x01, 0, 0 };
	static const unsigned char doc[4] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const unsigned char doc2[3] = { 0x3f, 0xff, 0 };
	unsigned char client[4];
	size_t i;

	if (memcmp(a, zero, 16) == 0)
		return "unspecified (::)";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback (::1)";
	if (memcmp(a, mapped, 12) == 0)
		return "IPv4-mapped (::ffff:0:0/96)";
	if (memcmp(a, zero, 12) == 0)
		return "IPv4-compatible (::/96)";
	/* RFC 6052: the well-known NAT64 prefix reaches the embedded IPv4. */
	if (memcmp(a, nat64, 12) == 0)
		return v4_special_why(a + 12) ? "NAT64 of a special-use IPv4 (64:ff9b::/96)" : NULL;
	if (prefix_eq(a, nat64_local, 48))
		return "local-use NAT64 (64:ff9b:1::/48)";
	if ((a[0] & 0xfe) == 0xfc)
		return "unique-local (fc00::/7)";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local (fe80::/10)";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "site-local (fec0::/10)";
	if (a[0] == 0xff)
		return "multicast (ff00::/8)";
	if ((a[0] & 0xe0) != 0x20)
		return "not global unicast (outside 2000::/3)";
	/* RFC 4380: Teredo carries the server's IPv4 and the client's,
	 * the latter inverted. */
	if (memcmp(a, teredo, 4) == 0) {
		for (i = 0; i < 4; i++)
			client[i] = (unsigned char)~a[12 + i];
		return v4_special_why(a + 4) || v4_special_why(client) ?
		    "Teredo of a special-use IPv4 (2001::/32)" : NULL;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02)
		return "IETF protocol assignments (2001::/23)";
	if (memcmp(a, doc, 4) == 0)
		return "documentation (2001:db8::/32)";
	if (prefix_eq(a, doc2, 20))
		return "documentation (3fff::/20)";
	/* RFC 3056: 6to4 embeds the site's IPv4 after the prefix. */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_special_why(a + 2) ? "6to4 of a special-use IPv4 (2002::/16)" : NULL;
	return NULL;
}

const char *
cp_addr_special(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_special_why((const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return v6_special_why(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
	return "not an IP address";
}

/* The address bytes of sa (4 or 16), or NULL for another family. */
static const unsigned char *
addr_bytes(const struct sockaddr *sa, size_t *n)
{
	if (sa->sa_family == AF_INET) {
		*n = 4;
		return (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		*n = 16;
		return ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	}
	return NULL;
}

bool
cp_addr_fetch_allowed(const struct cp_config *cfg, const struct sockaddr *sa,
    const char **why)
{
	const unsigned char *a;
	const char *reason;
	size_t n, i;

	if ((a = addr_bytes(sa, &n)) == NULL) {
		if (why != NULL)
			*why = "not an IP address";
		return false;
	}
	for (i = 0; i < cfg->fetch_allow_private_n; i++)
		if (cfg->fetch_allow_private[i].family == sa->sa_family &&
		    prefix_eq(a, cfg->fetch_allow_private[i].addr,
		    cfg->fetch_allow_private[i].prefix)) {
			if (why != NULL)
				*why = NULL;
			return true;
		}
	reason = cp_addr_special(sa);
	if (why != NULL)
		*why = reason;
	return reason == NULL;
}

bool
cp_media_type_is_json(const char *ct)
{
	size_t n, i;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	/* RFC 6839 section 3.1: application/<name>+json. */
	if (n <= 17 || strncasecmp(ct, "application/", 12) != 0 ||
	    strncasecmp(ct + n - 5, "+json", 5) != 0)
		return false;
	for (i = 12; i < n - 5; i++)
		if (!((ct[i] >= 'a' && ct[i] <= 'z') || (ct[i] >= 'A' && ct[i] <= 'Z') ||
		    (ct[i] >= '0' && ct[i] <= '9') || strchr("!#$&-^_.", ct[i])))
			return false;
	return true;
}

/* The addresses the host resolved to and we checked: the only ones a
 * socket may be opened to. */
struct pinned {
	struct sockaddr_storage addr[CP_FETCH_MAX_ADDRS];
	size_t n;
};

static bool
pinned_has(const struct pinned *p, const struct sockaddr *sa)
{
	const unsigned char *a, *b;
	size_t an, bn, i;

	if ((a = addr_bytes(sa, &an)) == NULL)
		return false;
	for (i = 0; i < p->n; i++) {
		b = addr_bytes((const struct sockaddr *)&p->addr[i], &bn);
		if (b != NULL && an == bn && memcmp(a, b, an) == 0)
			return true;
	}
	return false;
}

struct transfer {
	struct cp_fetch_result *res;
	const struct pinned *pins;
	CURL *curl;
	enum cp_status body_rc;     /* why on_body refused */
	size_t dropped;             /* decoded bytes of a body we do not keep */
	bool drop_stopped;          /* on_body ended such a body at the cap */
	bool unpinned;              /* a socket to an unchecked address was refused */
};

/* Only a 200 with a JSON media type has a body we keep; anything else is
 * dropped, so a large error or challenge page is classified by its status
 * rather than by its size.  A dropped body still stops at the document
 * cap: libcurl decodes Content-Encoding before this sees a byte, and a
 * few KB of gzip on a 404 can decode to gigabytes. */
static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !cp_media_type_is_json(t->res->content_type)) {
		if (len > CP_CIMD_MAX_BODY - t->dropped) {
			t->drop_stopped = true;
			return 0;
		}
		t->dropped += len;
		return len;
	}
	/* CIMD-01 6.6: the cap counts decoded bytes, whatever
	 * Content-Length said; a short count aborts the transfer. */
	if ((t->body_rc = cp_buf_add(&t->res->body, p, len)) != CP_OK)
		return 0;
	return len;
}

/* Keeps the value of header line `name: value` in dst; a repeated header
 * is joined with ", " (RFC 9110 5.3) when join is set, else replaces.  A
 * value that does not fit, or holds control bytes, empties dst. */
static void
capture(const char *line, size_t len, const char *name, char *dst, size_t dstlen,
    bool join)
{
	size_t nlen = strlen(name), i, j, end, have;

	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return;
	for (i = nlen + 1; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (end = len; end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
	    line[end - 1] == ' ' || line[end - 1] == '\t'); end--)
		;
	have = join ? strlen(dst) : 0;
	if (have + 2 + (end - i) >= dstlen) {
		dst[0] = '\0';
		return;
	}
	for (j = i; j < end; j++)
		if ((unsigned char)line[j] < 0x20 || (unsigned char)line[j] == 0x7f) {
			dst[0] = '\0';
			return;
		}
	if (have > 0) {
		memcpy(dst + have, ", ", 2);
		have += 2;
	}
	memcpy(dst + have, line + i, end - i);
	dst[have + end - i] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	/* A status line starts a new header block (after a 1xx). */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		t->res->content_type[0] = '\0';
		t->res->cache_control[0] = '\0';
		t->res->expires[0] = '\0';
		return len;
	}
	capture(p, len, "content-type", t->res->content_type,
	    sizeof(t->res->content_type), false);
	capture(p, len, "cache-control", t->res->cache_control,
	    sizeof(t->res->cache_control), true);
	capture(p, len, "expires", t->res->expires, sizeof(t->res->expires), false);
	return len;
}

/* libcurl asks before every connect: only a checked address gets a
 * socket, whatever its resolver or connection cache would have chosen. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct transfer *t = arg;

	if (purpose != CURLSOCKTYPE_IPCXN || !pinned_has(t->pins, &a->addr)) {
		t->unpinned = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* One name lookup handed to glibc's resolver threads (getaddrinfo_a).
 * Until gai_error says it finished, a thread may read name and hints
 * and write cb, so the three live and die together. */
struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char name[CP_MAX_CLIENT_ID + 1];
};

/* Lookups that outlived their fetch's deadline and that glibc could not
 * cancel (a thread was already waiting on the resolver): kept here until
 * they finish, so nothing is freed under that thread.  A process serves
 * one request at a time, hence no lock. */
static struct lookup *stuck[CP_FETCH_MAX_STUCK_LOOKUPS];

static void
lookup_free(struct lookup *l)
{
	if (l == NULL)
		return;
	if (l->cb.ar_result != NULL)
		freeaddrinfo(l->cb.ar_result);
	free(l);
}

/* Frees the stuck lookups that have finished since; returns a free slot
 * of the table, or NULL when every one is still taken. */
static struct lookup **
stuck_reap(void)
{
	struct lookup **slot = NULL;
	size_t i;

	for (i = 0; i < CP_FETCH_MAX_STUCK_LOOKUPS; i++) {
		if (stuck[i] != NULL && gai_error(&stuck[i]->cb) != EAI_INPROGRESS) {
			lookup_free(stuck[i]);
			stuck[i] = NULL;
		}
		if (stuck[i] == NULL && slot == NULL)
			slot = &stuck[i];
	}
	return slot;
}

/* Resolves name before the fetch deadline counted from start runs out
 * (doc/protocol.md 5.6): a plain getaddrinfo waits as long as the resolver
 * likes.  Returns CP_OK with *ai (the caller frees it with freeaddrinfo),
 * CP_ERR_TIMEOUT, CP_ERR_FETCH (no such host, the lookup failed, or too
 * many lookups are stuck) or CP_ERR_NOMEM; *why names the failure. */
static enum cp_status
lookup_host(const char *name, const struct timespec *start, struct addrinfo **ai,
    const char **why)
{
	struct lookup *l = NULL, **slot;
	struct gaicb *list[1];
	const struct gaicb *wait_list[1];
	struct timespec wait;
	enum cp_status rc = CP_ERR_FETCH;
	size_t nl = strlen(name);
	long left;
	int e;

	*ai = NULL;
	if ((slot = stuck_reap()) == NULL) {
		cp_log(CP_LOG_ERROR, "client document host %s not looked up: %d earlier lookups "
		    "still wait on the resolver", name, CP_FETCH_MAX_STUCK_LOOKUPS);
		*why = "client document host lookups are stuck";
		goto out;
	}
	rc = CP_ERR_SYNTAX;
	if (nl >= sizeof(l->name))
		goto out;
	rc = CP_ERR_NOMEM;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto out;
	memcpy(l->name, name, nl + 1);
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->cb.ar_name = l->name;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	wait_list[0] = &l->cb;
	rc = CP_ERR_FETCH;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0)
		goto out;
	while (gai_error(&l->cb) == EAI_INPROGRESS &&
	    (left = CP_FETCH_TIMEOUT_MS - elapsed_ms(start)) > 0) {
		wait.tv_sec = left / 1000;
		wait.tv_nsec = (left % 1000) * 1000000;
		e = gai_suspend(wait_list, 1, &wait);
		/* Not done, timed out or interrupted: waiting cannot work, so
		 * the lookup counts as late rather than spinning to the end. */
		if (e != 0 && e != EAI_AGAIN && e != EAI_INTR)
			break;
	}
	if (gai_error(&l->cb) == EAI_INPROGRESS) {
		rc = CP_ERR_TIMEOUT;
		*why = "client document host took too long to resolve";
		cp_log(CP_LOG_WARN, "client document host %s did not resolve within %d ms",
		    name, CP_FETCH_TIMEOUT_MS);
		/* A lookup glibc already runs cannot be cancelled: its thread
		 * still writes into l, which waits in the table until then.
		 * Cancelled (never started) or done, l is ours to free. */
		if (gai_cancel(&l->cb) == EAI_NOTCANCELED) {
			*slot = l;
			l = NULL;
		}
		goto out;
	}
	if (gai_error(&l->cb) != 0 || l->cb.ar_result == NULL)
		goto out;
	*ai = l->cb.ar_result;
	l->cb.ar_result = NULL;
	rc = CP_OK;
out:
	lookup_free(l);
	return rc;
}

/* Resolves host (brackets stripped) within the deadline counted from
 * start and checks every address: one special-use address refuses the
 * host, since which one a connection ends up on is not ours to choose
 * (DNS rebinding, doc/protocol.md 5.4). */
static enum cp_status
resolve_and_check(const struct cp_config *cfg, const char *host, struct pinned *p,
    struct cp_buf *resolve, const char *port, const struct timespec *start,
    const char **why)
{
	struct addrinfo *ai = NULL, *r;
	char name[CP_MAX_CLIENT_ID + 1], text[INET6_ADDRSTRLEN];
	size_t hl = strlen(host);
	enum cp_status rc;
	const char *reason;
	const unsigned char *b;
	size_t bn = 0, i;
	bool literal = host[0] == '[';

	*why = "client_id host does not resolve";
	if (hl >= sizeof(name) || (literal && (hl < 3 || host[hl - 1] != ']')))
		return CP_ERR_SYNTAX;
	memcpy(name, literal ? host + 1 : host, literal ? hl - 2 : hl);
	name[literal ? hl - 2 : hl] = '\0';
	if ((rc = lookup_host(name, start, &ai, why)) != CP_OK)
		goto out;
	p->n = 0;
	rc = CP_ERR_DENIED;
	for (r = ai; r != NULL; r = r->ai_next) {
		if (!cp_addr_fetch_allowed(cfg, r->ai_addr, &reason)) {
			cp_log(CP_LOG_WARN, "client document host %s resolves to %s address: not fetched",
			    name, reason);
			*why = "client_id host resolves to a special-use address";
			goto out;
		}
		if (pinned_has(p, r->ai_addr))
			continue;
		if (p->n == CP_FETCH_MAX_ADDRS || r->ai_addrlen > sizeof(p->addr[0])) {
			*why = "client_id host resolves to too many addresses";
			goto out;
		}
		memcpy(&p->addr[p->n++], r->ai_addr, r->ai_addrlen);
	}
	/* CURLOPT_RESOLVE "host:port:addr[,addr...]" (IPv6 in brackets):
	 * libcurl then connects to these and never asks DNS again.  An IP
	 * literal needs no entry; on_open_socket still checks it. */
	rc = CP_ERR_NOMEM;
	if (!literal) {
		if (cp_buf_printf(resolve, "%s:%s:", name, port) != CP_OK)
			goto out;
		for (i = 0; i < p->n; i++) {
			b = addr_bytes((const struct sockaddr *)&p->addr[i], &bn);
			if (inet_ntop(bn == 4 ? AF_INET : AF_INET6, b, text, sizeof(text)) == NULL ||
			    cp_buf_printf(resolve, bn == 4 ? "%s%s" : "%s[%s]",
			    i ? "," : "", text) != CP_OK)
				goto out;
		}
	}
	rc = CP_OK;
	*why = NULL;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}

/* Sorts a finished transfer into a status and a fallback class
 * (doc/protocol.md 5.2, 5.9, 5.11). */
static enum cp_status
classify(struct cp_fetch_result *res)
{
	long s = res->status;

	if (s == 200 && cp_media_type_is_json(res->content_type)) {
		res->klass = CP_FETCH_GOOD;
		return CP_OK;
	}
	res->klass = CP_FETCH_REFUSED;
	if (s == 200 && strncasecmp(res->content_type, "text/html", 9) == 0) {
		/* A bot-protection challenge, not the client's answer. */
		res->klass = CP_FETCH_TRANSPORT;
		res->why = "client document host answered with an HTML page";
	} else if (s == 200) {
		res->why = "client document is not served as JSON";
	} else if (s == 404 || s == 410) {
		res->klass = CP_FETCH_GONE;
		res->why = "client document does not exist (404/410)";
		return CP_ERR_NOT_FOUND;
	} else if (s >= 300 && s < 400) {
		res->why = "client document host answered with a redirect (not followed)";
	} else if (s >= 500 || s == 401 || s == 403 || s == 408 || s == 429) {
		res->klass = CP_FETCH_TRANSPORT;
		res->why = "client document host refused or failed the request";
	} else {
		res->why = "client document host answered with an unexpected status";
	}
	return CP_ERR_UPSTREAM;
}

/* The options of one client-document fetch (doc/protocol.md 5): https
 * only, no redirect, no proxy, a fresh connection to the pinned address,
 * within left ms.  The first failure, or CURLE_OK. */
static CURLcode
fetch_options(CURL *c, const struct cp_config *cfg, const char *url,
    struct curl_slist *hdrs, struct curl_slist *res_list, long left, struct transfer *t)
{
	CURLcode cc = CURLE_OK;

	CP_CURL_SET(cc, c, CURLOPT_URL, url);
	CP_CURL_SET(cc, c, CURLOPT_PROTOCOLS_STR, "https");
	CP_CURL_SET(cc, c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	/* CIMD-01 4: redirects MUST NOT be followed. */
	CP_CURL_SET(cc, c, CURLOPT_FOLLOWLOCATION, 0L);
	CP_CURL_SET(cc, c, CURLOPT_MAXREDIRS, 0L);
	CP_CURL_SET(cc, c, CURLOPT_HTTPGET, 1L);
	CP_CURL_SET(cc, c, CURLOPT_HTTPHEADER, hdrs);
	CP_CURL_SET(cc, c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	CP_CURL_SET(cc, c, CURLOPT_ACCEPT_ENCODING, "");
	CP_CURL_SET(cc, c, CURLOPT_TIMEOUT_MS, left);
	CP_CURL_SET(cc, c, CURLOPT_CONNECTTIMEOUT_MS,
	    left < CP_FETCH_CONNECT_MS ? left : (long)CP_FETCH_CONNECT_MS);
	CP_CURL_SET(cc, c, CURLOPT_NOSIGNAL, 1L);
	/* An environment proxy would make the pinned address moot. */
	CP_CURL_SET(cc, c, CURLOPT_PROXY, "");
	CP_CURL_SET(cc, c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	CP_CURL_SET(cc, c, CURLOPT_FRESH_CONNECT, 1L);
	CP_CURL_SET(cc, c, CURLOPT_FORBID_REUSE, 1L);
	CP_CURL_SET(cc, c, CURLOPT_SSL_VERIFYPEER, 1L);
	CP_CURL_SET(cc, c, CURLOPT_SSL_VERIFYHOST, 2L);
	CP_CURL_SET(cc, c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->tls_ca_file != NULL)
		CP_CURL_SET(cc, c, CURLOPT_CAINFO, cfg->tls_ca_file);
	if (res_list != NULL)
		CP_CURL_SET(cc, c, CURLOPT_RESOLVE, res_list);
	CP_CURL_SET(cc, c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	CP_CURL_SET(cc, c, CURLOPT_OPENSOCKETDATA, t);
	CP_CURL_SET(cc, c, CURLOPT_WRITEFUNCTION, on_body);
	CP_CURL_SET(cc, c, CURLOPT_WRITEDATA, t);
	CP_CURL_SET(cc, c, CURLOPT_HEADERFUNCTION, on_header);
	CP_CURL_SET(cc, c, CURLOPT_HEADERDATA, t);
	return cc;
}

/* What the transfer that ended with cc fetched: the status, the address
 * it reached (checked again against pins) and the failure, if any, in
 * res->klass and res->why. */
static enum cp_status
fetch_outcome(CURL *c, CURLcode cc, const struct transfer *t,
    const struct pinned *pins, struct cp_fetch_result *res)
{
	struct sockaddr_storage ss;
	enum cp_status rc;
	char *ip = NULL;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL &&
	    strlen(ip) < sizeof(res->primary_ip))
		memcpy(res->primary_ip, ip, strlen(ip) + 1);
	if (t->unpinned) {
		res->klass = CP_FETCH_REFUSED;
		res->why = "connection to an address that was not checked refused";
		return CP_ERR_DENIED;
	}
	/* A body we drop ended at the cap: the status is all we need. */
	if (cc == CURLE_WRITE_ERROR && t->drop_stopped)
		cc = CURLE_OK;
	if (cc != CURLE_OK) {
		if (cc == CURLE_WRITE_ERROR && t->body_rc == CP_ERR_LIMIT) {
			res->klass = CP_FETCH_REFUSED;
			res->why = "client document is larger than 5 KB";
			rc = CP_ERR_LIMIT;
		} else if (cc == CURLE_WRITE_ERROR && t->body_rc == CP_ERR_NOMEM) {
			rc = CP_ERR_NOMEM;
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			res->why = "client document host timed out";
			rc = CP_ERR_TIMEOUT;
		} else if (cc == CURLE_UNSUPPORTED_PROTOCOL) {
			res->klass = CP_FETCH_REFUSED;
			rc = CP_ERR_DENIED;
		} else {
			res->why = curl_easy_strerror(cc);
			rc = CP_ERR_FETCH;
		}
		return rc;
	}
	/* The pinned addresses were the only ones allowed a socket; the
	 * address actually used is checked once more after the fact. */
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, res->primary_ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, res->primary_ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (!pinned_has(pins, (struct sockaddr *)&ss)) {
		res->klass = CP_FETCH_REFUSED;
		res->why = "connected address differs from the checked one";
		return CP_ERR_DENIED;
	}
	return classify(res);
}

enum cp_status
cp_cimd_fetch(const struct cp_config *cfg, const char *client_id,
    struct cp_fetch_result *res)
{
	enum cp_status rc;
	struct transfer t;
	struct pinned pins;
	struct cp_url u = { 0 };
	struct cp_buf resolve;
	struct curl_slist *hdrs = NULL, *res_list = NULL;
	struct timespec start;
	CURL *c = NULL;
	CURLcode cc;
	long left;

	memset(res, 0, sizeof(*res));
	memset(&t, 0, sizeof(t));
	cp_buf_init(&res->body, CP_CIMD_MAX_BODY);
	cp_buf_init(&resolve, CP_MAX_URL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	res->klass = CP_FETCH_REFUSED;
	res->why = "client_id is not a valid client document URL";
	if ((rc = cp_client_id_check(client_id, strlen(client_id), NULL)) != CP_OK ||
	    (rc = cp_url_parse(client_id, &u)) != CP_OK)
		goto out;
	/* The host is resolved and checked here, before libcurl sees it. */
	rc = resolve_and_check(cfg, u.host, &pins, &resolve,
	    u.port != NULL ? u.port : "443", &start, &res->why);
	if (rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT)
		res->klass = CP_FETCH_TRANSPORT;
	if (rc != CP_OK)
		goto out;
	res->klass = CP_FETCH_TRANSPORT;
	res->why = "client document fetch failed";
	rc = CP_ERR_NOMEM;
	if ((c = curl_easy_init()) == NULL ||
	    (hdrs = curl_slist_append(hdrs,
	    "Accept: application/cimd+json, application/json")) == NULL)
		goto out;
	if (resolve.len > 0 &&
	    (res_list = curl_slist_append(NULL, cp_buf_cstr(&resolve))) == NULL)
		goto out;
	left = CP_FETCH_TIMEOUT_MS - elapsed_ms(&start);
	if (left <= 0) {
		rc = CP_ERR_TIMEOUT;
		res->why = "client document host took too long to resolve";
		goto out;
	}
	t.res = res;
	t.pins = &pins;
	t.curl = c;
	rc = CP_ERR_INTERNAL;
	if (fetch_options(c, cfg, client_id, hdrs, res_list, left, &t) != CURLE_OK)
		goto out;
	cc = curl_easy_perform(c);
	rc = fetch_outcome(c, cc, &t, &pins, res);
out:
	if (rc != CP_OK) {
		if (res->klass == CP_FETCH_GOOD)
			res->klass = CP_FETCH_REFUSED;
		cp_buf_free(&res->body);
		cp_buf_init(&res->body, CP_CIMD_MAX_BODY);
	} else {
		res->why = NULL;
	}
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(res_list);
	cp_url_free(&u);
	cp_buf_free(&resolve);
	return rc;
}
