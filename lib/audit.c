#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "audit.h"
#include "log.h"
#include "metrics.h"
#include "url.h"

/* Longest string field, tried in turn until the line fits: at the last,
 * every field escaped to six bytes a byte (\u00XX) still fits. */
static const size_t field_caps[] = { 1024, 256, 40 };
#define USER_HASH_BYTES 16      /* 32 hex digits */
#define CP_MAX_AUDIT_HOST 256   /* a DNS name is at most 253 bytes */

static const char *const kind_names[] = {
	[CP_AUDIT_AUTHORIZE] = "authorize",
	[CP_AUDIT_LOGIN] = "login",
	[CP_AUDIT_TOKEN_ISSUED] = "token_issued",
	[CP_AUDIT_TOKEN_REFRESHED] = "token_refreshed",
	[CP_AUDIT_TOKEN_REFUSED] = "token_refused",
	[CP_AUDIT_TOOL_CALL] = "tool_call",
	[CP_AUDIT_ELICITATION] = "elicitation",
	[CP_AUDIT_BINDING_COMPLETED] = "binding_completed",
	[CP_AUDIT_BINDING_REFUSED] = "binding_refused",
	[CP_AUDIT_CONFIG_ERROR] = "config_error",
};

static const char *const consent_names[] = {
	[CP_AUDIT_CONSENT_NONE] = NULL,
	[CP_AUDIT_CONSENT_SHOWN] = "shown",
	[CP_AUDIT_CONSENT_REMEMBERED] = "remembered",
	[CP_AUDIT_CONSENT_SKIPPED] = "skipped",
	[CP_AUDIT_CONSENT_APPROVED] = "approved",
	[CP_AUDIT_CONSENT_DENIED] = "denied",
};

/* The file this process keeps open, and whether its failure was logged. */
/* The open file, its path and the logged-once flags are the process's;
 * a relay process writes from many threads, so cp_audit holds
 * write_lock around them. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static int file_fd = -1;
static char *file_path;
static bool file_warned;
static bool syslog_open;

const char *
cp_audit_kind_name(enum cp_audit_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]) ||
	    kind_names[kind] == NULL)
		return "unknown";
	return kind_names[kind];
}

/* Adds s as member name of o: at most cap bytes, cut at a character
 * boundary, a byte that is not UTF-8 written as '?'.  Sets *cut when
 * anything was dropped. */
static bool
add_str(json_object *o, const char *name, const char *s, size_t cap, bool *cut)
{
	char *copy;
	size_t n, i = 0, k = 0, l;
	json_object *v;

	if (s == NULL)
		return true;
	n = strlen(s);
	if ((copy = malloc((n < cap ? n : cap) + 1)) == NULL)
		return false;
	while (i < n) {
		l = cp_utf8_len(s + i, n - i);
		if (k + (l ? l : 1) > cap) {
			*cut = true;
			break;
		}
		if (l == 0) {
			copy[k++] = '?';
			i++;
		} else {
			memcpy(copy + k, s + i, l);
			k += l;
			i += l;
		}
	}
	copy[k] = '\0';
	v = json_object_new_string_len(copy, (int)k);
	free(copy);
	return v != NULL && json_object_object_add(o, name, v) == 0;
}

static bool
add_int(json_object *o, const char *name, int64_t n)
{
	json_object *v = json_object_new_int64(n);

	return v != NULL && json_object_object_add(o, name, v) == 0;
}

