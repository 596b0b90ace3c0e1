/*
 * The audit log: one JSON object per line, one line per event, for the
 * security team's "who did what from which app" (README "Audit log").
 *
 * An event carries only the fields of struct cp_audit_event, none of
 * which may hold a secret: never a token, code, verifier, key or cookie,
 * which is why the API takes named fields and no free-form text.
 *
 * Where it goes is audit_log: off, syslog (authpriv.info, tag
 * cimd-proxy), or an absolute file opened O_APPEND and written with one
 * write() per line.  A line is at most CP_MAX_AUDIT_LINE bytes, under
 * PIPE_BUF, so lines from many processes never interleave: a field too
 * long for that is cut (at a UTF-8 character boundary) and the line says
 * "truncated":true.  A failure to write never fails the request; it is
 * logged (once per process and file) and counted
 * (cimd_proxy_audit_write_failures_total).
 */
#ifndef CP_AUDIT_H
#define CP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "seal.h"
#include "store.h"

/* Lines stay under PIPE_BUF (4096 on Linux): a write of at most that
 * many bytes to a pipe or FIFO named as audit_log is atomic (POSIX
 * write(), "Pipes and FIFOs"), and an O_APPEND write to a regular file
 * is one append. */
#define CP_MAX_AUDIT_LINE   4000

enum cp_audit_kind {
	CP_AUDIT_AUTHORIZE,         /* /authorize decided: client_id, redirect_uri, consent */
	CP_AUDIT_LOGIN,             /* /callback: user, client_id */
	CP_AUDIT_TOKEN_ISSUED,      /* authorization_code grant: user, client_id */
	CP_AUDIT_TOKEN_REFRESHED,   /* refresh_token grant: user, client_id */
	CP_AUDIT_TOKEN_REFUSED,     /* user when known, client_id, reason */
	CP_AUDIT_TOOL_CALL,         /* /mcp relayed: user, client_id, method, tool, ... */
	CP_AUDIT_ELICITATION,       /* URL elicitation captured: user, client_id, host */
	CP_AUDIT_BINDING_COMPLETED, /* user, session host */
	CP_AUDIT_BINDING_REFUSED,   /* user, other_user on a mismatch, reason */
	CP_AUDIT_CONFIG_ERROR,      /* reason: the one line naming the key */
};

/* What /authorize decided about the consent page. */
enum cp_audit_consent {
	CP_AUDIT_CONSENT_NONE = 0,  /* not decided (refused before) */
	CP_AUDIT_CONSENT_SHOWN,
	CP_AUDIT_CONSENT_REMEMBERED,
	CP_AUDIT_CONSENT_SKIPPED,   /* consent = off */
	CP_AUDIT_CONSENT_APPROVED,  /* the form's Approve */
	CP_AUDIT_CONSENT_DENIED,    /* the form's Deny */
};

/* One event.  NULL strings and zero numbers are left out of the line
 * (has_rpc_error says whether rpc_error is there). */
struct cp_audit_event {
	enum cp_audit_kind kind;
	const char *user;           /* the IdP's user id (audit_user decides how written) */
	const char *other_user;     /* binding refused: the user the browser signed in as */
	const char *client_id;      /* the CIMD client_id URL */
	const char *redirect_uri;   /* only its host (or a private scheme) is written */
	enum cp_audit_consent consent;
	const char *reason;         /* an OAuth error code or a short phrase, never a secret */
	const char *method;         /* JSON-RPC method */
	const char *tool;           /* tools/call: params.name */
	const char *host;           /* elicitation or session URL host */
	int http_status;
	bool has_rpc_error;
	long rpc_error;             /* JSON-RPC error code */
	unsigned long long bytes;
	unsigned long ms;
};

/* The event's name as written in "event". */
const char *cp_audit_kind_name(enum cp_audit_kind kind);

/* Writes ev as one line where cfg->audit_log says (cfg NULL, as for a
 * configuration that failed to load: syslog).  keys is needed only for
 * audit_user = hash (NULL there writes "user":"unavailable").  Never
 * fails the caller. */
void cp_audit(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev);

/* Formats ev as the line cp_audit writes (with "\n"), into out (tests).
 * CP_ERR_NOMEM, CP_ERR_INTERNAL. */
enum cp_status cp_audit_format(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev, struct cp_buf *out);

/*
 * Which client application an access token was issued to, for the
 * relay's audit lines: /token records the SHA-256 of each access token
 * it hands out with the CIMD client_id, until the token expires
 * (expires_in, at most CP_AUDIT_TOKEN_CLIENT_TTL), and /mcp looks it up.
 * Only when audit_log is not off; a token the proxy did not issue (or
 * whose record failed) has no client_id in its lines.  Failures are
 * logged and never fail the request.
 */
#define CP_AUDIT_TOKEN_CLIENT_TTL   86400   /* no access token is trusted longer */
void cp_audit_token_client_put(const struct cp_config *cfg, struct cp_store *st,
    const char *access_token, const char *client_id, long expires_in);
/* The client_id recorded for token into out (cleared first); false when
 * none is known. */
bool cp_audit_token_client_get(const struct cp_config *cfg, struct cp_store *st,
    struct cp_str token, struct cp_buf *out);

/* Closes the file kept open (tests, and before exit). */
void cp_audit_close(void);

#endif
