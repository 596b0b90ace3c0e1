#include "config.h"

#include <stddef.h>

#include "status.h"

static const char *const names[CP_STATUS_COUNT] = {
	[CP_OK]            = "ok",
	[CP_ERR_NOMEM]     = "out of memory",
	[CP_ERR_LIMIT]     = "over a size limit",
	[CP_ERR_SYNTAX]    = "malformed",
	[CP_ERR_DUPLICATE] = "duplicate",
	[CP_ERR_INVALID]   = "invalid",
	[CP_ERR_NOT_FOUND] = "not found",
	[CP_ERR_EXPIRED]   = "expired",
	[CP_ERR_REPLAY]    = "already used",
	[CP_ERR_CRYPTO]    = "cryptographic check failed",
	[CP_ERR_CONFIG]    = "configuration error",
	[CP_ERR_IO]        = "i/o error",
	[CP_ERR_STORE]     = "store error",
	[CP_ERR_FETCH]     = "fetch failed",
	[CP_ERR_TIMEOUT]   = "timed out",
	[CP_ERR_UPSTREAM]  = "upstream error",
	[CP_ERR_DENIED]    = "denied by policy",
	[CP_ERR_INTERNAL]  = "internal error",
};

const char *
cp_status_str(enum cp_status rc)
{
	if ((unsigned)rc >= CP_STATUS_COUNT || names[rc] == NULL)
		return "unknown status";
	return names[rc];
}
