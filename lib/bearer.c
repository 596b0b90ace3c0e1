#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "bearer.h"
#include "idp.h"
#include "jwt.h"
#include "log.h"

enum cp_status
cp_bearer_token(const char *auth, struct cp_str *token)
{
	size_t i, n;

	token->ptr = NULL;
	token->len = 0;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return CP_ERR_NOT_FOUND;
	for (auth += 7; *auth == ' '; auth++)
		;
	/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
	for (n = 0; auth[n] && (isalnum((unsigned char)auth[n]) ||
	    strchr("-._~+/", auth[n]) != NULL); n++)
		;
	if (n == 0)
		return CP_ERR_SYNTAX;
	for (i = n; auth[i] == '='; i++)
		;
	if (auth[i] != '\0')
		return CP_ERR_SYNTAX;
	token->ptr = auth;
	token->len = i;
	return CP_OK;
}

bool
cp_bearer_unavailable(enum cp_status rc)
{
	return rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT || rc == CP_ERR_UPSTREAM ||
	    rc == CP_ERR_STORE || rc == CP_ERR_DENIED || rc == CP_ERR_NOMEM;
}

enum cp_status
cp_bearer_verify(const struct cp_config *cfg, struct cp_store *st,
    struct cp_str token, json_object **claims)
{
	struct cp_jwt_expect expect;
	struct cp_idp idp;
	enum cp_status rc;

	*claims = NULL;
	memset(&idp, 0, sizeof(idp));
	if ((rc = cp_idp_discover(cfg, st, &idp)) != CP_OK) {
		/* Whatever is wrong with the IdP, the token was not judged. */
		cp_log(CP_LOG_ERROR, "IdP discovery failed: %s", cp_status_str(rc));
		rc = CP_ERR_UPSTREAM;
		goto out;
	}
	memset(&expect, 0, sizeof(expect));
	expect.issuer = cfg->idp_issuer;
	expect.audience = cfg->idp_audience;
	rc = cp_jwt_verify(cfg, st, &idp, token.ptr, token.len, &expect, claims);
out:
	cp_idp_free(&idp);
	return rc;
}
