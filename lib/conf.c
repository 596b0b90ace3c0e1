#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "client_static.h"
#include "conf.h"
#include "limits.h"
#include "url.h"

#ifndef CP_SYSCONFDIR
#define CP_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef CP_LOCALSTATEDIR
#define CP_LOCALSTATEDIR "/usr/local/var"
#endif

#define DEFAULT_MCP_PATH        "/mcp"
#define DEFAULT_SCOPES          "openid offline_access"
#define DEFAULT_USER_CLAIM      "sub"
#define DEFAULT_STORE           "bdb:" CP_LOCALSTATEDIR "/lib/cimd-proxy"
#define DEFAULT_STREAM_MAX      "3600"
#define DEFAULT_HEARTBEAT       "10"    /* see README "Running the relay" */
#define MAX_STREAM_SECONDS      86400
#define MAX_HEARTBEAT_SECONDS   300
#define DEFAULT_STREAMS_PER_USER "16"   /* max_streams_per_user */
#define MAX_STREAMS             1000000 /* max_streams; 0 = sized from RLIMIT_NOFILE */
#define DEFAULT_REFRESH_GRACE   "60"    /* refresh_grace_seconds (refresh.h) */
#define MAX_REFRESH_GRACE       3600

/* A parse in progress: where we are, and the first error. */
struct parse {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
};

