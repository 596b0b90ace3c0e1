# The world of a session-binding test (issue #5): the Okta-like IdP
# stand-in (HTTPS, recording what it receives), and for each of lighttpd
# (FastCGI) and Apache (mod_fcgid) the installed proxy with its own keys
# and store, and its own AgentCore Gateway + Identity stand-in (one node
# process each, so every server has its own call log and return URL).
# Source after tests/lib.sh and servers.sh.
#
#   binding_prereqs [chromium]   skip unless the tools (and Chromium) exist
#   binding_setup [CONF-LINE]... start everything (BINDING_STORE: a store
#                                line for both proxies; BINDING_CLEANUP:
#                                run at exit after the rest), sets:
#       T (scratch), CA, IDP, LT and AP (the proxies' origins),
#       AC_lt / AC_ap (the AgentCore stand-ins), conf_lt / conf_ap,
#       gwp_lt / acp_lt (lighttpd's gateway and AgentCore ports),
#       TOKEN_alice / TOKEN_bob (real access tokens from the IdP).
#       A test may define binding_more_servers: it is called once the
#       two proxies run and before the IdP starts, and adds the origins
#       of any servers it starts to $more_origins (the IdP must know
#       their okta-callback URIs).
#   token USER                   a new access token for USER
#   elicit S USER                the SDK client (mcp-probe) calls the 3LO
#                                tool through server S's /mcp as USER
#                                (after emptying USER's token vault);
#                                sets $link (the elicitation URL), $su
#                                (the session URI) and $cb (the proxy's
#                                /sessionbinding/callback URL for it)
#   elicit_fast S USER           the same by curl (no node start)
#   completions S [SU]           AgentCore stand-in S's CompleteResource-
#                                TokenAuth calls (for session URI SU)
#   ac S PATH [CURL-ARGS]        a request to AgentCore stand-in S
#   binding S SU                 the stored binding, via the store API
#   idp_jar USER JAR             an IdP session for USER in cookie jar JAR
#   req METHOD URL [CURL-ARGS]   one request: $code, headers $T/h, body $T/b
#   hdr NAME                     a header of the last response
#   sb_cookie                    the __Host-cimd-sb pair the last response set
#   sb_idp JAR URL               follows the IdP's redirects with JAR until
#                                it sends the browser back to us: $back
#   sb_flow BASE URL JAR         a whole binding flow by curl: the callback,
#                                the IdP (prompt=none with JAR's session),
#                                the okta-callback; the final $code, plus
#                                $cookie, $loc (to the IdP) and $back
#   hash16 TEXT                  first 16 hex of SHA-256(TEXT), as the
#                                security log names users
#
# AWS test credentials reach the programs the way an operator gives them:
# in the web server's environment, which the shipped snippets pass on
# (lighttpd bin-copy-environment, Apache PassEnv).

SI=$top_srcdir/tests/standins
BINDING_GET=$top_builddir/tests/integration/binding-get
BINDING_AGE=$top_builddir/tests/integration/binding-age
AUD=api://cimd-proxy-test
CLIENT=cimd-proxy-test
LOGIN_REDIRECT=http://127.0.0.1:9300/callback   # for getting tokens; nothing listens
AWS_TEST_ENV="AWS_ACCESS_KEY_ID=AKIDCIMDPROXYTEST AWS_SECRET_ACCESS_KEY=cimd-proxy-test-secret"
ALICE_UID=00ualice000000000000
BOB_UID=00ubob00000000000000

