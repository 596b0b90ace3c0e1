/*
 * GET metrics_path: the Prometheus text exposition (format 0.0.4) of the
 * host's counters (metrics.h), to addresses in metrics_allow only.
 */
#include "config.h"

#include "endpoint.h"
#include "log.h"
#include "metrics.h"

enum cp_status
cp_metrics_handle(struct cp_req *req)
{
	const struct cp_config *cfg = req->cfg;
	const char *addr = cp_req_env(req, "REMOTE_ADDR");
	struct cp_buf text;
	struct cp_str s;
	enum cp_status rc;

	if (cfg->metrics_path == NULL || !cp_req_path_is(req, cfg->metrics_path))
		return cp_resp_not_found(req);
	if (!cp_cidr_match(cfg->metrics_allow, cfg->metrics_allow_n, addr)) {
		cp_log(CP_LOG_INFO, "metrics refused to %s: not in metrics_allow",
		    addr ? addr : "(no REMOTE_ADDR)");
		return cp_resp_page(req, 403, "Forbidden",
		    "This address may not read the metrics (metrics_allow).");
	}
	if (cp_metrics_setup(cfg) != CP_OK)
		return cp_resp_page(req, 503, "Metrics unavailable",
		    "The metrics file cannot be used; the error log says why.");
	cp_buf_init(&text, CP_METRICS_MAX_TEXT);
	if ((rc = cp_metrics_expose(&text)) != CP_OK) {
		cp_log(CP_LOG_ERROR, "metrics exposition failed: %s", cp_status_str(rc));
		goto out;
	}
	s = cp_buf_str(&text);
	if ((rc = cp_resp_header(req, "Cache-Control", "no-store")) == CP_OK &&
	    (rc = cp_resp_begin(req, 200, "text/plain; version=0.0.4; charset=utf-8")) == CP_OK)
		rc = cp_resp_body(req, s.ptr, s.len);
out:
	cp_buf_free(&text);
	return rc;
}
