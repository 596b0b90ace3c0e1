/*
 * The shared metrics (lib/metrics.c): counts added by several forked
 * processes through their own mappings of one real file sum exactly; a
 * file of another layout is refused; the exposition follows the
 * Prometheus text format line by line; metrics_allow matching.
 */
#include "config.h"

#include <sys/wait.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "metrics.h"
#include "../tap.h"

#define PROCS 4
#define ADDS 50000

/* A sample line: name, optional {label="value",...}, space, a number. */
static bool
sample_ok(const char *l)
{
	const char *p = l;
	char *end;

	if (!isalpha((unsigned char)*p) && *p != '_')
		return false;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
		p++;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (p[0] != '=' || p[1] != '"')
				return false;
			for (p += 2; *p != '"'; p++)
				if (*p == '\0' || *p == '\\' || *p == '\n')
					return false;
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return false;
		}
		p++;
	}
	if (*p++ != ' ')
		return false;
	strtod(p, &end);
	return end != p && *end == '\0';
}

/* The value of the sample line starting with prefix, or -1. */
static double
value_of(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static void
test_shared(const char *path)
{
	int i, status, all_ok = 1;
	pid_t pid;

	for (i = 0; i < PROCS; i++) {
		if ((pid = fork()) == 0) {
			if (cp_metrics_open(path) != CP_OK)
				_exit(1);
			for (int j = 0; j < ADDS; j++) {
				cp_metrics_inc(CP_M_TOKEN_ISSUED);
				cp_metrics_request("token", 200);
				cp_metrics_add(CP_M_STREAMS_OPEN, 1);
				cp_metrics_add(CP_M_STREAMS_OPEN, -1);
			}
			cp_metrics_upstream(3000);          /* 3 ms */
			cp_metrics_upstream(2000000);       /* 2 s */
			_exit(0);
		}
		ok(pid > 0, "process %d started", i);
	}
	for (i = 0; i < PROCS; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			all_ok = 0;
	ok(all_ok, "every process mapped the file and exited 0");
	ok(cp_metrics_open(path) == CP_OK, "mapped here too");
	is_int(cp_metrics_get(CP_M_TOKEN_ISSUED), PROCS * ADDS, "the adds of all processes sum exactly");
	is_int(cp_metrics_get(CP_M_STREAMS_OPEN), 0, "the gauge is back at 0");
}

static void
test_expose(void)
{
	struct cp_buf b;
	const char *text, *p, *nl;
	char line[512];
	int bad = 0, lines = 0;

	cp_metrics_request("no-such-program", 299);
	cp_metrics_inc(CP_M_LOGIN_COMPLETED);
	cp_buf_init(&b, CP_METRICS_MAX_TEXT);
	ok(cp_metrics_expose(&b) == CP_OK, "the exposition fits");
	text = cp_buf_cstr(&b);
	for (p = text; *p; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL || (size_t)(nl - p) >= sizeof(line)) {
			bad++;
			break;
		}
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		lines++;
		if (strncmp(line, "# HELP cimd_proxy_", 18) == 0 ||
		    strncmp(line, "# TYPE cimd_proxy_", 18) == 0)
			continue;
		if (strncmp(line, "cimd_proxy_", 11) != 0 || !sample_ok(line)) {
			printf("# bad line: %s\n", line);
			bad++;
		}
	}
	ok(lines > 40 && bad == 0, "%d lines, each a comment or a sample", lines);
	is_int(value_of(text, "cimd_proxy_tokens_total{outcome=\"issued\"}"), PROCS * ADDS,
	    "tokens issued exposed");
	is_int(value_of(text, "cimd_proxy_requests_total{endpoint=\"token\",status=\"200\"}"),
	    PROCS * ADDS, "requests by endpoint and status");
	is_int(value_of(text, "cimd_proxy_requests_total{endpoint=\"other\",status=\"other\"}"), 1,
	    "an unknown endpoint and status count as other");
	is_int(value_of(text, "cimd_proxy_logins_total{outcome=\"completed\"}"), 1, "a login");
	is_int(value_of(text, "cimd_proxy_upstream_seconds_bucket{le=\"0.005\"}"), PROCS,
	    "histogram: the 3 ms exchanges in le=0.005");
	is_int(value_of(text, "cimd_proxy_upstream_seconds_bucket{le=\"1\"}"), PROCS,
	    "  cumulative: none more up to 1 s");
	is_int(value_of(text, "cimd_proxy_upstream_seconds_bucket{le=\"+Inf\"}"), 2 * PROCS,
	    "  all in +Inf");
	is_int(value_of(text, "cimd_proxy_upstream_seconds_count"), 2 * PROCS, "  count");
	ok(value_of(text, "cimd_proxy_upstream_seconds_sum") > 8.0119 &&
	    value_of(text, "cimd_proxy_upstream_seconds_sum") < 8.0121, "  sum in seconds");
	ok(strstr(text, "# TYPE cimd_proxy_open_streams gauge\n") != NULL, "open streams is a gauge");
	cp_buf_free(&b);
}

static void
test_layout(const char *dir)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/other.shm", dir);
	f = fopen(path, "w");
	fputs("not a metrics file", f);
	fclose(f);
	ok(cp_metrics_open(path) == CP_ERR_INVALID, "a file of another size is refused");
	cp_metrics_inc(CP_M_LOGIN_COMPLETED);
	is_int(cp_metrics_get(CP_M_LOGIN_COMPLETED), 0, "  and nothing is counted");
	unlink(path);
	snprintf(path, sizeof(path), "%s/link.shm", dir);
	ok(symlink("/etc/passwd", path) == 0, "a symbolic link");
	ok(cp_metrics_open(path) == CP_ERR_IO, "  is never followed");
	unlink(path);
}

