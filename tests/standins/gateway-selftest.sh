#!/usr/bin/env bash
# gateway-selftest.sh - self test of the AgentCore Gateway + AgentCore Identity stand-ins
# (gateway.mjs, agentcore.mjs) and of mcp-probe.mjs / sigv4-sign.mjs. TAP output.
# Run from the repo root:  bash tests/standins/gateway-selftest.sh
# Needs: node 20, curl, jq, certtool (via tests/pki.sh). Uses only 127.0.0.1.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SI="$ROOT/tests/standins"
T=$(mktemp -d /tmp/gw-selftest.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

n=0; fails=0
ok()   { n=$((n+1)); echo "ok $n - $1"; }
nok()  { n=$((n+1)); fails=$((fails+1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'; }
check() { # check "description" command...
	local d=$1; shift
	local outp
	if outp=$("$@" 2>&1); then ok "$d"; else nok "$d" "$outp"; fi
}
die() { echo "Bail out! $*"; exit 1; }

# ---------------------------------------------------------------- PKI and keys
if [ -x "$ROOT/tests/pki.sh" ] || [ -f "$ROOT/tests/pki.sh" ]; then
	sh "$ROOT/tests/pki.sh" "$T/pki" >/dev/null || die "pki.sh failed"
else
	mkdir -p "$T/pki" && cd "$T/pki" || die "mkdir"
	printf 'cn = "test CA"\nca\ncert_signing_key\nexpiration_days = 30\n' > ca.tmpl
	printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ndns_name = "localhost"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n' > server.tmpl
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile ca.key 2>/dev/null
	certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --no-text --outfile ca.pem 2>/dev/null
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile server.key 2>/dev/null
	certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem --load-ca-privkey ca.key \
		--template server.tmpl --no-text --outfile server.pem 2>/dev/null
	cd - >/dev/null || exit 1
fi
export NODE_EXTRA_CA_CERTS="$T/pki/ca.pem"
CA="$T/pki/ca.pem"

JOSE="$SI/node_modules/jose/dist/webapi/index.js"
cat > "$T/mint.mjs" <<EOF
// mint.mjs keys DIR | token DIR '{claims overrides}'  (throwaway RS256 key, Okta-like claims)
import * as jose from '$JOSE';
import fs from 'node:fs';
const [cmd, dir, over] = process.argv.slice(2);
if (cmd === 'keys') {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  fs.writeFileSync(dir + '/jwks.json', JSON.stringify({ keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'RS256-test', alg: 'RS256', use: 'sig' }] }));
  fs.writeFileSync(dir + '/priv.json', JSON.stringify(await jose.exportJWK(privateKey)));
} else {
  const priv = await jose.importJWK(JSON.parse(fs.readFileSync(dir + '/priv.json', 'utf8')), 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const c = { ver: 1, jti: 'AT.' + crypto.randomUUID(), iss: 'https://idp.invalid/oauth2/test', aud: 'api://cimd-proxy-test',
    iat: now, exp: now + 3600, cid: 'cimd-proxy-test', uid: '00u1alice', sub: 'alice@example.com', scp: ['mcp:tools'],
    ...JSON.parse(over || '{}') };
  for (const k of Object.keys(c)) if (c[k] === null) delete c[k];
  process.stdout.write(await new jose.SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: 'RS256-test', typ: 'application/okta-internal-at+jwt' }).sign(priv));
}
EOF
# tiny HTTPS issuer: discovery + JWKS (exercises --issuer discovery and NODE_EXTRA_CA_CERTS)
cat > "$T/issuer.mjs" <<'EOF'
import https from 'node:https'; import fs from 'node:fs';
const [cert, key, jwks] = process.argv.slice(2);
const s = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  const iss = `https://127.0.0.1:${s.address().port}`;
  if (req.url === '/.well-known/openid-configuration') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ issuer: iss, jwks_uri: iss + '/v1/keys' }));
  }
  if (req.url === '/v1/keys') { res.writeHead(200, { 'Content-Type': 'application/json' }); return res.end(fs.readFileSync(jwks)); }
  res.writeHead(404); res.end();
});
s.listen(0, '127.0.0.1', () => console.log(`ready https://127.0.0.1:${s.address().port}`));
process.on('SIGTERM', () => process.exit(0));
EOF
node "$T/mint.mjs" keys "$T" || die "key generation failed"
mint() { node "$T/mint.mjs" token "$T" "${1:-{\}}"; }

