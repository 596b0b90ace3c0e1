/*
 * Fuzz target: opening sealed envelopes (state, codes, refresh tokens and
 * cookies all arrive from the network) and strict base64url decoding.
 * The first input byte picks the purpose; the rest is the envelope.  A
 * fixed key, so seeds sealed with it reach the AEAD itself.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

/* base64 of 32 bytes of 0x5a; seeds in tests/fuzz/corpus/seal/ use it. */
#define FUZZ_KEY "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n"
/* Seeds expire in 2100; opening happens "now" = 2030. */
#define FUZZ_NOW ((time_t)1893456000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cp_keys *keys;
	struct cp_buf plain, raw, again;
	uint8_t id[CP_SEAL_ID_LEN];
	time_t expires;
	char err[256];

	if (keys == NULL &&
	    cp_keys_parse("fuzz", FUZZ_KEY, strlen(FUZZ_KEY), &keys, err, sizeof(err)) != CP_OK)
		abort();
	if (size > 0) {
		cp_buf_init(&plain, CP_SEAL_MAX_PLAIN);
		(void)cp_open(keys, (enum cp_seal_purpose)data[0], (const char *)data + 1,
		    size - 1, FUZZ_NOW, &plain, id, &expires);
		cp_buf_wipe_free(&plain);
	}
	/* Decoding is canonical: whatever decodes must encode back to itself. */
	cp_buf_init(&raw, CP_SEAL_MAX_PLAIN);
	if (cp_b64url_decode((const char *)data, size, &raw) == CP_OK) {
		cp_buf_init(&again, 2 * CP_SEAL_MAX_PLAIN);
		if (cp_b64url_encode(raw.data, raw.len, &again) != CP_OK ||
		    again.len != size || (size && memcmp(again.data, data, size) != 0))
			abort();
		cp_buf_free(&again);
	}
	cp_buf_free(&raw);
	return 0;
}
