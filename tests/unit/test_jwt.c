/*
 * JWS verification: keys are generated here with GnuTLS (RSA 2048, a
 * second RSA key, a 1024-bit RSA key, ECDSA P-256), tokens are signed
 * here, the JWKS is built from the public keys, and each case says which
 * status cp_jwt_verify_jwks must give.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "buf.h"
#include "client_auth.h"
#include "jsonparse.h"
#include "jwt.h"
#include "../fuzz/jwt_jwks.h"
#include "../tap.h"

#define NOW     1800000000L
#define ISS     "https://idp.test/oauth2/default"
#define AUD     "api://cimd-proxy-test"

static gnutls_privkey_t rsa1, rsa2, rsa_small, ec1, ec2;
static json_object *jwks;

static void
die(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

static void
b64url(struct cp_buf *out, const void *p, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = p;
	size_t i;
	unsigned v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		cp_buf_addc(out, abc[v >> 18]);
		cp_buf_addc(out, abc[(v >> 12) & 63]);
		cp_buf_addc(out, abc[(v >> 6) & 63]);
		cp_buf_addc(out, abc[v & 63]);
	}
	if (n - i == 1) {
		v = (unsigned)s[i] << 16;
		cp_buf_addc(out, abc[v >> 18]);
		cp_buf_addc(out, abc[(v >> 12) & 63]);
	} else if (n - i == 2) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		cp_buf_addc(out, abc[v >> 18]);
		cp_buf_addc(out, abc[(v >> 12) & 63]);
		cp_buf_addc(out, abc[(v >> 6) & 63]);
	}
}

static gnutls_privkey_t
genkey(gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_privkey_t k;

	if (gnutls_privkey_init(&k) < 0 ||
	    gnutls_privkey_generate2(k, pk, bits, 0, NULL, 0) < 0)
		die("key generation");
	return k;
}

/* Appends `"name":"<b64url of d, left-padded to width>"`. */
static void
jwk_member(struct cp_buf *b, const char *name, const gnutls_datum_t *d, size_t width)
{
	unsigned char tmp[1024];
	size_t pad = width > d->size ? width - d->size : 0;

	if (pad + d->size > sizeof(tmp))
		die("jwk member too long");
	memset(tmp, 0, pad);
	memcpy(tmp + pad, d->data, d->size);
	cp_buf_printf(b, "\"%s\":\"", name);
	b64url(b, tmp, pad + d->size);
	cp_buf_adds(b, "\"");
}

