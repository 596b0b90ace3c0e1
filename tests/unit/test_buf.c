#include "config.h"

#include <stdlib.h>

#include "buf.h"
#include "../tap.h"

int
main(void)
{
	struct cp_buf b;
	char *s;

	cp_buf_init(&b, 8);
	ok(cp_buf_adds(&b, "abcd") == CP_OK, "append within cap");
	is_str(cp_buf_cstr(&b), "abcd", "contents NUL-terminated");
	ok(cp_buf_add(&b, "efgh", 4) == CP_OK, "append exactly to cap");
	is_int(b.len, 8, "length at cap");
	is_int(cp_buf_addc(&b, 'x'), CP_ERR_LIMIT, "one byte past the cap is refused");
	ok(b.data == NULL && b.len == 0, "a refused append frees the buffer");

	cp_buf_init(&b, 1000);
	ok(cp_buf_printf(&b, "%s-%d", "n", 42) == CP_OK, "printf append");
	is_str(cp_buf_cstr(&b), "n-42", "printf contents");
	cp_buf_reset(&b);
	ok(cp_buf_printf(&b, "%0400d", 7) == CP_OK && b.len == 400,
	    "printf longer than the small stack buffer");
	s = cp_buf_steal(&b);
	ok(s && b.data == NULL && s[399] == '7', "steal hands over the bytes");
	free(s);

	cp_buf_init(&b, 10);
	is_int(cp_buf_printf(&b, "%050d", 1), CP_ERR_LIMIT, "printf past cap refused");
	is_str(cp_buf_cstr(&b), "", "empty buffer reads as empty string");

	ok(cp_secret_eq("abc", 3, "abc", 3), "secret_eq equal");
	ok(!cp_secret_eq("abc", 3, "abd", 3), "secret_eq differs in last byte");
	ok(!cp_secret_eq("abc", 3, "abcd", 4), "secret_eq differs in length");
	ok(cp_secret_eq("", 0, "", 0), "secret_eq empty");

	{
		char hex[9] = "xxxxxxxx";

		cp_hex("\x00\x9f\xa0\xff", 4, hex);
		is_str(hex, "009fa0ff", "hex: every nibble, lower case");
		cp_hex("", 0, hex);
		is_str(hex, "", "hex of nothing is empty");
	}

	ok(cp_str_eq_c(CP_STR("x"), "x") && !cp_str_eq_c(CP_STR("x"), "xy"), "str_eq");
	ok(cp_str_has_prefix(CP_STR("/register"), "/reg") &&
	    !cp_str_has_prefix(CP_STR("/r"), "/reg"), "has_prefix");
	/* RFC 3629 section 4, the table of well-formed sequences. */
	is_int((int)cp_utf8_len("a", 1), 1, "utf8: ASCII is one byte");
	is_int((int)cp_utf8_len("\xc3\xa9", 2), 2, "utf8: two bytes");
	is_int((int)cp_utf8_len("\xe2\x82\xac", 3), 3, "utf8: three bytes");
	is_int((int)cp_utf8_len("\xf4\x8f\xbf\xbf", 4), 4, "utf8: U+10FFFF, four bytes");
	is_int((int)cp_utf8_len("\xc0\x80", 2), 0, "utf8: overlong two-byte form refused");
	is_int((int)cp_utf8_len("\xe0\x9f\xbf", 3), 0, "utf8: overlong three-byte form refused");
	is_int((int)cp_utf8_len("\xf0\x8f\xbf\xbf", 4), 0, "utf8: overlong four-byte form refused");
	is_int((int)cp_utf8_len("\xed\xa0\x80", 3), 0, "utf8: a surrogate refused");
	is_int((int)cp_utf8_len("\xf4\x90\x80\x80", 4), 0, "utf8: past U+10FFFF refused");
	is_int((int)cp_utf8_len("\xe2\x82", 2), 0, "utf8: cut short refused");
	is_int((int)cp_utf8_len("\xe2\x28\xac", 3), 0, "utf8: a bad continuation byte refused");
	is_int((int)cp_utf8_len("\x80", 1), 0, "utf8: a lone continuation byte refused");
	ok(cp_utf8_valid("a\xc3\xa9\xe2\x82\xac", 6) && cp_utf8_valid("", 0),
	    "utf8_valid: mixed text, and nothing");
	ok(!cp_utf8_valid("ab\xc3", 3), "utf8_valid: a character cut at the end refused");
	ok(cp_field_value_ok("a b\tc~", 6) && cp_field_value_ok("", 0),
	    "field value: visible ASCII, space, tab");
	ok(!cp_field_value_ok("a\r\nb", 4) && !cp_field_value_ok("a\x7f", 2) &&
	    !cp_field_value_ok("\xc3\xa9", 2) && !cp_field_value_ok("a\0b", 3),
	    "field value: CR, LF, DEL, obs-text and NUL refused");
	return tap_done();
}
