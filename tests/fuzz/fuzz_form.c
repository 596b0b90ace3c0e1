/* Fuzz target: query/form and Cookie parsing (hostile network input). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_form f;
	struct cp_str v;
	char *s;

	if (cp_form_parse((const char *)data, size, &f) == CP_OK) {
		(void)cp_form_get(&f, "client_id");
		cp_form_free(&f);
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)cp_cookie_get(s, "__Host-cimd", &v);
	free(s);
	return 0;
}