/* A JWK for k's public half; extra is spliced in (kid, alg, use...). */
static void
jwk(struct cp_buf *b, gnutls_privkey_t k, const char *extra)
{
	gnutls_pubkey_t pub;
	gnutls_datum_t m, e;
	gnutls_ecc_curve_t curve;

	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, k, 0, 0) < 0)
		die("pubkey");
	cp_buf_adds(b, "{");
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) == GNUTLS_PK_RSA) {
		if (gnutls_pubkey_export_rsa_raw2(pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
			die("export rsa");
		cp_buf_adds(b, "\"kty\":\"RSA\",");
		jwk_member(b, "n", &m, 0);
		cp_buf_adds(b, ",");
		jwk_member(b, "e", &e, 0);
	} else {
		if (gnutls_pubkey_export_ecc_raw2(pub, &curve, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
			die("export ecc");
		cp_buf_adds(b, "\"kty\":\"EC\",\"crv\":\"P-256\",");
		jwk_member(b, "x", &m, 32);
		cp_buf_adds(b, ",");
		jwk_member(b, "y", &e, 32);
	}
	cp_buf_printf(b, ",%s}", extra);
	gnutls_free(m.data);
	gnutls_free(e.data);
	gnutls_pubkey_deinit(pub);
}

/* r || s, each left-padded to 32 octets, from a DER ECDSA signature. */
static void
der_to_raw(const gnutls_datum_t *der, unsigned char out[64])
{
	gnutls_datum_t r, s;
	const gnutls_datum_t *half[2] = { &r, &s };
	size_t i, skip, n;

	if (gnutls_decode_rs_value(der, &r, &s) < 0)
		die("decode rs");
	memset(out, 0, 64);
	for (i = 0; i < 2; i++) {
		for (skip = 0; skip < half[i]->size && half[i]->data[skip] == 0; skip++)
			;
		n = half[i]->size - skip;
		if (n > 32)
			die("rs too long");
		memcpy(out + 32 * i + (32 - n), half[i]->data + skip, n);
	}
	gnutls_free(r.data);
	gnutls_free(s.data);
}

enum sigmode { SIG_OK, SIG_FLIP, SIG_HMAC_MODULUS, SIG_NONE, SIG_ES_LONG };

/* A compact JWS over header and payload (JSON text, encoded as given;
 * payload is freed here),
 * signed with k for sign.  SIG_FLIP flips one bit of the signature;
 * SIG_HMAC_MODULUS is the RFC 8725 section 2.1 confusion attack (HMAC
 * keyed with rsa1's public modulus). */
static char *
mint(const char *header, char *payload, gnutls_privkey_t k,
    gnutls_sign_algorithm_t sign, enum sigmode mode)
{
	struct cp_buf t;
	gnutls_datum_t data, sig = { NULL, 0 };
	unsigned char raw[65], mac[32];

	cp_buf_init(&t, 65536);
	b64url(&t, header, strlen(header));
	cp_buf_addc(&t, '.');
	b64url(&t, payload, strlen(payload));
	free(payload);
	data.data = (unsigned char *)t.data;
	data.size = (unsigned)t.len;
	if (mode == SIG_NONE) {
		cp_buf_addc(&t, '.');
		return cp_buf_steal(&t);
	}
	if (mode == SIG_HMAC_MODULUS) {
		gnutls_pubkey_t pub;
		gnutls_datum_t m, e;

		gnutls_pubkey_init(&pub);
		gnutls_pubkey_import_privkey(pub, rsa1, 0, 0);
		gnutls_pubkey_export_rsa_raw2(pub, &m, &e, GNUTLS_EXPORT_FLAG_NO_LZ);
		if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, m.data, m.size, data.data,
		    data.size, mac) < 0)
			die("hmac");
		gnutls_free(m.data);
		gnutls_free(e.data);
		gnutls_pubkey_deinit(pub);
		cp_buf_addc(&t, '.');
		b64url(&t, mac, sizeof(mac));
		return cp_buf_steal(&t);
	}
	if (gnutls_privkey_sign_data2(k, sign, 0, &data, &sig) < 0)
		die("sign");
	cp_buf_addc(&t, '.');
	if (sign == GNUTLS_SIGN_ECDSA_SHA256) {
		der_to_raw(&sig, raw);
		raw[64] = 0;
		if (mode == SIG_FLIP)
			raw[10] ^= 0x01;
		b64url(&t, raw, mode == SIG_ES_LONG ? 65 : 64);
	} else {
		if (mode == SIG_FLIP)
			sig.data[sig.size / 2] ^= 0x01;
		b64url(&t, sig.data, sig.size);
	}
	gnutls_free(sig.data);
	return cp_buf_steal(&t);
}

/* Default claims with one member replaced or added (fmt is appended). */
static char *claims(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
claims(const char *fmt, ...)
{
	struct cp_buf b;
	char extra[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	cp_buf_init(&b, 4096);
	cp_buf_printf(&b, "{\"iss\":\"" ISS "\",\"sub\":\"alice@example.test\","
	    "\"uid\":\"00ualice000000000000\",\"aud\":\"" AUD "\","
	    "\"iat\":%ld,\"exp\":%ld%s%s}", NOW - 10, NOW + 3600,
	    extra[0] ? "," : "", extra);
	return cp_buf_steal(&b);
}

/* Claims written out in full. */
static char *
raw_claims(const char *s)
{
	return cp_strndup(s, strlen(s));
}

#define CLIENT  "0oa-proxy-client"

/* An access token at /mcp (what lib/bearer.c asks), the same with
 * idp_audience = any, and an ID token whose aud is not checked. */
static const struct cp_jwt_expect at = { .issuer = ISS, .audience = AUD, .now = NOW,
    .access_token = true, .client_id = CLIENT };
static const struct cp_jwt_expect at_any = { .issuer = ISS, .now = NOW,
    .any_audience = true, .access_token = true, .client_id = CLIENT };
static const struct cp_jwt_expect id = { .issuer = ISS, .nonce = "n-0S6_WzA2Mj",
    .now = NOW, .any_audience = true };

/* Verifies token (freed here) and compares the status. */
static void
check(const char *name, char *token, const struct cp_jwt_expect *e, enum cp_status want)
{
	json_object *c = (json_object *)1;
	enum cp_status rc = cp_jwt_verify_jwks(jwks, token, strlen(token), e, &c);

	is_int(rc, want, "%s -> %s", name, cp_status_str(want));
	if (rc == CP_OK)
		ok(c != NULL && json_object_is_type(c, json_type_object), "  claims returned");
	else
		ok(c == NULL, "  no claims on failure");
	json_object_put(rc == CP_OK ? c : NULL);
	free(token);
}

/* Tokens signed by another implementation (jose, the fuzz seeds) verify
 * here too: the signature formats (ES256 R || S, PS256 salt length) are
 * the standard ones, not just GnuTLS agreeing with itself. */
static void
interop_cases(void)
{
	static const struct { const char *seed; int id_token; } t[] = {
		{ "rs256-at", 0 }, { "es256-at", 0 }, { "ps256-at", 0 }, { "es256-typ", 0 },
		{ "rs256-aud-array", 0 }, { "rs256-nbf", 0 }, { "rs256-id", 1 },
	};
	const struct cp_jwt_expect jose_at = { .issuer = FUZZ_JWT_ISSUER,
	    .audience = FUZZ_JWT_AUDIENCE, .now = FUZZ_JWT_NOW, .access_token = true,
	    .client_id = FUZZ_JWT_CLIENT_ID };
	const struct cp_jwt_expect jose_id = { .issuer = FUZZ_JWT_ISSUER,
	    .audience = FUZZ_JWT_CLIENT_ID, .nonce = FUZZ_JWT_NONCE, .now = FUZZ_JWT_NOW };
	const char *top = getenv("top_srcdir");
	char path[4096], tok[CP_JWT_MAX_LEN + 1];
	json_object *keys, *c;
	size_t i, n;
	FILE *f;

	if (cp_json_parse_object(fuzz_jwt_jwks, sizeof(fuzz_jwt_jwks) - 1, &keys) != CP_OK)
		die("fuzz jwks");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/jwt/%s", top ? top : ".",
		    t[i].seed);
		if ((f = fopen(path, "rb")) == NULL)
			die(path);
		n = fread(tok, 1, sizeof(tok) - 1, f);
		fclose(f);
		is_int(cp_jwt_verify_jwks(keys, tok, n, t[i].id_token ? &jose_id : &jose_at,
		    &c), CP_OK,
		    "jose token %s verifies", t[i].seed);
		json_object_put(c);
	}
	json_object_put(keys);
}

static void
json_cases(void)
{
	static const struct { const char *in; enum cp_status want; } t[] = {
		{ "{\"a\":1}", CP_OK },
		{ " {\"a\":1}\r\n", CP_OK },
		{ "{\"a\":\"x:y\",\"b\":\"\\\":\"}", CP_OK },       /* ':' inside strings */
		{ "{\"a\":{\"b\":1,\"c\":[{\"d\":2}]}}", CP_OK },
		{ "{\"a\":1,\"a\":2}", CP_ERR_DUPLICATE },
		{ "{\"a\":1,\"\\u0061\":2}", CP_ERR_DUPLICATE },     /* escaped name */
		{ "{\"x\":{\"b\":1,\"b\":1}}", CP_ERR_DUPLICATE },   /* nested */
		{ "{\"x\":[{\"b\":1,\"b\":1}]}", CP_ERR_DUPLICATE }, /* in an array */
		{ "{\"a\":{\"b\":1},\"a\":{\"b\":1}}", CP_ERR_DUPLICATE },
		{ "{\"a\":1}x", CP_ERR_SYNTAX },
		{ "{\"a\":1}{}", CP_ERR_SYNTAX },
		{ "[1]", CP_ERR_SYNTAX },
		{ "\"s\"", CP_ERR_SYNTAX },
		{ "{'a':1}", CP_ERR_SYNTAX },
		{ "{\"a\":'b:c'}", CP_ERR_SYNTAX },
		{ "{\"a\":1,}", CP_ERR_SYNTAX },
		{ "{\"a\":\"\xff\"}", CP_ERR_SYNTAX },              /* not UTF-8 */
		{ "", CP_ERR_SYNTAX },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", CP_ERR_LIMIT },
	};
	json_object *o;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is_int(cp_json_parse_object(t[i].in, strlen(t[i].in), &o), t[i].want,
		    "json %zu -> %s", i, cp_status_str(t[i].want));
		json_object_put(o);
	}
	is_int(cp_json_parse_object("{\"a\":\"\0\"}", 8, &o), CP_ERR_SYNTAX, "json with a NUL");
}


