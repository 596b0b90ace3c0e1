/*
 * Operator-registered public clients (client_static = <client_id>
 * <redirect_uri>...): for clients that only know a pre-registered
 * client_id and have no client metadata document.  They get exactly what
 * a document client gets (PKCE, the consent page, sealed codes and
 * refresh tokens bound to the client_id), admitted by the operator's
 * configuration instead of a fetched document; /register stays refused.
 */
#ifndef CP_CLIENT_STATIC_H
#define CP_CLIENT_STATIC_H

#include "cimd.h"
#include "conf.h"
#include "status.h"

/* Checks one client_static value: a client_id of 1..CP_MAX_CLIENT_ID
 * visible ASCII bytes that is not an http(s) URL (CIMD-01 6.9: such an
 * id could never be told from a document URL), then 1 to
 * CP_CIMD_MAX_REDIRECT_URIS redirect URIs separated by spaces, each
 * passing cp_redirect_uri_check.  NULL when good, else a static phrase
 * for the configuration error. */
const char *cp_client_static_check(const char *value);

/* When client_id equals the client_id of a client_static entry byte for
 * byte, fills doc as a document with those redirect URIs would, marked
 * operator_registered, its hash the SHA-256 of the entry (so consent is
 * asked again when the operator changes it); CP_OK.  CP_ERR_NOT_FOUND
 * when no entry names it; CP_ERR_NOMEM. */
enum cp_status cp_client_static_doc(const struct cp_config *cfg, const char *client_id,
    struct cp_cimd_doc *doc);

#endif
