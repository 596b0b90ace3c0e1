#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "ctx.h"
#include "endpoint.h"
#include "metrics.h"
#include "log.h"

extern char **environ;

static void
on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

enum cp_status
cp_resp_not_found(struct cp_req *req)
{
	return cp_resp_oauth_error(req, 404, "not_found",
	    "no such endpoint on this server");
}

enum cp_status
cp_resp_not_implemented(struct cp_req *req, const char *endpoint)
{
	char why[128];

	snprintf(why, sizeof(why), "%s is not implemented in this version", endpoint);
	return cp_resp_oauth_error(req, 501, "not_implemented", why);
}

/* True when method is one of the comma-separated names in allow. */
static bool
method_allowed(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	if (n == 0)
		return false;
	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* Queues CORS headers when the request's Origin may read the answer.
 * Returns false when the endpoint insists and the Origin is not allowed. */
static bool
cors(const struct cp_endpoint *ep, struct cp_req *req)
{
	const char *origin = cp_req_header(req, "Origin");
	bool allowed;

	if (origin == NULL)
		return true;
	allowed = cp_conf_cors_allowed(req->cfg, origin) ||
	    strcmp(origin, req->cfg->public_url) == 0;
	if (allowed && ep->cors) {
		cp_resp_header(req, "Access-Control-Allow-Origin", origin);
		cp_resp_header(req, "Vary", "Origin");
		cp_resp_header(req, "Access-Control-Expose-Headers",
		    "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version");
	}
	return allowed || !ep->origin_must_match;
}

static void
log_request(const struct cp_endpoint *ep, const struct cp_req *req)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - req->started.tv_sec) * 1000 +
	    (now.tv_nsec - req->started.tv_nsec) / 1000000;
	/* The path only: query strings carry codes and state. */
	cp_log(CP_LOG_INFO, "%s %.*s %d %zu %ldms%s",
	    req->method ? req->method : "-", (int)(req->path.len > 200 ? 200 :
	    req->path.len), req->path.ptr, req->status, req->body_bytes, ms,
	    req->gone ? " client-gone" : "");
}

void
cp_endpoint_serve(const struct cp_endpoint *ep, struct cp_req *req)
{
	enum cp_status rc;

	if (req->cfg == NULL) {
		cp_log(CP_LOG_ERROR, "%s", req->ctx_err);
		cp_resp_oauth_error(req, 500, "server_error",
		    "cimd-proxy is misconfigured; the web server error log names the key to fix");
		goto done;
	}
	/* Maps the host's counters once (again only when the file changes). */
	(void)cp_metrics_setup(req->cfg);
	if (!cors(ep, req)) {
		cp_resp_oauth_error(req, 403, "forbidden", "this Origin is not allowed");
		goto done;
	}
	if (ep->cors && strcmp(req->method, "OPTIONS") == 0) {
		cp_resp_header(req, "Access-Control-Allow-Methods",
		    ep->allow ? ep->allow : "GET, POST, DELETE");
		cp_resp_header(req, "Access-Control-Allow-Headers", "Authorization, "
		    "Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID");
		cp_resp_header(req, "Access-Control-Max-Age", "600");
		cp_resp_empty(req, 204);
		goto done;
	}
	if (ep->allow && !method_allowed(ep->allow, req->method)) {
		cp_resp_header(req, "Allow", ep->allow);
		cp_resp_oauth_error(req, 405, "method_not_allowed",
		    "this endpoint does not accept that HTTP method");
		goto done;
	}
	if ((ep->path && !cp_req_path_is(req, ep->path)) ||
	    (ep->path_ok && !ep->path_ok(req))) {
		cp_resp_not_found(req);
		goto done;
	}
	rc = ep->handle(req);
	if (rc != CP_OK && !req->began) {
		cp_log(CP_LOG_ERROR, "handler failed: %s", cp_status_str(rc));
		cp_resp_oauth_error(req, 500, "server_error", "internal error");
	}
done:
	if (!req->began)
		cp_resp_oauth_error(req, 500, "server_error", "no response");
	/* Under FastCGI, FCGX_Finish_r sends what is still buffered together
	 * with the end-of-request records: one write where a flush here
	 * made two. */
	if (req->fcgx == NULL)
		cp_req_flush(req);
	log_request(ep, req);
	cp_metrics_request(ep->name, req->status);
}

static void
serve_raw(const struct cp_endpoint *ep, FCGX_Request *fcgx, char **envp)
{
	struct cp_req req;
	enum cp_status rc;
	const char *path = NULL;
	char **e;

	for (e = envp; e && *e; e++)
		if (strncmp(*e, "CIMD_PROXY_CONF=", 16) == 0 && (*e)[16] != '\0')
			path = *e + 16;
	rc = cp_req_init(&req, fcgx, envp, NULL);
	(void)cp_ctx_begin(&req, path ? path : cp_conf_path(), req.ctx_err,
	    sizeof(req.ctx_err));
	if (rc != CP_OK) {
		req.cfg = NULL;
		cp_resp_oauth_error(&req, 400, "invalid_request",
		    rc == CP_ERR_LIMIT ? "request URI too long" : "malformed request line");
		cp_req_flush(&req);
		log_request(ep, &req);
		cp_metrics_request(ep->name, req.status);
	} else
		cp_endpoint_serve(ep, &req);
	cp_req_drain(&req);
	cp_req_free(&req);
}

int
cp_endpoint_main(int argc, char **argv, const struct cp_endpoint *ep)
{
	FCGX_Request fcgx;
	struct sigaction sa;

	cp_log_init(ep->name);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || gnutls_global_init() < 0) {
		cp_log(CP_LOG_ERROR, "cannot initialise libcurl or GnuTLS");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "--check-config") == 0)
		return cp_ctx_check_config(cp_conf_path());
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--check-config]\n"
		    "Runs under a web server as FastCGI or CGI; see README.\n", argv[0]);
		return 2;
	}
	if (FCGX_IsCGI()) {
		serve_raw(ep, NULL, environ);
		fflush(stdout);
	} else {
		if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, 0, 0) != 0) {
			cp_log(CP_LOG_ERROR, "cannot initialise FastCGI");
			return 1;
		}
		/* SIGTERM ends the loop after the current request, so the
		 * process exits cleanly (and valgrind sees a normal exit). */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
		while (FCGX_Accept_r(&fcgx) >= 0) {
			serve_raw(ep, &fcgx, fcgx.envp);
			FCGX_Finish_r(&fcgx);
		}
		FCGX_Free(&fcgx, 1);
	}
	cp_ctx_shutdown();
	gnutls_global_deinit();
	curl_global_cleanup();
	return 0;
}
