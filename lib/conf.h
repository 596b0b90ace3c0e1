/*
 * The configuration file: `key = value` per line, `#` comment lines, a
 * repeated key makes a list (only for keys documented as repeatable).
 * Path: $CIMD_PROXY_CONF, else $(sysconfdir)/cimd-proxy.conf.
 *
 * Loading validates every key; the first problem is reported as one line
 * naming the file, line and key.  No key is optional in a way that turns
 * a check off: an unset optional key has a documented safe default.
 *
 * Every key is declared once, in the table keys[] in conf.c: its name,
 * type, whether it is required, its default, its value check, the field
 * it fills and a one-line description.  Parsing, defaults, conversion and
 * cp_conf_free all follow the table.  To add a key:
 *   1. add its field to struct cp_config below, named as the key (a
 *      T_PINS/T_CIDRS-style array also gets <key>_n);
 *   2. add one line to keys[] with the macro of its type, e.g.
 *        UINT(max_streams_per_user, "16", 1, MAX_STREAMS, "open streams per user"),
 *        STR(idp_foo, OPTIONAL, NULL, check_visible, "what it is"),
 *        LIST(client_static, check_client_allow, "a client served from ..."),
 *        ENUM(name, "default", "doc") with ONE_OF(name, "a", "b") above it;
 *      a new check is a function returning NULL or the phrase saying what
 *      the value must be (the value itself is never echoed);
 *   3. add its row to README's "Configuration" table; tests/conf-keys.test
 *      fails until the README names the same keys in the same order, with
 *      **required** and the default as the table says.
 * A rule across several keys (agentcore_region when binding = agentcore)
 * goes in build() in conf.c, after the per-key conversion.
 */
#ifndef CP_CONF_H
#define CP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"
#include "status.h"

struct cp_strlist {
	char **v;
	size_t n;
};

/* client_pin: an operator copy of a client document. */
struct cp_pin {
	char *client_id;
	char *file;
};

/* fetch_allow_private, metrics_allow: one CIDR block. */
struct cp_cidr {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* network order, masked */
	unsigned prefix;
};

/* The idp_audience value that turns the audience check off; it must be
 * written out, and every process that loads it warns (cp_conf_warn). */
#define CP_AUDIENCE_ANY "any"

enum cp_consent { CP_CONSENT_REMEMBER, CP_CONSENT_ALWAYS, CP_CONSENT_OFF };
enum cp_binding { CP_BINDING_AGENTCORE, CP_BINDING_OFF };
enum cp_store_kind { CP_STORE_BDB, CP_STORE_POSTGRESQL };
enum cp_audit_user { CP_AUDIT_USER_ID, CP_AUDIT_USER_HASH };

struct cp_config {
	/* Keys, as validated (see README "Configuration"), each declared in
	 * keys[] in conf.c. */
	char *public_url;           /* origin, no trailing slash */
	char *mcp_path;
	char *idp_issuer;
	char *idp_client_id;
	char *idp_scopes;           /* space-separated, single spaces */
	char *idp_user_claim;
	char *idp_audience;         /* required; CP_AUDIENCE_ANY is idp_audience_any */
	bool idp_audience_any;      /* the operator wrote "any": aud not checked */
	char *gateway_url;
	char *gateway_protocol_version;     /* NULL: not sent */
	struct cp_strlist client_allow;
	struct cp_pin *client_pin;
	size_t client_pin_n;
	enum cp_consent consent;
	char *key_file;
	enum cp_store_kind store_kind;
	char *store_path;           /* bdb directory, or PostgreSQL conninfo */
	enum cp_binding binding;
	char *agentcore_region;
	char *agentcore_endpoint;   /* derived from the region when unset */
	struct cp_strlist elicitation_host;     /* more hosts elicitation URLs may name */
	struct cp_strlist client_static;        /* "<client_id> <redirect_uri>..." (client_static.h) */
	char *tls_ca_file;          /* NULL: system bundle */
	struct cp_cidr *fetch_allow_private;
	size_t fetch_allow_private_n;
	struct cp_strlist cors_allow_origin;
	enum cp_log_level log_level;
	unsigned stream_max_seconds;    /* cap on one relayed stream */
	unsigned heartbeat_seconds;     /* SSE comment interval on idle streams */
	unsigned max_streams;           /* per relay process; 0: from RLIMIT_NOFILE */
	unsigned max_streams_per_user;
	unsigned refresh_grace_seconds; /* a refresh envelope's repeat window (refresh.h) */
	char *audit_log;            /* "off", "syslog" or an absolute file */
	enum cp_audit_user audit_user;
	char *metrics_path;         /* NULL: off */
	struct cp_cidr *metrics_allow;  /* who may read the metrics */
	size_t metrics_allow_n;

	/* Derived. */
	char *resource;             /* public_url + mcp_path: the MCP URL */
	char *prm_url;              /* the protected-resource metadata URL */
	char *source;               /* the file that was read */
};

/* A line the operator must see about a setting that weakens a check
 * (idp_audience = any), or NULL.  Programs log it each time they load
 * the configuration, whatever log_level says, and check-config prints it. */
const char *cp_conf_warning(const struct cp_config *cfg);

/* The path to read: $CIMD_PROXY_CONF or the compiled-in default. */
const char *cp_conf_path(void);

/* Reads and validates path into *cfg.  On failure returns CP_ERR_CONFIG
 * (or CP_ERR_IO, CP_ERR_NOMEM) and writes one line naming the key into
 * err; *cfg is then empty.  The caller owns cfg: cp_conf_free. */
enum cp_status cp_conf_load(const char *path, struct cp_config *cfg,
    char *err, size_t errlen);

/* Parses text (len bytes) as if read from name; for tests and fuzzing. */
enum cp_status cp_conf_parse(const char *name, const char *text, size_t len,
    struct cp_config *cfg, char *err, size_t errlen);

void cp_conf_free(struct cp_config *cfg);

/* True when origin is allowed by cors_allow_origin ("*" allows any). */
bool cp_conf_cors_allowed(const struct cp_config *cfg, const char *origin);

/* True when scope (one token) is among idp_scopes. */
bool cp_conf_scope_known(const struct cp_config *cfg, const char *scope,
    size_t len);

/* The key table, one line per key in table order, fields separated by a
 * tab: name, "one" or "list" (repeatable), "required" or "optional", the
 * default as README writes it ("-": none; the configured localstatedir as
 * "$(localstatedir)"), and a one-line description.  For documentation
 * checks: tests/conf-keys.test, man pages. */
void cp_conf_keys_print(FILE *out);

/* Parses "a.b.c.d/n" or "x::y/n" into *c. */
enum cp_status cp_cidr_parse(const char *s, struct cp_cidr *c);

#endif
