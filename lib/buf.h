/*
 * Length-carrying strings and capped, growable buffers.
 *
 * A cp_str is a borrowed view: it owns nothing.  A cp_buf owns its bytes,
 * keeps them NUL-terminated for convenience, and refuses to grow past the
 * maximum it was created with; a refused append frees the buffer so a
 * half-built value can never be used by mistake.
 */
#ifndef CP_BUF_H
#define CP_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

struct cp_str {
	const char *ptr;
	size_t len;
};

#define CP_STR(lit) ((struct cp_str){ (lit), sizeof(lit) - 1 })

/* A view of NUL-terminated s; s == NULL gives the empty view. */
struct cp_str cp_str_c(const char *s);
/* Exact byte equality; not for secrets (use cp_secret_eq). */
bool cp_str_eq(struct cp_str a, struct cp_str b);
bool cp_str_eq_c(struct cp_str a, const char *b);
bool cp_str_has_prefix(struct cp_str s, const char *prefix);

/* The length of the UTF-8 character at s[0..n), n > 0, or 0 when it is
 * not one (RFC 3629 section 4: shortest form only, no surrogates, nothing
 * past U+10FFFF). */
size_t cp_utf8_len(const void *s, size_t n);
/* True when s[0..n) is UTF-8 by the rules of cp_utf8_len. */
bool cp_utf8_valid(const void *s, size_t n);
/* True when p[0..n) holds only RFC 9110 section 5.5 field-value
 * characters without obs-text: visible ASCII, space and tab. */
bool cp_field_value_ok(const char *p, size_t n);

/* Constant-time equality for MACs, subjects and other secrets: the time
 * depends only on the lengths, never on where the bytes differ. */
bool cp_secret_eq(const void *a, size_t alen, const void *b, size_t blen);

/* Writes the n bytes of in as 2n lower-case hex digits and a NUL into
 * out, which the caller sizes 2n + 1. */
void cp_hex(const void *in, size_t n, char *out);

struct cp_buf {
	char *data;     /* NUL-terminated while len > 0 or after any append */
	size_t len;
	size_t cap;
	size_t max;     /* hard limit on len */
};

/* Prepares an empty buffer that may hold at most max bytes. */
void cp_buf_init(struct cp_buf *b, size_t max);
/* Appends n bytes.  CP_ERR_LIMIT or CP_ERR_NOMEM frees the buffer. */
enum cp_status cp_buf_add(struct cp_buf *b, const void *p, size_t n);
enum cp_status cp_buf_adds(struct cp_buf *b, const char *s);
enum cp_status cp_buf_addc(struct cp_buf *b, char c);
/* printf-style append, under the same rules. */
enum cp_status cp_buf_printf(struct cp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The contents as a C string ("" for an empty buffer); owned by b. */
const char *cp_buf_cstr(const struct cp_buf *b);
struct cp_str cp_buf_str(const struct cp_buf *b);
/* Takes the bytes out (caller frees); b is left empty. */
char *cp_buf_steal(struct cp_buf *b);
void cp_buf_reset(struct cp_buf *b);
/* Frees the bytes; for buffers that held secrets, wipe first. */
void cp_buf_free(struct cp_buf *b);
void cp_buf_wipe_free(struct cp_buf *b);

/* A malloc'd NUL-terminated copy of s, or NULL. */
char *cp_strndup(const char *s, size_t n);

#endif