binding_prereqs() {
	local t
	for t in curl jq lighttpd apache2 node openssl sha256sum; do
		command -v "$t" >/dev/null || skip_all "$t is not installed"
	done
	[ -x "$STAGE/libexec/cimd-proxy/sessionbinding-callback.fcgi" ] ||
		skip_all "no staging install in $STAGE"
	[ -d "$SI/node_modules/@modelcontextprotocol" ] && [ -d "$SI/node_modules/oidc-provider" ] ||
		skip_all "stand-ins not installed (npm ci in tests/standins)"
	if [ "${1:-}" = chromium ]; then
		[ -x /usr/bin/chromium ] || skip_all "Debian chromium is not installed"
		[ -d "$SI/node_modules/playwright-core" ] || skip_all "playwright-core is not installed"
		command -v certutil >/dev/null ||
			skip_all "certutil (libnss3-tools) is not installed, so Chromium cannot trust the test CA"
	fi
}

binding_stop_standins() {
	local p
	for p in ${idp_pid:-} ${gw_lt_pid:-} ${gw_ap_pid:-}; do kill "$p" 2>/dev/null; done
	return 0
}

# binding_config NAME GW-PORT AC-PORT [LINE]...: the proxy config.
binding_config() {
	local name=$1 gw=$2 ac=$3 conf
	shift 3
	conf=$(srv_config "$name" "tls_ca_file = $CA" "idp_user_claim = uid" \
		"idp_audience = $AUD" "agentcore_region = us-east-1" \
		"agentcore_endpoint = https://127.0.0.1:$ac" "$@") || return 1
	sed -i -e "s|^idp_issuer = .*|idp_issuer = $IDP|" \
		-e "s|^gateway_url = .*|gateway_url = http://127.0.0.1:$gw/mcp|" \
		-e "s|^binding = off|binding = agentcore|" "$(dirname "$conf")/template"
	# BINDING_STORE: another store line for both proxies (binding-pg.test).
	[ -n "${BINDING_STORE:-}" ] &&
		sed -i "s|^store = .*|store = $BINDING_STORE|" "$(dirname "$conf")/template"
	echo "$conf"
}

# distinct_ports N: N free ports, all different; sets $ports.  They stay
# free only until the stand-ins bind them after the servers start, so
# they come from 20000-29999: below Linux's ephemeral range (outgoing
# connections) and below srv_free_port's 30000-55000 (the servers).
distinct_ports() {
	local p i
	ports=
	for i in $(seq 200); do
		[ "$(wc -w <<<"$ports")" -ge "$1" ] && return 0
		p=$(( (RANDOM % 10000) + 20000 ))
		case " $ports " in *" $p "*) continue ;; esac
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		ports="$ports $p"
	done
	return 1
}

