/*
 * The /mcp endpoint's handler (lib/handle/mcp.c), declared for
 * cgi-bin/mcp.c and the tests.
 */
#ifndef CP_HANDLE_MCP_H
#define CP_HANDLE_MCP_H

#include "endpoint.h"

extern const struct cp_endpoint cp_handle_mcp;

#endif
