/*
 * Prometheus metrics shared by every process of the host.
 *
 * The counters live in one small file mapped shared by each process
 * (cp_metrics_setup), with a fixed layout: a header, then one 64-bit slot
 * per counter, per (endpoint, status) pair and per histogram bucket.  A
 * count is one relaxed __atomic add on that mapping, so the hot path
 * makes no system call and takes no lock; the metrics endpoint reads the
 * same slots (cp_metrics_expose).  With metrics_path = off nothing is
 * mapped and every count is a test of one pointer.
 *
 * The file: <store directory>/metrics.shm with a bdb store, else
 * $(localstatedir)/lib/cimd-proxy/metrics.shm (cp_metrics_file).  It
 * holds counts only; removing it (with the programs stopped) resets them.
 * A gauge (open streams) counts up and down; a process killed with
 * streams open leaves them counted until the file is reset.
 */
#ifndef CP_METRICS_H
#define CP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

/* Every counter and gauge slot: its name, Prometheus family and labels.
 * A family's slots are adjacent; the first of a family carries its HELP
 * text and type. */
#define CP_METRICS_LIST(X) \
	X(LOGIN_COMPLETED, "logins_total", "outcome=\"completed\"", \
	    "counter", "Sign-ins completed at the IdP, by outcome.") \
	X(LOGIN_FAILED, "logins_total", "outcome=\"failed\"", NULL, NULL) \
	X(TOKEN_ISSUED, "tokens_total", "outcome=\"issued\"", \
	    "counter", "Token requests, by outcome (refreshed: refresh_token grant).") \
	X(TOKEN_REFRESHED, "tokens_total", "outcome=\"refreshed\"", NULL, NULL) \
	X(TOKEN_REFUSED, "tokens_total", "outcome=\"refused\"", NULL, NULL) \
	X(FETCH_OK, "client_fetches_total", "outcome=\"ok\"", \
	    "counter", "Client ID Metadata Document fetches, by outcome.") \
	X(FETCH_FAILED, "client_fetches_total", "outcome=\"failed\"", NULL, NULL) \
	X(FETCH_REFUSED, "client_fetches_total", "outcome=\"refused\"", NULL, NULL) \
	X(FETCH_PINNED, "client_fetches_total", "outcome=\"pinned\"", NULL, NULL) \
	X(CLIENT_CACHE_HITS, "client_cache_hits_total", NULL, \
	    "counter", "Client documents served from the cache.") \
	X(JWT_VALID, "jwt_verifications_total", "outcome=\"valid\"", \
	    "counter", "Access-token (JWT) verifications, by outcome.") \
	X(JWT_INVALID, "jwt_verifications_total", "outcome=\"invalid\"", NULL, NULL) \
	X(JWT_EXPIRED, "jwt_verifications_total", "outcome=\"expired\"", NULL, NULL) \
	X(JWT_ERROR, "jwt_verifications_total", "outcome=\"error\"", NULL, NULL) \
	X(RELAYED, "relayed_requests_total", NULL, \
	    "counter", "MCP requests relayed to the gateway.") \
	X(STREAMS_OPEN, "open_streams", NULL, \
	    "gauge", "Relayed streams open now.") \
	X(STREAMS_REFUSED, "refused_streams_total", NULL, \
	    "counter", "Streams refused at capacity (503).") \
	X(ELICITATIONS, "elicitations_total", NULL, \
	    "counter", "URL elicitations captured from the gateway.") \
	X(BINDING_COMPLETED, "bindings_total", "outcome=\"completed\"", \
	    "counter", "Session bindings, by outcome.") \
	X(BINDING_REFUSED, "bindings_total", "outcome=\"refused\"", NULL, NULL) \
	X(BINDING_FAILED, "bindings_total", "outcome=\"failed\"", NULL, NULL) \
	X(STORE_ERRORS, "store_errors_total", NULL, \
	    "counter", "State store operations that failed.") \
	X(AUDIT_WRITE_FAILURES, "audit_write_failures_total", NULL, \
	    "counter", "Audit lines that could not be written.")

enum cp_metric {
#define CP_METRIC_ENUM(id, fam, labels, type, help) CP_M_##id,
	CP_METRICS_LIST(CP_METRIC_ENUM)
#undef CP_METRIC_ENUM
	CP_M_COUNT
};

/* Endpoints and statuses of cimd_proxy_requests_total: a fixed table so
 * the layout is fixed; anything else counts as "other". */
#define CP_METRICS_ENDPOINTS "protected-resource", "authorization-server", \
	"register", "authorize", "callback", "token", "mcp", \
	"sessionbinding-callback", "sessionbinding-okta-callback", "metrics", \
	"other"
#define CP_METRICS_NENDPOINTS 11
#define CP_METRICS_STATUSES 200, 201, 202, 204, 302, 303, 304, 400, 401, \
	403, 404, 405, 406, 408, 409, 413, 415, 429, 500, 501, 502, 503, 504
#define CP_METRICS_NSTATUSES 24     /* the list above and "other" */

/* Upper bounds (seconds) of the upstream latency histogram's buckets;
 * +Inf follows. */
#define CP_METRICS_BUCKETS 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, \
	2.5, 5.0, 10.0, 30.0
#define CP_METRICS_NBUCKETS 13      /* the list above and +Inf */

/* The longest exposition cp_metrics_expose writes. */
#define CP_METRICS_MAX_TEXT 65536

/* The file the counters of cfg live in (see above), into out; false when
 * it does not fit. */
bool cp_metrics_file(const struct cp_config *cfg, char *out, size_t len);

/* Maps the counters for cfg, once per process: again only when the file
 * changes.  With metrics_path off, unmaps them and counts nothing.
 * Creates the file (mode 0600, never through a symbolic link) when
 * missing.  CP_ERR_IO (logged once per file: the counts are then lost,
 * never the request), CP_ERR_INVALID (a file of another layout). */
enum cp_status cp_metrics_setup(const struct cp_config *cfg);

/* Maps the file at path (tests, and cp_metrics_setup). */
enum cp_status cp_metrics_open(const char *path);
void cp_metrics_close(void);

/* Adds n (negative for a gauge going down); nothing when unmapped. */
void cp_metrics_add(enum cp_metric m, int64_t n);
static inline void cp_metrics_inc(enum cp_metric m) { cp_metrics_add(m, 1); }

/* Counts one answered request of endpoint (a program name) with status. */
void cp_metrics_request(const char *endpoint, int status);

/* Counts one upstream exchange that took usec microseconds. */
void cp_metrics_upstream(uint64_t usec);

/* The current value of a slot (tests); 0 when unmapped. */
int64_t cp_metrics_get(enum cp_metric m);

/* Appends the Prometheus text exposition (format 0.0.4) of every slot
 * to out.  CP_ERR_INVALID when nothing is mapped; CP_ERR_LIMIT, NOMEM. */
enum cp_status cp_metrics_expose(struct cp_buf *out);

/* The metrics endpoint's handler (lib/handle/metrics.c): 404 when
 * metrics_path is off or not the path asked for, 403 to an address
 * outside metrics_allow, else the exposition. */
struct cp_req;
enum cp_status cp_metrics_handle(struct cp_req *req);

/* True when the address text addr (REMOTE_ADDR: IPv4, IPv6, or IPv6
 * with an IPv4-mapped address) is inside one of the n blocks. */
bool cp_cidr_match(const struct cp_cidr *blocks, size_t n, const char *addr);

#endif