static enum cp_status
fail(struct parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum cp_status
fail(struct parse *p, const char *key, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%u: %s: %s", p->name, p->line, key, why);
	else
		snprintf(p->err, p->errlen, "%s: %s: %s", p->name, key, why);
	return CP_ERR_CONFIG;
}

/*
 * Value checks.  Each takes the trimmed value and returns NULL when it is
 * acceptable, else a phrase saying what the key needs.  Values are never
 * echoed back: a conninfo may carry a password.
 */
typedef const char *(*check_fn)(const char *v);

static const char *
check_http_url(const char *v, bool https_only_unless_loopback, bool path_ok)
{
	struct cp_url u;
	const char *why = NULL;

	if (cp_url_parse(v, &u) != CP_OK)
		return "must be an absolute URL";
	if (strcmp(u.scheme, "https") != 0 && !(strcmp(u.scheme, "http") == 0 &&
	    (!https_only_unless_loopback || cp_url_host_is_loopback(u.host))))
		why = https_only_unless_loopback ?
		    "must be an https URL (http only for a loopback host)" :
		    "must be an http or https URL";
	else if (u.user || u.password)
		why = "must not contain a user name or password";
	else if (u.query || u.fragment)
		why = "must not contain a query or fragment";
	else if (!path_ok && strcmp(u.path, "/") != 0)
		why = "must be an origin with no path, e.g. https://mcp.example.com";
	cp_url_free(&u);
	return why;
}

static const char *check_public_url(const char *v) { return check_http_url(v, true, false); }
static const char *check_issuer(const char *v) { return check_http_url(v, true, true); }

/* gateway_url carries every user's bearer token: plain http only to this
 * host itself (127.0.0.0/8, ::1 or localhost), where nothing on a network
 * can read it. */
static const char *
check_gateway(const char *v)
{
	struct in6_addr a6;
	struct in_addr a4;
	struct cp_url u;
	const char *why;
	size_t n;
	bool loopback;

	if ((why = check_http_url(v, false, true)) != NULL)
		return why;
	if (cp_url_parse(v, &u) != CP_OK)
		return "must be an absolute URL";
	n = strlen(u.host);
	loopback = strcasecmp(u.host, "localhost") == 0 ||
	    (inet_pton(AF_INET, u.host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
	if (!loopback && n > 2 && n < INET6_ADDRSTRLEN + 2 && u.host[0] == '[' &&
	    u.host[n - 1] == ']') {
		char addr[INET6_ADDRSTRLEN + 2];

		memcpy(addr, u.host + 1, n - 2);
		addr[n - 2] = '\0';
		loopback = inet_pton(AF_INET6, addr, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (strcmp(u.scheme, "http") == 0 && !loopback)
		why = "must be an https URL (plain http only to a loopback host: "
		    "127.0.0.0/8, [::1] or localhost)";
	cp_url_free(&u);
	return why;
}

static const char *
check_endpoint(const char *v)
{
	return check_http_url(v, true, false);
}

static const char *
check_path(const char *v)
{
	size_t i;

	if (v[0] != '/' || v[1] == '\0')
		return "must be an absolute path such as /mcp";
	for (i = 0; v[i]; i++)
		if (!isalnum((unsigned char)v[i]) && strchr("/-._~", v[i]) == NULL)
			return "may contain only letters, digits and / - . _ ~";
	if (strstr(v, "//") || strstr(v, "/./") || strstr(v, "/../") ||
	    v[i - 1] == '/' || (i >= 2 && strcmp(v + i - 2, "/.") == 0) ||
	    (i >= 3 && strcmp(v + i - 3, "/..") == 0))
		return "must not contain empty or dot segments or end in /";
	return NULL;
}

static const char *
check_token(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!isalnum((unsigned char)v[i]) && strchr("-._~:", v[i]) == NULL)
			return "may contain only letters, digits and - . _ ~ :";
	return i > 256 ? "is too long" : NULL;
}

static const char *
check_visible(const char *v)
{
	size_t n = strlen(v);

	if (n > CP_MAX_CLIENT_ID || !cp_is_visible_ascii(v, n))
		return "must be visible ASCII without spaces";
	return NULL;
}

/* What the operator must be told when idp_audience is missing. */
#define AUDIENCE_HINT \
	"the aud of the access tokens your IdP issues for the MCP gateway, checked " \
	"on every /mcp request; Okta calls it the authorization server's Audience " \
	"(Security > API > Authorization Servers, Settings tab), e.g. api://default. " \
	"'idp_audience = " CP_AUDIENCE_ANY "' accepts any audience (not recommended; " \
	"warned at every start)"

static const char *
check_scopes(const char *v)
{
	size_t i;

	/* RFC 6749 section 3.3: scope-token = 1*NQCHAR, space separated. */
	if (strlen(v) > CP_MAX_SCOPE)
		return "is too long";
	for (i = 0; v[i]; i++)
		if (v[i] != ' ' && (v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' ||
		    v[i] == '\\'))
			return "must be space-separated scope tokens";
	return NULL;
}

static const char *
check_abs_path(const char *v)
{
	if (v[0] != '/')
		return "must be an absolute file path";
	return NULL;
}

static const char *
check_region(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!islower((unsigned char)v[i]) && !isdigit((unsigned char)v[i]) &&
		    v[i] != '-')
			return "must be an AWS region name such as us-east-1";
	return i > 32 ? "is too long" : NULL;
}

static const char *
check_date_version(const char *v)
{
	size_t i;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? v[i] != '-' : !isdigit((unsigned char)v[i]))
			return "must be an MCP protocol version such as 2025-11-25";
	return v[10] == '\0' ? NULL : "must be an MCP protocol version such as 2025-11-25";
}

static const char *
check_client_allow(const char *v)
{
	struct cp_url u;
	const char *why = NULL;

	/* An exact client_id URL, or https://host/ for a whole host. */
	if (cp_url_parse(v, &u) != CP_OK)
		return "must be an https URL";
	if (strcmp(u.scheme, "https") != 0)
		why = "must be an https URL";
	else if (u.user || u.password || u.fragment)
		why = "must not contain a user name, password or fragment";
	cp_url_free(&u);
	if (why == NULL && strlen(v) > CP_MAX_CLIENT_ID)
		why = "is too long";
	return why;
}

static const char *
check_pin(const char *v)
{
	const char *sp = strchr(v, ' ');
	char *id;
	const char *why;

	if (sp == NULL)
		return "must be '<client_id> <file>'";
	if ((id = cp_strndup(v, (size_t)(sp - v))) == NULL)
		return "out of memory";
	why = check_client_allow(id);
	free(id);
	if (why)
		return why;
	while (*sp == ' ')
		sp++;
	return check_abs_path(sp);
}

/* "host" or "host:port", exactly as a URL's authority would carry it:
 * what an elicitation URL's host and port are compared with. */
static const char *
check_authority(const char *v)
{
	struct cp_url u;
	struct cp_buf url, back;
	const char *why = "must be a host name, optionally with :port, such as "
	    "bedrock-agentcore.us-east-1.amazonaws.com";

	cp_buf_init(&url, CP_MAX_URL);
	cp_buf_init(&back, CP_MAX_URL);
	if (cp_buf_printf(&url, "https://%s/", v) != CP_OK ||
	    cp_url_parse(cp_buf_cstr(&url), &u) != CP_OK)
		goto out;
	/* Whatever libcurl did not read as host and port (user info, a
	 * path, a query) makes the two differ. */
	if (!u.user && !u.password && !u.query && !u.fragment && strcmp(u.path, "/") == 0 &&
	    cp_buf_printf(&back, "%s%s%s", u.host, u.port ? ":" : "", u.port ? u.port : "") == CP_OK &&
	    strcasecmp(cp_buf_cstr(&back), v) == 0)
		why = NULL;
	cp_url_free(&u);
out:
	cp_buf_free(&url);
	cp_buf_free(&back);
	return why;
}

static const char *
check_cidr(const char *v)
{
	struct cp_cidr c;

	return cp_cidr_parse(v, &c) == CP_OK ? NULL :
	    "must be a CIDR block such as 10.0.0.0/8 or fd00::/8";
}

static const char *
check_origin(const char *v)
{
	if (strcmp(v, "*") == 0)
		return NULL;
	return check_http_url(v, false, false) ? "must be * or an origin such as https://app.example.com" :
	    (v[strlen(v) - 1] == '/' ? "must be an origin without a trailing /" : NULL);
}

static const char *
check_store(const char *v)
{
	if (strncmp(v, "bdb:", 4) == 0)
		return check_abs_path(v + 4) ? "bdb: needs an absolute directory" : NULL;
	if (strncmp(v, "postgresql:", 11) == 0)
		return v[11] ? NULL : "postgresql: needs a conninfo string";
	return "must be bdb:<directory> or postgresql:<conninfo>";
}

static const char *
check_uint(const char *v)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (!isdigit((unsigned char)v[i]))
			return "must be a whole number";
	return i == 0 || i > 6 ? "must be a whole number" : NULL;
}

static const char *
one_of(const char *v, const char *const *words, const char *why)
{
	size_t i;

	for (i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0)
			return NULL;
	return why;
}

/* name_words[i] is the value that means enum value i. */
#define ONE_OF(name, ...) \
	static const char *const name##_words[] = { __VA_ARGS__, NULL }; \
	static const char *check_##name(const char *v) { \
		return one_of(v, name##_words, "must be one of: " #__VA_ARGS__); \
	}
ONE_OF(consent, "remember", "always", "off")
ONE_OF(binding, "agentcore", "off")
ONE_OF(log_level, "error", "warn", "info", "debug")
ONE_OF(audit_user, "id", "hash")

/* audit_log: off, syslog or an absolute file. */
static const char *
check_audit_log(const char *v)
{
	if (strcmp(v, "off") == 0 || strcmp(v, "syslog") == 0)
		return NULL;
	return check_abs_path(v) ? "must be off, syslog or an absolute file" : NULL;
}

/* metrics_path: off or a URL path. */
static const char *
check_metrics_path(const char *v)
{
	if (strcmp(v, "off") == 0)
		return NULL;
	return check_path(v) ? "must be off or an absolute path such as /metrics" : NULL;
}

/*
 * The key table: every key once, with what it is (type), whether it must
 * be given, its default as an operator would write it, the check of each
 * value, the cp_config field it fills and a one-line description.
 * Parsing, defaults, conversion into cp_config, freeing and the README
 * check (cp_conf_keys_print, tests/conf-keys.test) all come from it; see
 * conf.h for how to add a key.
 */
enum type {
	T_STR,          /* char *: the value, or a copy of the default */
	T_UINT,         /* unsigned: a whole number from min to max */
	T_ENUM,         /* an enum: the index of the value in words */
	T_STORE,        /* store: kind in field2, the rest in field */
	T_LIST,         /* struct cp_strlist: repeatable */
	T_PINS,         /* struct cp_pin array, its count in field2: repeatable */
	T_CIDRS,        /* struct cp_cidr array, its count in field2: repeatable */
};
#define IS_LIST(t)      ((t) >= T_LIST)

struct key {
	const char *name;
	enum type type;
	bool required;
	const char *def;            /* NULL: unset (or derived) */
	check_fn check;             /* on each value as written */
	size_t field;               /* offsetof(struct cp_config, ...) */
	size_t field2;              /* T_STORE, T_PINS, T_CIDRS (above) */
	const char *const *words;   /* T_ENUM */
	unsigned min, max;          /* T_UINT */
	const char *doc;
};

#define REQUIRED        true
#define OPTIONAL        false
#define AT(f)           offsetof(struct cp_config, f)
#define STR(k, req, def, check, doc) \
	{ #k, T_STR, req, def, check, AT(k), 0, NULL, 0, 0, doc }
#define UINT(k, def, min, max, doc) \
	{ #k, T_UINT, OPTIONAL, def, check_uint, AT(k), 0, NULL, min, max, doc }
#define ENUM(k, def, doc) \
	{ #k, T_ENUM, OPTIONAL, def, check_##k, AT(k), 0, k##_words, 0, 0, doc }
#define LIST(k, check, doc) \
	{ #k, T_LIST, OPTIONAL, NULL, check, AT(k), 0, NULL, 0, 0, doc }
#define ARRAY(k, type, check, doc) \
	{ #k, type, OPTIONAL, NULL, check, AT(k), AT(k##_n), NULL, 0, 0, doc }

_Static_assert(sizeof(enum cp_consent) == sizeof(int) &&
    sizeof(enum cp_binding) == sizeof(int) &&
    sizeof(enum cp_log_level) == sizeof(int) &&
    sizeof(enum cp_store_kind) == sizeof(int), "T_ENUM and T_STORE store an int");

static const struct key keys[] = {
	STR(public_url, REQUIRED, NULL, check_public_url,
	    "the proxy's origin and OAuth issuer"),
	STR(mcp_path, OPTIONAL, DEFAULT_MCP_PATH, check_path,
	    "the MCP endpoint path; the resource is public_url + mcp_path"),
	STR(idp_issuer, REQUIRED, NULL, check_issuer,
	    "the OIDC issuer of the IdP"),
	STR(idp_client_id, REQUIRED, NULL, check_visible,
	    "the static IdP native (public) client id"),
	STR(idp_scopes, OPTIONAL, DEFAULT_SCOPES, check_scopes,
	    "scopes the proxy offers and asks the IdP for"),
	STR(idp_user_claim, OPTIONAL, DEFAULT_USER_CLAIM, check_token,
	    "the access-token claim naming the user"),
	STR(idp_audience, REQUIRED, NULL, check_visible,
	    "the aud of the gateway's access tokens, or any"),
	STR(gateway_url, REQUIRED, NULL, check_gateway,
	    "the upstream MCP URL"),
	STR(gateway_protocol_version, OPTIONAL, NULL, check_date_version,
	    "MCP-Protocol-Version sent upstream when the client sent none"),
	LIST(client_allow, check_client_allow,
	    "an exact client_id URL, or https://host/ for a whole host"),
	LIST(client_static, cp_client_static_check,
	    "<client_id> <redirect_uri>...: a pre-registered public client"),
	ARRAY(client_pin, T_PINS, check_pin,
	    "<client_id> <file>: a copy used when fetching fails"),
	ENUM(consent, "remember",
	    "when the consent page is shown"),
	STR(key_file, REQUIRED, NULL, check_abs_path,
	    "the file of sealing keys, newest first"),
	{ "store", T_STORE, OPTIONAL, DEFAULT_STORE, check_store, AT(store_path),
	    AT(store_kind), NULL, 0, 0, "bdb:<directory> or postgresql:<conninfo>" },
	ENUM(binding, "agentcore",
	    "agentcore (session binding) or off"),
	STR(agentcore_region, OPTIONAL, NULL, check_region,
	    "AWS region for SigV4 and the default endpoint"),
	STR(agentcore_endpoint, OPTIONAL, NULL, check_endpoint,
	    "override of the AgentCore endpoint"),
	LIST(elicitation_host, check_authority,
	    "another host[:port] elicitation URLs may name"),
	STR(tls_ca_file, OPTIONAL, NULL, check_abs_path,
	    "CA bundle for outbound TLS"),
	ARRAY(fetch_allow_private, T_CIDRS, check_cidr,
	    "a CIDR block client-document fetches may reach"),
	LIST(cors_allow_origin, check_origin,
	    "a browser origin allowed on /mcp and the metadata, or *"),
	ENUM(log_level, "info",
	    "error, warn, info or debug"),
	UINT(stream_max_seconds, DEFAULT_STREAM_MAX, 1, MAX_STREAM_SECONDS,
	    "longest life of one relayed MCP stream"),
	UINT(heartbeat_seconds, DEFAULT_HEARTBEAT, 1, MAX_HEARTBEAT_SECONDS,
	    "interval of SSE heartbeats on idle streams"),
	UINT(max_streams, "0", 0, MAX_STREAMS,
	    "open MCP streams one relay process admits; 0: from RLIMIT_NOFILE"),
	UINT(max_streams_per_user, DEFAULT_STREAMS_PER_USER, 1, MAX_STREAMS,
	    "open MCP streams one user may hold in one relay process"),
	UINT(refresh_grace_seconds, DEFAULT_REFRESH_GRACE, 0, MAX_REFRESH_GRACE,
	    "how long a refresh envelope's repeat gets the first answer"),
	STR(audit_log, OPTIONAL, "syslog", check_audit_log,
	    "where audit lines go: off, syslog or an absolute file"),
	ENUM(audit_user, "id",
	    "users in audit lines: id (the IdP's) or hash (keyed)"),
	STR(metrics_path, OPTIONAL, "off", check_metrics_path,
	    "the URL path of the Prometheus metrics, or off"),
	ARRAY(metrics_allow, T_CIDRS, check_cidr,
	    "a CIDR block allowed to read the metrics"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Raw values while parsing, indexed like keys[]. */
struct raw {
	struct cp_strlist v[NKEYS];
};

/* Frees l's strings and array and leaves l dangling: both callers discard it
 * (cp_conf_parse's raw values go out of scope, cp_conf_free zeroes cfg).
 * Resetting l here was a dead store, and one that made the clang analyzer
 * drop the list it tracks at raw.v[idx] (a symbolic index) when raw.v[0] was
 * reset, and report a leak no path has. */
static void
strlist_free(struct cp_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static enum cp_status
strlist_add(struct cp_strlist *l, const char *s, size_t n)
{
	char **v, *copy;

	if (l->n >= CP_MAX_CONF_LIST)
		return CP_ERR_LIMIT;
	if ((copy = cp_strndup(s, n)) == NULL)
		return CP_ERR_NOMEM;
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		free(copy);
		return CP_ERR_NOMEM;
	}
	v[l->n++] = copy;
	l->v = v;
	return CP_OK;
}

/* Drops one trailing slash: "https://h/" and "https://h" are one origin. */
static void
strip_slash(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '/')
		s[n - 1] = '\0';
}

static char *
join(const char *a, const char *b, const char *c)
{
	struct cp_buf buf;

	cp_buf_init(&buf, CP_MAX_URL);
	if (cp_buf_adds(&buf, a) || cp_buf_adds(&buf, b) || cp_buf_adds(&buf, c))
		return NULL;
	return cp_buf_steal(&buf);
}

/* The field of cfg that key k fills, as a T. */
#define FIELD(T, cfg, off)      ((T *)(void *)((char *)(cfg) + (off)))

/* Moves key k's values (or its default) from raw into cfg. */
static enum cp_status
convert(struct parse *p, const struct key *k, struct cp_strlist *raw,
    struct cp_config *cfg)
{
	const char *v = raw->n ? raw->v[0] : k->def;
	struct cp_pin *pin;
	struct cp_cidr *cidr;
	unsigned long n;
	size_t i;

	switch (k->type) {
	case T_STR:
		if (v && (*FIELD(char *, cfg, k->field) = strdup(v)) == NULL)
			return CP_ERR_NOMEM;
		break;
	case T_UINT:
		n = strtoul(v, NULL, 10);
		if (n < k->min || n > k->max)
			return fail(p, k->name, "must be between %u and %u", k->min, k->max);
		*FIELD(unsigned, cfg, k->field) = (unsigned)n;
		break;
	case T_ENUM:
		for (i = 0; strcmp(k->words[i], v) != 0; i++)
			;
		*FIELD(int, cfg, k->field) = (int)i;
		break;
	case T_STORE:
		*FIELD(int, cfg, k->field2) = strncmp(v, "bdb:", 4) == 0 ?
		    CP_STORE_BDB : CP_STORE_POSTGRESQL;
		if ((*FIELD(char *, cfg, k->field) = strdup(strchr(v, ':') + 1)) == NULL)
			return CP_ERR_NOMEM;
		break;
	case T_LIST:
		*FIELD(struct cp_strlist, cfg, k->field) = *raw;
		memset(raw, 0, sizeof(*raw));
		break;
	case T_PINS:
		if (raw->n == 0)
			break;
		if ((pin = calloc(raw->n, sizeof(*pin))) == NULL)
			return CP_ERR_NOMEM;
		*FIELD(struct cp_pin *, cfg, k->field) = pin;
		for (i = 0; i < raw->n; i++) {
			char *sp = strchr(raw->v[i], ' ');

			(*FIELD(size_t, cfg, k->field2))++;
			pin[i].client_id = cp_strndup(raw->v[i], (size_t)(sp - raw->v[i]));
			while (*sp == ' ')
				sp++;
			pin[i].file = strdup(sp);
			if (!pin[i].client_id || !pin[i].file)
				return CP_ERR_NOMEM;
		}
		break;
	case T_CIDRS:
		if (raw->n == 0)
			break;
		if ((cidr = calloc(raw->n, sizeof(*cidr))) == NULL)
			return CP_ERR_NOMEM;
		*FIELD(struct cp_cidr *, cfg, k->field) = cidr;
		for (i = 0; i < raw->n; i++)
			cp_cidr_parse(raw->v[i], &cidr[i]);
		*FIELD(size_t, cfg, k->field2) = raw->n;
		break;
	}
	return CP_OK;
}

/* Frees what convert put into cfg for key k. */
static void
release(const struct key *k, struct cp_config *cfg)
{
	struct cp_pin *pin;
	size_t i;

	switch (k->type) {
	case T_STR:
	case T_STORE:
		free(*FIELD(char *, cfg, k->field));
		break;
	case T_LIST:
		strlist_free(FIELD(struct cp_strlist, cfg, k->field));
		break;
	case T_PINS:
		pin = *FIELD(struct cp_pin *, cfg, k->field);
		for (i = 0; i < *FIELD(size_t, cfg, k->field2); i++) {
			free(pin[i].client_id);
			free(pin[i].file);
		}
		free(pin);
		break;
	case T_CIDRS:
		free(*FIELD(struct cp_cidr *, cfg, k->field));
		break;
	case T_UINT:
	case T_ENUM:
		break;
	}
}

/* Turns the validated raw strings into cfg, applying defaults, then
 * derives what follows from more than one key. */
static enum cp_status
build(struct parse *p, struct raw *r, struct cp_config *cfg)
{
	enum cp_status rc;
	size_t i, k;

	for (i = 0; i < NKEYS; i++)
		if ((rc = convert(p, &keys[i], &r->v[i], cfg)) != CP_OK)
			goto out;
	rc = CP_ERR_NOMEM;
	strip_slash(cfg->public_url);
	cfg->idp_audience_any = strcmp(cfg->idp_audience, CP_AUDIENCE_ANY) == 0;
	if (cfg->agentcore_endpoint)
		strip_slash(cfg->agentcore_endpoint);
	if (strcmp(cfg->metrics_path, "off") == 0) {
		free(cfg->metrics_path);
		cfg->metrics_path = NULL;
	}

	/* Collapse runs of spaces so scope lists compare predictably. */
	for (i = k = 0; cfg->idp_scopes[i]; i++)
		if (cfg->idp_scopes[i] != ' ' || (k > 0 && cfg->idp_scopes[k - 1] != ' '))
			cfg->idp_scopes[k++] = cfg->idp_scopes[i];
	while (k > 0 && cfg->idp_scopes[k - 1] == ' ')
		k--;
	cfg->idp_scopes[k] = '\0';
	if (k == 0) {
		rc = fail(p, "idp_scopes", "must name at least one scope");
		goto out;
	}

	if (cfg->binding == CP_BINDING_AGENTCORE && cfg->agentcore_endpoint == NULL) {
		if (cfg->agentcore_region == NULL) {
			rc = fail(p, "agentcore_region", "is required when binding = agentcore "
			    "(it names the SigV4 region and the default endpoint; or set binding = off)");
			goto out;
		}
		cfg->agentcore_endpoint = join("https://bedrock-agentcore.",
		    cfg->agentcore_region, ".amazonaws.com");
		if (cfg->agentcore_endpoint == NULL)
			goto out;
	}
	if (cfg->binding == CP_BINDING_AGENTCORE && cfg->agentcore_region == NULL) {
		rc = fail(p, "agentcore_region", "is required for SigV4 signing when binding = agentcore");
		goto out;
	}

	if ((cfg->resource = join(cfg->public_url, cfg->mcp_path, "")) == NULL ||
	    (cfg->prm_url = join(cfg->public_url,
	    "/.well-known/oauth-protected-resource", cfg->mcp_path)) == NULL)
		goto out;
	rc = CP_OK;
out:
	return rc;
}

/* Finds the key table entry for name[0..n). */
static const struct key *
find_key(const char *name, size_t n, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, name, n) == 0) {
			*idx = i;
			return &keys[i];
		}
	return NULL;
}

enum cp_status
cp_conf_parse(const char *name, const char *text, size_t len,
    struct cp_config *cfg, char *err, size_t errlen)
{
	struct parse p = { name, 0, err, errlen };
	struct raw r;
	enum cp_status rc = CP_ERR_CONFIG;
	const char *line = text, *end = text + len;
	size_t i;

	memset(&r, 0, sizeof(r));
	memset(cfg, 0, sizeof(*cfg));
	if (errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		rc = fail(&p, "file", "contains a NUL byte");
		goto out;
	}
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end, *k, *ke, *v, *ve, *why;
		const struct key *key;
		char keyname[64], *value = NULL;
		size_t idx, j;

		p.line++;
		if ((size_t)(le - line) > CP_MAX_CONF_LINE) {
			rc = fail(&p, "line", "is longer than %d bytes", CP_MAX_CONF_LINE);
			goto out;
		}
		k = line;
		line = nl ? nl + 1 : end;
		if (le > k && le[-1] == '\r')
			le--;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		if (k == le || *k == '#')
			continue;
		for (ke = k; ke < le && (islower((unsigned char)*ke) || *ke == '_'); ke++)
			;
		snprintf(keyname, sizeof(keyname), "%.*s", (int)(ke - k), k);
		for (v = ke; v < le && (*v == ' ' || *v == '\t'); v++)
			;
		if (ke == k || v == le || *v != '=') {
			rc = fail(&p, ke == k ? "line" : keyname, "expected 'key = value'");
			goto out;
		}
		if ((key = find_key(k, (size_t)(ke - k), &idx)) == NULL) {
			rc = fail(&p, keyname, "unknown key");
			goto out;
		}
		for (v++; v < le && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = le; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (ve == v) {
			rc = fail(&p, keyname, "has an empty value");
			goto out;
		}
		for (j = 0; v + j < ve; j++)
			if ((unsigned char)v[j] < 0x20 && v[j] != '\t') {
				rc = fail(&p, keyname, "contains a control character");
				goto out;
			}
		if (!IS_LIST(key->type) && r.v[idx].n) {
			rc = fail(&p, keyname, "is given more than once (it is not a list)");
			goto out;
		}
		if ((rc = strlist_add(&r.v[idx], v, (size_t)(ve - v))) != CP_OK) {
			if (rc == CP_ERR_LIMIT)
				rc = fail(&p, keyname, "is repeated more than %d times", CP_MAX_CONF_LIST);
			goto out;
		}
		value = r.v[idx].v[r.v[idx].n - 1];
		if ((why = key->check(value)) != NULL) {
			rc = fail(&p, keyname, "%s", why);
			goto out;
		}
	}
	p.line = 0;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].required && r.v[i].n == 0) {
			rc = fail(&p, keys[i].name, "is required but missing%s",
			    strcmp(keys[i].name, "idp_audience") == 0 ? ": " AUDIENCE_HINT : "");
			goto out;
		}
	if ((rc = build(&p, &r, cfg)) != CP_OK)
		goto out;
	if ((cfg->source = strdup(name)) == NULL)
		rc = CP_ERR_NOMEM;
out:
	for (i = 0; i < NKEYS; i++)
		strlist_free(&r.v[i]);
	if (rc != CP_OK) {
		if (rc == CP_ERR_NOMEM && err[0] == '\0')
			fail(&p, "file", "out of memory");
		cp_conf_free(cfg);
	}
	return rc;
}

const char *
cp_conf_warning(const struct cp_config *cfg)
{
	if (cfg->idp_audience_any)
		return "idp_audience = " CP_AUDIENCE_ANY ": /mcp accepts access tokens the "
		    "IdP issued for any audience, so a token meant for another application "
		    "(or an ID token, where the IdP does not mark its type) is relayed; set "
		    "idp_audience to the audience of the gateway's tokens";
	return NULL;
}

const char *
cp_conf_path(void)
{
	const char *env = getenv("CIMD_PROXY_CONF");

	return env && env[0] ? env : CP_SYSCONFDIR "/cimd-proxy.conf";
}

enum cp_status
cp_conf_load(const char *path, struct cp_config *cfg, char *err, size_t errlen)
{
	struct cp_buf text;
	char chunk[4096];
	ssize_t n;
	int fd;
	enum cp_status rc;

	memset(cfg, 0, sizeof(*cfg));
	cp_buf_init(&text, CP_MAX_CONF_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s (set CIMD_PROXY_CONF or create it)",
		    path, strerror(errno));
		return CP_ERR_IO;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (cp_buf_add(&text, chunk, (size_t)n) != CP_OK) {
			close(fd);
			snprintf(err, errlen, "%s: larger than %d bytes", path, CP_MAX_CONF_FILE);
			return CP_ERR_CONFIG;
		}
	close(fd);
	if (n < 0) {
		cp_buf_free(&text);
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return CP_ERR_IO;
	}
	rc = cp_conf_parse(path, cp_buf_cstr(&text), text.len, cfg, err, errlen);
	cp_buf_free(&text);
	return rc;
}

void
cp_conf_free(struct cp_config *cfg)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		release(&keys[i], cfg);
	free(cfg->resource);
	free(cfg->prm_url);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

void
cp_conf_keys_print(FILE *out)
{
	const char *lsd = CP_LOCALSTATEDIR;
	size_t i, n = strlen(lsd);

	for (i = 0; i < NKEYS; i++) {
		const char *def = keys[i].def ? keys[i].def : "-";
		const char *at = n ? strstr(def, lsd) : NULL;

		/* The default as the documentation writes it: a whole path
		 * component, so "/" as localstatedir leaves "/mcp" alone. */
		if (at && (at == def || at[-1] == ':') && (at[n] == '/' || at[n] == '\0'))
			fprintf(out, "%s\t%s\t%s\t%.*s$(localstatedir)%s\t%s\n", keys[i].name,
			    IS_LIST(keys[i].type) ? "list" : "one", keys[i].required ? "required" : "optional",
			    (int)(at - def), def, at + n, keys[i].doc);
		else
			fprintf(out, "%s\t%s\t%s\t%s\t%s\n", keys[i].name, IS_LIST(keys[i].type) ? "list" : "one",
			    keys[i].required ? "required" : "optional", def, keys[i].doc);
	}
}

bool
cp_conf_cors_allowed(const struct cp_config *cfg, const char *origin)
{
	size_t i;

	for (i = 0; i < cfg->cors_allow_origin.n; i++)
		if (strcmp(cfg->cors_allow_origin.v[i], "*") == 0 ||
		    strcmp(cfg->cors_allow_origin.v[i], origin) == 0)
			return true;
	return false;
}

bool
cp_conf_scope_known(const struct cp_config *cfg, const char *scope, size_t len)
{
	const char *s = cfg->idp_scopes;

	while (*s) {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == len && memcmp(s, scope, n) == 0)
			return true;
		s += n;
		while (*s == ' ')
			s++;
	}
	return false;
}

enum cp_status
cp_cidr_parse(const char *s, struct cp_cidr *c)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen, i, bits;
	char *end;
	unsigned long prefix;

	memset(c, 0, sizeof(*c));
	if (slash == NULL || (alen = (size_t)(slash - s)) == 0 || alen >= sizeof(addr))
		return CP_ERR_SYNTAX;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (!isdigit((unsigned char)slash[1]))
		return CP_ERR_SYNTAX;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end != '\0')
		return CP_ERR_SYNTAX;
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		bits = 128;
	} else
		return CP_ERR_SYNTAX;
	if (prefix > bits)
		return CP_ERR_SYNTAX;
	c->prefix = (unsigned)prefix;
	/* Host bits set ("10.1.2.3/8") would hide a typo: refuse them. */
	for (i = 0; i < bits / 8; i++) {
		size_t lo = i * 8;
		unsigned char mask = prefix >= lo + 8 ? 0xff :
		    prefix <= lo ? 0 : (unsigned char)(0xff << (8 - (prefix - lo)));
		if (c->addr[i] & ~mask)
			return CP_ERR_SYNTAX;
	}
	return CP_OK;
}
