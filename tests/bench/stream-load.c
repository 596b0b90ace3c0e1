/* stream-load: many MCP streams and tool calls against one /mcp URL on
 * loopback, for make bench-streams and tests/integration/streams-many.test.
 *
 *   stream-load hold HOST PORT PATH TOKEN N WAIT-SECONDS [HOLD-SECONDS]
 *     opens N GET streams (Accept: text/event-stream, the bearer TOKEN),
 *     at most IN_FLIGHT connecting at once; a stream answered other than
 *     200, or closed before its headers, is opened again (a client's
 *     reconnect) until WAIT-SECONDS have passed.  Then prints
 *       established K of N in S s; headers p50 A ms max B ms; retries R
 *     and holds them, reading what arrives, until SIGTERM or HOLD-SECONDS
 *     (default 600; 0: exit once that line is printed), when it closes
 *     every one at once.  At exit it prints
 *       held K; lost L
 *     (L: streams the server ended while held).  Exit 0 only if K == N.
 *
 *   stream-load calls HOST PORT PATH TOKEN TOTAL CONCURRENCY
 *     TOTAL tools/call POSTs from CONCURRENCY threads, one connection
 *     each (Connection: close); prints
 *       calls ok K of TOTAL; p50 A ms p99 B ms max C ms
 *     Exit 0 only if K == TOTAL (a 200 with a JSON-RPC result).
 *
 * Raises its own RLIMIT_NOFILE soft limit to the hard one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 100           /* streams connecting at once */
#define HEAD_MAX 4096           /* response head we keep, bytes */
#define EVENTS_MAX 256
#define RETRY_PAUSE_MS 20       /* after a refused stream, before the next open */
#define CALL_TIMEOUT_SECONDS 30
#define DEFAULT_HOLD_SECONDS 600

enum state { FREE, CONNECTING, SENT, OPEN };

struct stream {
	enum state state;
	double t0;              /* connect started, ms */
	size_t len;
	char head[HEAD_MAX];
};

static const char *host, *port, *path, *token;
static volatile sig_atomic_t stopping;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of n sorted values (nearest rank). */
static double quantile(const double *v, int n, double q)
{
	int i = (int)(q * n + 0.999999) - 1;

	if (n == 0)
		return 0;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int dial(int nonblock)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, host, &sa.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static int hold(int n, int wait_s, int hold_s)
{
	char req[8192];
	int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
		"Accept: text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n"
		"Authorization: Bearer %s\r\n\r\n", path, host, port, token);
	struct rlimit rl;
	struct stream *s;
	struct epoll_event evs[EVENTS_MAX];
	double *hdr_ms = calloc((size_t)n, sizeof *hdr_ms);
	double start = now_ms(), done_at = 0, next_open = 0, end;
	int ep = epoll_create1(0), inflight = 0, open = 0, retries = 0, lost = 0, reported = 0;
	int fds_max;

	/* A stream is indexed by its descriptor: as many slots as we may
	 * open descriptors. */
	if (reqlen >= (int)sizeof req || hdr_ms == NULL || ep < 0 ||
	    getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    (s = calloc((size_t)rl.rlim_cur, sizeof *s)) == NULL) {
		free(hdr_ms);
		if (ep >= 0)
			close(ep);
		return 2;
	}
	fds_max = (int)rl.rlim_cur;
	end = start + hold_s * 1e3;
	while (!stopping && (!reported || now_ms() < end)) {
		double now = now_ms();
		int i, k;

		/* Open more while some are missing and the wait lasts. */
		while (open + inflight < n && inflight < IN_FLIGHT && now < start + wait_s * 1e3 &&
		       now >= next_open) {
			struct epoll_event ev = { .events = EPOLLOUT };
			int fd = dial(1);
			if (fd < 0 || fd >= fds_max) {
				if (fd >= 0)
					close(fd);
				retries++;
				next_open = now + RETRY_PAUSE_MS;
				break;
			}
			s[fd].state = CONNECTING;
			s[fd].t0 = now;
			s[fd].len = 0;
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			inflight++;
		}
		if (!reported && (open == n || now >= start + wait_s * 1e3)) {
			done_at = open == n ? done_at : now;
			qsort(hdr_ms, (size_t)open, sizeof *hdr_ms, cmp_double);
			printf("established %d of %d in %.2f s; headers p50 %.1f ms max %.1f ms; retries %d\n",
			       open, n, (done_at - start) / 1e3, quantile(hdr_ms, open, 0.5),
			       open ? hdr_ms[open - 1] : 0.0, retries);
			fflush(stdout);
			reported = 1;
		}
		k = epoll_wait(ep, evs, EVENTS_MAX, 100);
		for (i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			struct stream *st = &s[fd];
			char buf[16384];
			ssize_t r;

			if (st->state == CONNECTING) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };
				if (send(fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen)
					goto refused;
				st->state = SENT;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				continue;
			}
			r = recv(fd, buf, sizeof buf, 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				if (st->state == OPEN) {
					lost++;
					open--;
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
					st->state = FREE;
					continue;
				}
				goto refused;
			}
			if (st->state == OPEN)
				continue;
			if (st->len + (size_t)r >= HEAD_MAX)
				goto refused;
			memcpy(st->head + st->len, buf, (size_t)r);
			st->len += (size_t)r;
			st->head[st->len] = '\0';
			if (strstr(st->head, "\r\n\r\n") == NULL)
				continue;
			if (strncmp(st->head, "HTTP/1.1 200", 12) != 0)
				goto refused;
			st->state = OPEN;
			hdr_ms[open++] = now_ms() - st->t0;
			inflight--;
			if (open == n)
				done_at = now_ms();
			continue;
refused:
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			st->state = FREE;
			inflight--;
			retries++;
			next_open = now_ms() + RETRY_PAUSE_MS;
		}
	}
	printf("held %d; lost %d\n", open, lost);
	fflush(stdout);
	free(hdr_ms);
	free(s);
	close(ep);
	return open == n && reported ? 0 : 1;
}

