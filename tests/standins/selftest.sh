#!/usr/bin/env bash
# selftest.sh - TAP checks that the loopback stand-ins behave as the integration tests expect:
# pki.sh, the Okta stand-in (idp.mjs) and the client-document host (dochost.mjs).
# Run from anywhere: bash tests/standins/selftest.sh. Needs node, curl, jq, openssl, certtool.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

n=0
failed=0
# check DESCRIPTION COMMAND...: one TAP line for the command's exit status; the command's
# output is only shown, as TAP comments, when it fails.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$work/check.out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$work/check.out"
		failed=$((failed + 1))
	fi
}

ca=$work/pki/ca.pem
CURL=(curl -s -m 5 --cacert "$ca")

# start NAME ARGS...: runs a stand-in under a timeout guard, waits for its `ready URL` line,
# and sets $url. A stand-in that is not ready in 10 s fails the run.
start() {
	local name=$1
	shift
	timeout 300 node "$here/$name.mjs" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do
		url=$(sed -n 's/^ready //p' "$work/$name.out")
		[ -n "$url" ] && return 0
		sleep 0.1
	done
	echo "# $name did not start:" && sed 's/^/# /' "$work/$name.err"
	return 1
}

# b64url_json PART: decodes one base64url JWT segment.
b64url_json() {
	local s=${1//-/+}
	s=${s//_//}
	case $((${#s} % 4)) in 2) s="$s==" ;; 3) s="$s=" ;; esac
	printf '%s' "$s" | base64 -d 2>/dev/null
}
jwt_header() { b64url_json "${1%%.*}"; }
jwt_claims() { local r=${1#*.}; b64url_json "${r%%.*}"; }

RP=http://127.0.0.1:8081/callback           # the proxy callback as registered; nothing listens
RP2=http://127.0.0.1:8081/sessionbinding/okta-callback
CID=cimd-proxy-test
enc() { jq -rn --arg v "$1" '$v|@uri'; }

# new_pkce: sets $verifier and $challenge (S256).
new_pkce() {
	verifier=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
}

# authorize JAR EXTRA_QUERY: follows the redirects of /auth with the cookie jar until one goes
# to $RP or $RP2 and prints that Location (the "browser" never loads it).
authorize() {
	local jar=$1 u out
	u="$idp/auth?client_id=$CID&response_type=code&state=st-$RANDOM&nonce=n-$RANDOM&code_challenge=$challenge&code_challenge_method=S256&$2"
	for _ in 1 2 3 4 5 6 7 8; do
		out=$("${CURL[@]}" -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' "$u") || return 1
		u=${out#* }
		case $u in "$RP"* | "$RP2"*) printf '%s\n' "$u"; return 0 ;; "") return 1 ;; esac
	done
	return 1
}
qparam() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p" <<<"$2"; }

# ---------------------------------------------------------------- pki.sh
sh "$tests/pki.sh" "$work/pki" 2>"$work/pki.err"
check "pki.sh writes ca.pem ca.key server.pem server.key" \
	test -s "$work/pki/ca.pem" -a -s "$work/pki/ca.key" -a -s "$work/pki/server.pem" -a -s "$work/pki/server.key"
check "server.pem chains to ca.pem with SANs 127.0.0.1, ::1, localhost" bash -c "
	openssl verify -CAfile '$ca' '$work/pki/server.pem' >/dev/null &&
	openssl x509 -in '$work/pki/server.pem' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' &&
	openssl x509 -in '$work/pki/server.pem' -noout -ext subjectAltName | grep -q 'IP Address:0:0:0:0:0:0:0:1' &&
	openssl x509 -in '$work/pki/server.pem' -noout -ext subjectAltName | grep -q 'DNS:localhost'"
before=$(cat "$work"/pki/*.pem "$work"/pki/*.key | sha256sum)
sh "$tests/pki.sh" "$work/pki"
check "pki.sh is idempotent" test "$before" = "$(cat "$work"/pki/*.pem "$work"/pki/*.key | sha256sum)"
check "pki files are world-readable (servers run as nobody)" \
	test -z "$(find "$work/pki" -type f ! -perm -o=r)"

# ---------------------------------------------------------------- idp.mjs
start idp --port 0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" \
	--redirect-uri "$RP" --redirect-uri "$RP2" --record "$work/idp.jsonl" || exit 1
idp=$url
check "idp prints ready https://127.0.0.1:<port>" grep -Eq '^https://127\.0\.0\.1:[0-9]+$' <<<"$idp"

disc=$("${CURL[@]}" "$idp/.well-known/openid-configuration")
check "discovery: issuer, S256 only, iss parameter, mcp:tools" jq -e --arg i "$idp" '
	.issuer == $i and .code_challenge_methods_supported == ["S256"]
	and .authorization_response_iss_parameter_supported == true
	and (.scopes_supported | index("mcp:tools") and index("offline_access"))' <<<"$disc"
check "RFC 8414 metadata name serves the same document" \
	test "$disc" = "$("${CURL[@]}" "$idp/.well-known/oauth-authorization-server")"
jwks=$("${CURL[@]}" "$(jq -r .jwks_uri <<<"$disc")")
check "JWKS from discovery has an RS256 and an ES256 key with kids" jq -e '
	([.keys[] | select(.alg == "RS256" and .kty == "RSA" and (.kid | length > 0))] | length == 1) and
	([.keys[] | select(.alg == "ES256" and .crv == "P-256" and (.kid | length > 0))] | length == 1) and
	all(.keys[]; has("d") | not)' <<<"$jwks"

jar=$work/jar
new_pkce
loc=$(authorize "$jar" "redirect_uri=$(enc "$RP")&scope=$(enc 'openid offline_access mcp:tools')&login_hint=alice")
code=$(qparam code "$loc")
check "auto-login (login_hint=alice) ends at the redirect_uri with code, state and iss" \
	test -n "$code" -a "$(qparam iss "$loc")" = "$(enc "$idp")" -a -n "$(qparam state "$loc")"

tok=$("${CURL[@]}" "$idp/token" -d grant_type=authorization_code -d "code=$code" -d "client_id=$CID" \
	--data-urlencode "redirect_uri=$RP" -d "code_verifier=$verifier")
check "code exchange returns access, ID and refresh tokens" \
	jq -e '.access_token and .id_token and .refresh_token and .token_type == "Bearer"' <<<"$tok"
at=$(jq -r .access_token <<<"$tok")
idt=$(jq -r .id_token <<<"$tok")
check "access token is an RS256 JWT whose kid is in the JWKS; no typ, as Okta" jq -e --argjson jwks "$jwks" '
	.alg == "RS256" and (.typ | not) and (.kid as $k | $jwks.keys | any(.kid == $k))' <<<"$(jwt_header "$at")"
check "AT claims are Okta-like: uid 00u…, sub = login, uid != sub, aud, cid, scp" jq -e --arg i "$idp" '
	.uid == "00ualice000000000000" and .sub == "alice@example.test" and .uid != .sub
	and .aud == "api://cimd-proxy-test" and .cid == "cimd-proxy-test" and .iss == $i
	and (.client_id | not) and (.scp | index("mcp:tools") and index("openid") and index("offline_access"))
	and (.scope | split(" ") | index("mcp:tools"))' <<<"$(jwt_claims "$at")"
check "ID token: RS256, sub = AT uid (00u…), aud = client id" bash -c '
	jq -e ".alg == \"RS256\"" <<<"$1" >/dev/null &&
	jq -e --arg uid "$3" ".sub == \$uid and .aud == \"cimd-proxy-test\" and (.nonce | length > 0)" <<<"$2" >/dev/null' _ \
	"$(jwt_header "$idt")" "$(jwt_claims "$idt")" "$(jwt_claims "$at" | jq -r .uid)"
check "AT and ID token verify against the JWKS from discovery (jose)" \
	env -C "$here" NODE_EXTRA_CA_CERTS="$ca" node --input-type=module -e '
	import { createRemoteJWKSet, jwtVerify } from "jose";
	const [iss, at, idt] = process.argv.slice(1);
	const disc = await (await fetch(`${iss}/.well-known/openid-configuration`)).json();
	const keys = createRemoteJWKSet(new URL(disc.jwks_uri));
	await jwtVerify(at, keys, { issuer: iss, audience: "api://cimd-proxy-test" });
	await jwtVerify(idt, keys, { issuer: iss, audience: "cimd-proxy-test" });' "$idp" "$at" "$idt"

rt1=$(jq -r .refresh_token <<<"$tok")
ref=$("${CURL[@]}" "$idp/token" -d grant_type=refresh_token -d "refresh_token=$rt1" -d "client_id=$CID")
rt2=$(jq -r .refresh_token <<<"$ref")
check "refresh grant rotates the refresh token and returns a new JWT AT" \
	test -n "$rt2" -a "$rt2" != null -a "$rt2" != "$rt1" -a "$(jwt_claims "$(jq -r .access_token <<<"$ref")" | jq -r .uid)" = 00ualice000000000000
reuse=$("${CURL[@]}" -w ' %{http_code}' "$idp/token" -d grant_type=refresh_token -d "refresh_token=$rt1" -d "client_id=$CID")
check "reusing the rotated refresh token fails with 400 invalid_grant" \
	test "${reuse##* }" = 400 -a "$(jq -r .error <<<"${reuse% *}")" = invalid_grant

new_pkce
loc=$(authorize "$jar" "redirect_uri=$(enc "$RP2")&scope=openid&prompt=none")
check "prompt=none with the session's cookies returns a code to the sessionbinding callback" test -n "$(qparam code "$loc")"
code=$(qparam code "$loc")
tok2=$("${CURL[@]}" "$idp/token" -d grant_type=authorization_code -d "code=$code" -d "client_id=$CID" \
	--data-urlencode "redirect_uri=$RP2" -d "code_verifier=$verifier")
check "prompt=none ID token sub equals the first AT uid" \
	test "$(jwt_claims "$(jq -r .id_token <<<"$tok2")" | jq -r .sub)" = 00ualice000000000000
new_pkce
loc=$(authorize "$work/fresh-jar" "redirect_uri=$(enc "$RP2")&scope=openid&prompt=none")
check "prompt=none in a fresh browser: error=login_required with iss" \
	test "$(qparam error "$loc")" = login_required -a -z "$(qparam code "$loc")" -a -n "$(qparam iss "$loc")"

new_pkce
st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$idp/auth?client_id=$CID&response_type=code&scope=openid&code_challenge=$challenge&code_challenge_method=S256&redirect_uri=$(enc http://127.0.0.1:8082/callback)")
check "redirect_uri is matched exactly, loopback port included (400, no redirect)" test "$st" = 400
loc=$("${CURL[@]}" -o /dev/null -w '%{redirect_url}' "$idp/auth?client_id=$CID&response_type=code&scope=openid&redirect_uri=$(enc "$RP")")
check "authorization request without PKCE is refused" test "$(qparam error "$loc")" = invalid_request

# The devInteractions forms, as a real browser would submit them (no login_hint, no autologin):
# the first request asks for offline_access, so both the login and the consent form appear.
# form_flow JAR USER: prints the final Location and the prompts answered, one per line.
form_flow() {
	local jar=$1 u out prompt
	u="$idp/auth?client_id=$CID&response_type=code&scope=$(enc 'openid offline_access mcp:tools')&state=f&code_challenge=$challenge&code_challenge_method=S256&redirect_uri=$(enc "$RP")"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		out=$("${CURL[@]}" -b "$jar" -c "$jar" -o "$work/page" -w '%{http_code} %{redirect_url}' "$u") || return 1
		case ${out#* } in "$RP"*) printf '%s\n' "${out#* }"; return 0 ;; esac
		if [ "${out%% *}" = 200 ]; then
			prompt=$(sed -n 's/.*name="prompt" value="\([a-z]*\)".*/\1/p' "$work/page")
			echo "$prompt" >&2
			out=$("${CURL[@]}" -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' "$u" \
				-d "prompt=$prompt" -d login="$2" -d password=x) || return 1
		fi
		u=${out#* }
	done
	return 1
}
new_pkce
loc=$(form_flow "$work/form-jar" bob 2>"$work/prompts")
tok3=$("${CURL[@]}" "$idp/token" -d grant_type=authorization_code -d "code=$(qparam code "$loc")" -d "client_id=$CID" \
	--data-urlencode "redirect_uri=$RP" -d "code_verifier=$verifier")
check "without login_hint the login and consent forms work; typed login bob maps to 00ubob…" bash -c '
	test "$1" = "login consent" && jq -e ".refresh_token" <<<"$2" >/dev/null &&
	test "$(jq -r .uid <<<"$3")" = 00ubob00000000000000' _ \
	"$(paste -sd ' ' "$work/prompts")" "$tok3" "$(jwt_claims "$(jq -r .access_token <<<"$tok3")")"

check "record: /token lines show grant_type, client_id, redirect_uri, verifier, no resource" jq -se --arg rp "$RP" '
	[.[] | select(.route == "token" and .grant_type == "authorization_code")] | length >= 2 and
	all(.client_id == "cimd-proxy-test" and .code_verifier_present and (.resource_present | not)
	    and (.redirect_uri | startswith("http://127.0.0.1:8081/")))' "$work/idp.jsonl"
check "record: /auth lines keep the original prompt and scope" jq -se '
	any(.[]; .route == "authorization" and .prompt == "none" and .scope == "openid") and
	any(.[]; .route == "authorization" and .prompt == null and .login_hint == "alice"
	    and (.scope | contains("offline_access")))' "$work/idp.jsonl"

# The fault switch: each armed fault alters the next prompt=none token answer only; jose tells
# what is wrong with the altered ID token (the nonce is ours to compare).
# fault_token KIND: arms KIND (unless empty), runs a prompt=none code flow with alice's jar,
# prints the token endpoint's answer.
fault_token() {
	[ -n "$1" ] && "${CURL[@]}" -X POST -o /dev/null "$idp/_fault?$1"
	new_pkce
	loc=$(authorize "$jar" "redirect_uri=$(enc "$RP2")&scope=openid&prompt=none")
	"${CURL[@]}" -w '\n%{http_code}' "$idp/token" -d grant_type=authorization_code \
		-d "code=$(qparam code "$loc")" -d "client_id=$CID" --data-urlencode "redirect_uri=$RP2" \
		-d "code_verifier=$verifier"
}
# verify_idt ANSWER: prints what jose says about its id_token (ok or the error code) and nonce.
verify_idt() {
	env -C "$here" NODE_EXTRA_CA_CERTS="$ca" node --input-type=module -e '
	import { createRemoteJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader } from "jose";
	const [iss, answer] = process.argv.slice(1);
	const idt = JSON.parse(answer.split("\n")[0]).id_token;
	const keys = createRemoteJWKSet(new URL(`${iss}/jwks`));
	let r = "ok";
	try { await jwtVerify(idt, keys, { issuer: iss, audience: "cimd-proxy-test" }); } catch (e) { r = e.code; }
	console.log(r, decodeProtectedHeader(idt).kid, decodeJwt(idt).nonce);' "$idp" "$1"
}
good=$(verify_idt "$(fault_token '')")
check "fault switch unarmed: the ID token verifies ($good)" test "${good%% *}" = ok
armed=$("${CURL[@]}" -X POST "$idp/_fault?id_token=wrong-nonce")
check "POST /_fault?id_token=wrong-nonce arms it" jq -e '.id_token == "wrong-nonce" and .token == null' <<<"$armed"
got=$(verify_idt "$(fault_token '')")
check "wrong-nonce: signature good, same kid, nonce changed ($got)" bash -c '
	set -- $1 $2; test "$1" = ok -a "$2" = "$5" -a "$3" != "$6" -a "${3#wrong-}" != "$3"' _ "$got" "$good"
check "the fault fires once: disarmed again" jq -e '. == {"id_token":null,"token":null}' \
	<<<"$("${CURL[@]}" "$idp/_fault")"
got=$(verify_idt "$(fault_token id_token=foreign-key)")
check "foreign-key: same kid, signature fails ($got)" bash -c '
	set -- $1 $2; test "$1" = ERR_JWS_SIGNATURE_VERIFICATION_FAILED -a "$2" = "$5"' _ "$got" "$good"
got=$(verify_idt "$(fault_token id_token=wrong-aud)")
check "wrong-aud: aud claim check fails ($got)" test "${got%% *}" = ERR_JWT_CLAIM_VALIDATION_FAILED
got=$(verify_idt "$(fault_token id_token=wrong-iss)")
check "wrong-iss: iss claim check fails ($got)" test "${got%% *}" = ERR_JWT_CLAIM_VALIDATION_FAILED
got=$(verify_idt "$(fault_token id_token=expired)")
check "expired: exp check fails ($got)" test "${got%% *}" = ERR_JWT_EXPIRED
got=$(fault_token token=invalid_grant)
check "token=invalid_grant: the next /token answers 400 invalid_grant" \
	test "${got##*$'\n'}" = 400 -a "$(jq -r .error <<<"${got%$'\n'*}")" = invalid_grant
got=$(fault_token token=500)
check "token=500: the next /token answers 500 server_error" test "${got##*$'\n'}" = 500
"${CURL[@]}" -X POST -o /dev/null "$idp/_fault?id_token=expired"
"${CURL[@]}" -X POST -o /dev/null "$idp/_fault"
check "POST /_fault with no parameter disarms" test "$(verify_idt "$(fault_token '')" | cut -d' ' -f1)" = ok
check "a bad fault name is refused (400)" test "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$idp/_fault?id_token=nope")" = 400
check "/_fault requests are not recorded" bash -c '! grep -q _fault "$1"' _ "$work/idp.jsonl"

# A second instance: ES256 access tokens, --autologin, --keys, and a client that sends resource.
idp1=$idp
jwks1=$jwks
start idp --port 0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" --redirect-uri "$RP" \
	--at-alg ES256 --autologin carol --keys "$work/keys.json" --record "$work/idp2.jsonl" || exit 1
idp=$url
jwks=$("${CURL[@]}" "$idp/jwks")
check "--keys writes the private JWKS that the instance serves; kids differ from instance 1" bash -c '
	test "$(jq -c "[.keys[] | {kid, alg}]" "$1")" = "$(jq -c "[.keys[] | {kid, alg}]" <<<"$2")" &&
	jq -e "all(.keys[]; .d)" "$1" >/dev/null &&
	test -z "$(comm -12 <(jq -r ".keys[].kid" <<<"$2" | sort) <(jq -r ".keys[].kid" <<<"$3" | sort))"' _ \
	"$work/keys.json" "$jwks" "$jwks1"
new_pkce
loc=$(authorize "$work/jar2" "redirect_uri=$(enc "$RP")&scope=$(enc 'openid mcp:tools')&resource=$(enc https://proxy.test/mcp)")
tok4=$("${CURL[@]}" "$idp/token" -d grant_type=authorization_code -d "code=$(qparam code "$loc")" -d "client_id=$CID" \
	--data-urlencode "redirect_uri=$RP" -d "code_verifier=$verifier")
at=$(jq -r .access_token <<<"$tok4")
check "--at-alg ES256 and --autologin carol; a sent resource does not change aud (as Okta)" bash -c '
	jq -e ".alg == \"ES256\"" <<<"$1" >/dev/null &&
	jq -e ".uid == \"00ucarol000000000000\" and .sub == \"carol@example.test\" and .aud == \"api://cimd-proxy-test\"" <<<"$2" >/dev/null' _ \
	"$(jwt_header "$at")" "$(jwt_claims "$at")"
check "record: resource_present is true when the client sent resource" \
	jq -se 'any(.[]; .route == "authorization" and .resource_present)' "$work/idp2.jsonl"
check "no refresh token without offline_access (as Okta)" jq -e '.refresh_token == null' <<<"$tok4"
idp=$idp1

# ---------------------------------------------------------------- dochost.mjs
start dochost --port 0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" || exit 1
dh=$url
check "dochost prints ready https://127.0.0.1:<port>" grep -Eq '^https://127\.0\.0\.1:[0-9]+$' <<<"$dh"

# fetch PATH [CURL ARGS]: sets $code $ctype $size $hdrs $body for $dh/PATH.
fetch() {
	local p=$1 out
	shift
	out=$("${CURL[@]}" -D "$work/h" -o "$work/b" -w '%{http_code} %{content_type} %{size_download}' "$@" "$dh$p")
	read -r code ctype size <<<"$out"
	ctype=${ctype%;*}
	hdrs=$(tr -d '\r' <"$work/h" 2>/dev/null)
	body=$(cat "$work/b" 2>/dev/null)
}
# route PATH STATUS TYPE HEADER-REGEX: one check on status, media type and a header line.
route() {
	fetch "$1"
	check "dochost $1 -> $2 ${3:-} ${4:-}" bash -c '[ "$1" = "$2" ] && [ -z "$3" -o "$3" = "$4" ] && { [ -z "$5" ] || grep -Eiq "$5" <<<"$6"; }' _ \
		"$code" "$2" "${3:-}" "$ctype" "${4:-}" "$hdrs"
}

for f in "$tests"/docs/*.json; do
	name=$(basename "$f")
	fetch "/$name"
	case $name in
	bad-json.json | bad-array.json) ok=$(jq -e 'type == "object"' <<<"$body" >/dev/null 2>&1 || echo y) ;;
	bad-duplicate-keys.json) ok=$(grep -qF "\"client_id\": \"$dh/$name\"" <<<"$body" &&
		jq -e --arg u "$dh/$name" '.client_id != $u' <<<"$body" >/dev/null && echo y) ;;
	bad-mismatch.json) ok=$(jq -e --arg u "$dh/$name" '.client_id != $u' <<<"$body" >/dev/null && echo y) ;;
	*) ok=$(jq -e --arg u "$dh/$name" '.client_id == $u' <<<"$body" >/dev/null && echo y) ;;
	esac
	check "docs/$name served as application/json, client_id as intended" test "$code $ctype $ok" = "200 application/json y"
done

route /harness.json 200 application/json '^cache-control: max-age=300$'
route /cc/no-store/harness.json 200 application/json '^cache-control: no-store$'
check "client_id equals the URL under a variant route" jq -e --arg u "$dh/cc/no-store/harness.json" '.client_id == $u' <<<"$body"
route /cc/no-cache/harness.json 200 application/json '^cache-control: no-cache$'
route /cc/max-age=5/harness.json 200 application/json '^cache-control: max-age=5$'
etag=$(sed -n 's/^etag: //Ip' <<<"$hdrs")
fetch /cc/max-age=5/harness.json -H "If-None-Match: $etag"
check "If-None-Match with the ETag -> 304" test "$code" = 304
route /redirect/harness.json 302 '' '^location: /harness.json$'
for s in 404 410 500 503; do route /status/$s/harness.json $s application/json; done
route /status/403/harness.json 403 text/html
check "403 body is an HTML challenge page" grep -q '<html' <<<"$body"
route /huge/harness.json 200 application/json '^content-length: [0-9]+$'
check "/huge body is > 5 KB and valid JSON" bash -c '[ "$1" -gt 5120 ] && jq -e .client_id <<<"$2" >/dev/null' _ "$size" "$body"
route /chunked-huge 200 application/json '^transfer-encoding: chunked$'
check "/chunked-huge is > 5 KB with no Content-Length" bash -c '[ "$1" -gt 5120 ] && ! grep -qi "^content-length" <<<"$2"' _ "$size" "$hdrs"
route /text/harness.json 200 text/plain
route /lying-length/harness.json 200 application/json '^content-length: 100$'
fetch /lying-length/harness.json --ignore-content-length
check "/lying-length really sends 8 KB" test "$size" -ge 8192
route /no-such.json 404 text/plain

slow_start=$(date +%s%N)
"${CURL[@]}" -m 30 -o /dev/null "$dh/slow/harness.json" &
slow_pid=$!
fetch /harness.json
fast_ms=$((($(date +%s%N) - slow_start) / 1000000))
check "a pending /slow request does not block others (${fast_ms} ms)" test "$code" = 200 -a "$fast_ms" -lt 2000
"${CURL[@]}" -m 1 -o /dev/null "$dh/slow/vscode.json"
check "/slow does not answer within 1 s (curl exit 28)" test $? = 28
kill "$slow_pid" 2>/dev/null
wait "$slow_pid" 2>/dev/null

check "GET /_count?path=/harness.json counts fetches" \
	jq -e '.path == "/harness.json" and .count == 3' <<<"$("${CURL[@]}" "$dh/_count?path=/harness.json")"
"${CURL[@]}" -X POST -o /dev/null "$dh/_down"
"${CURL[@]}" -o /dev/null "$dh/harness.json"
rc=$?
check "after POST /_down a document fetch is a connection reset (curl exit $rc)" test "$rc" = 56
"${CURL[@]}" -X POST -o /dev/null "$dh/_up"
fetch /harness.json
check "after POST /_up documents are served again" test "$code" = 200
"${CURL[@]}" -X POST -o /dev/null "$dh/_reset"
check "POST /_reset zeroes the counts" \
	jq -e '. == {}' <<<"$("${CURL[@]}" "$dh/_count")"

echo "1..$n"
[ "$failed" -eq 0 ]
