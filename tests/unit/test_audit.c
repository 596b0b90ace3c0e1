/*
 * The audit log (lib/audit.c): the configuration keys, each event's
 * fields, user hashing, lines cut under PIPE_BUF as valid JSON, and a
 * real file appended to by several forked processes at once, every line
 * of which must parse as one whole JSON object.
 */
#include "config.h"

#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "conf.h"
#include "metrics.h"
#include "seal.h"
#include "../tap.h"

#define BASE \
	"public_url = https://mcp.example.com\nidp_issuer = https://i.example\n" \
	"idp_client_id = c\nidp_audience = api://default\nkey_file = /k\nbinding = off\n" \
	"gateway_url = https://gw.example/mcp\n"
#define WRITERS 6
#define LINES_EACH 300

static const char key_text[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

static bool
parse_cfg(const char *extra, struct cp_config *cfg, char *err, size_t errlen)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", BASE, extra);
	return cp_conf_parse("t", text, strlen(text), cfg, err, errlen) == CP_OK;
}

/* The line's member name as a string, or NULL. */
static const char *
member(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) ? json_object_get_string(v) : NULL;
}

static json_object *
format(const struct cp_config *cfg, const struct cp_keys *keys,
    const struct cp_audit_event *ev, size_t *len)
{
	struct cp_buf b;
	json_object *o = NULL;
	struct cp_str s;

	cp_buf_init(&b, 1 << 20);
	if (cp_audit_format(cfg, keys, ev, &b) == CP_OK) {
		s = cp_buf_str(&b);
		*len = s.len;
		if (s.len > 0 && s.ptr[s.len - 1] == '\n' && memchr(s.ptr, '\n', s.len - 1) == NULL)
			o = json_tokener_parse(s.ptr);
	}
	cp_buf_free(&b);
	return o;
}

static void
test_keys(void)
{
	struct cp_config cfg;
	char err[256];

	ok(parse_cfg("", &cfg, err, sizeof(err)), "defaults parse");
	is_str(cfg.audit_log, "syslog", "audit_log defaults to syslog");
	ok(cfg.audit_user == CP_AUDIT_USER_ID, "audit_user defaults to id");
	ok(cfg.metrics_path == NULL && cfg.metrics_allow_n == 0, "metrics off by default");
	cp_conf_free(&cfg);
	ok(parse_cfg("audit_log = /var/log/cimd-audit.log\naudit_user = hash\n"
	    "metrics_path = /metrics\nmetrics_allow = 127.0.0.1/32\nmetrics_allow = ::1/128\n",
	    &cfg, err, sizeof(err)), "a file, hash, metrics and two blocks parse");
	is_str(cfg.audit_log, "/var/log/cimd-audit.log", "  the file");
	ok(cfg.audit_user == CP_AUDIT_USER_HASH, "  hash");
	is_str(cfg.metrics_path, "/metrics", "  metrics_path");
	is_int(cfg.metrics_allow_n, 2, "  two blocks");
	cp_conf_free(&cfg);
	ok(parse_cfg("audit_log = off\n", &cfg, err, sizeof(err)), "audit_log = off");
	cp_conf_free(&cfg);
	ok(!parse_cfg("audit_log = relative.log\n", &cfg, err, sizeof(err)) &&
	    strstr(err, "audit_log") != NULL, "a relative audit file is refused");
	ok(!parse_cfg("audit_user = name\n", &cfg, err, sizeof(err)), "audit_user = name refused");
	ok(!parse_cfg("metrics_path = metrics\n", &cfg, err, sizeof(err)), "relative metrics_path refused");
	ok(!parse_cfg("metrics_allow = 10.1.2.3/8\n", &cfg, err, sizeof(err)),
	    "a block with host bits is refused");
	ok(!parse_cfg("metrics_allow = 10.0.0.0\n", &cfg, err, sizeof(err)),
	    "an address without prefix is refused");
	ok(!parse_cfg("metrics_allow = ::1/129\n", &cfg, err, sizeof(err)),
	    "an IPv6 prefix over 128 is refused");
}

