/*
 * The client of a login as /authorize and /callback see it: its client
 * ID metadata document, resolved and checked (cimd.h), and that
 * document's hash for remembered consent.
 */
#ifndef CP_CLIENT_H
#define CP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "cimd.h"
#include "ctx.h"
#include "status.h"

/* A client as /authorize and /callback need it: its checked document
 * and that document's hash as text (for remembered consent). */
struct cp_client {
	struct cp_cimd_doc doc;
	char doc_hash[48];          /* base64url SHA-256 of the document */
};

/* Resolves client_id to its checked document (cimd.h: URL rules,
 * allowlist, cache, fetch, validation).  CP_ERR_STORE: the store failed
 * (503); any other failure writes into why a sentence for the user
 * saying what is wrong.  The caller frees c with cp_client_free,
 * also after a failure. */
enum cp_status cp_client_get(struct cp_login *lg, const char *client_id,
    struct cp_client *c, char *why, size_t whylen);
void cp_client_free(struct cp_client *c);

/* True when redirect_uri is registered in c's document (redirect.h:
 * exact, loopback ports floating; doc/protocol.md 8.4). */
bool cp_client_redirect_ok(const struct cp_client *c, const char *redirect_uri);

#endif
