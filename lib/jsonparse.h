/*
 * Strict JSON parsing for documents from the network (JWS headers and
 * claims, IdP discovery, JWKS): RFC 8259 only (json-c strict mode, UTF-8
 * checked), depth capped at CP_MAX_JSON_DEPTH, no trailing bytes, and no
 * member name given twice in any object, since json-c would silently keep
 * the last one and a duplicate "alg" or "iss" is how confusion attacks
 * start (RFC 7515 section 4, RFC 7519 section 4).
 */
#ifndef CP_JSONPARSE_H
#define CP_JSONPARSE_H

#include <stddef.h>

#include <json-c/json.h>

#include "status.h"

/* Parses text[0..len) as one JSON object into *out (caller puts).
 * CP_ERR_SYNTAX (not JSON, not an object, trailing bytes, a NUL),
 * CP_ERR_LIMIT (nested deeper than CP_MAX_JSON_DEPTH, or len over what
 * json-c takes),
 * CP_ERR_DUPLICATE (a member name twice in one object), CP_ERR_NOMEM.
 * On failure *out is NULL. */
enum cp_status cp_json_parse_object(const char *text, size_t len,
    json_object **out);

#endif