struct caller {
	pthread_t thread;
	int count, ok;
	double *lat;
};

static void *call_loop(void *arg)
{
	struct caller *c = arg;
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"ok\"}}}";
	char req[8192], resp[16384];
	int reqlen = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
		"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
		"MCP-Protocol-Version: 2025-11-25\r\nAuthorization: Bearer %s\r\n"
		"Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
		path, host, port, token, sizeof body - 1, body);
	struct timeval tv = { .tv_sec = CALL_TIMEOUT_SECONDS };
	int i;

	for (i = 0; i < c->count; i++) {
		double t0 = now_ms();
		size_t len = 0;
		ssize_t r = 0;
		int fd = dial(0);

		c->lat[i] = -1;
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (reqlen < (int)sizeof req && send(fd, req, (size_t)reqlen, MSG_NOSIGNAL) == reqlen)
			while (len < sizeof resp - 1 && (r = recv(fd, resp + len, sizeof resp - 1 - len, 0)) > 0)
				len += (size_t)r;
		close(fd);
		resp[len] = '\0';
		c->lat[i] = now_ms() - t0;
		if (r == 0 && strncmp(resp, "HTTP/1.1 200", 12) == 0 && strstr(resp, "\"result\""))
			c->ok++;
	}
	return NULL;
}

static int calls(int total, int conc)
{
	struct caller *c = calloc((size_t)conc, sizeof *c);
	double *all = calloc((size_t)total, sizeof *all);
	int i, j, ok = 0, m = 0;

	if (c == NULL || all == NULL || conc <= 0) {
		free(c);
		free(all);
		return 2;
	}
	for (i = 0; i < conc; i++) {
		c[i].count = total / conc + (i < total % conc);
		c[i].lat = all + m;
		m += c[i].count;
		pthread_create(&c[i].thread, NULL, call_loop, &c[i]);
	}
	for (i = 0; i < conc; i++) {
		pthread_join(c[i].thread, NULL);
		ok += c[i].ok;
	}
	for (i = j = 0; i < total; i++)
		if (all[i] >= 0)
			all[j++] = all[i];
	qsort(all, (size_t)j, sizeof *all, cmp_double);
	printf("calls ok %d of %d; p50 %.1f ms p99 %.1f ms max %.1f ms\n", ok, total,
	       quantile(all, j, 0.5), quantile(all, j, 0.99), j ? all[j - 1] : 0.0);
	fflush(stdout);
	free(all);
	free(c);
	return ok == total ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	if (argc < 8) {
		fprintf(stderr, "usage: stream-load hold HOST PORT PATH TOKEN N WAIT-SECONDS [HOLD-SECONDS]\n"
			"       stream-load calls HOST PORT PATH TOKEN TOTAL CONCURRENCY\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	host = argv[2];
	port = argv[3];
	path = argv[4];
	token = argv[5];
	if (strcmp(argv[1], "hold") == 0)
		return hold(atoi(argv[6]), atoi(argv[7]), argc > 8 ? atoi(argv[8]) : DEFAULT_HOLD_SECONDS);
	if (strcmp(argv[1], "calls") == 0)
		return calls(atoi(argv[6]), atoi(argv[7]));
	fprintf(stderr, "stream-load: unknown mode %s\n", argv[1]);
	return 2;
}
