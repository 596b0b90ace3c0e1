#include "config.h"

#include <stdio.h>

#include "cimd.h"
#include "cimd_page.h"
#include "response.h"

#define PAGE_TEXT_MAX   1024

enum cp_status
cp_cimd_failure_page(struct cp_req *req, enum cp_status rc, const char *why)
{
	char text[PAGE_TEXT_MAX], retry[16];
	enum cp_status hrc;

	if (!cp_cimd_failure_transient(rc))
		return cp_resp_page(req, 400, "This application cannot sign in here", why);
	/* RFC 9110 10.2.3: a 503 may say when to come back. */
	snprintf(retry, sizeof(retry), "%d", CP_CIMD_RETRY_AFTER);
	if ((hrc = cp_resp_header(req, "Retry-After", retry)) != CP_OK)
		return hrc;
	snprintf(text, sizeof(text), "%s The application's server did not answer, so "
	    "this server cannot check who the application is. This is usually "
	    "temporary: try again in a minute.", why);
	return cp_resp_page(req, 503, "The application's server did not answer", text);
}
