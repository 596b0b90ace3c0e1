/*
 * Fuzz target: the URL-elicitation scanner over relayed MCP responses
 * (hostile upstream bytes).  The first byte picks the framing and the
 * second seeds the chunk sizes, so the same body is also fed split at
 * arbitrary points; the rest is the body.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elicit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
found(void *arg, const struct cp_elicitation *e)
{
	size_t *n = arg;

	/* Touch every field: they must be valid strings. */
	*n += strlen(e->session_uri) + strlen(e->elicitation_id) + strlen(e->url);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_elicit s;
	struct cp_buf uri;
	uint32_t seed;
	size_t off = 2, n, sum = 0;
	char *str;

	if (size < 2)
		return 0;
	seed = data[1] | 1u;
	cp_elicit_init(&s, (data[0] & 1) ? CP_ELICIT_SSE : CP_ELICIT_JSON, found, &sum);
	while (off < size) {
		seed = seed * 1103515245u + 12345u;
		n = data[0] & 2 ? size - off : 1 + (seed >> 16) % 97;
		if (n > size - off)
			n = size - off;
		cp_elicit_feed(&s, data + off, n);
		if (s.msg.len > CP_ELICIT_MAX_MESSAGE)
			abort();
		off += n;
	}
	cp_elicit_end(&s);
	cp_elicit_free(&s);
	if ((data[0] & 4) && (str = malloc(size - 1)) != NULL) {
		memcpy(str, data + 2, size - 2);
		str[size - 2] = '\0';
		cp_buf_init(&uri, CP_ELICIT_MAX_SESSION_URI);
		(void)cp_elicit_session_uri(str, &uri);
		cp_buf_free(&uri);
		free(str);
	}
	return 0;
}
