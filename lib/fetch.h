/*
 * Fetching client documents (CIMD section 4, doc/protocol.md 5): libcurl
 * over https only, GET, no redirects, no cookies, no proxy, a total
 * deadline that bounds the host lookup too, a cap on every decoded body
 * (whatever the status: a body we drop stops there too), and the SSRF
 * rule: the host is resolved here, every address is checked
 * against the special-use registries (RFC 6890 and successors) unless
 * fetch_allow_private covers it, and the connection is pinned to the
 * checked addresses (CURLOPT_RESOLVE) and re-checked before the request
 * is sent and after the transfer, so DNS rebinding cannot move it.
 */
#ifndef CP_FETCH_H
#define CP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

#define CP_FETCH_TIMEOUT_MS     5000    /* whole transfer (doc/protocol.md 5.6) */
#define CP_FETCH_CONNECT_MS     3000
#define CP_FETCH_MAX_ADDRS      16      /* resolved addresses we pin */
#define CP_FETCH_MAX_STUCK_LOOKUPS 8    /* timed-out host lookups still
                                           running; more refuse fetches */
#define CP_FETCH_MAX_HEADER     256     /* one captured header value */

/* What a failed fetch means for the fallback (doc/protocol.md 5.11). */
enum cp_fetch_class {
	CP_FETCH_GOOD = 0,          /* 200 with a JSON body within the cap */
	CP_FETCH_TRANSPORT,         /* network, TLS, timeout, 5xx, 401/403/408/429,
	                               an HTML challenge: a copy may stand in */
	CP_FETCH_GONE,              /* 404/410: withdrawn, evict every copy */
	CP_FETCH_REFUSED            /* our rules said no (SSRF, redirect, media
	                               type, size, other status): no fallback */
};

struct cp_fetch_result {
	enum cp_fetch_class klass;
	long status;                /* HTTP status, 0 when none arrived */
	struct cp_buf body;         /* capped at CP_CIMD_MAX_BODY; caller frees */
	char content_type[CP_FETCH_MAX_HEADER];
	char cache_control[CP_FETCH_MAX_HEADER];   /* repeated headers joined */
	char expires[CP_FETCH_MAX_HEADER];
	char primary_ip[64];        /* the address libcurl connected to */
	const char *why;            /* static phrase when klass != GOOD */
};

/* Fetches client_id (which must pass cp_client_id_check).  Returns CP_OK
 * only for klass CP_FETCH_GOOD; otherwise CP_ERR_DENIED (SSRF rule),
 * CP_ERR_FETCH (network, TLS), CP_ERR_TIMEOUT, CP_ERR_LIMIT (body cap),
 * CP_ERR_UPSTREAM (status or media type), CP_ERR_NOT_FOUND (404/410),
 * CP_ERR_NOMEM, with res->klass and res->why saying more.  The caller
 * frees res->body with cp_buf_free in every case. */
enum cp_status cp_cimd_fetch(const struct cp_config *cfg, const char *client_id,
    struct cp_fetch_result *res);

/* NULL when sa (AF_INET or AF_INET6) is a global unicast address a
 * document fetch may reach, else a static phrase naming the special-use
 * range.  IPv6 must lie in 2000::/3; NAT64 (64:ff9b::/96), 6to4
 * (2002::/16) and Teredo (2001::/32) are judged by their embedded IPv4;
 * IPv4-mapped and -compatible forms are refused outright. */
const char *cp_addr_special(const struct sockaddr *sa);

/* True when sa may be fetched: inside a fetch_allow_private CIDR, or not
 * special-use.  *why (may be NULL) names the range when false. */
bool cp_addr_fetch_allowed(const struct cp_config *cfg,
    const struct sockaddr *sa, const char **why);

/* True for a JSON media type: application/json or application/<x>+json,
 * parameters ignored, case-insensitive (CIMD 4.1). */
bool cp_media_type_is_json(const char *content_type);

#endif
