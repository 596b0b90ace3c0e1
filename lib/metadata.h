/*
 * The OAuth metadata the proxy publishes and the Bearer challenge that
 * points clients at it.
 */
#ifndef CP_METADATA_H
#define CP_METADATA_H

#include <stdbool.h>

#include <json-c/json.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

/* RFC 9728 protected-resource metadata (doc/protocol.md section 1); the
 * caller owns the result (json_object_put).  NULL when out of memory. */
json_object *cp_metadata_protected_resource(const struct cp_config *cfg);

/* RFC 8414 authorization-server metadata (doc/protocol.md section 3). */
json_object *cp_metadata_authorization_server(const struct cp_config *cfg);

/* idp_scopes as a JSON array of strings; offline_access only when
 * with_offline (the AS metadata; MCP SEP-2207 keeps it out of what the
 * resource advertises). */
json_object *cp_metadata_scopes(const struct cp_config *cfg, bool with_offline);

/* Appends the WWW-Authenticate value of a Bearer challenge naming the
 * proxy's metadata (RFC 6750 section 3, RFC 9728 section 5.1) and the
 * scopes of idp_scopes but offline_access (SEP-2207); error may
 * be NULL (no token at all) or e.g. "invalid_token". */
enum cp_status cp_metadata_challenge(const struct cp_config *cfg,
    const char *error, struct cp_buf *out);

#endif