static void
test_cidr(void)
{
	struct cp_cidr c[3];

	ok(cp_cidr_parse("127.0.0.0/8", &c[0]) == CP_OK &&
	    cp_cidr_parse("2001:db8::/32", &c[1]) == CP_OK &&
	    cp_cidr_parse("10.1.2.128/25", &c[2]) == CP_OK, "three blocks");
	ok(cp_cidr_match(c, 3, "127.0.0.1"), "127.0.0.1 in 127/8");
	ok(cp_cidr_match(c, 3, "::ffff:127.0.0.1"), "its IPv4-mapped form too");
	ok(cp_cidr_match(c, 3, "2001:db8:1::5"), "2001:db8:1::5 in 2001:db8::/32");
	ok(!cp_cidr_match(c, 3, "2001:db9::1"), "2001:db9::1 not");
	ok(cp_cidr_match(c, 3, "10.1.2.200"), "10.1.2.200 in /25");
	ok(!cp_cidr_match(c, 3, "10.1.2.127"), "10.1.2.127 not");
	ok(!cp_cidr_match(c, 3, "::1"), "::1 not");
	ok(!cp_cidr_match(c, 3, "127.0.0.1 "), "trailing space refused");
	ok(!cp_cidr_match(c, 3, NULL) && !cp_cidr_match(c, 3, ""), "no address refused");
	ok(!cp_cidr_match(c, 0, "127.0.0.1"), "an empty list allows no one");
	ok(cp_cidr_parse("0.0.0.0/0", &c[0]) == CP_OK && cp_cidr_match(c, 1, "8.8.8.8"),
	    "0.0.0.0/0 allows every IPv4 address");
}

int
main(void)
{
	char dir[] = "/tmp/cimd-metrics-XXXXXX", path[300];

	ok(mkdtemp(dir) != NULL, "a directory");
	snprintf(path, sizeof(path), "%s/metrics.shm", dir);
	is_int(cp_metrics_get(CP_M_TOKEN_ISSUED), 0, "unmapped: 0");
	cp_metrics_inc(CP_M_TOKEN_ISSUED);  /* unmapped: does nothing */
	test_shared(path);
	test_expose();
	cp_metrics_close();
	test_layout(dir);
	test_cidr();
	unlink(path);
	rmdir(dir);
	return tap_done();
}
