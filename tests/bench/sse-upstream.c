/* sse-upstream: a small MCP upstream for holding many streams (make
 * bench-streams, tests/integration/streams-many.test).  One epoll thread on
 * 127.0.0.1:
 *
 *   POST   -> 200 application/json, a JSON-RPC result echoing the request's
 *             id (202 with no body for a notification), keep-alive;
 *   GET    -> 200 text/event-stream, ": hello" at once, then ": ping" to
 *             every open stream each TICK seconds, until the peer closes;
 *   DELETE -> 204.
 *
 * No Mcp-Session-Id is issued: the upstream is stateless, as a streamable
 * HTTP server may be (MCP 2025-11-25, Transports, Session Management).  It
 * prints "ready PORT" once listening, and stops on SIGTERM or after
 * LIFETIME seconds, so a test that dies leaves nothing behind.
 *
 * usage: sse-upstream [TICK-SECONDS [LIFETIME-SECONDS]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384          /* request head and body, bytes */
#define EVENTS_MAX 256
#define DEFAULT_TICK 5
#define DEFAULT_LIFETIME 3600

struct conn {
	int used;
	int stream;             /* an open GET stream */
	size_t len;
	char buf[HEAD_MAX];
};

static struct conn *conns;
static int conns_max;
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	conns[fd].used = 0;
}

/* Whole short writes only: a loopback socket's buffer takes these. */
static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The request's JSON-RPC id as written (number or string), or NULL. */
static const char *json_id(const char *body, size_t *len)
{
	const char *p = strstr(body, "\"id\"");
	const char *e;

	if (p == NULL)
		return NULL;
	p += 4;
	while (*p == ' ' || *p == ':')
		p++;
	for (e = p; *e && *e != ',' && *e != '}'; e++)
		;
	*len = (size_t)(e - p);
	return *len > 0 && *len < 64 ? p : NULL;
}

/* One complete request in c->buf: answer it; -1 drops the connection. */
static int answer(int fd, struct conn *c, size_t head, size_t total)
{
	char out[1024], body[512];
	const char *id;
	size_t idlen;
	int n, close_after;
	char *conn_close = strcasestr(c->buf, "\r\nConnection: close");

	close_after = conn_close != NULL && conn_close < c->buf + head;
	if (strncmp(c->buf, "GET ", 4) == 0) {
		static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			"Cache-Control: no-cache\r\nConnection: close\r\n\r\n: hello\n\n";
		c->stream = 1;
		return send_all(fd, h, sizeof h - 1);
	}
	if (strncmp(c->buf, "DELETE ", 7) == 0) {
		n = snprintf(out, sizeof out, "HTTP/1.1 204 No Content\r\n\r\n");
	} else {
		char save = c->buf[total];
		c->buf[total] = '\0';
		id = json_id(c->buf + head, &idlen);
		if (id == NULL) {
			n = snprintf(out, sizeof out, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
		} else {
			int b;
			if (strstr(c->buf + head, "\"initialize\""))
				b = snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":"
					"{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"tools\":{}},"
					"\"serverInfo\":{\"name\":\"sse-upstream\",\"version\":\"1\"}}}",
					(int)idlen, id);
			else
				b = snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":"
					"{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}", (int)idlen, id);
			n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				"Content-Length: %d\r\n\r\n%s", b, body);
		}
		c->buf[total] = save;
	}
	if (send_all(fd, out, (size_t)n) < 0)
		return -1;
	if (close_after)
		return -1;      /* the client asked for Connection: close */
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return 0;
}

/* Parses what arrived; answers every complete request. */
static int serve(int fd, struct conn *c)
{
	for (;;) {
		char *end, *cl;
		size_t head, body = 0;

		if (c->stream)
			return 0;       /* a stream's client sends nothing more */
		c->buf[c->len] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
		if (end == NULL)
			return c->len >= HEAD_MAX - 1 ? -1 : 0;
		head = (size_t)(end - c->buf) + 4;
		cl = strcasestr(c->buf, "\r\nContent-Length:");
		if (cl != NULL && cl < end)
			body = strtoul(cl + 17, NULL, 10);
		if (head + body >= HEAD_MAX)
			return -1;
		if (c->len < head + body)
			return 0;
		if (answer(fd, c, head, head + body) < 0)
			return -1;
	}
}

int main(int argc, char **argv)
{
	int tick = argc > 1 ? atoi(argv[1]) : DEFAULT_TICK;
	int lifetime = argc > 2 ? atoi(argv[2]) : DEFAULT_LIFETIME;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof sa;
	struct epoll_event ev, evs[EVENTS_MAX];
	struct rlimit rl;
	time_t start = time(NULL), last_tick = start;
	int lfd, ep, one = 1;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	conns_max = (int)rl.rlim_cur;
	conns = calloc((size_t)conns_max, sizeof *conns);
	if (conns == NULL || tick <= 0)
		return 1;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0) {
		perror("sse-upstream");
		return 1;
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready %d\n", ntohs(sa.sin_port));
	fflush(stdout);

	while (!stopping && time(NULL) - start < lifetime) {
		int i, n = epoll_wait(ep, evs, EVENTS_MAX, 1000);
		time_t now = time(NULL);

		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= conns_max) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					conns[c].used = 1;
					conns[c].stream = 0;
					conns[c].len = 0;
					ev.events = EPOLLIN | EPOLLRDHUP;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			struct conn *c = &conns[fd];
			ssize_t r = recv(fd, c->buf + c->len, HEAD_MAX - 1 - c->len, 0);
			if (r > 0)
				c->len += (size_t)r;
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				drop(ep, fd);
				continue;
			}
			if (serve(fd, c) < 0)
				drop(ep, fd);
		}
		if (now - last_tick >= tick) {
			static const char ping[] = ": ping\n\n";
			int fd;
			last_tick = now;
			for (fd = 0; fd < conns_max; fd++)
				if (conns[fd].used && conns[fd].stream &&
				    send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
				    errno != EAGAIN)
					drop(ep, fd);
		}
	}
	return 0;
}
