#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "buf.h"

struct cp_str
cp_str_c(const char *s)
{
	struct cp_str v = { s ? s : "", s ? strlen(s) : 0 };
	return v;
}

bool
cp_str_eq(struct cp_str a, struct cp_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool
cp_str_eq_c(struct cp_str a, const char *b)
{
	return cp_str_eq(a, cp_str_c(b));
}

bool
cp_str_has_prefix(struct cp_str s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

size_t
cp_utf8_len(const void *s, size_t n)
{
	const unsigned char *p = s;
	unsigned long cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

bool
cp_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = cp_utf8_len(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

bool
cp_field_value_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

bool
cp_secret_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i, n = alen < blen ? alen : blen;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0 && alen == blen;
}

void
cp_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
cp_buf_init(struct cp_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

enum cp_status
cp_buf_add(struct cp_buf *b, const void *p, size_t n)
{
	size_t need, cap;
	char *d;

	if (n > b->max || b->len > b->max - n) {
		cp_buf_free(b);
		return CP_ERR_LIMIT;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if ((d = realloc(b->data, cap)) == NULL) {
			cp_buf_free(b);
			return CP_ERR_NOMEM;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CP_OK;
}

enum cp_status
cp_buf_adds(struct cp_buf *b, const char *s)
{
	return cp_buf_add(b, s, strlen(s));
}

enum cp_status
cp_buf_addc(struct cp_buf *b, char c)
{
	return cp_buf_add(b, &c, 1);
}

enum cp_status
cp_buf_printf(struct cp_buf *b, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n;
	enum cp_status rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		cp_buf_free(b);
		return CP_ERR_INTERNAL;
	}
	if ((size_t)n < sizeof(small))
		return cp_buf_add(b, small, (size_t)n);
	if ((size_t)n > b->max) {
		cp_buf_free(b);
		return CP_ERR_LIMIT;
	}
	if ((big = malloc((size_t)n + 1)) == NULL) {
		cp_buf_free(b);
		return CP_ERR_NOMEM;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = cp_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

const char *
cp_buf_cstr(const struct cp_buf *b)
{
	return b->data ? b->data : "";
}

struct cp_str
cp_buf_str(const struct cp_buf *b)
{
	struct cp_str v = { cp_buf_cstr(b), b->len };
	return v;
}

char *
cp_buf_steal(struct cp_buf *b)
{
	char *d = b->data;

	if (d == NULL)
		d = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void
cp_buf_reset(struct cp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
cp_buf_free(struct cp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
cp_buf_wipe_free(struct cp_buf *b)
{
	if (b->data)
		gnutls_memset(b->data, 0, b->cap);
	cp_buf_free(b);
}

char *
cp_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