static void
test_events(void)
{
	struct cp_config cfg;
	struct cp_keys *keys = NULL;
	char err[256], big[9000];
	json_object *o;
	size_t len = 0;
	struct cp_audit_event ev = {
		.kind = CP_AUDIT_TOOL_CALL, .user = "00u1alice",
		.client_id = "https://vscode.dev/oauth/client-metadata.json",
		.method = "tools/call", .tool = "get_weather", .http_status = 200,
		.has_rpc_error = true, .rpc_error = -32602, .bytes = 1234, .ms = 56,
	};

	ok(parse_cfg("", &cfg, err, sizeof(err)), "config");
	o = format(&cfg, NULL, &ev, &len);
	ok(o != NULL, "a tool call formats as one JSON line");
	is_str(member(o, "event"), "tool_call", "  event");
	is_str(member(o, "user"), "00u1alice", "  user as the id");
	is_str(member(o, "client_id"), ev.client_id, "  client_id");
	is_str(member(o, "tool"), "get_weather", "  tool");
	is_str(member(o, "rpc_error"), "-32602", "  rpc_error");
	is_str(member(o, "bytes"), "1234", "  bytes");
	ok(member(o, "ts") != NULL && strlen(member(o, "ts")) == 24, "  ts, to the millisecond");
	ok(member(o, "truncated") == NULL, "  not truncated");
	json_object_put(o);

	ev = (struct cp_audit_event){ .kind = CP_AUDIT_AUTHORIZE, .client_id = "https://a/x",
	    .redirect_uri = "http://127.0.0.1:9300/callback?x=secret",
	    .consent = CP_AUDIT_CONSENT_REMEMBERED };
	o = format(&cfg, NULL, &ev, &len);
	is_str(member(o, "consent"), "remembered", "authorize: consent remembered");
	is_str(member(o, "redirect_host"), "127.0.0.1", "  the redirect host only");
	json_object_put(o);
	ev.redirect_uri = "com.example.app:/oauth2redirect";
	o = format(&cfg, NULL, &ev, &len);
	is_str(member(o, "redirect_host"), "com.example.app:", "  a private-use scheme");
	ok(member(o, "bytes") == NULL && member(o, "user") == NULL, "  no unset fields");
	json_object_put(o);
	cp_conf_free(&cfg);

	/* audit_user = hash: keyed, stable, not the id. */
	ok(parse_cfg("audit_user = hash\n", &cfg, err, sizeof(err)), "hash config");
	ok(cp_keys_parse("k", key_text, strlen(key_text), &keys, err, sizeof(err)) == CP_OK,
	    "a key");
	ev = (struct cp_audit_event){ .kind = CP_AUDIT_BINDING_REFUSED, .user = "alice",
	    .other_user = "mallory", .reason = "user mismatch" };
	o = format(&cfg, keys, &ev, &len);
	ok(member(o, "user") && strlen(member(o, "user")) == 32 &&
	    strstr(member(o, "user"), "alice") == NULL, "the user is 32 hex digits");
	ok(member(o, "other_user") && strcmp(member(o, "user"), member(o, "other_user")) != 0,
	    "  both users, told apart");
	{
		json_object *o2 = format(&cfg, keys, &ev, &len);
		is_str(member(o2, "user"), member(o, "user"), "  the same hash again");
		json_object_put(o2);
	}
	json_object_put(o);
	o = format(&cfg, NULL, &ev, &len);
	is_str(member(o, "user"), "unavailable", "without keys: unavailable, never the id");
	json_object_put(o);
	cp_keys_free(keys);
	cp_conf_free(&cfg);

	/* Long and hostile fields: cut under the cap, still valid JSON. */
	ok(parse_cfg("", &cfg, err, sizeof(err)), "config");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ev = (struct cp_audit_event){ .kind = CP_AUDIT_TOOL_CALL, .user = big, .client_id = big,
	    .method = big, .tool = big, .reason = big, .host = big };
	o = format(&cfg, NULL, &ev, &len);
	ok(o != NULL && len <= CP_MAX_AUDIT_LINE, "six 9 KB fields: one line of %zu bytes", len);
	is_str(member(o, "truncated"), "true", "  says truncated");
	json_object_put(o);
	for (size_t i = 0; i + 1 < sizeof(big); i++)
		big[i] = (char)(i % 3 == 0 ? 0x01 : i % 3 == 1 ? '"' : 0xc3);
	ev = (struct cp_audit_event){ .kind = CP_AUDIT_TOOL_CALL, .user = big, .client_id = big,
	    .method = big, .tool = big, .reason = big, .host = big, .other_user = big,
	    .redirect_uri = big };
	o = format(&cfg, NULL, &ev, &len);
	ok(o != NULL && len <= CP_MAX_AUDIT_LINE,
	    "control bytes, quotes and broken UTF-8 in eight fields: valid, %zu bytes", len);
	json_object_put(o);
	/* A two-byte character is never split. */
	memset(big, 0, sizeof(big));
	for (size_t i = 0; i + 2 < 3000; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	ev = (struct cp_audit_event){ .kind = CP_AUDIT_LOGIN, .user = big, .client_id = big,
	    .reason = big };
	o = format(&cfg, NULL, &ev, &len);
	ok(o != NULL && member(o, "user") && strlen(member(o, "user")) % 2 == 0,
	    "UTF-8 cut at a character boundary");
	json_object_put(o);
	cp_conf_free(&cfg);
}

/* Every line of path is one whole JSON object; returns how many. */
static long
count_lines(const char *path, long *bad)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lines = 0;
	json_object *o;

	*bad = 0;
	if (f == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		lines++;
		o = n > 1 && line[n - 1] == '\n' ? json_tokener_parse(line) : NULL;
		if (o == NULL || member(o, "event") == NULL)
			(*bad)++;
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return lines;
}

static void
test_file(void)
{
	struct cp_config cfg;
	char err[256], dir[] = "/tmp/cimd-audit-XXXXXX", path[300], extra[400];
	char big[3000];
	long lines, bad;
	int i, status, all_ok = 1;
	pid_t pid;

	ok(mkdtemp(dir) != NULL, "a directory");
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(extra, sizeof(extra), "audit_log = %s\n", path);
	ok(parse_cfg(extra, &cfg, err, sizeof(err)), "audit_log = a file");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	/* Long lines (near the cap) from several processes at once. */
	for (i = 0; i < WRITERS; i++) {
		if ((pid = fork()) == 0) {
			struct cp_audit_event ev = { .kind = CP_AUDIT_TOOL_CALL, .user = "u",
			    .client_id = big, .tool = big + i * 100, .http_status = 200 + i };
			for (int j = 0; j < LINES_EACH; j++)
				cp_audit(&cfg, NULL, &ev);
			_exit(0);
		}
		ok(pid > 0, "writer %d started", i);
	}
	for (i = 0; i < WRITERS; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			all_ok = 0;
	ok(all_ok, "every writer exited 0");
	lines = count_lines(path, &bad);
	is_int(lines, WRITERS * LINES_EACH, "every line is there");
	is_int(bad, 0, "every line is one whole JSON object");

	/* Moved away (log rotation): the next line goes to a new file. */
	{
		char moved[320];
		struct cp_audit_event ev = { .kind = CP_AUDIT_LOGIN, .user = "u", .client_id = "c" };

		snprintf(moved, sizeof(moved), "%s.1", path);
		ok(rename(path, moved) == 0, "the file moved away");
		cp_audit(&cfg, NULL, &ev);
		is_int(count_lines(path, &bad), 1, "  the next line opens a new file");
		unlink(moved);
	}
	cp_audit_close();
	unlink(path);
	cp_conf_free(&cfg);

	/* A file that cannot be written: the call returns, it is counted. */
	{
		char mpath[320];
		struct cp_audit_event ev = { .kind = CP_AUDIT_LOGIN, .user = "u" };

		snprintf(mpath, sizeof(mpath), "%s/metrics.shm", dir);
		ok(cp_metrics_open(mpath) == CP_OK, "metrics mapped");
		snprintf(extra, sizeof(extra), "audit_log = %s/no/such/dir/audit.log\n", dir);
		ok(parse_cfg(extra, &cfg, err, sizeof(err)), "audit_log in a missing directory");
		cp_audit(&cfg, NULL, &ev);
		cp_audit(&cfg, NULL, &ev);
		is_int(cp_metrics_get(CP_M_AUDIT_WRITE_FAILURES), 2, "two failures counted");
		cp_metrics_close();
		cp_audit_close();
		cp_conf_free(&cfg);
		unlink(mpath);
	}
	rmdir(dir);
}

int
main(void)
{
	test_keys();
	test_events();
	test_file();
	return tap_done();
}
