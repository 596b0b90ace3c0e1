/*
 * jwt_tool: the IdP and JWT modules from the command line, for the
 * integration tests (tests/integration/idp.test).  Reads the config
 * $CIMD_PROXY_CONF names and uses its store unless --no-store is given.
 *
 *   jwt_tool [--no-store] discover             the endpoints, one per line
 *   jwt_tool [--no-store] jwks [refresh]       the kids, one per line
 *   jwt_tool [--no-store] verify TOKEN [AUD|-] [NONCE]
 *                                              the claims as JSON
 *   jwt_tool age-jwks                          forget when the JWKS was
 *                                              last fetched and last failed,
 *                                              as if CP_IDP_JWKS_MIN_REFETCH
 *                                              and CP_IDP_JWKS_FAILED_RETRY
 *                                              passed
 *
 * Failure: "error: <status>" on stdout, exit 1.  Log lines (level
 * debug: one "idp: fetching" per outbound fetch) go to stderr.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "idp.h"
#include "jwt.h"
#include "log.h"
#include "store.h"

static int
fail(enum cp_status rc)
{
	printf("error: %s\n", cp_status_str(rc));
	return 1;
}

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_idp idp;
	struct cp_jwt_expect expect;
	json_object *jwks = NULL, *claims = NULL, *keys, *kid;
	enum cp_status rc;
	char err[512];
	int i = 1, status = 2;
	size_t k, n;

	cp_log_init("jwt_tool");
	cp_log_set_level(CP_LOG_DEBUG);
	memset(&idp, 0, sizeof(idp));
	if (cp_conf_load(cp_conf_path(), &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "jwt_tool: %s\n", err);
		return 2;
	}
	if (i < argc && strcmp(argv[i], "--no-store") == 0)
		i++;
	else if ((rc = cp_store_open(&cfg, &st)) != CP_OK) {
		status = fail(rc);
		goto out;
	}
	if (i >= argc)
		goto usage;
	if ((rc = cp_idp_discover(&cfg, st, &idp)) != CP_OK) {
		status = fail(rc);
		goto out;
	}
	if (strcmp(argv[i], "discover") == 0 && i + 1 == argc) {
		printf("issuer %s\nauthorization_endpoint %s\ntoken_endpoint %s\n"
		    "jwks_uri %s\niss_parameter_supported %d\n", idp.issuer,
		    idp.authorization_endpoint, idp.token_endpoint, idp.jwks_uri,
		    idp.iss_parameter_supported);
		status = 0;
	} else if (strcmp(argv[i], "age-jwks") == 0 && i + 1 == argc && st != NULL) {
		/* The records idp.c keeps (its key formats, "jwks-fetched "
		 * and "jwks-failed " + jwks_uri): a test must not wait. */
		static const char *const stamps[] = { "jwks-fetched", "jwks-failed" };
		char key[CP_STORE_MAX_KEY];
		int klen;

		for (k = 0; k < 2; k++) {
			klen = snprintf(key, sizeof(key), "%s %s", stamps[k], idp.jwks_uri);
			rc = cp_store_del(st, CP_NS_IDP, key, (size_t)klen);
			if (rc != CP_OK && rc != CP_ERR_NOT_FOUND) {
				status = fail(rc);
				goto out;
			}
		}
		status = 0;
	} else if (strcmp(argv[i], "jwks") == 0 && i + 2 >= argc) {
		rc = cp_idp_jwks(&cfg, st, &idp, i + 1 < argc &&
		    strcmp(argv[i + 1], "refresh") == 0, &jwks);
		if (rc != CP_OK) {
			status = fail(rc);
			goto out;
		}
		json_object_object_get_ex(jwks, "keys", &keys);
		n = json_object_array_length(keys);
		for (k = 0; k < n; k++)
			if (json_object_object_get_ex(json_object_array_get_idx(keys, k),
			    "kid", &kid))
				printf("%s\n", json_object_get_string(kid));
		status = 0;
	} else if (strcmp(argv[i], "verify") == 0 && i + 2 <= argc && i + 4 >= argc) {
		memset(&expect, 0, sizeof(expect));
		expect.issuer = cfg.idp_issuer;
		expect.audience = cfg.idp_audience;
		expect.any_audience = cfg.idp_audience_any;
		if (i + 2 < argc) {
			expect.any_audience = strcmp(argv[i + 2], "-") == 0;
			expect.audience = argv[i + 2];
		}
		if (i + 3 < argc)
			expect.nonce = argv[i + 3];
		rc = cp_jwt_verify(&cfg, st, &idp, argv[i + 1], strlen(argv[i + 1]),
		    &expect, &claims);
		if (rc != CP_OK) {
			status = fail(rc);
			goto out;
		}
		printf("%s\n", json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
		status = 0;
	} else {
		goto usage;
	}
	goto out;
usage:
	fprintf(stderr, "usage: jwt_tool [--no-store] discover | jwks [refresh] | "
	    "verify TOKEN [AUDIENCE|-] [NONCE] | age-jwks\n");
out:
	json_object_put(jwks);
	json_object_put(claims);
	cp_idp_free(&idp);
	if (st != NULL)
		cp_store_close(st);
	cp_conf_free(&cfg);
	return status;
}
