/*
 * The accept loop every cgi-bin program shares.  A program declares its
 * endpoint (name, path, methods, CORS, handler from lib/handle/) and calls
 * cp_endpoint_main; the loop takes the request's configuration from the
 * per-process context (ctx.h), serves FastCGI requests (or exactly one
 * plain CGI request), checks the method and the path, answers CORS
 * preflights, logs one line per request and turns a handler failure into
 * a 500 JSON answer.
 *
 * A bad configuration does not kill the program (the web server would
 * respawn it in a loop): the problem is logged as one line naming the key
 * and every request is answered 500 until the file is fixed and the
 * program restarted.  `prog --check-config` prints that line and exits 1.
 */
#ifndef CP_ENDPOINT_H
#define CP_ENDPOINT_H

#include <stdbool.h>

#include "conf.h"
#include "request.h"
#include "response.h"
#include "status.h"

struct cp_endpoint {
	const char *name;               /* program name, for logs */
	const char *path;               /* the one path served (else 404) */
	/* Instead of path, for paths that depend on the configuration: true
	 * for a path served.  With neither, the handler checks the path. */
	bool (*path_ok)(const struct cp_req *req);
	const char *allow;              /* "GET, HEAD", or NULL for any method */
	bool cors;                      /* answers cross-origin (cors_allow_origin) */
	bool origin_must_match;         /* a present, unlisted Origin gets 403 */
	/* Sends exactly one response.  Returning non-OK before anything was
	 * sent makes the loop answer 500; the handler logs the cause. */
	enum cp_status (*handle)(struct cp_req *req);
};

int cp_endpoint_main(int argc, char **argv, const struct cp_endpoint *ep);

/* Serves one request already set up in req (exposed for programs that
 * run their own loop, such as a threaded relay). */
void cp_endpoint_serve(const struct cp_endpoint *ep, struct cp_req *req);

/* The 404 JSON answer for a path this program does not serve. */
enum cp_status cp_resp_not_found(struct cp_req *req);

/* The 501 JSON answer of an endpoint whose feature is not built yet. */
enum cp_status cp_resp_not_implemented(struct cp_req *req, const char *endpoint);

#endif
