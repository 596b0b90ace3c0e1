/*
 * The MCP endpoint program (lib/handle/mcp.c).  Under FastCGI or with
 * --listen it serves many requests at once, one thread each
 * (lib/relayd.h); as plain CGI, one request per process.
 */
#include "config.h"

#include "handle/mcp.h"
#include "relayd.h"

int
main(int argc, char **argv)
{
	return cp_relayd_main(argc, argv, &cp_handle_mcp);
}
