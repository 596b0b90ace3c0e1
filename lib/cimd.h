/*
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-
 * document, "CIMD"; doc/protocol.md sections 4-7): the client_id URL rules,
 * the client_allow policy, document validation, and the one entry point
 * /authorize and /callback use, cp_cimd_resolve, which checks, consults
 * the cache, fetches (fetch.h), validates and falls back to the last good
 * or operator-pinned copy when, and only when, the failure was transport.
 *
 * redirect_uri matching lives in redirect.h; the network fetch and the
 * SSRF address rules in fetch.h.
 */
#ifndef CP_CIMD_H
#define CP_CIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "status.h"

struct cp_store;
struct json_object;

#define CP_CIMD_MAX_BODY            5120    /* decoded bytes; doc/protocol.md 5.5 */
#define CP_CIMD_MAX_REDIRECT_URIS   16
#define CP_CIMD_MAX_NAME            256     /* client_name, bytes of UTF-8 */
#define CP_CIMD_HASH_LEN            32      /* SHA-256 */
/* A private_key_jwt client's keys (RFC 7591 section 2: jwks or jwks_uri).
 * A jwks_uri is fetched like the document (fetch.h), so its body has the
 * document's cap; a set holds at most MAX_JWKS_KEYS keys either way. */
#define CP_CIMD_MAX_JWKS            CP_CIMD_MAX_BODY
#define CP_CIMD_MAX_JWKS_KEYS       8
/* The store key prefix of a cached jwks_uri body (CP_NS_CIMD and
 * CP_NS_CIMD_GOOD): no client_id starts with it, so the two never meet. */
#define CP_CIMD_JWKS_KEY            "jwks:"

/* How a client authenticates at /token (RFC 7591 section 2,
 * token_endpoint_auth_method): public, or by a JWT it signs (RFC 7523
 * section 2.2) with a key of its document's JWKS. */
enum cp_client_auth {
	CP_CLIENT_AUTH_NONE = 0,
	CP_CLIENT_AUTH_PRIVATE_KEY_JWT
};

/* Cache lifetimes (doc/protocol.md 7.4): the server's max-age or Expires is
 * clamped into [MIN, MAX]; without either, DEFAULT.  The last good copy
 * outlives them so a transport failure days later still has a fallback. */
#define CP_CIMD_TTL_MIN             60
#define CP_CIMD_TTL_MAX             86400
#define CP_CIMD_TTL_DEFAULT         600
#define CP_CIMD_GOOD_TTL            (30 * 86400)
/* Keys are another matter: a client that drops a key (leaked, rotated)
 * must not see it honoured for a month because its host can be made to
 * fail.  A key set's last good copy (jwks_uri), and the inline jwks of a
 * document served from its last good copy, are used no longer than a
 * fresh copy could have been cached (doc/protocol.md 5.11). */
#define CP_CIMD_KEYS_GOOD_TTL       CP_CIMD_TTL_MAX

/* Bounds on fetching (doc/protocol.md 5.10, 7.3).  A failed resolution is
 * remembered NEGATIVE_TTL seconds and answered from the store meanwhile;
 * one client host gets at most HOST_FETCHES_PER_MINUTE fetches a minute
 * from this store's processes; one URL is fetched by one process at a
 * time, the others wait up to FETCH_WAIT_SECONDS for its result. */
#define CP_CIMD_NEGATIVE_TTL        15
#define CP_CIMD_HOST_FETCHES_PER_MINUTE 30
#define CP_CIMD_FETCH_WAIT_SECONDS  7
#define CP_CIMD_FETCH_POLL_MS       100
#define CP_CIMD_MAX_WHY             256
/* How long a page that says the client's server did not answer asks the
 * user's browser to wait (Retry-After). */
#define CP_CIMD_RETRY_AFTER         CP_CIMD_NEGATIVE_TTL

/* A validated client document.  Every string is owned by the struct and
 * freed by cp_cimd_doc_free; optional members are NULL when absent. */
