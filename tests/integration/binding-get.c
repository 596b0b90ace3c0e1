/*
 * binding-get CONF SESSION_URI: reads a session binding through the
 * store API, as /sessionbinding will, and prints what a test may see:
 *   {"user_id":"...","token_sha256":"<hex>","ttl":600,"consumed":false}
 * never the token itself.  Exit 0 when found, 1 when absent, 2 on error.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "binding.h"
#include "conf.h"

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_keys *keys = NULL;
	struct cp_binding_record b;
	unsigned char digest[32];
	char err[1024];
	int status = 2;
	size_t i;
	enum cp_status rc;

	memset(&b, 0, sizeof(b));
	if (argc != 3) {
		fprintf(stderr, "usage: binding-get CONF SESSION_URI\n");
		return 2;
	}
	if (cp_conf_load(argv[1], &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (cp_keys_load(cfg.key_file, &keys, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if ((rc = cp_store_open(&cfg, &st)) != CP_OK) {
		fprintf(stderr, "store: %s\n", cp_status_str(rc));
		goto out;
	}
	rc = cp_binding_get(st, keys, argv[2], time(NULL), &b);
	if (rc != CP_OK) {
		fprintf(stderr, "binding: %s\n", cp_status_str(rc));
		status = rc == CP_ERR_NOT_FOUND ? 1 : 2;
		goto out;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, b.token.data, b.token.len, digest) < 0)
		goto out;
	printf("{\"user_id\":\"%s\",\"token_sha256\":\"", b.user_id);
	for (i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf("\",\"ttl\":%lld,\"consumed\":%s}\n", (long long)(b.expires - b.created),
	    b.consumed ? "true" : "false");
	status = 0;
out:
	cp_binding_free(&b);
	cp_store_close(st);
	cp_keys_free(keys);
	cp_conf_free(&cfg);
	return status;
}
