/* Fuzz target: client document validation (a body from any host). */
#include "config.h"

#include <stdint.h>

#include "cimd.h"
#include "redirect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_cimd_doc doc;

	if (cp_cimd_validate("https://client.example/doc.json", (const char *)data,
	    size, &doc, NULL) == CP_OK) {
		(void)cp_cimd_display_name(&doc);
		(void)cp_redirect_uri_match(&doc, "http://127.0.0.1:51763/callback");
		(void)cp_redirect_uri_match(&doc, "http://localhost:8080/callback");
	}
	cp_cimd_doc_free(&doc);
	return 0;
}
