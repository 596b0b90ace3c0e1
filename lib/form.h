/*
 * application/x-www-form-urlencoded parsing for query strings and POST
 * bodies, and Cookie header parsing.  Strict: bad percent-encoding, a
 * decoded control byte or NUL, an over-long name or value, too many
 * pairs, or a repeated name (RFC 6749 section 3.1) refuses the whole
 * input; nothing is repaired.
 */
#ifndef CP_FORM_H
#define CP_FORM_H

#include <stddef.h>

#include "buf.h"
#include "limits.h"
#include "status.h"

struct cp_param {
	char *name;
	char *value;        /* decoded, NUL-terminated */
	size_t value_len;
};

struct cp_form {
	struct cp_param p[CP_MAX_PARAMS];
	size_t n;
};

/* Parses s[0..len) into f (which it first empties).  On failure f is
 * empty and the status says why: CP_ERR_SYNTAX, CP_ERR_LIMIT,
 * CP_ERR_DUPLICATE or CP_ERR_NOMEM.  Caller frees f with cp_form_free. */
enum cp_status cp_form_parse(const char *s, size_t len, struct cp_form *f);
void cp_form_free(struct cp_form *f);

/* The value of name, or NULL when absent or empty (an empty value counts
 * as absent, RFC 6749 section 3.1).  Owned by f. */
const char *cp_form_get(const struct cp_form *f, const char *name);
/* True when name is present, even with an empty value. */
int cp_form_has(const struct cp_form *f, const char *name);

/* Finds cookie name in a Cookie header value.  CP_ERR_NOT_FOUND when
 * absent, CP_ERR_DUPLICATE when sent twice (cookie tossing), CP_ERR_LIMIT
 * or CP_ERR_SYNTAX for a header we refuse to read.  *value views header. */
enum cp_status cp_cookie_get(const char *header, const char *name,
    struct cp_str *value);

/* Appends s percent-encoded for a query component (unreserved kept). */
enum cp_status cp_form_encode(struct cp_buf *b, const char *s, size_t len);

/* Appends "&name=value" to a form body (no '&' when it is empty), value
 * encoded; a NULL value adds nothing.  name is sent as it is. */
enum cp_status cp_form_add(struct cp_buf *form, const char *name, const char *value);

#endif
