#include "config.h"

#include <stdio.h>
#include <string.h>

#include "params.h"

bool
cp_params_check(const struct cp_param_spec *params, size_t n,
    const struct cp_config *cfg, const struct cp_form *f,
    struct cp_param_fault *fault)
{
	const char *v;
	size_t i;

	memset(fault, 0, sizeof(*fault));
	for (i = 0; i < n; i++) {
		v = cp_form_get(f, params[i].name);
		if (v == NULL && params[i].required) {
			fault->param = &params[i];
			fault->missing = true;
			return false;
		}
		if (v != NULL && ((params[i].max > 0 && strlen(v) > params[i].max) ||
		    (params[i].ok != NULL && !params[i].ok(cfg, v)))) {
			fault->param = &params[i];
			return false;
		}
	}
	return true;
}

const char *
cp_param_error(const struct cp_param_fault *fault)
{
	return fault->missing ? fault->param->error_missing : fault->param->error_bad;
}

const char *
cp_param_why(const struct cp_param_fault *fault, char *buf, size_t len)
{
	if (!fault->missing)
		return fault->param->why_bad;
	if (fault->param->why_missing != NULL)
		return fault->param->why_missing;
	snprintf(buf, len, "the %s parameter is required", fault->param->name);
	return buf;
}
