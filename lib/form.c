#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "form.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into a new string of at most max bytes. */
static enum cp_status
decode(const char *s, size_t len, size_t max, char **out, size_t *outlen)
{
	char *d;
	size_t i, k = 0;
	int hi, lo;
	unsigned char c;

	*out = NULL;
	if (len > 3 * max)
		return CP_ERR_LIMIT;
	if ((d = malloc(len + 1)) == NULL)
		return CP_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0) {
				free(d);
				return CP_ERR_SYNTAX;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+')
			c = ' ';
		else if (c <= 0x20 || c >= 0x7f) {
			/* Raw bytes must already be encoded. */
			free(d);
			return CP_ERR_SYNTAX;
		}
		if (c < 0x20 || c == 0x7f) {
			free(d);
			return CP_ERR_SYNTAX;
		}
		if (k == max) {
			free(d);
			return CP_ERR_LIMIT;
		}
		d[k++] = (char)c;
	}
	d[k] = '\0';
	*out = d;
	*outlen = k;
	return CP_OK;
}

void
cp_form_free(struct cp_form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->p[i].name);
		free(f->p[i].value);
	}
	f->n = 0;
}

enum cp_status
cp_form_parse(const char *s, size_t len, struct cp_form *f)
{
	enum cp_status rc = CP_OK;
	const char *pair = s, *end = s + len;
	size_t i, namelen;

	f->n = 0;
	while (pair < end) {
		const char *amp = memchr(pair, '&', (size_t)(end - pair));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(pair, '=', (size_t)(pe - pair));
		const char *ne = eq ? eq : pe;
		struct cp_param *p;

		if (pe == pair) {       /* "a=1&&b=2": an empty pair means nothing */
			pair = pe + 1;
			continue;
		}
		if (ne == pair) {
			rc = CP_ERR_SYNTAX;
			goto out;
		}
		if (f->n == CP_MAX_PARAMS) {
			rc = CP_ERR_LIMIT;
			goto out;
		}
		p = &f->p[f->n];
		if ((rc = decode(pair, (size_t)(ne - pair), CP_MAX_PARAM_NAME,
		    &p->name, &namelen)) != CP_OK)
			goto out;
		if ((rc = decode(eq ? eq + 1 : pe, eq ? (size_t)(pe - eq - 1) : 0,
		    CP_MAX_PARAM_VALUE, &p->value, &p->value_len)) != CP_OK) {
			free(p->name);
			goto out;
		}
		f->n++;
		if (strlen(p->name) != namelen) {
			rc = CP_ERR_SYNTAX;
			goto out;
		}
		for (i = 0; i + 1 < f->n; i++)
			if (strcmp(f->p[i].name, p->name) == 0) {
				rc = CP_ERR_DUPLICATE;
				goto out;
			}
		pair = amp ? amp + 1 : end;
	}
out:
	if (rc != CP_OK)
		cp_form_free(f);
	return rc;
}

const char *
cp_form_get(const struct cp_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0)
			return f->p[i].value_len ? f->p[i].value : NULL;
	return NULL;
}

int
cp_form_has(const struct cp_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0)
			return 1;
	return 0;
}

enum cp_status
cp_cookie_get(const char *header, const char *name, struct cp_str *value)
{
	size_t hlen, nlen = strlen(name);
	const char *p, *end;
	int found = 0;

	value->ptr = "";
	value->len = 0;
	if (header == NULL)
		return CP_ERR_NOT_FOUND;
	if ((hlen = strlen(header)) > CP_MAX_COOKIE)
		return CP_ERR_LIMIT;
	p = header;
	end = header + hlen;
	/* RFC 6265 section 5.4: pairs separated by "; ". */
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *pe = semi ? semi : end;
		const char *eq;

		while (p < pe && *p == ' ')
			p++;
		eq = memchr(p, '=', (size_t)(pe - p));
		if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
			if (found++)
				return CP_ERR_DUPLICATE;
			value->ptr = eq + 1;
			value->len = (size_t)(pe - eq - 1);
			while (value->len && value->ptr[value->len - 1] == ' ')
				value->len--;
		}
		p = semi ? semi + 1 : end;
	}
	return found ? CP_OK : CP_ERR_NOT_FOUND;
}

enum cp_status
cp_form_encode(struct cp_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	enum cp_status rc = CP_OK;
	size_t i;

	for (i = 0; i < len && rc == CP_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			rc = cp_buf_addc(b, (char)c);
		else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			rc = cp_buf_add(b, e, 3);
		}
	}
	return rc;
}

enum cp_status
cp_form_add(struct cp_buf *form, const char *name, const char *value)
{
	enum cp_status rc;

	if (value == NULL)
		return CP_OK;
	if (form->len > 0 && (rc = cp_buf_addc(form, '&')) != CP_OK)
		return rc;
	if ((rc = cp_buf_adds(form, name)) != CP_OK ||
	    (rc = cp_buf_addc(form, '=')) != CP_OK)
		return rc;
	return cp_form_encode(form, value, strlen(value));
}
