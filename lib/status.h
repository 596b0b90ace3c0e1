/*
 * The library's one status type.  Every fallible function returns it;
 * CP_OK is zero so `if (rc != CP_OK)` and `if (rc)` read the same.
 */
#ifndef CP_STATUS_H
#define CP_STATUS_H

enum cp_status {
	CP_OK = 0,
	CP_ERR_NOMEM,       /* allocation failed */
	CP_ERR_LIMIT,       /* input or output over a named limit */
	CP_ERR_SYNTAX,      /* malformed input (encoding, grammar) */
	CP_ERR_DUPLICATE,   /* a parameter or member given twice */
	CP_ERR_INVALID,     /* well-formed but not acceptable */
	CP_ERR_NOT_FOUND,   /* no such record, key or parameter */
	CP_ERR_EXPIRED,     /* past its expiry */
	CP_ERR_REPLAY,      /* a once-only value seen before */
	CP_ERR_CRYPTO,      /* MAC, signature or decryption failed */
	CP_ERR_CONFIG,      /* configuration missing or bad */
	CP_ERR_IO,          /* local I/O failed (file, client connection) */
	CP_ERR_STORE,       /* the state store failed */
	CP_ERR_FETCH,       /* outbound transfer failed (network, TLS) */
	CP_ERR_TIMEOUT,     /* an outbound transfer or the request body ran out of time */
	CP_ERR_UPSTREAM,    /* peer answered, but not acceptably */
	CP_ERR_DENIED,      /* policy refused it (allowlist, SSRF rule) */
	CP_ERR_INTERNAL,    /* a bug: an invariant did not hold */
	CP_STATUS_COUNT
};

/* Returns a static, lower-case phrase naming rc; never NULL. */
const char *cp_status_str(enum cp_status rc);

#endif
