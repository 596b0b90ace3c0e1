/*
 * Request parameters declared with their validators, the kcgi way: an
 * endpoint lists what it reads (name, required, longest value, check,
 * and the OAuth error and sentence for a missing or refused value) and
 * cp_params_check walks the list in order, so the first failure is
 * answered and the list is the documentation.  form.h has already
 * refused duplicates, bad encoding and control bytes.
 */
#ifndef CP_PARAMS_H
#define CP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "form.h"

struct cp_param_spec {
	const char *name;
	bool required;
	size_t max;                 /* longest accepted value; 0: form.h's cap */
	/* NULL: any value; else true when value (never NULL) is accepted. */
	bool (*ok)(const struct cp_config *cfg, const char *value);
	const char *error_missing;  /* OAuth error code when required and absent */
	const char *why_missing;    /* NULL: "the <name> parameter is required" */
	const char *error_bad;      /* ... when too long or refused by ok */
	const char *why_bad;
};

/* What cp_params_check found wrong: the parameter and which way. */
struct cp_param_fault {
	const struct cp_param_spec *param;   /* NULL when every parameter passed */
	bool missing;
};

/* Checks f against params[0..n) in order and stops at the first fault.
 * True when all passed; otherwise *fault says which (cp_param_error and
 * cp_param_why give the answer). */
bool cp_params_check(const struct cp_param_spec *params, size_t n,
    const struct cp_config *cfg, const struct cp_form *f,
    struct cp_param_fault *fault);

/* The OAuth error code and the sentence for fault; why may be built in
 * buf (of size len). */
const char *cp_param_error(const struct cp_param_fault *fault);
const char *cp_param_why(const struct cp_param_fault *fault, char *buf, size_t len);

#endif