ISS=https://idp.invalid/oauth2/test
A1=$(mint '{}')
A2=$(mint '{}')                     # same user, freshly minted (different jti/signature)
B1=$(mint '{"uid":"00u2bob","sub":"bob@example.com"}')
BADCID=$(mint '{"cid":"someone-else"}')
EXPIRED=$(mint '{"iat":1000000000,"exp":1000000600}')
WRONGISS=$(mint '{"iss":"https://evil.invalid"}')
WRONGAUD=$(mint '{"aud":"api://other"}')
[ -n "$A1" ] && [ -n "$B1" ] || die "token minting failed"

# ---------------------------------------------------------------- start the stand-ins
wait_ready() { # file -> prints the ready line
	local i
	for i in $(seq 1 100); do
		if grep -q '^ready ' "$1" 2>/dev/null; then grep '^ready ' "$1"; return 0; fi
		sleep 0.1
	done
	return 1
}
RET="http://127.0.0.1:9/sessionbinding/callback"
timeout 300 node "$SI/gateway.mjs" --issuer "$ISS" --jwks-file "$T/jwks.json" \
	--allowed-audience api://cimd-proxy-test --allowed-clients cimd-proxy-test \
	--agentcore-cert "$T/pki/server.pem" --agentcore-key "$T/pki/server.key" --return-url "$RET" \
	--record "$T/gw.jsonl" --agentcore-record "$T/ac.jsonl" >"$T/gw.out" 2>"$T/gw.err" &
GWPID=$!; PIDS+=("$GWPID")
READY=$(wait_ready "$T/gw.out") || { cat "$T/gw.err"; die "gateway did not start"; }
MCP=$(echo "$READY" | awk '{print $2}')
AC=$(echo "$READY" | awk '{print $3}')
GW=${MCP%/mcp}
echo "# gateway $MCP agentcore $AC"
ok "gateway + agentcore start and print 'ready <mcp> <agentcore>'"

P() { timeout 30 node "$SI/mcp-probe.mjs" --url "$MCP" "$@"; }
SIGN() { timeout 30 node "$SI/sigv4-sign.mjs" --endpoint "$AC" "$@"; }
HJ=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')

# ---------------------------------------------------------------- PRM and 401 shape
prm=$(curl -s -m 5 "$GW/.well-known/oauth-protected-resource")
check "PRM served unauthenticated (resource, authorization_servers)" \
	test "$(echo "$prm" | jq -r '.resource + " " + .authorization_servers[0] + " " + .scopes_supported[0]')" = "$MCP $ISS mcp:tools"

want="WWW-Authenticate: Bearer error=\"invalid_token\", scope=\"mcp:tools\", resource_metadata=\"$GW/.well-known/oauth-protected-resource\""
hdr=$(curl -s -m 5 -o /dev/null -D - "${HJ[@]}" "$MCP" -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | tr -d '\r')
if echo "$hdr" | head -1 | grep -q ' 401' && echo "$hdr" | grep -qxF "$want"; then ok "no token -> 401 with AgentCore-shaped WWW-Authenticate"
else nok "no token -> 401 with AgentCore-shaped WWW-Authenticate" "$hdr"; fi