binding_setup() {
	local idp_port s gwp acp o
	local -a redirects=()
	srv_init
	trap 'binding_stop_standins; srv_cleanup; eval "${BINDING_CLEANUP:-:}"' EXIT
	T=$SRV_ROOT/t
	mkdir -p "$T" "$top_builddir/tests/artifacts"
	sh "$top_srcdir/tests/pki.sh" "$SRV_ROOT/pki" >/dev/null || return 1
	chmod 755 "$SRV_ROOT/pki"
	CA=$SRV_ROOT/pki/ca.pem
	export NODE_EXTRA_CA_CERTS=$CA
	# The proxies must know the stand-ins' ports before they start, and
	# the stand-ins the proxies' ports: pick theirs first.
	distinct_ports 5 || return 1
	set -- $ports "$@"
	idp_port=$1 gwp_lt=$2 acp_lt=$3 gwp_ap=$4 acp_ap=$5
	shift 5
	IDP=https://127.0.0.1:$idp_port
	conf_lt=$(binding_config lt "$gwp_lt" "$acp_lt" "$@") || return 1
	conf_ap=$(binding_config ap "$gwp_ap" "$acp_ap" "$@") || return 1
	# setpriv --reset-env clears the environment, so the credentials go
	# in after it (env execs, the PID stays the server's).
	SRV_AS="${SRV_AS:+$SRV_AS }env $AWS_TEST_ENV"
	srv_lighttpd lt "$conf_lt" || return 1
	srv_apache_fcgid ap "$conf_ap" || return 1
	LT=http://127.0.0.1:$lt_port
	AP=http://127.0.0.1:$ap_port
	more_origins=
	if declare -F binding_more_servers >/dev/null; then
		binding_more_servers || return 1
	fi
	for o in $LT $AP $more_origins; do
		redirects+=(--redirect-uri "$o/sessionbinding/okta-callback")
	done
	standin idp idp.mjs --port "$idp_port" --cert "$SRV_ROOT/pki/server.pem" \
		--key "$SRV_ROOT/pki/server.key" --client-id "$CLIENT" --audience "$AUD" \
		--redirect-uri "$LOGIN_REDIRECT" "${redirects[@]}" \
		--record "$T/idp.jsonl" || return 1
	for s in lt ap; do
		eval "gwp=\$gwp_$s acp=\$acp_$s base=\$$(tr a-z A-Z <<<"$s")"
		# --authorize-reuse: the attack test opens one link twice.
		standin "gw_$s" gateway.mjs --port "$gwp" --agentcore-port "$acp" \
			--issuer "$IDP" --allowed-audience "$AUD" --allowed-clients "$CLIENT" \
			--agentcore-cert "$SRV_ROOT/pki/server.pem" \
			--agentcore-key "$SRV_ROOT/pki/server.key" \
			--return-url "$base/sessionbinding/callback" --authorize-reuse || return 1
		eval "AC_$s=https://127.0.0.1:$acp"
	done
	TOKEN_alice=$(token alice)
	TOKEN_bob=$(token bob)
	[ -n "$TOKEN_alice" ] && [ "$TOKEN_alice" != null ] && [ -n "$TOKEN_bob" ] &&
		[ "$TOKEN_bob" != null ]
}

# idp_jar USER JAR: logs USER in at the IdP (login_hint, headless) with
# cookie jar JAR, stopping at the login redirect URI; prints the code.
idp_jar() {
	local url back i
	: >"$2"
	url="$IDP/auth?client_id=$CLIENT&response_type=code&redirect_uri=$LOGIN_REDIRECT&scope=openid%20mcp%3Atools&state=s1&code_challenge=$IDP_CHALLENGE&code_challenge_method=S256&login_hint=$1"
	for i in $(seq 10); do
		back=$(curl -s -m 10 --cacert "$CA" -b "$2" -c "$2" -o /dev/null -w '%{redirect_url}' "$url")
		case $back in
		"$IDP"/*) url=$back ;;
		*) break ;;
		esac
	done
	printf %s "$back" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p'
}
IDP_VERIFIER=binding-setup-fixed-verifier-0123456789-abcdefghijklmnop
IDP_CHALLENGE=$(printf %s "$IDP_VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')

# token USER: an access token from the IdP stand-in (code flow + PKCE).
token() {
	local code
	code=$(idp_jar "$1" "$T/token-jar.$1")
	curl -s -m 10 --cacert "$CA" "$IDP/token" -d grant_type=authorization_code \
		-d "code=$code" -d "redirect_uri=$LOGIN_REDIRECT" -d "client_id=$CLIENT" \
		-d "code_verifier=$IDP_VERIFIER" | jq -r .access_token
}

probe() { timeout 30 node "$SI/mcp-probe.mjs" "$@"; }

# urldec / urlenc: percent-decoding and -encoding in the shell.
urldec() { local v=${1//+/ }; printf '%b' "${v//%/\\x}"; }
urlenc() {
	local LC_ALL=C s=$1 out= c h i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) printf -v h '%%%02X' "'$c"; out+=$h ;;
		esac
	done
	printf %s "$out"
}

elicit() {
	local s=$1 user=$2 base tok out
	eval "base=\$$(tr a-z A-Z <<<"$s") tok=\$TOKEN_$user"
	# A completed binding filled the user's vault, and the tool then
	# answers without asking: empty it first.
	ac "$s" "/_vault?sub=$user@example.test&action=delete" -X POST -o /dev/null
	out=$(probe --url "$base/mcp" --token "$tok" elicit sse)
	printf '%s\n' "$out" >"$T/elicit.out"
	link=$(jq -r '.urls[0] // empty' <<<"$out" 2>/dev/null)
	su=$(urldec "$(sed -n 's/.*[?&]request_uri=\([^&]*\).*/\1/p' <<<"$link")")
	cb="$base/sessionbinding/callback?session_id=$(urlenc "$su")"
	[ -n "$su" ]
}

