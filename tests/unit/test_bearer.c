/*
 * The Authorization header syntax the MCP endpoint accepts (RFC 6750
 * section 2.1).  Verification itself is tested against the IdP stand-in
 * (tests/integration/relay.test) and in test_jwt.
 */
#include "config.h"

#include <string.h>

#include "bearer.h"
#include "../tap.h"

int
main(void)
{
	static const struct { const char *auth; enum cp_status want; const char *token; } cases[] = {
		{ "Bearer abc.def.ghi", CP_OK, "abc.def.ghi" },
		{ "bearer abc", CP_OK, "abc" },
		{ "BEARER a-b_c~d+e/f==", CP_OK, "a-b_c~d+e/f==" },
		{ "Bearer   abc", CP_OK, "abc" },
		{ NULL, CP_ERR_NOT_FOUND, NULL },
		{ "Basic Zm9vOmJhcg==", CP_ERR_NOT_FOUND, NULL },
		{ "Bearer", CP_ERR_NOT_FOUND, NULL },
		{ "Bearerabc", CP_ERR_NOT_FOUND, NULL },
		{ "Bearer ", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc def", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc ", CP_ERR_SYNTAX, NULL },
		{ "Bearer a=b", CP_ERR_SYNTAX, NULL },
		{ "Bearer =abc", CP_ERR_SYNTAX, NULL },
		{ "Bearer abc,def", CP_ERR_SYNTAX, NULL },
		{ "Bearer \"abc\"", CP_ERR_SYNTAX, NULL },
	};
	struct cp_str t;
	char got[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(cp_bearer_token(cases[i].auth, &t), cases[i].want, "\"%s\"",
		    cases[i].auth ? cases[i].auth : "(no header)");
		if (cases[i].want == CP_OK) {
			snprintf(got, sizeof(got), "%.*s", (int)t.len, t.ptr);
			is_str(got, cases[i].token, "  token");
		}
	}
	return tap_done();
}
