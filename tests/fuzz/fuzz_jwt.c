/* Fuzz target: compact JWS verification (bearer tokens are hostile input)
 * against a fixed JWKS, as an access token and as an ID token. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "jsonparse.h"
#include "jwt.h"
#include "jwt_jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_object *jwks;
	const struct cp_jwt_expect at = { .issuer = FUZZ_JWT_ISSUER,
	    .audience = FUZZ_JWT_AUDIENCE, .now = FUZZ_JWT_NOW, .access_token = true,
	    .client_id = FUZZ_JWT_CLIENT_ID };
	const struct cp_jwt_expect id = { .issuer = FUZZ_JWT_ISSUER,
	    .audience = FUZZ_JWT_CLIENT_ID, .nonce = FUZZ_JWT_NONCE, .now = FUZZ_JWT_NOW };
	json_object *claims;

	if (jwks == NULL &&
	    cp_json_parse_object(fuzz_jwt_jwks, sizeof(fuzz_jwt_jwks) - 1, &jwks) != CP_OK)
		abort();
	if (cp_jwt_verify_jwks(jwks, (const char *)data, size, &at, &claims) == CP_OK)
		json_object_put(claims);
	if (cp_jwt_verify_jwks(jwks, (const char *)data, size, &id, &claims) == CP_OK)
		json_object_put(claims);
	return 0;
}
