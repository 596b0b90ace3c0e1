/*
 * binding-age CONF SESSION_URI SECONDS: makes a stored session binding
 * SECONDS older (its "created" and "expires" moved back; user, sealed
 * token and consumed flag untouched), so a test can make a real binding
 * expire without waiting CP_BINDING_TTL.  It edits the record format
 * binding.h documents, through the store API, and keeps the record in
 * the store for CP_BINDING_GRACE past its new expiry as the relay does.
 * Exit 0 when rewritten, 1 when there is no such binding, 2 on error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "binding.h"
#include "conf.h"

/* Moves the int member key of o back by age; false if it is not there. */
static bool
move_back(json_object *o, const char *key, long age, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v) - age;
	return json_object_set_int64(v, *out) == 1;
}

int
main(int argc, char **argv)
{
	struct cp_config cfg;
	struct cp_store *st = NULL;
	struct cp_buf raw;
	json_object *root = NULL;
	const char *text;
	char err[1024], *end;
	int status = 2;
	int64_t created, expires;
	long age;
	enum cp_status rc;

	cp_buf_init(&raw, CP_BINDING_MAX_RECORD);
	if (argc != 4) {
		fprintf(stderr, "usage: binding-age CONF SESSION_URI SECONDS\n");
		return 2;
	}
	errno = 0;
	age = strtol(argv[3], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[3] || age < 0 ||
	    age >= CP_BINDING_TTL + CP_BINDING_GRACE) {
		fprintf(stderr, "binding-age: SECONDS must be 0..%d\n",
		    CP_BINDING_TTL + CP_BINDING_GRACE - 1);
		return 2;
	}
	if (cp_conf_load(argv[1], &cfg, err, sizeof(err)) != CP_OK) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if ((rc = cp_store_open(&cfg, &st)) != CP_OK) {
		fprintf(stderr, "store: %s\n", cp_status_str(rc));
		goto out;
	}
	rc = cp_store_get(st, CP_NS_BINDING, argv[2], strlen(argv[2]), &raw, NULL);
	if (rc != CP_OK) {
		fprintf(stderr, "binding: %s\n", cp_status_str(rc));
		status = rc == CP_ERR_NOT_FOUND ? 1 : 2;
		goto out;
	}
	root = json_tokener_parse(cp_buf_cstr(&raw));
	if (root == NULL || !move_back(root, "created", age, &created) ||
	    !move_back(root, "expires", age, &expires)) {
		fprintf(stderr, "binding-age: not a binding record\n");
		goto out;
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	rc = cp_store_put(st, CP_NS_BINDING, argv[2], strlen(argv[2]), text, strlen(text),
	    (time_t)expires + CP_BINDING_GRACE);
	if (rc != CP_OK) {
		fprintf(stderr, "store: %s\n", cp_status_str(rc));
		goto out;
	}
	status = 0;
out:
	json_object_put(root);
	cp_buf_free(&raw);
	cp_store_close(st);
	cp_conf_free(&cfg);
	return status;
}
