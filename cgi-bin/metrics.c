/*
 * GET metrics_path: Prometheus metrics of every cimd-proxy process of
 * the host, for addresses in metrics_allow.  The logic is in
 * lib/handle/metrics.c.
 */
#include "config.h"

#include "endpoint.h"
#include "metrics.h"

static const struct cp_endpoint endpoint = {
	.name = "metrics",
	.allow = "GET, HEAD",
	.handle = cp_metrics_handle,
};

int
main(int argc, char **argv)
{
	return cp_endpoint_main(argc, argv, &endpoint);
}