struct cp_cimd_doc {
	char *client_id;            /* equals the URL it was fetched from */
	char *client_host;          /* the client_id's host[:port], for display */
	char *client_name;          /* self-asserted; NULL: show client_host */
	char *client_uri;           /* https URL or NULL */
	char *logo_uri;             /* https URL or NULL */
	char **redirect_uris;       /* 1..CP_CIMD_MAX_REDIRECT_URIS entries */
	size_t redirect_uris_n;
	bool loopback_only;         /* every redirect URI is http loopback */
	bool operator_registered;   /* client_static, not a document (client_static.h) */
	enum cp_client_auth auth;   /* token_endpoint_auth_method */
	struct json_object *jwks;   /* private_key_jwt: the inline key set, or NULL */
	char *jwks_uri;             /* private_key_jwt: https URL of the set, or NULL */
	time_t good_stored;         /* served from the last good copy: when that
	                               copy was stored; else 0 */
	bool good_unasked;          /* ... because our per-host limit kept the
	                               host from being asked */
	unsigned char hash[CP_CIMD_HASH_LEN];   /* SHA-256 of the body bytes */
};

/* Where cp_cimd_resolve found the document, for logs and tests. */
enum cp_cimd_source {
	CP_CIMD_SRC_NONE = 0,       /* failed: no document */
	CP_CIMD_SRC_CACHE,          /* fresh copy from the store */
	CP_CIMD_SRC_FETCH,          /* fetched now (and cached if allowed) */
	CP_CIMD_SRC_FETCH_NOSTORE,  /* fetched now, no-store: this request only */
	CP_CIMD_SRC_LAST_GOOD,      /* transport failure: last good copy */
	CP_CIMD_SRC_PIN,            /* transport failure: operator's client_pin */
	CP_CIMD_SRC_STATIC          /* an operator-registered client_static */
};

/* Checks client_id[0..len) against the URL rules of CIMD section 3 and
 * doc/protocol.md 4, before any network I/O: https, a path other than "/",
 * no query, fragment, user or password, no "." or ".." segment in any
 * percent-encoding, at most CP_MAX_CLIENT_ID visible-ASCII bytes, and
 * the form libcurl would write back unchanged (so "127.1", "x:0443",
 * "https:/x", an empty "?" or "#" are refused rather than normalized).
 * Returns CP_OK, or CP_ERR_SYNTAX / CP_ERR_LIMIT / CP_ERR_INVALID with
 * *why (may be NULL) set to a static phrase for the error page. */
enum cp_status cp_client_id_check(const char *client_id, size_t len,
    const char **why);

/* client_allow (doc/protocol.md 4.3): true when client_id equals an entry
 * byte for byte, or an entry is "https://host[:port]/" and client_id's
 * scheme and authority are exactly that (parsed by libcurl, compared as
 * strings, no suffix or userinfo tricks).  An empty client_allow allows
 * nothing (fail closed; logged once per process).  client_id must have
 * passed cp_client_id_check. */
bool cp_client_allowed(const struct cp_config *cfg, const char *client_id);

/* Validates a document body[0..len) fetched for client_id (CIMD 4.1,
 * doc/protocol.md 6) and fills *doc (caller frees with cp_cimd_doc_free).
 * *doc is cleared first, without freeing, so it must hold nothing; a
 * failure leaves it empty (nothing to free, freeing it is harmless), so
 * a failed doc can be validated into again.  Strict JSON (jsonparse.h: no duplicate member,
 * no trailing bytes, UTF-8, depth cap), an object whose client_id equals
 * client_id exactly, redirect_uris a non-empty array of https or http
 * loopback URLs without fragment or userinfo, no client_secret and no
 * private key material, auth method none (missing means none) or
 * private_key_jwt with exactly one of jwks (a key set, cp_cimd_jwks_check)
 * and jwks_uri (an https URL under cp_client_id_check's rules),
 * authorization_code and code present when grant_types / response_types
 * are.  Returns CP_OK, CP_ERR_SYNTAX,
 * CP_ERR_DUPLICATE, CP_ERR_LIMIT, CP_ERR_INVALID or CP_ERR_NOMEM, with
 * *why (may be NULL) a static phrase naming the rule. */
enum cp_status cp_cimd_validate(const char *client_id, const char *body,
    size_t len, struct cp_cimd_doc *doc, const char **why);

void cp_cimd_doc_free(struct cp_cimd_doc *doc);

/* True when jwks is a public key set a client may sign with: an object
 * whose "keys" is an array of 1..CP_CIMD_MAX_JWKS_KEYS objects, none
 * holding private or symmetric key material (RFC 7517 section 5; RFC
 * 7518 sections 6.2.2, 6.3.2 and 6.4).  *why (may be NULL) names the rule
 * broken. */
