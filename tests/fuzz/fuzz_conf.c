/* Fuzz target: the configuration parser (and the URL checks under it). */
#include "config.h"

#include <stdint.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_config cfg;
	char err[256];

	if (cp_conf_parse("fuzz", (const char *)data, size, &cfg, err, sizeof(err)) == CP_OK)
		cp_conf_free(&cfg);
	return 0;
}
