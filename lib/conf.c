#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#define DEFAULT_STREAM_MAX      3600
#define DEFAULT_HEARTBEAT       15
#define MAX_STREAM_SECONDS      86400
#define MAX_HEARTBEAT_SECONDS   300
#define DEFAULT_REFRESH_GRACE   60
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

#define ONE_OF(name, ...) \
	static const char *name(const char *v) { \
		static const char *const ok[] = { __VA_ARGS__, NULL }; \
		size_t i; \
		for (i = 0; ok[i]; i++) if (strcmp(v, ok[i]) == 0) return NULL; \
		return "must be one of: " #__VA_ARGS__; \
	}
ONE_OF(check_consent, "remember", "always", "off")
ONE_OF(check_binding, "agentcore", "off")
ONE_OF(check_log_level, "error", "warn", "info", "debug")

/* The key table: the configuration contract of DESIGN.md. */
enum kind { ONE, LIST };
struct key {
	const char *name;
	enum kind kind;
	bool required;
	check_fn check;
};
static const struct key keys[] = {
	{ "public_url", ONE, true, check_public_url },
	{ "mcp_path", ONE, false, check_path },
	{ "idp_issuer", ONE, true, check_issuer },
	{ "idp_client_id", ONE, true, check_visible },
	{ "idp_scopes", ONE, false, check_scopes },
	{ "idp_user_claim", ONE, false, check_token },
	{ "idp_audience", ONE, true, check_visible },
	{ "gateway_url", ONE, true, check_gateway },
	{ "gateway_protocol_version", ONE, false, check_date_version },
	{ "client_allow", LIST, false, check_client_allow },
	{ "client_pin", LIST, false, check_pin },
	{ "consent", ONE, false, check_consent },
	{ "key_file", ONE, true, check_abs_path },
	{ "store", ONE, false, check_store },
	{ "binding", ONE, false, check_binding },
	{ "agentcore_region", ONE, false, check_region },
	{ "agentcore_endpoint", ONE, false, check_endpoint },
	{ "elicitation_host", LIST, false, check_authority },
	{ "client_static", LIST, false, cp_client_static_check },
	{ "tls_ca_file", ONE, false, check_abs_path },
	{ "fetch_allow_private", LIST, false, check_cidr },
	{ "cors_allow_origin", LIST, false, check_origin },
	{ "log_level", ONE, false, check_log_level },
	{ "stream_max_seconds", ONE, false, check_uint },
	{ "heartbeat_seconds", ONE, false, check_uint },
	{ "refresh_grace_seconds", ONE, false, check_uint },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Raw values while parsing, indexed like keys[]. */
struct raw {
	struct cp_strlist v[NKEYS];
};

static void
strlist_free(struct cp_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
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

static const char *
raw_one(const struct raw *r, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return r->v[i].n ? r->v[i].v[0] : NULL;
	return NULL;
}

static enum cp_status
dup_or_default(char **dst, const char *v, const char *def)
{
	*dst = NULL;
	if (v == NULL && def == NULL)
		return CP_OK;
	*dst = strdup(v ? v : def);
	return *dst ? CP_OK : CP_ERR_NOMEM;
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

/* Turns the validated raw strings into cfg, applying defaults. */
static enum cp_status
build(struct parse *p, struct raw *r, struct cp_config *cfg)
{
	enum cp_status rc = CP_ERR_NOMEM;
	const char *v;
	size_t i, k;

	if (dup_or_default(&cfg->public_url, raw_one(r, "public_url"), NULL) ||
	    dup_or_default(&cfg->mcp_path, raw_one(r, "mcp_path"), DEFAULT_MCP_PATH) ||
	    dup_or_default(&cfg->idp_issuer, raw_one(r, "idp_issuer"), NULL) ||
	    dup_or_default(&cfg->idp_client_id, raw_one(r, "idp_client_id"), NULL) ||
	    dup_or_default(&cfg->idp_scopes, raw_one(r, "idp_scopes"), DEFAULT_SCOPES) ||
	    dup_or_default(&cfg->idp_user_claim, raw_one(r, "idp_user_claim"), DEFAULT_USER_CLAIM) ||
	    dup_or_default(&cfg->idp_audience, raw_one(r, "idp_audience"), NULL) ||
	    dup_or_default(&cfg->gateway_url, raw_one(r, "gateway_url"), NULL) ||
	    dup_or_default(&cfg->gateway_protocol_version, raw_one(r, "gateway_protocol_version"), NULL) ||
	    dup_or_default(&cfg->key_file, raw_one(r, "key_file"), NULL) ||
	    dup_or_default(&cfg->agentcore_region, raw_one(r, "agentcore_region"), NULL) ||
	    dup_or_default(&cfg->agentcore_endpoint, raw_one(r, "agentcore_endpoint"), NULL) ||
	    dup_or_default(&cfg->tls_ca_file, raw_one(r, "tls_ca_file"), NULL))
		goto out;
	strip_slash(cfg->public_url);
	cfg->idp_audience_any = strcmp(cfg->idp_audience, CP_AUDIENCE_ANY) == 0;
	if (cfg->agentcore_endpoint)
		strip_slash(cfg->agentcore_endpoint);

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

	v = raw_one(r, "consent");
	cfg->consent = v == NULL || strcmp(v, "remember") == 0 ? CP_CONSENT_REMEMBER :
	    strcmp(v, "always") == 0 ? CP_CONSENT_ALWAYS : CP_CONSENT_OFF;
	v = raw_one(r, "binding");
	cfg->binding = v == NULL || strcmp(v, "agentcore") == 0 ?
	    CP_BINDING_AGENTCORE : CP_BINDING_OFF;
	v = raw_one(r, "log_level");
	cfg->log_level = v ? (enum cp_log_level)cp_log_level_parse(v) : CP_LOG_INFO;
	v = raw_one(r, "stream_max_seconds");
	cfg->stream_max_seconds = v ? (unsigned)strtoul(v, NULL, 10) : DEFAULT_STREAM_MAX;
	if (cfg->stream_max_seconds < 1 || cfg->stream_max_seconds > MAX_STREAM_SECONDS) {
		rc = fail(p, "stream_max_seconds", "must be between 1 and %d", MAX_STREAM_SECONDS);
		goto out;
	}
	v = raw_one(r, "heartbeat_seconds");
	cfg->heartbeat_seconds = v ? (unsigned)strtoul(v, NULL, 10) : DEFAULT_HEARTBEAT;
	if (cfg->heartbeat_seconds < 1 || cfg->heartbeat_seconds > MAX_HEARTBEAT_SECONDS) {
		rc = fail(p, "heartbeat_seconds", "must be between 1 and %d", MAX_HEARTBEAT_SECONDS);
		goto out;
	}
	v = raw_one(r, "refresh_grace_seconds");
	cfg->refresh_grace_seconds = v ? (unsigned)strtoul(v, NULL, 10) : DEFAULT_REFRESH_GRACE;
	if (cfg->refresh_grace_seconds > MAX_REFRESH_GRACE) {
		rc = fail(p, "refresh_grace_seconds", "must be between 0 and %d", MAX_REFRESH_GRACE);
		goto out;
	}

	v = raw_one(r, "store");
	if (v == NULL)
		v = DEFAULT_STORE;
	cfg->store_kind = strncmp(v, "bdb:", 4) == 0 ? CP_STORE_BDB : CP_STORE_POSTGRESQL;
	if ((cfg->store_path = strdup(strchr(v, ':') + 1)) == NULL)
		goto out;

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

	for (i = 0; i < NKEYS; i++) {
		struct cp_strlist *l = &r->v[i];
		if (strcmp(keys[i].name, "client_allow") == 0) {
			cfg->client_allow = *l;
			memset(l, 0, sizeof(*l));
		} else if (strcmp(keys[i].name, "cors_allow_origin") == 0) {
			cfg->cors_allow_origin = *l;
			memset(l, 0, sizeof(*l));
		} else if (strcmp(keys[i].name, "elicitation_host") == 0) {
			cfg->elicitation_host = *l;
			memset(l, 0, sizeof(*l));
		} else if (strcmp(keys[i].name, "client_static") == 0) {
			cfg->client_static = *l;
			memset(l, 0, sizeof(*l));
		} else if (strcmp(keys[i].name, "client_pin") == 0 && l->n) {
			if ((cfg->client_pin = calloc(l->n, sizeof(*cfg->client_pin))) == NULL)
				goto out;
			for (k = 0; k < l->n; k++) {
				char *sp = strchr(l->v[k], ' ');
				cfg->client_pin_n++;
				cfg->client_pin[k].client_id = cp_strndup(l->v[k], (size_t)(sp - l->v[k]));
				while (*sp == ' ')
					sp++;
				cfg->client_pin[k].file = strdup(sp);
				if (!cfg->client_pin[k].client_id || !cfg->client_pin[k].file)
					goto out;
			}
		} else if (strcmp(keys[i].name, "fetch_allow_private") == 0 && l->n) {
			cfg->fetch_allow_private = calloc(l->n, sizeof(*cfg->fetch_allow_private));
			if (cfg->fetch_allow_private == NULL)
				goto out;
			for (k = 0; k < l->n; k++)
				cp_cidr_parse(l->v[k], &cfg->fetch_allow_private[k]);
			cfg->fetch_allow_private_n = l->n;
		}
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
		if (key->kind == ONE && r.v[idx].n) {
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

	free(cfg->public_url);
	free(cfg->mcp_path);
	free(cfg->idp_issuer);
	free(cfg->idp_client_id);
	free(cfg->idp_scopes);
	free(cfg->idp_user_claim);
	free(cfg->idp_audience);
	free(cfg->gateway_url);
	free(cfg->gateway_protocol_version);
	strlist_free(&cfg->client_allow);
	for (i = 0; i < cfg->client_pin_n; i++) {
		free(cfg->client_pin[i].client_id);
		free(cfg->client_pin[i].file);
	}
	free(cfg->client_pin);
	free(cfg->key_file);
	free(cfg->store_path);
	free(cfg->agentcore_region);
	free(cfg->agentcore_endpoint);
	strlist_free(&cfg->elicitation_host);
	strlist_free(&cfg->client_static);
	free(cfg->tls_ca_file);
	free(cfg->fetch_allow_private);
	strlist_free(&cfg->cors_allow_origin);
	free(cfg->resource);
	free(cfg->prm_url);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
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