bool cp_cimd_jwks_check(struct json_object *jwks, const char **why);

/* The key set a private_key_jwt client signs with: doc's inline jwks, or
 * its jwks_uri's body, taken from the store's fresh copy, else fetched
 * (cp_cimd_fetch: the SSRF, size and host-rate rules of a document),
 * checked with cp_cimd_jwks_check and cached for cp_cimd_cache_ttl, else
 * when the host did not answer usably the last good copy, if stored less
 * than CP_CIMD_KEYS_GOOD_TTL ago (never when our own per-host limit
 * stopped the fetch; a 404/410 or an invalid set evicts both copies).
 * Inline jwks of a document served from its last good copy count only
 * within the same CP_CIMD_KEYS_GOOD_TTL, and not when the host was not
 * asked (good_unasked).  st may be NULL (no cache).
 * *jwks gets a reference the caller puts.  CP_ERR_INVALID when doc has
 * no key set or it breaks the rules (*why says which), CP_ERR_FETCH (a
 * transient failure: cp_cimd_failure_transient) when no copy young
 * enough stands in, else the fetch's failure. */
enum cp_status cp_cimd_jwks(const struct cp_config *cfg, struct cp_store *st,
    const struct cp_cimd_doc *doc, struct json_object **jwks, const char **why);

/* The name to show: client_name, else the client_id's host. */
const char *cp_cimd_display_name(const struct cp_cimd_doc *doc);

/* Lifetime in seconds for a fetched document given its Cache-Control and
 * Expires header values (either may be NULL or empty) at time now
 * (RFC 9111 section 5.2.2, 4.2.1): 0 for no-store or no-cache (do not
 * serve from the cache), else max-age (s-maxage first) or Expires - now
 * clamped to [CP_CIMD_TTL_MIN, CP_CIMD_TTL_MAX], else CP_CIMD_TTL_DEFAULT.
 * *no_store is set for no-store, which also forbids a last good copy. */
long cp_cimd_cache_ttl(const char *cache_control, const char *expires,
    time_t now, bool *no_store);

/* The whole client check /authorize and /callback need: a client_static
 * entry (client_static.h), else cp_client_id_check, cp_client_allowed,
 * then the store's fresh copy, else a failure remembered within
 * CP_CIMD_NEGATIVE_TTL, else a fetch (fetch.h; one process per URL at a
 * time, CP_CIMD_HOST_FETCHES_PER_MINUTE per host) + cp_cimd_validate +
 * caching, else, on a transport-type failure only, the last good copy or
 * the client_pin file.  A 404/410 or an invalid document evicts both
 * cached copies.  st may be NULL (no caching, no last good copy, no
 * bounds).  Fills *doc (caller frees) and *source; *why (may be NULL)
 * gets a phrase on failure, valid until the next call.  Returns CP_OK or
 * the failing step's status: CP_ERR_DENIED (allowlist, SSRF rule),
 * CP_ERR_NOT_FOUND (404/410), CP_ERR_FETCH / CP_ERR_TIMEOUT (the host
 * did not answer usably: cp_cimd_failure_transient), CP_ERR_UPSTREAM /
 * CP_ERR_LIMIT (it answered what we refuse), the validation statuses. */
enum cp_status cp_cimd_resolve(const struct cp_config *cfg,
    struct cp_store *st, const char *client_id, struct cp_cimd_doc *doc,
    enum cp_cimd_source *source, const char **why);

/* True when a cp_cimd_resolve failure rc means the client's server did
 * not answer usably (network, TLS, deadline, an answer other than 200 or
 * 404/410, our per-host limit) rather than that the client is refused
 * or its document invalid. */
bool cp_cimd_failure_transient(enum cp_status rc);

/* Forgets the remembered failure of client_id and its host's fetch count
 * of this minute, so the next cp_cimd_resolve asks the host at once (an
 * operator who knows the client's server is back; tests).  CP_OK also
 * when there was nothing to forget, else CP_ERR_STORE. */
enum cp_status cp_cimd_forget(struct cp_store *st, const char *client_id);

/* A static lower-case name for src ("cache", "fetch", ...). */
const char *cp_cimd_source_str(enum cp_cimd_source src);

#endif
