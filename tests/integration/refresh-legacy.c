/*
 * refresh-legacy CONF REFRESH_TOKEN: prints the same refresh envelope as
 * the code before issue 11 sealed it, without the granted scope, same
 * expiry, so a test can check that such envelopes still work.  Exit 0
 * on success, 1 when the envelope does not open, 2 on other errors.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "login.h"

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_login lg;
	struct cp_buf out;
	json_object *env = NULL;
	time_t expires;
	char err[1024];
	int status = 2;

	memset(&lg, 0, sizeof(lg));
	cp_buf_init(&out, CP_SEAL_MAX_PLAIN * 2);
	if (argc != 3) {
		fprintf(stderr, "usage: refresh-legacy CONF REFRESH_TOKEN\n");
		return 2;
	}
	if (cp_conf_load(argv[1], &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	lg.cfg = &cfg;
	if (cp_keys_load(cfg.key_file, &lg.keys, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (cp_login_open(&lg, CP_SEAL_REFRESH, argv[2], time(NULL), &env, NULL,
	    &expires) != CP_OK) {
		fprintf(stderr, "refresh-legacy: the envelope does not open\n");
		status = 1;
		goto out;
	}
	json_object_object_del(env, "scope");
	if (cp_login_seal(&lg, CP_SEAL_REFRESH, env, expires, &out, NULL) != CP_OK)
		goto out;
	printf("%s\n", cp_buf_cstr(&out));
	status = 0;
out:
	json_object_put(env);
	cp_buf_wipe_free(&out);
	cp_keys_free(lg.keys);
	cp_conf_free(&cfg);
	return status;
}