for pair in "expired:$EXPIRED" "wrong-iss:$WRONGISS" "wrong-aud:$WRONGAUD" "client-not-allowed:$BADCID" "garbage:abc.def.ghi"; do
	name=${pair%%:*}; tok=${pair#*:}
	code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${HJ[@]}" -H "Authorization: Bearer $tok" "$MCP" -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')
	check "$name token -> 401" test "$code" = 401
done

# ---------------------------------------------------------------- MCP basics via the SDK client
out=$(P --token "$A1" list)
check "probe list shows echo/whoami/slow/github_repos" \
	test "$(echo "$out" | jq -c '[.tools[] | select(. == "echo" or . == "whoami" or . == "slow" or . == "github_repos")] | length')" = 4
out=$(P --token "$A1" call echo '{"text":"hello gateway"}')
check "probe call echo returns its text" test "$(echo "$out" | jq -r '.result.content[0].text')" = "hello gateway"
out=$(P --token "$A1" call whoami)
check "whoami returns uid and sub of the verified token" \
	test "$(echo "$out" | jq -r '.result.content[0].text | fromjson | .uid + " " + .sub')" = "00u1alice alice@example.com"

# ---------------------------------------------------------------- sessions and protocol version (curl)
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"curl","version":"1"}}}'
SID=$(curl -s -m 5 -o /dev/null -D - "${HJ[@]}" -H "Authorization: Bearer $A1" "$MCP" -d "$init" | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')
check "initialize returns Mcp-Session-Id" test -n "$SID"
curl -s -m 5 -o /dev/null "${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' \
	"$MCP" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
body=$(curl -s -m 5 "${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" "$MCP" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')
check "missing MCP-Protocol-Version after initialize -> JSON-RPC -32603" test "$(echo "$body" | jq -r '.error.code')" = -32603
body=$(curl -s -m 5 "${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' "$MCP" \
	-d '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' | sed -n 's/^data: //p')
check "with MCP-Protocol-Version the session works (SSE response)" test "$(echo "$body" | jq '.result.tools | length')" -ge 5
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${HJ[@]}" -H "Authorization: Bearer $B1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' "$MCP" \
	-d '{"jsonrpc":"2.0","id":4,"method":"tools/list"}')
check "another user's token on alice's session -> 404" test "$code" = 404
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${HJ[@]}" -H "Authorization: Bearer $A1" "$MCP" -d '{"jsonrpc":"2.0","id":5,"method":"tools/list"}')
check "non-initialize POST without session -> 400" test "$code" = 400

# standalone GET SSE: probe listens on the curl session, curl triggers broadcast
P --token "$A1" --session-id "$SID" listen 4000 >"$T/listen.out" 2>&1 &
LPID=$!; PIDS+=("$LPID")
# The broadcast reaches only a stream that is already open, and the
# probe's node start-up takes a variable time: broadcast again every
# 0.2 s until the probe has printed the notification or has ended.
for i in $(seq 1 40); do
	curl -s -m 5 -o /dev/null "${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' "$MCP" \
		-d '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"broadcast","arguments":{"text":"to-standalone"}}}'
	grep -q '"data":"to-standalone"' "$T/listen.out" && break
	kill -0 "$LPID" 2>/dev/null || break
	sleep 0.2
done
wait "$LPID"
check "standalone GET SSE stream receives a server notification" grep -q '"data":"to-standalone"' "$T/listen.out"
gets=$(curl -s -m 5 "$GW/_records" | jq --arg s "$SID" '[.[] | select(.method=="GET" and .["mcp-session-id"]==$s and (.accept|test("text/event-stream")))] | length')
check "GET stream was recorded with Accept: text/event-stream" test "$gets" -ge 1

code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' "$MCP")
check "DELETE ends the session (200)" test "$code" = 200
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' "$MCP" \
	-d '{"jsonrpc":"2.0","id":7,"method":"tools/list"}')
check "request on a deleted session -> 404" test "$code" = 404
out=$(P --token "$A1" delete-session)
check "probe delete-session" test "$(echo "$out" | jq -r .deleted)" = true

# ---------------------------------------------------------------- streaming timing
# In lockstep (the probe acknowledges each notification at /_ack and the
# gateway sends the next only then, 300 ms later), so the spacing is exact.
out=$(P --token "$A1" stream 5 300 "$GW/_ack")
echo "$out" | sed 's/^/# /' | cut -c1-160
ts=$(echo "$out" | jq -s -c '[.[] | select(.notification) | .t]')
rt=$(echo "$out" | jq -s '[.[] | select(.result) | .t][0]')
check "stream: 5 notifications arrived" test "$(echo "$ts" | jq length)" = 5
check "stream: each was acknowledged before the next was sent" \
	jq -e -s '[.[] | select(.result)][0].result.content[0].text | test("^slow done: 5 ")' <<<"$out"
check "stream: notifications spaced (span >= 1080 ms, each gap >= 270 ms)" \
	jq -e -n --argjson ts "$ts" '($ts[-1] - $ts[0]) >= 1080 and ([range(1; $ts|length)] | all($ts[.] - $ts[.-1] >= 270))'
check "stream: first notification well before the result (not all at the end)" \
	jq -e -n --argjson ts "$ts" --argjson rt "$rt" '($rt - $ts[0]) >= 1200'
# A client that never acknowledges (as behind a relay that held the
# notification back) stalls the tool, which then says so.
out=$(P --token "$A1" stream 2 10 "http://127.0.0.1:1/_ack")
check "stream: no acknowledgement -> the tool ends with an error naming notification 1" \
	jq -e -s '[.[] | select(.result)][0].result | .isError and (.content[0].text | test("notification 1 never reached"))' <<<"$out"

# ---------------------------------------------------------------- elicitation, four deliveries
RURE='^https://127\.0\.0\.1:[0-9]+/identities/oauth2/authorize\?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A[A-Za-z0-9._~-]+$'
for d in sse json http401 mrtr; do
	out=$(P --token "$A1" elicit "$d"); rc=$?
	echo "# elicit $d: $(echo "$out" | cut -c1-200)"
	url=$(echo "$out" | jq -r '.urls[0] // empty')
	if [ $rc = 0 ] && [[ $url =~ $RURE ]]; then ok "elicit ($d): probe got a URL elicitation with an AgentCore request_uri"
	else nok "elicit ($d): probe got a URL elicitation with an AgentCore request_uri" "rc=$rc $out"; fi
done
out=$(P --token "$A1" elicit sse)
check "sse: -32042 error with mode=url, elicitationId, AgentCore message" \
	jq -e '.code == -32042 and .elicitations[0].mode == "url" and (.elicitations[0].elicitationId|length) == 36 and .elicitations[0].message == "Please login to this URL for authorization."' <<<"$out"
out=$(P --token "$A1" elicit http401)
check "http401: carried by HTTP 401" jq -e '.transport == "http_error" and .http_status == 401' <<<"$out"
out=$(P --token "$A1" elicit mrtr)
check "mrtr: 2026-07-28 InputRequiredResult with elicitation/create url request + requestState" \
	jq -e '.kind == "input_required" and .input_requests[0].method == "elicitation/create" and .input_requests[0].params.mode == "url" and (.request_state|length) > 0' <<<"$out"

# raw wire checks (curl, fresh session)
SID2=$(curl -s -m 5 -o /dev/null -D - "${HJ[@]}" -H "Authorization: Bearer $A1" "$MCP" -d "$init" | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')
H2=("${HJ[@]}" -H "Authorization: Bearer $A1" -H "Mcp-Session-Id: $SID2" -H 'MCP-Protocol-Version: 2025-11-25')
call() { printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"github_repos","arguments":{"delivery":"%s"}}}' "$1" "$2"; }
curl -s -m 5 -D "$T/h.sse" -o "$T/b.sse" "${H2[@]}" "$MCP" -d "$(call 11 sse)"
check "sse wire: 200 text/event-stream, data: line with -32042 and id" \
	bash -c "grep -qi '^content-type: text/event-stream' '$T/h.sse' && sed -n 's/^data: //p' '$T/b.sse' | jq -e '.id == 11 and .error.code == -32042 and .error.message == \"This request requires more information.\"'"
curl -s -m 5 -D "$T/h.json" -o "$T/b.json" "${H2[@]}" "$MCP" -d "$(call 12 json)"
check "json wire: 200 application/json JSON-RPC error -32042" \
	bash -c "head -1 '$T/h.json' | grep -q ' 200' && grep -qi '^content-type: application/json' '$T/h.json' && jq -e '.id == 12 and .error.code == -32042' '$T/b.json'"
curl -s -m 5 -D "$T/h.401" -o "$T/b.401" "${H2[@]}" "$MCP" -d "$(call 13 http401)"
check "http401 wire: 401, no WWW-Authenticate, body -32042" \
	bash -c "head -1 '$T/h.401' | grep -q ' 401' && ! grep -qi '^www-authenticate' '$T/h.401' && jq -e '.error.code == -32042' '$T/b.401'"
curl -s -m 5 -o "$T/b.mrtr" "${H2[@]}" "$MCP" -d "$(call 14 mrtr)"
check "mrtr wire: result.resultType input_required, url has request_uri" \
	jq -e '.id == 14 and .result.resultType == "input_required" and ([.result.inputRequests[] | .params.url | test("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A")] | all)' "$T/b.mrtr"
for f in sse json 401 mrtr; do echo "# wire $f: $(tr -d '\r' < "$T/b.$f" | tr '\n' ' ' | cut -c1-400)"; done

# ---------------------------------------------------------------- consent step + CompleteResourceTokenAuth
out=$(P --token "$A1" elicit sse)
URL1=$(echo "$out" | jq -r '.urls[0]')
SU1=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("request_uri"))' "$URL1")
loc=$(curl -s -m 5 --cacert "$CA" -o /dev/null -w '%{http_code} %{redirect_url}' "$URL1")
enc=$(node -e 'console.log(encodeURIComponent(process.argv[1]))' "$SU1")
check "consent URL -> 302 to return URL with percent-encoded session_id" test "$loc" = "302 $RET?session_id=$enc"
code=$(curl -s -m 5 --cacert "$CA" -o /dev/null -w '%{http_code}' "$URL1")
check "reused consent URL -> 400 (Invalid request)" test "$code" = 400

out=$(SIGN --session-uri "$SU1" --user-token "$A2")
check "completion with a freshly minted token of the same user -> 403 AccessDeniedException" \
	jq -e '.status == 403 and .headers["x-amzn-errortype"] == "AccessDeniedException" and (.body|fromjson) == {"__type":"AccessDeniedException","message":"Invalid or expired session"} and (.headers["x-amzn-requestid"]|length) > 0' <<<"$out"
out=$(SIGN --session-uri "$SU1" --user-token "$A1" --tamper)
check "tampered body (bad signature) -> 403 InvalidSignatureException" \
	jq -e '.status == 403 and .headers["x-amzn-errortype"] == "InvalidSignatureException" and ((.body|fromjson).message|startswith("The request signature we calculated does not match"))' <<<"$out"
out=$(SIGN --session-uri "$SU1" --user-token "$A1" --secret-access-key wrong)
check "wrong secret -> 403 InvalidSignatureException" jq -e '.status == 403 and .headers["x-amzn-errortype"] == "InvalidSignatureException"' <<<"$out"
out=$(SIGN --session-uri "$SU1" --user-token "$A1" --access-key-id AKIDUNKNOWN)
check "unknown access key -> 403 UnrecognizedClientException" jq -e '.status == 403 and .headers["x-amzn-errortype"] == "UnrecognizedClientException"' <<<"$out"
out=$(SIGN --session-uri "$SU1" --user-token "$A1" --region eu-west-1)
check "wrong region in credential scope -> 403" jq -e '.status == 403 and .headers["x-amzn-errortype"] == "InvalidSignatureException"' <<<"$out"
code=$(curl -s -m 5 --cacert "$CA" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$AC/identities/CompleteResourceTokenAuth" -d '{}')
check "unsigned request -> 403" test "$code" = 403
hdr=$(curl -s -m 5 --cacert "$CA" -D - -o /dev/null --aws-sigv4 "aws:amz:us-east-1:bedrock-agentcore" \
	--user AKIDCIMDPROXYTEST:cimd-proxy-test-secret -H 'Content-Type: application/json' "$AC/identities/CompleteResourceTokenAuth" \
	-d '{"sessionUri":"urn:ietf:params:oauth:request_uri:unknown","userIdentifier":{"userToken":"a.b.c"}}' | tr -d '\r')
check "libcurl --aws-sigv4 (what CURLOPT_AWS_SIGV4 sends) passes the signature check (-> AccessDenied)" \
	bash -c "echo '$hdr' | grep -qi '^x-amzn-errortype: AccessDeniedException'"
out=$(SIGN --body '{"sessionUri":"not-a-urn","userIdentifier":{"userToken":"a.b.c"}}')
check "bad sessionUri -> 400 ValidationException" jq -e '.status == 400 and .headers["x-amzn-errortype"] == "ValidationException"' <<<"$out"
out=$(SIGN --body "{\"sessionUri\":\"$SU1\",\"userIdentifier\":{\"userToken\":\"$A1\",\"userId\":\"x\"}}")
check "both userToken and userId -> 400 ValidationException" jq -e '.status == 400 and .headers["x-amzn-errortype"] == "ValidationException"' <<<"$out"

curl -s -m 5 -X POST "$GW/_reset" >/dev/null
out=$(P --token "$A1" call github_repos '{"delivery":"json"}'); rc=$?
check "before completion github_repos still elicits" test "$rc" != 0
out=$(SIGN --session-uri "$SU1" --user-token "$A1")
check "completion with the exact token that triggered the elicitation -> 200, empty body" \
	jq -e '.status == 200 and .body == "" and (.headers["x-amzn-requestid"]|length) > 0' <<<"$out"
out=$(P --token "$A1" call github_repos)
check "after completion github_repos returns repos for alice" \
	jq -e '.result.content[0].text | fromjson | .user == "alice@example.com" and (.repos|length) == 2' <<<"$out"
out=$(P --token "$A2" call github_repos '{"delivery":"mrtr"}')
check "vault keyed by sub: another token of alice also succeeds" jq -e '.result.content[0].text | fromjson | .user == "alice@example.com"' <<<"$out"
out=$(SIGN --session-uri "$SU1" --user-token "$A1")
check "replay of the completion -> 403 AccessDeniedException" jq -e '.status == 403 and .headers["x-amzn-errortype"] == "AccessDeniedException"' <<<"$out"
out=$(P --token "$B1" elicit)
check "bob (other sub) still gets an elicitation" jq -e '.elicitation == true' <<<"$out"
SUB=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("request_uri"))' "$(echo "$out" | jq -r '.urls[0]')")
out=$(SIGN --session-uri "$SUB" --user-token "$A1")
check "alice's token on bob's session -> 403" jq -e '.status == 403' <<<"$out"

# ---------------------------------------------------------------- fault switches
curl -s -m 5 --cacert "$CA" -X POST "$AC/_fail?status=500" >/dev/null
out=$(SIGN --session-uri "$SUB" --user-token "$B1")
check "fault status=500 -> 500 InternalServerException" jq -e '.status == 500 and .headers["x-amzn-errortype"] == "InternalServerException"' <<<"$out"
curl -s -m 5 --cacert "$CA" -X POST "$AC/_fail?status=429" >/dev/null
out=$(SIGN --session-uri "$SUB" --user-token "$B1")
check "fault status=429 -> 429 ThrottlingException" jq -e '.status == 429 and .headers["x-amzn-errortype"] == "ThrottlingException"' <<<"$out"
curl -s -m 5 --cacert "$CA" -X POST "$AC/_fail?delay=3000" >/dev/null
s=$(date +%s%N)
SIGN --session-uri "$SUB" --user-token "$B1" --timeout 1000 >/dev/null; rc=$?
e=$((($(date +%s%N) - s) / 1000000))
check "fault delay=3000: a 1 s client timeout fires (rc=$rc, ${e} ms)" test "$rc" = 3 -a "$e" -lt 2500
sleep 2.3
out=$(SIGN --session-uri "$SUB" --user-token "$B1")
check "after the faults the session still completes (200)" jq -e '.status == 200' <<<"$out"
curl -s -m 5 --cacert "$CA" -X POST "$AC/_fail?delay=800" >/dev/null
s=$(date +%s%N)
out=$(SIGN --session-uri "$SUB" --user-token "$B1")
e=$((($(date +%s%N) - s) / 1000000))
check "fault delay=800 then normal handling (replay -> 403 after ${e} ms)" test "$(echo "$out" | jq .status)" = 403 -a "$e" -ge 750

# ---------------------------------------------------------------- recording
calls=$(curl -s -m 5 --cacert "$CA" "$AC/_calls")
check "/_calls records completion calls with headers and body" \
	jq -e '[.[] | select(.kind=="complete")] | length >= 10 and (.[0].headers.authorization|startswith("AWS4-HMAC-SHA256")) and (.[0].body|length) > 0' <<<"$calls"
check "agentcore record file written" test "$(wc -l < "$T/ac.jsonl")" -ge 10
curl -s -m 5 -o /dev/null "${HJ[@]}" -H "Authorization: Bearer $A1" -H 'Cookie: sid=leak' -H 'X-Forwarded-For: 10.0.0.1' "$MCP" -d "$init"
rec=$(curl -s -m 5 "$GW/_records" | jq -c '.[-1]')
sha=$(printf %s "$A1" | sha256sum | cut -d' ' -f1)
check "/_records: token sha256, all header names, no raw token" \
	jq -e --arg sha "$sha" '.token_sha256 == $sha and .authorization == true and (.header_names | index("cookie") and index("x-forwarded-for")) and .rpc_method == "initialize" and .headers.authorization == "<redacted>"' <<<"$rec"
check "record file has no raw bearer token" bash -c "! grep -qF '$A1' '$T/gw.jsonl'"
curl -s -m 5 -X POST "$GW/_reset" >/dev/null
check "/_reset clears records" test "$(curl -s -m 5 "$GW/_records" | jq length)" = 0
out=$(curl -s -m 5 "$GW/_fixed" -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":42,"method":"x"}')
check "/_fixed answers a fixed JSON-RPC result" jq -e '.id == 42 and .result.ok == true' <<<"$out"

# ---------------------------------------------------------------- stateless gateway, issuer discovery over HTTPS, session token
timeout 120 node "$T/issuer.mjs" "$T/pki/server.pem" "$T/pki/server.key" "$T/jwks.json" >"$T/iss.out" 2>&1 &
PIDS+=("$!")
ISS2=$(wait_ready "$T/iss.out" | awk '{print $2}') || die "issuer did not start"
timeout 120 node "$SI/gateway.mjs" --stateless --issuer "$ISS2" --allowed-clients cimd-proxy-test --client-claim cid \
	--aws-session-token SESSIONTOKEN --agentcore-cert "$T/pki/server.pem" --agentcore-key "$T/pki/server.key" \
	>"$T/gw2.out" 2>"$T/gw2.err" &
GW2PID=$!; PIDS+=("$GW2PID")
READY2=$(wait_ready "$T/gw2.out") || { cat "$T/gw2.err"; die "stateless gateway did not start"; }
MCP2=$(echo "$READY2" | awk '{print $2}'); AC2=$(echo "$READY2" | awk '{print $3}')
S1=$(mint "{\"iss\":\"$ISS2\"}")
hdr=$(curl -s -m 5 -D - -o /dev/null "${HJ[@]}" -H "Authorization: Bearer $S1" "$MCP2" -d "$init" | tr -d '\r')
check "stateless: initialize has no Mcp-Session-Id" bash -c "echo '$hdr' | head -1 | grep -q ' 200' && ! echo '$hdr' | grep -qi '^mcp-session-id'"
out=$(timeout 30 node "$SI/mcp-probe.mjs" --url "$MCP2" --token "$S1" call echo '{"text":"stateless"}')
check "stateless: echo via probe, JWKS found by discovery over HTTPS (NODE_EXTRA_CA_CERTS)" \
	test "$(echo "$out" | jq -r '.result.content[0].text')" = stateless
out=$(timeout 30 node "$SI/mcp-probe.mjs" --url "$MCP2" --token "$S1" elicit)
check "stateless: elicitation" jq -e '.elicitation == true' <<<"$out"
SU2=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("request_uri"))' "$(echo "$out" | jq -r '.urls[0]')")
out=$(timeout 30 node "$SI/sigv4-sign.mjs" --endpoint "$AC2" --session-uri "$SU2" --user-token "$S1")
check "session token configured: request without X-Amz-Security-Token -> 403 UnrecognizedClientException" \
	jq -e '.status == 403 and .headers["x-amzn-errortype"] == "UnrecognizedClientException"' <<<"$out"
out=$(timeout 30 node "$SI/sigv4-sign.mjs" --endpoint "$AC2" --session-uri "$SU2" --user-token "$S1" --session-token SESSIONTOKEN)
check "session token configured: signed with X-Amz-Security-Token -> 200" jq -e '.status == 200' <<<"$out"
out=$(timeout 30 node "$SI/mcp-probe.mjs" --url "$MCP2" --token "$S1" call github_repos)
check "stateless: github_repos succeeds after completion" jq -e '.result.content[0].text | fromjson | (.repos|length) == 2' <<<"$out"

# ---------------------------------------------------------------- SIGTERM
kill -TERM "$GW2PID"
for i in $(seq 1 30); do kill -0 "$GW2PID" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the gateway" bash -c "! kill -0 $GW2PID 2>/dev/null"

echo "1..$n"
[ "$fails" = 0 ] || { echo "# $fails failed"; exit 1; }
