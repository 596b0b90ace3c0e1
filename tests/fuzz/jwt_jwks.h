/*
 * The public JWKS the jwt fuzz seeds (tests/fuzz/corpus/jwt/) were signed
 * for, by jose (node) with fresh keys: RS256 "rs1", ES256 "es1", PS256
 * "ps1".  Shared by fuzz_jwt.c and test_jwt.c, which checks the seeds as
 * interoperability vectors (tokens GnuTLS did not make).
 */
#ifndef CP_TEST_JWT_JWKS_H
#define CP_TEST_JWT_JWKS_H

#define FUZZ_JWT_ISSUER     "https://127.0.0.1:9100"
#define FUZZ_JWT_AUDIENCE   "api://cimd-proxy-test"
#define FUZZ_JWT_CLIENT_ID  "cimd-proxy-test"
#define FUZZ_JWT_NONCE      "n-0S6_WzA2Mj"
#define FUZZ_JWT_NOW        1800000100L

static const char fuzz_jwt_jwks[] =
    "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"kCb_zpfbaJ0GEoXhnSmKOZmV"
    "vuC9byulzc3UFOpf8dLjVT3KOr2RZvmZFmSTJiATeZQRgnfdXFgNzNErL96DxU28"
    "tuYoPMVDbupb0T0M_Rp-dtbw4t_gkUZos43dWbiIpC74_3GhiiJ2lvkWZB1RYwFl"
    "glgPvy6LzsERVtqG3vYSGn9afVP5-xjpcVAuwnnHueeCpNnl9_QHVJSFwcYb79FK"
    "oI3xP0rq6IxcdVtMFKsgT1slmWVESVqyTSC0rVv2_77UP_6GRfV7FAzyDi5tDQHG"
    "3I5eJCXrIp8y_WXrITiaAQugVYmgGAg7EyjX7tzQ_bEp4m8xzEd5MQRdFGBV5Q\""
    ", \"e\": \"AQAB\", \"kid\": \"rs1\", \"alg\": \"RS256\", \"use\""
    ": \"sig\"}, {\"kty\": \"EC\", \"x\": \"lXr5mn6nf8ixFVAUBHy1uoLH2"
    "oZncztuf5xzSg-XDHA\", \"y\": \"Pc0DmQs1GMlDFjici02jnY9ilSFJHiV8p"
    "Arp5RfAIzQ\", \"crv\": \"P-256\", \"kid\": \"es1\", \"alg\": \"E"
    "S256\", \"use\": \"sig\"}, {\"kty\": \"RSA\", \"n\": \"vIJtn0AX_"
    "D7ieNkiavmUbh8rIdPL3fbvyqaon0VxF6ayE9poe0vXMdTh08iTKT1jNL3MuCQxu"
    "iUBbhvfKe2Ra2WcIrzQ3VS61PdsvwMt5HvZizRIdo5QXr3C-pTfAW0z3_Bt6jUcn"
    "yqRfY8u8ApvcnBJas3QZW_vWjfmuAMqoDYDTuogOYGH6d32wQfU6d5hzhX5eOv1D"
    "lPyG8lT-ouYCJtzjq5rBCGNYi4VEYfygQMcf-M-QldauGQk8cchBNHyFvV1NdnRY"
    "-50YX29KDNux-7lFFzszpLxUn6KnZ70vBANWyJ-zjkAochLT7xfTzhamWrg8OiC3"
    "rrEcLqffTyoZQ\", \"e\": \"AQAB\", \"kid\": \"ps1\", \"alg\": \"P"
    "S256\", \"use\": \"sig\"}]}";

#endif