# elicit_fast S USER: the same as elicit by curl (initialize, initialized,
# tools/call), without a node start: for tests that need many links.
PV=2025-11-25
elicit_fast() {
	local s=$1 user=$2 base tok sid
	local -a h
	eval "base=\$$(tr a-z A-Z <<<"$s") tok=\$TOKEN_$user"
	ac "$s" "/_vault?sub=$user@example.test&action=delete" -X POST -o /dev/null
	h=(-H "Authorization: Bearer $tok" -H 'Content-Type: application/json'
		-H 'Accept: application/json, text/event-stream')
	sid=$(curl -s -m 10 -D - -o /dev/null -X POST "$base/mcp" "${h[@]}" \
		-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PV'","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"binding-setup","version":"1"}}}' |
		tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	h+=(-H "Mcp-Session-Id: $sid" -H "MCP-Protocol-Version: $PV")
	curl -s -m 10 -o /dev/null -X POST "$base/mcp" "${h[@]}" \
		-d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	curl -s -m 10 -X POST "$base/mcp" "${h[@]}" \
		-d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"github_repos","arguments":{}}}' |
		sed -n 's/^data: //p' >"$T/elicit.out"
	link=$(jq -r 'select(.error.code == -32042) | .error.data.elicitations[0].url' "$T/elicit.out" 2>/dev/null)
	su=$(urldec "$(sed -n 's/.*[?&]request_uri=\([^&]*\).*/\1/p' <<<"$link")")
	cb="$base/sessionbinding/callback?session_id=$(urlenc "$su")"
	[ -n "$su" ]
}

ac() {
	local s=$1 p=$2 u
	shift 2
	eval "u=\$AC_$s"
	curl -s -m 10 --cacert "$CA" "$@" "$u$p"
}

completions() {
	ac "$1" /_calls | jq --arg su "${2:-}" \
		'[.[] | select(.kind == "complete" and ($su == "" or .json.sessionUri == $su))]'
}

binding() {
	local conf
	eval "conf=\$conf_$1"
	$SRV_AS "$BINDING_GET" "$conf" "$2" 2>&1
}

req() {
	local m=$1 u=$2
	shift 2
	: >"$T/h"
	: >"$T/b"
	code=$(curl -s -m 20 -X "$m" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$u")
}

hdr() {
	tr -d '\r' <"$T/h" | grep -i "^$1:" | head -n 1 | sed 's/^[^:]*:[[:space:]]*//'
}

sb_cookie() {
	tr -d '\r' <"$T/h" | sed -n 's/^[Ss]et-[Cc]ookie: \(__Host-cimd-sb=[^;]*\).*/\1/p' | head -n 1
}

sb_idp() {
	local jar=$1 url=$2 i
	for i in $(seq 10); do
		back=$(curl -s -m 10 --cacert "$CA" -b "$jar" -c "$jar" -o /dev/null \
			-w '%{redirect_url}' "$url")
		case $back in
		"$IDP"/*) url=$back ;;
		*) return 0 ;;
		esac
	done
	return 1
}

sb_flow() {
	local base=$1 url=$2 jar=$3
	back=
	req GET "$url"
	cookie=$(sb_cookie)
	loc=$(hdr Location)
	[ "$code" = 302 ] || return 1
	sb_idp "$jar" "$loc" || return 1
	req GET "$back" -H "Cookie: $cookie"
}

hash16() { printf %s "$1" | sha256sum | cut -c1-16; }