static void assertion_cases(void);

int
main(void)
{
	struct cp_buf b;
	char hdr[256], *tok, *big;
	size_t n;

	json_cases();
	interop_cases();

	rsa1 = genkey(GNUTLS_PK_RSA, 2048);
	rsa2 = genkey(GNUTLS_PK_RSA, 2048);
	rsa_small = genkey(GNUTLS_PK_RSA, 1024);
	ec1 = genkey(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	ec2 = genkey(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));

	cp_buf_init(&b, 65536);
	cp_buf_adds(&b, "{\"keys\":[");
	jwk(&b, rsa1, "\"kid\":\"r1\",\"alg\":\"RS256\",\"use\":\"sig\"");
	cp_buf_adds(&b, ",");
	jwk(&b, rsa1, "\"kid\":\"p1\",\"alg\":\"PS256\"");
	cp_buf_adds(&b, ",");
	jwk(&b, ec1, "\"kid\":\"e1\",\"alg\":\"ES256\",\"use\":\"sig\"");
	cp_buf_adds(&b, ",");
	jwk(&b, rsa1, "\"kid\":\"enc1\",\"use\":\"enc\"");
	cp_buf_adds(&b, ",");
	jwk(&b, rsa1, "\"kid\":\"ops1\",\"key_ops\":[\"encrypt\"]");
	cp_buf_adds(&b, ",");
	jwk(&b, rsa_small, "\"kid\":\"small\",\"alg\":\"RS256\"");
	cp_buf_adds(&b, "]}");
	if (cp_json_parse_object(b.data, b.len, &jwks) != CP_OK)
		die("jwks");
	cp_buf_free(&b);

#define C0 claims("%s", "")
#define H(alg, kid) "{\"alg\":\"" alg "\",\"kid\":\"" kid "\"}"
#define RS GNUTLS_SIGN_RSA_SHA256
#define PS GNUTLS_SIGN_RSA_PSS_RSAE_SHA256
#define ES GNUTLS_SIGN_ECDSA_SHA256

	/* Each allowed algorithm, and a token without a kid. */
	check("RS256", mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK), &at, CP_OK);
	check("PS256", mint(H("PS256", "p1"), C0, rsa1, PS, SIG_OK), &at, CP_OK);
	check("ES256", mint(H("ES256", "e1"), C0, ec1, ES, SIG_OK), &at, CP_OK);
	check("ES256 without kid", mint("{\"alg\":\"ES256\"}", C0, ec1, ES, SIG_OK),
	    &at, CP_OK);
	check("RS256 without kid", mint("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", C0,
	    rsa1, RS, SIG_OK), &at, CP_OK);
	{
		/* Many ES256 signatures: some have R or S with a leading zero
		 * octet, which the DER conversion must handle. */
		int i, good = 0;
		for (i = 0; i < 64; i++) {
			json_object *c;
			tok = mint(H("ES256", "e1"), claims("\"i\":%d", i), ec1, ES, SIG_OK);
			if (cp_jwt_verify_jwks(jwks, tok, strlen(tok), &at, &c) == CP_OK)
				good++;
			json_object_put(c);
			free(tok);
		}
		is_int(good, 64, "64 ES256 tokens all verify");
	}

	/* Algorithms the token may not choose (RFC 8725 section 3.1). */
	check("alg none, empty signature", mint("{\"alg\":\"none\"}", C0, NULL, 0,
	    SIG_NONE), &at, CP_ERR_SYNTAX);
	tok = mint("{\"alg\":\"none\"}", C0, NULL, 0, SIG_NONE);
	n = strlen(tok);
	tok = realloc(tok, n + 5);
	memcpy(tok + n, "AAAA", 5);
	check("alg none, some signature", tok, &at, CP_ERR_INVALID);
	check("alg None", mint(H("None", "r1"), C0, rsa1, RS, SIG_OK), &at,
	    CP_ERR_INVALID);
	check("HS256 keyed with the RSA modulus", mint(H("HS256", "r1"), C0, NULL, 0,
	    SIG_HMAC_MODULUS), &at, CP_ERR_INVALID);
	check("RS512", mint(H("RS512", "r1"), C0, rsa1, GNUTLS_SIGN_RSA_SHA512, SIG_OK),
	    &at, CP_ERR_INVALID);
	check("alg not a string", mint("{\"alg\":256,\"kid\":\"r1\"}", C0, rsa1, RS,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("no alg", mint("{\"kid\":\"r1\"}", C0, rsa1, RS, SIG_OK), &at,
	    CP_ERR_INVALID);
	check("alg RS256 with the EC key's kid", mint(H("RS256", "e1"), C0, ec1, ES,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("alg ES256 with an RSA key's kid", mint(H("ES256", "r1"), C0, ec1, ES,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("PS256 with a key whose alg is RS256", mint(H("PS256", "r1"), C0, rsa1,
	    PS, SIG_OK), &at, CP_ERR_INVALID);
	check("key with use enc", mint(H("RS256", "enc1"), C0, rsa1, RS, SIG_OK), &at,
	    CP_ERR_INVALID);
	check("key_ops without verify", mint(H("RS256", "ops1"), C0, rsa1, RS, SIG_OK),
	    &at, CP_ERR_INVALID);
	check("RSA key under 2048 bits", mint(H("RS256", "small"), C0, rsa_small, RS,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("crit header", mint("{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"exp\"],"
	    "\"exp\":1}", C0, rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("kid not a string", mint("{\"alg\":\"RS256\",\"kid\":1}", C0, rsa1, RS,
	    SIG_OK), &at, CP_ERR_INVALID);

	/* Keys and signatures. */
	check("unknown kid", mint(H("RS256", "zz"), C0, rsa1, RS, SIG_OK), &at,
	    CP_ERR_CRYPTO);
	check("signed by another RSA key", mint(H("RS256", "r1"), C0, rsa2, RS, SIG_OK),
	    &at, CP_ERR_CRYPTO);
	check("signed by another EC key", mint(H("ES256", "e1"), C0, ec2, ES, SIG_OK),
	    &at, CP_ERR_CRYPTO);
	check("another EC key, no kid", mint("{\"alg\":\"ES256\"}", C0, ec2, ES, SIG_OK),
	    &at, CP_ERR_CRYPTO);
	check("RS256 signature bit flipped", mint(H("RS256", "r1"), C0, rsa1, RS,
	    SIG_FLIP), &at, CP_ERR_CRYPTO);
	check("PS256 signature bit flipped", mint(H("PS256", "p1"), C0, rsa1, PS,
	    SIG_FLIP), &at, CP_ERR_CRYPTO);
	check("ES256 signature bit flipped", mint(H("ES256", "e1"), C0, ec1, ES,
	    SIG_FLIP), &at, CP_ERR_CRYPTO);
	check("ES256 signature of 65 octets", mint(H("ES256", "e1"), C0, ec1, ES,
	    SIG_ES_LONG), &at, CP_ERR_CRYPTO);
	{
		/* One bit of the payload: re-encode the signed token's claims
		 * with "exp" one second later. */
		char *good = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
		char *evil = mint(H("RS256", "r1"), claims("\"x\":0"), rsa1, RS, SIG_OK);
		char *dot = strrchr(evil, '.'), *gdot = strrchr(good, '.');
		struct cp_buf t;

		cp_buf_init(&t, 65536);
		cp_buf_add(&t, evil, (size_t)(dot - evil));
		cp_buf_adds(&t, gdot);
		check("payload swapped under a valid signature", cp_buf_steal(&t), &at,
		    CP_ERR_CRYPTO);
		n = (size_t)(strchr(good, '.') - good) + 5;
		good[n] = good[n] == 'A' ? 'B' : 'A';
		check("payload character flipped", good, &at, CP_ERR_CRYPTO);
		free(evil);
	}
	{
		json_object *empty = json_object_new_object(), *c;
		tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
		is_int(cp_jwt_verify_jwks(empty, tok, strlen(tok), &at, &c), CP_ERR_CRYPTO,
		    "JWKS without keys -> crypto");
		is_int(cp_jwt_verify_jwks(NULL, tok, strlen(tok), &at, &c), CP_ERR_CRYPTO,
		    "no JWKS -> crypto");
		json_object_put(empty);
		free(tok);
	}

	/* Claims (RFC 7519 section 4.1). */
	check("expired beyond the leeway", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1799999939}"), rsa1, RS, SIG_OK),
	    &at, CP_ERR_EXPIRED);
	check("expired exactly at the leeway", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1799999940}"), rsa1, RS, SIG_OK),
	    &at, CP_ERR_EXPIRED);
	check("expired within the leeway", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1799999970}"), rsa1, RS, SIG_OK),
	    &at, CP_OK);
	check("exp as a fraction", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1800000100.5}"), rsa1, RS, SIG_OK),
	    &at, CP_OK);
	check("exp missing", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}"), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("exp a string", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"1900000000\"}"), rsa1, RS,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("exp huge", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":9223372036854775807,"
	    "\"nbf\":-9223372036854775807}"), rsa1, RS, SIG_OK), &at, CP_OK);
	check("nbf in the future", mint(H("RS256", "r1"), claims("\"nbf\":%ld", NOW + 120),
	    rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("nbf within the leeway", mint(H("RS256", "r1"), claims("\"nbf\":%ld", NOW + 30),
	    rsa1, RS, SIG_OK), &at, CP_OK);
	check("iat an hour ahead", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"iat\":1800003600,\"exp\":1800007200}"),
	    rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("wrong iss", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"https://evil.test/oauth2/default\",\"aud\":\"" AUD "\","
	    "\"exp\":1800003600}"), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("iss with a trailing slash", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "/\",\"aud\":\"" AUD "\",\"exp\":1800003600}"), rsa1, RS, SIG_OK),
	    &at, CP_ERR_INVALID);
	check("iss missing", mint(H("RS256", "r1"), raw_claims(
	    "{\"aud\":\"" AUD "\",\"exp\":1800003600}"), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("aud missing", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"exp\":1800003600}"), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("aud wrong", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"api://other\",\"exp\":1800003600}"), rsa1, RS,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("aud array containing it", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD "\"],\"exp\":1800003600}"), rsa1, RS,
	    SIG_OK), &at, CP_OK);
	check("aud array without it", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":[\"x\",1],\"exp\":1800003600}"), rsa1, RS, SIG_OK),
	    &at, CP_ERR_INVALID);
	check("aud prefix only", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"api://cimd-proxy\",\"exp\":1800003600}"), rsa1, RS,
	    SIG_OK), &at, CP_ERR_INVALID);
	check("aud not checked when any audience is allowed", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"api://other\",\"exp\":1800003600,"
	    "\"nonce\":\"n-0S6_WzA2Mj\"}"), rsa1, RS, SIG_OK), &id, CP_OK);
	check("aud wrong, any audience allowed", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"aud\":\"api://other\",\"exp\":1800003600}"), rsa1, RS,
	    SIG_OK), &at_any, CP_OK);
	check("aud missing, any audience allowed", mint(H("RS256", "r1"), raw_claims(
	    "{\"iss\":\"" ISS "\",\"exp\":1800003600}"), rsa1, RS, SIG_OK), &at_any, CP_OK);
	{
		/* No audience and no any_audience: a caller's mistake, never
		 * "not checked". */
		const struct cp_jwt_expect none = { .issuer = ISS, .now = NOW };
		check("no audience expected and any not said", mint(H("RS256", "r1"), C0, rsa1,
		    RS, SIG_OK), &none, CP_ERR_INTERNAL);
	}

	/* Access tokens only (RFC 8725 section 3.11): what the header typ
	 * and Keycloak's typ claim say, and the client they were issued to. */
	check("header typ at+jwt", mint("{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}",
	    C0, rsa1, RS, SIG_OK), &at, CP_OK);
	check("header typ application/AT+JWT", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"typ\":\"application/AT+JWT\"}", C0, rsa1, RS, SIG_OK), &at, CP_OK);
	check("header typ jwt", mint("{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"jwt\"}",
	    C0, rsa1, RS, SIG_OK), &at, CP_OK);
	check("header typ id_token+jwt", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"typ\":\"id_token+jwt\"}", C0, rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("header typ id_token+jwt, any audience", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"typ\":\"id_token+jwt\"}", C0, rsa1, RS, SIG_OK), &at_any, CP_ERR_INVALID);
	check("header typ logout+jwt", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"typ\":\"logout+jwt\"}", C0, rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("header typ application/jwtx", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"typ\":\"application/jwtx\"}", C0, rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("header typ not a string", mint("{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":1}",
	    C0, rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("typ claim Bearer (Keycloak access token)", mint(H("RS256", "r1"),
	    claims("\"typ\":\"Bearer\""), rsa1, RS, SIG_OK), &at, CP_OK);
	check("typ claim ID (Keycloak ID token)", mint(H("RS256", "r1"),
	    claims("\"typ\":\"ID\""), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("typ claim ID, any audience", mint(H("RS256", "r1"),
	    claims("\"typ\":\"ID\""), rsa1, RS, SIG_OK), &at_any, CP_ERR_INVALID);
	check("typ claim Refresh", mint(H("RS256", "r1"),
	    claims("\"typ\":\"Refresh\""), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("typ claim Bearerx", mint(H("RS256", "r1"),
	    claims("\"typ\":\"Bearerx\""), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("typ claim not a string", mint(H("RS256", "r1"),
	    claims("\"typ\":[\"Bearer\"]"), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("typ claim ID, as an ID token", mint(H("RS256", "r1"),
	    claims("\"typ\":\"ID\",\"nonce\":\"n-0S6_WzA2Mj\""), rsa1, RS, SIG_OK), &id, CP_OK);
	check("cid is our client", mint(H("RS256", "r1"), claims("\"cid\":\"" CLIENT "\""),
	    rsa1, RS, SIG_OK), &at, CP_OK);
	check("cid another client", mint(H("RS256", "r1"), claims("\"cid\":\"0oa-other\""),
	    rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("cid another client, any audience", mint(H("RS256", "r1"),
	    claims("\"cid\":\"0oa-other\""), rsa1, RS, SIG_OK), &at_any, CP_ERR_INVALID);
	check("cid a prefix of our client", mint(H("RS256", "r1"),
	    claims("\"cid\":\"0oa-proxy\""), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("cid not a string", mint(H("RS256", "r1"), claims("\"cid\":null"),
	    rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("client_id is our client", mint(H("RS256", "r1"),
	    claims("\"client_id\":\"" CLIENT "\",\"cid\":\"" CLIENT "\""), rsa1, RS, SIG_OK),
	    &at, CP_OK);
	check("client_id another client (RFC 9068)", mint(H("RS256", "r1"),
	    claims("\"client_id\":\"0oa-other\""), rsa1, RS, SIG_OK), &at, CP_ERR_INVALID);
	check("cid of another client in an ID token", mint(H("RS256", "r1"),
	    claims("\"cid\":\"0oa-other\",\"nonce\":\"n-0S6_WzA2Mj\""), rsa1, RS, SIG_OK),
	    &id, CP_OK);
	check("nonce matches", mint(H("RS256", "r1"), claims("\"nonce\":\"n-0S6_WzA2Mj\""),
	    rsa1, RS, SIG_OK), &id, CP_OK);
	check("nonce mismatch", mint(H("RS256", "r1"), claims("\"nonce\":\"n-0S6_WzA2Mk\""),
	    rsa1, RS, SIG_OK), &id, CP_ERR_INVALID);
	check("nonce longer", mint(H("RS256", "r1"), claims("\"nonce\":\"n-0S6_WzA2Mj0\""),
	    rsa1, RS, SIG_OK), &id, CP_ERR_INVALID);
	check("nonce missing", mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK), &id,
	    CP_ERR_INVALID);
	check("claims an array", mint(H("RS256", "r1"), raw_claims("[{\"iss\":\"" ISS "\"}]"),
	    rsa1, RS, SIG_OK), &at, CP_ERR_SYNTAX);
	check("claims a string", mint(H("RS256", "r1"), raw_claims("\"" ISS "\""), rsa1, RS,
	    SIG_OK), &at, CP_ERR_SYNTAX);
	check("duplicate iss claim", mint(H("RS256", "r1"), claims("\"iss\":\"" ISS "\""),
	    rsa1, RS, SIG_OK), &at, CP_ERR_DUPLICATE);

	/* Framing and encoding (RFC 7515 section 7.1, section 2). */
	check("duplicate alg header", mint("{\"alg\":\"none\",\"kid\":\"r1\",\"alg\":\"RS256\"}",
	    C0, rsa1, RS, SIG_OK), &at, CP_ERR_DUPLICATE);
	check("duplicate alg header, escaped", mint("{\"alg\":\"RS256\",\"kid\":\"r1\","
	    "\"\\u0061lg\":\"RS256\"}", C0, rsa1, RS, SIG_OK), &at, CP_ERR_DUPLICATE);
	check("header not JSON", mint("{alg:RS256}", C0, rsa1, RS, SIG_OK), &at,
	    CP_ERR_SYNTAX);
	check("header JSON with trailing bytes", mint(H("RS256", "r1") "x", C0, rsa1,
	    RS, SIG_OK), &at, CP_ERR_SYNTAX);
	tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
	n = strlen(tok);
	tok = realloc(tok, n + 3);
	memcpy(tok + n, "==", 3);
	check("signature padded", tok, &at, CP_ERR_SYNTAX);
	tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
	tok[strlen(tok) - 3] = '+';
	check("'+' in the signature", tok, &at, CP_ERR_SYNTAX);
	tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
	tok[3] = '/';
	check("'/' in the header", tok, &at, CP_ERR_SYNTAX);
	tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
	tok[strchr(tok, '.') - tok + 2] = ' ';
	check("space in the payload", tok, &at, CP_ERR_SYNTAX);
	/* "eyJ" + one char making a 4k+1 length, and non-zero trailing bits:
	 * base64url of "{}" is "e30", "e31" decodes the same bytes. */
	snprintf(hdr, sizeof(hdr), "e31.%s.AAAA", "e30");
	check("non-canonical trailing bits", cp_strndup(hdr, strlen(hdr)), &at, CP_ERR_SYNTAX);
	snprintf(hdr, sizeof(hdr), "e30xx.e30.AAAA");
	check("impossible base64 length", cp_strndup(hdr, strlen(hdr)), &at, CP_ERR_SYNTAX);
	check("no dots", cp_strndup("abc", 3), &at, CP_ERR_SYNTAX);
	check("one dot", cp_strndup("e30.e30", 7), &at, CP_ERR_SYNTAX);
	check("four parts", cp_strndup("e30.e30.AAAA.AAAA", 17), &at, CP_ERR_SYNTAX);
	check("empty header", cp_strndup(".e30.AAAA", 9), &at, CP_ERR_SYNTAX);
	check("empty payload", cp_strndup("e30..AAAA", 9), &at, CP_ERR_SYNTAX);
	check("empty token", cp_strndup("", 0), &at, CP_ERR_SYNTAX);
	big = malloc(CP_JWT_MAX_LEN + 2);
	memset(big, 'A', CP_JWT_MAX_LEN + 1);
	big[10] = big[20] = '.';
	big[CP_JWT_MAX_LEN + 1] = '\0';
	check("one octet over CP_JWT_MAX_LEN", big, &at, CP_ERR_LIMIT);
	{
		/* The length is honoured: a valid token followed by junk the
		 * length excludes. */
		json_object *c;
		tok = mint(H("RS256", "r1"), C0, rsa1, RS, SIG_OK);
		n = strlen(tok);
		tok = realloc(tok, n + 8);
		memcpy(tok + n, ".junk", 6);
		is_int(cp_jwt_verify_jwks(jwks, tok, n, &at, &c), CP_OK, "length bounds the token");
		json_object_put(c);
		is_int(cp_jwt_verify_jwks(jwks, tok, n + 5, &at, &c), CP_ERR_SYNTAX,
		    "  and the junk is seen when included");
		free(tok);
	}

	assertion_cases();

	json_object_put(jwks);
	gnutls_privkey_deinit(rsa1);
	gnutls_privkey_deinit(rsa2);
	gnutls_privkey_deinit(rsa_small);
	gnutls_privkey_deinit(ec1);
	gnutls_privkey_deinit(ec2);
	return tap_done();
}

/*
 * private_key_jwt assertions (client_auth.h; RFC 7523 section 3): the
 * claims a client signs, and each way of getting them wrong.
 */
#define ACID    "https://client.example/doc.json"
#define ATOK    "https://mcp.example/token"
#define AISS    "https://mcp.example"

static char *
assertion_claims(const char *iss, const char *sub, const char *aud, long exp,
    const char *jti)
{
	struct cp_buf b;

	cp_buf_init(&b, 4096);
	cp_buf_printf(&b, "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":%s,\"exp\":%ld%s%s%s}",
	    iss, sub, aud, exp, jti ? ",\"jti\":\"" : "", jti ? jti : "", jti ? "\"" : "");
	return cp_buf_steal(&b);
}

static void
assertion_check(const char *what, char *tok, enum cp_status want)
{
	static const struct cp_assertion_expect e = { .client_id = ACID,
	    .endpoint = ATOK, .issuer = AISS, .now = NOW };
	json_object *c = NULL;
	const char *why = NULL;
	enum cp_status rc = cp_assertion_verify(jwks, tok, &e, &c, &why);

	is_int(rc, want, "assertion: %s -> %s%s%s", what, cp_status_str(want),
	    why ? " / " : "", why ? why : "");
	ok((rc == CP_OK) == (c != NULL) && (rc == CP_OK) == (why == NULL),
	    "  claims only on success, a reason only on failure");
	json_object_put(c);
	free(tok);
}

#define AQ(s) "\"" s "\""

/* RFC 8017 section 3.1 wants 3 <= e < n.  With e = 1 an RSA "signature"
 * is the EMSA-PKCS1-v1_5 encoding of the message itself (section 9.2),
 * which anyone can write: an RS256 assertion forged without any private
 * key, for a JWKS whose only key has a random modulus and exponent e_b64
 * ("AQ" is 1, "AAAB" 1 with leading zero octets). */
static void
forged_small_e_case(const char *e_b64)
{
	static const unsigned char sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
	    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	    0x04, 0x20 };
	static const struct cp_assertion_expect e = { .client_id = ACID,
	    .endpoint = ATOK, .issuer = AISS, .now = NOW };
	unsigned char n[CP_JWT_MIN_RSA_BYTES], em[CP_JWT_MIN_RSA_BYTES], h[32];
	size_t ps = sizeof(em) - 3 - sizeof(sha256_prefix) - sizeof(h);
	struct cp_buf k, t;
	char *payload = assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, "forged");
	const char *why = NULL;
	json_object *set = NULL, *c = NULL;
	enum cp_status rc;

	if (gnutls_rnd(GNUTLS_RND_NONCE, n, sizeof(n)) < 0)
		die("random");
	n[0] = 0xc5;
	n[sizeof(n) - 1] |= 1;
	cp_buf_init(&k, 4096);
	cp_buf_adds(&k, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"");
	b64url(&k, n, sizeof(n));
	cp_buf_printf(&k, "\",\"e\":\"%s\"}]}", e_b64);
	if (cp_json_parse_object(k.data, k.len, &set) != CP_OK)
		die("forged jwks");
	cp_buf_init(&t, 8192);
	b64url(&t, "{\"alg\":\"RS256\"}", strlen("{\"alg\":\"RS256\"}"));
	cp_buf_addc(&t, '.');
	b64url(&t, payload, strlen(payload));
	gnutls_hash_fast(GNUTLS_DIG_SHA256, t.data, t.len, h);
	em[0] = 0;
	em[1] = 1;
	memset(em + 2, 0xff, ps);
	em[2 + ps] = 0;
	memcpy(em + 3 + ps, sha256_prefix, sizeof(sha256_prefix));
	memcpy(em + 3 + ps + sizeof(sha256_prefix), h, sizeof(h));
	cp_buf_addc(&t, '.');
	b64url(&t, em, sizeof(em));
	rc = cp_assertion_verify(set, cp_buf_cstr(&t), &e, &c, &why);
	is_int(rc, CP_ERR_CRYPTO, "assertion: RS256 forged for a key with e=%s "
	    "(RFC 8017 3.1: e >= 3) -> %s / %s", e_b64, cp_status_str(CP_ERR_CRYPTO),
	    why ? why : "accepted");
	json_object_put(c);
	json_object_put(set);
	cp_buf_free(&k);
	cp_buf_free(&t);
	free(payload);
}

static void
assertion_cases(void)
{
	char *big;

	assertion_check("RS256, aud the token endpoint", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, "j1"), rsa1, RS, SIG_OK), CP_OK);
	assertion_check("ES256, aud the issuer", mint(H("ES256", "e1"),
	    assertion_claims(ACID, ACID, AQ(AISS), NOW + 60, "j1"), ec1, ES, SIG_OK), CP_OK);
	assertion_check("PS256, aud an array naming the issuer", mint(H("PS256", "p1"),
	    assertion_claims(ACID, ACID, "[\"x\"," AQ(AISS) "]", NOW + 60, "j1"), rsa1, PS,
	    SIG_OK), CP_OK);
	assertion_check("exp exactly 5 minutes ahead", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + CP_ASSERTION_MAX_LIFETIME, "j1"),
	    rsa1, RS, SIG_OK), CP_OK);
	assertion_check("exp an hour ahead", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 3600, "j1"), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("expired", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW - 600, "j1"), rsa1, RS, SIG_OK),
	    CP_ERR_EXPIRED);
	assertion_check("no exp", mint(H("RS256", "r1"), raw_claims("{\"iss\":\"" ACID
	    "\",\"sub\":\"" ACID "\",\"aud\":\"" ATOK "\",\"jti\":\"j\"}"), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("no jti", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, NULL), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("empty jti", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, ""), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("iss another client", mint(H("RS256", "r1"),
	    assertion_claims("https://client.example/other.json", ACID, AQ(ATOK), NOW + 60,
	    "j1"), rsa1, RS, SIG_OK), CP_ERR_INVALID);
	assertion_check("sub another client", mint(H("RS256", "r1"),
	    assertion_claims(ACID, "https://client.example/other.json", AQ(ATOK), NOW + 60,
	    "j1"), rsa1, RS, SIG_OK), CP_ERR_INVALID);
	assertion_check("aud another server", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ("https://other.example/token"), NOW + 60, "j1"),
	    rsa1, RS, SIG_OK), CP_ERR_INVALID);
	assertion_check("aud the token endpoint with a trailing slash", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK "/"), NOW + 60, "j1"), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("aud an array without us", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, "[\"x\",1]", NOW + 60, "j1"), rsa1, RS, SIG_OK),
	    CP_ERR_INVALID);
	assertion_check("signed by another key", mint(H("RS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, "j1"), rsa2, RS, SIG_OK),
	    CP_ERR_CRYPTO);
	assertion_check("alg none", mint("{\"alg\":\"none\"}",
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, "j1"), NULL, 0, SIG_NONE),
	    CP_ERR_SYNTAX);
	assertion_check("HS256 keyed with the public modulus", mint(H("HS256", "r1"),
	    assertion_claims(ACID, ACID, AQ(ATOK), NOW + 60, "j1"), NULL, 0,
	    SIG_HMAC_MODULUS), CP_ERR_INVALID);
	big = malloc(CP_ASSERTION_MAX_LEN + 2);
	memset(big, 'A', CP_ASSERTION_MAX_LEN + 1);
	big[10] = big[20] = '.';
	big[CP_ASSERTION_MAX_LEN + 1] = '\0';
	assertion_check("one octet over CP_ASSERTION_MAX_LEN", big, CP_ERR_LIMIT);
	forged_small_e_case("AQ");
	forged_small_e_case("AAAB");
}
