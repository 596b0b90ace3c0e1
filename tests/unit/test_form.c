#include "config.h"

#include <string.h>

#include "form.h"
#include "../tap.h"

struct form_case {
	const char *in;
	enum cp_status want;
	const char *name;       /* a parameter to look up on success */
	const char *value;      /* expected cp_form_get result */
};

static const struct form_case cases[] = {
	{ "a=1&b=2", CP_OK, "b", "2" },
	{ "", CP_OK, "a", NULL },
	{ "a=", CP_OK, "a", NULL },                     /* empty = absent */
	{ "a", CP_OK, "a", NULL },
	{ "a=1&&b=2", CP_OK, "b", "2" },
	{ "q=a+b%20c", CP_OK, "q", "a b c" },
	{ "redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb", CP_OK, "redirect_uri", "http://127.0.0.1:9/cb" },
	{ "u=%C3%A9", CP_OK, "u", "\xc3\xa9" },          /* UTF-8 passes */
	{ "a=1&a=2", CP_ERR_DUPLICATE, NULL, NULL },     /* RFC 6749 3.1 */
	{ "a=1&a=", CP_ERR_DUPLICATE, NULL, NULL },
	{ "a=%", CP_ERR_SYNTAX, NULL, NULL },
	{ "a=%4", CP_ERR_SYNTAX, NULL, NULL },
	{ "a=%zz", CP_ERR_SYNTAX, NULL, NULL },
	{ "a=%00", CP_ERR_SYNTAX, NULL, NULL },          /* NUL */
	{ "a=%0a", CP_ERR_SYNTAX, NULL, NULL },          /* control byte */
	{ "a=%7F", CP_ERR_SYNTAX, NULL, NULL },
	{ "a=b c", CP_ERR_SYNTAX, NULL, NULL },          /* raw space */
	{ "a=\x01", CP_ERR_SYNTAX, NULL, NULL },
	{ "a=\xc3\xa9", CP_ERR_SYNTAX, NULL, NULL },      /* raw non-ASCII */
	{ "=x", CP_ERR_SYNTAX, NULL, NULL },
	{ "%61=1&a=2", CP_ERR_DUPLICATE, NULL, NULL },   /* decoded names compare */
};

int
main(void)
{
	struct cp_form f;
	struct cp_str v;
	char big[CP_MAX_PARAM_VALUE + 16];
	size_t i;
	enum cp_status rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = cp_form_parse(cases[i].in, strlen(cases[i].in), &f);
		is_int(rc, cases[i].want, "parse \"%s\" -> %s", cases[i].in,
		    cp_status_str(cases[i].want));
		if (rc == CP_OK && cases[i].name)
			is_str(cp_form_get(&f, cases[i].name), cases[i].value,
			    "  %s of \"%s\"", cases[i].name, cases[i].in);
		if (rc != CP_OK)
			ok(f.n == 0, "  nothing kept from \"%s\"", cases[i].in);
		cp_form_free(&f);
	}

	/* Over-long values and too many pairs are refused, not truncated. */
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', CP_MAX_PARAM_VALUE + 1);
	big[CP_MAX_PARAM_VALUE + 3] = '\0';
	is_int(cp_form_parse(big, strlen(big), &f), CP_ERR_LIMIT, "value over the limit");
	big[CP_MAX_PARAM_VALUE + 2] = '\0';
	is_int(cp_form_parse(big, strlen(big), &f), CP_OK, "value at the limit");
	cp_form_free(&f);
	{
		char many[CP_MAX_PARAMS * 8 + 16] = "";
		size_t n = 0;
		for (i = 0; i <= CP_MAX_PARAMS; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "p%zu=1&", i);
		is_int(cp_form_parse(many, n, &f), CP_ERR_LIMIT, "too many pairs");
	}
	/* The length argument is honoured: no read past it. */
	is_int(cp_form_parse("a=1&a=2", 3, &f), CP_OK, "length bounds the input");
	cp_form_free(&f);

	/* Cookies. */
	is_int(cp_cookie_get("a=1; __Host-s=xyz; b=2", "__Host-s", &v), CP_OK, "cookie found");
	ok(v.len == 3 && memcmp(v.ptr, "xyz", 3) == 0, "cookie value");
	is_int(cp_cookie_get("a=1", "__Host-s", &v), CP_ERR_NOT_FOUND, "cookie absent");
	is_int(cp_cookie_get(NULL, "x", &v), CP_ERR_NOT_FOUND, "no cookie header");
	is_int(cp_cookie_get("x=1; x=2", "x", &v), CP_ERR_DUPLICATE, "cookie tossing refused");
	is_int(cp_cookie_get("xx=1", "x", &v), CP_ERR_NOT_FOUND, "no prefix match");

	{
		struct cp_buf b;
		cp_buf_init(&b, 100);
		ok(cp_form_encode(&b, "a b/é~", strlen("a b/é~")) == CP_OK, "encode");
		is_str(cp_buf_cstr(&b), "a%20b%2F%C3%A9~", "encode keeps unreserved only");
		cp_buf_free(&b);
	}
	return tap_done();
}