/* The user as audit_user says: the id, or hex of a keyed hash of it. */
static const char *
user_text(const struct cp_config *cfg, const struct cp_keys *keys, const char *user,
    char hex[2 * USER_HASH_BYTES + 1])
{
	uint8_t mac[CP_KEYS_MAC_LEN];
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (user == NULL || cfg == NULL || cfg->audit_user == CP_AUDIT_USER_ID)
		return user;
	if (keys == NULL || cp_keys_mac(keys, 0, "audit-user", user, strlen(user), mac) != CP_OK)
		return "unavailable";
	for (i = 0; i < USER_HASH_BYTES; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[2 * USER_HASH_BYTES] = '\0';
	return hex;
}

/* The host of redirect_uri, or its scheme and ":" for a private-use
 * scheme with no host (RFC 8252 section 7.1), into out: never its path
 * or query, which may carry what the client put there. */
static const char *
redirect_host(const char *redirect_uri, char *out, size_t len)
{
	struct cp_url u;
	const char *r = NULL, *colon;

	if (redirect_uri == NULL || (colon = strchr(redirect_uri, ':')) == NULL)
		return NULL;
	if (strncmp(colon, "://", 3) != 0) {
		snprintf(out, len, "%.*s:", (int)(colon - redirect_uri), redirect_uri);
		return out;
	}
	memset(&u, 0, sizeof(u));
	if (cp_url_parse(redirect_uri, &u) == CP_OK) {
		snprintf(out, len, "%s", u.host ? u.host : "");
		r = out;
	}
	cp_url_free(&u);
	return r;
}

/* One attempt at the line with every string field at most cap bytes. */
static enum cp_status
format_capped(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev, size_t cap, struct cp_buf *out)
{
	enum cp_status rc = CP_ERR_NOMEM;
	json_object *o;
	char ts[32], h1[2 * USER_HASH_BYTES + 1], h2[2 * USER_HASH_BYTES + 1];
	char rhost[CP_MAX_AUDIT_HOST];
	struct timespec now;
	struct tm tm;
	const char *line;
	bool cut = false;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	if (strftime(ts, sizeof(ts) - 5, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return CP_ERR_INTERNAL;
	snprintf(ts + strlen(ts), 6, ".%03uZ", (unsigned)(now.tv_nsec / 1000000) % 1000);
	if ((o = json_object_new_object()) == NULL)
		return CP_ERR_NOMEM;
	if (!add_str(o, "ts", ts, cap, &cut) ||
	    !add_str(o, "event", cp_audit_kind_name(ev->kind), cap, &cut) ||
	    !add_str(o, "user", user_text(cfg, keys, ev->user, h1), cap, &cut) ||
	    !add_str(o, "other_user", user_text(cfg, keys, ev->other_user, h2), cap, &cut) ||
	    !add_str(o, "client_id", ev->client_id, cap, &cut) ||
	    !add_str(o, "redirect_host", redirect_host(ev->redirect_uri, rhost,
	    sizeof(rhost)), cap, &cut) ||
	    ((unsigned)ev->consent < sizeof(consent_names) / sizeof(consent_names[0]) &&
	    !add_str(o, "consent", consent_names[ev->consent], cap, &cut)) ||
	    !add_str(o, "method", ev->method, cap, &cut) ||
	    !add_str(o, "tool", ev->tool, cap, &cut) ||
	    !add_str(o, "host", ev->host, cap, &cut) ||
	    !add_str(o, "reason", ev->reason, cap, &cut) ||
	    (ev->http_status != 0 && !add_int(o, "status", ev->http_status)) ||
	    (ev->has_rpc_error && !add_int(o, "rpc_error", ev->rpc_error)) ||
	    (ev->kind == CP_AUDIT_TOOL_CALL && !add_int(o, "bytes", (int64_t)ev->bytes)) ||
	    (ev->kind == CP_AUDIT_TOOL_CALL && !add_int(o, "ms", (int64_t)ev->ms)))
		goto out;
	if (cut && json_object_object_add(o, "truncated", json_object_new_boolean(1)) != 0)
		goto out;
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (line == NULL)
		goto out;
	cp_buf_reset(out);
	if ((rc = cp_buf_adds(out, line)) == CP_OK)
		rc = cp_buf_addc(out, '\n');
out:
	json_object_put(o);
	return rc;
}

enum cp_status
cp_audit_format(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev, struct cp_buf *out)
{
	enum cp_status rc = CP_ERR_INTERNAL;
	size_t i;

	for (i = 0; i < sizeof(field_caps) / sizeof(field_caps[0]); i++) {
		rc = format_capped(cfg, keys, ev, field_caps[i], out);
		if (rc == CP_OK && cp_buf_str(out).len <= CP_MAX_AUDIT_LINE)
			return CP_OK;
		if (rc != CP_OK && rc != CP_ERR_LIMIT)
			return rc;
	}
	cp_buf_reset(out);
	return CP_ERR_INTERNAL;
}

void
cp_audit_close(void)
{
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
	free(file_path);
	file_path = NULL;
	file_warned = false;
}

/* An fd for path, opened again when the configuration names another
 * file or the file was moved away (log rotation); -1 on failure. */
static int
audit_fd(const char *path)
{
	struct stat a, b;

	if (file_fd >= 0 && strcmp(file_path, path) == 0 &&
	    stat(path, &a) == 0 && fstat(file_fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return file_fd;
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
	if (file_path == NULL || strcmp(file_path, path) != 0) {
		free(file_path);
		if ((file_path = strdup(path)) == NULL)
			return -1;
		file_warned = false;
	}
	file_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return file_fd;
}

static bool
write_file(const char *path, const char *line, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = audit_fd(path)) < 0)
		return false;
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len;
}

void
cp_audit(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev)
{
	const char *where = cfg != NULL ? cfg->audit_log : "syslog";
	struct cp_buf line;
	struct cp_str s;
	bool ok = false;

	if (strcmp(where, "off") == 0)
		return;
	pthread_mutex_lock(&write_lock);
	cp_buf_init(&line, CP_MAX_AUDIT_LINE + 1);
	if (cp_audit_format(cfg, keys, ev, &line) != CP_OK)
		goto out;
	s = cp_buf_str(&line);
	if (strcmp(where, "syslog") == 0) {
		if (!syslog_open)
			openlog("cimd-proxy", LOG_PID, LOG_AUTHPRIV);
		syslog_open = true;
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(s.len - 1), s.ptr);
		ok = true;
	} else
		ok = write_file(where, s.ptr, s.len);
out:
	if (!ok) {
		cp_metrics_inc(CP_M_AUDIT_WRITE_FAILURES);
		if (!file_warned)
			cp_log(CP_LOG_ERROR, "audit line not written to %s: %s (counted in "
			    "cimd_proxy_audit_write_failures_total; this is logged once)",
			    where, strerror(errno));
		file_warned = true;
	}
	cp_buf_free(&line);
	pthread_mutex_unlock(&write_lock);
}

static bool
audit_off(const struct cp_config *cfg)
{
	return strcmp(cfg->audit_log, "off") == 0;
}

/* The store key of token: its SHA-256 (a token is high-entropy, so the
 * hash names it without keeping it). */
static bool
token_key(struct cp_str token, uint8_t key[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, token.ptr, token.len, key) == 0;
}

void
cp_audit_token_client_put(const struct cp_config *cfg, struct cp_store *st,
    const char *access_token, const char *client_id, long expires_in)
{
	uint8_t key[32];

	if (audit_off(cfg) || access_token == NULL || client_id == NULL)
		return;
	if (expires_in <= 0 || expires_in > CP_AUDIT_TOKEN_CLIENT_TTL)
		expires_in = CP_AUDIT_TOKEN_CLIENT_TTL;
	if (!token_key(cp_str_c(access_token), key) ||
	    cp_store_put(st, CP_NS_TOKEN_CLIENT, key, sizeof(key), client_id,
	    strlen(client_id), time(NULL) + expires_in) != CP_OK)
		cp_log(CP_LOG_WARN, "the client of an access token was not recorded (client "
		    "%.200s): its tool calls will be audited without client_id", client_id);
}

bool
cp_audit_token_client_get(const struct cp_config *cfg, struct cp_store *st,
    struct cp_str token, struct cp_buf *out)
{
	uint8_t key[32];

	cp_buf_reset(out);
	if (audit_off(cfg) || !token_key(token, key))
		return false;
	return cp_store_get(st, CP_NS_TOKEN_CLIENT, key, sizeof(key), out, NULL) == CP_OK &&
	    out->len > 0;
}
