# The world of a CIMD login test: the IdP stand-in (Okta-like, HTTPS,
# recording what it receives), the client-document host (HTTPS), and the
# installed proxy behind lighttpd (FastCGI) and Apache (mod_fcgid), each
# with its own keys and store.  Source after tests/lib.sh and servers.sh.
#
#   login_setup [CONF-LINE]...   start everything; sets IDP, DOCS, LT, AP
#                                (the two proxies' origins), CA and T
#                                (scratch); with LOGIN_TLS=1 the proxies
#                                serve HTTPS (servers.sh srv_tls); DOCDIR
#                                is the host's own copy of tests/docs, read
#                                on every request, for a test to edit
#                                With LOGIN_FLEET set to a PostgreSQL
#                                conninfo, the two proxies are one fleet:
#                                store = postgresql:$LOGIN_FLEET and the
#                                lighttpd proxy's key file for both.
#                                LOGIN_STORE replaces only the store line
#                                (each proxy keeps its own keys), and
#                                LOGIN_CLEANUP runs at exit after the rest
#   login_stop                   stop both proxies
#   login_start [CONF-LINE]...   start them again with those lines set
#                                (replacing the keys' earlier values), the
#                                same keys and store, on new ports
#   req METHOD URL [CURL-ARGS]   one request: $code, headers $T/h, body $T/b
#   hdr NAME                     a header of the last response
#   qparam URL NAME              a query parameter of URL, decoded
#   pkce                         new $verifier and its S256 $challenge
#   browser_cookie               the __Host-cimd-browser pair last set
#   idp_follow URL               follows the IdP's redirects (own cookie
#                                jar) until it sends the browser back to
#                                us; sets $back
#   sdk_flow NAME BASE           the MCP SDK client: login and refresh
#   browser_flow NAME BASE       headless Chromium: consent and IdP forms
#
# The proxies' public_url is http://127.0.0.1:<port>, or https:// with
# LOGIN_TLS=1 as in real deployments.  __Host- cookies need Secure, and
# browsers (Chromium included) treat 127.0.0.1 as a secure context even
# over http, so they keep and send them; curl here gets them passed
# explicitly, which also lets a test send a wrong one on purpose.
# Chromium trusts the local CA through an NSS database in its own HOME
# (certutil), so no certificate check is switched off anywhere.

LOGIN_REDIRECT=http://127.0.0.1:9300/callback
LOGIN_SCOPE="openid offline_access mcp:tools"

login_prereqs() {
	local t
	for t in curl jq lighttpd apache2 node openssl; do
		command -v "$t" >/dev/null || skip_all "$t is not installed"
	done
	[ -x "$STAGE/libexec/cimd-proxy/authorize.fcgi" ] || skip_all "no staging install in $STAGE"
	[ -d "$top_srcdir/tests/standins/node_modules/oidc-provider" ] ||
		skip_all "stand-ins not installed (npm ci in tests/standins)"
}

login_stop_standins() {
	[ -n "${idp_pid:-}" ] && kill "$idp_pid" 2>/dev/null
	[ -n "${dochost_pid:-}" ] && kill "$dochost_pid" 2>/dev/null
	return 0
}

login_setup() {
	local idp_port d
	srv_init
	trap 'login_stop_standins; srv_cleanup; eval "${LOGIN_CLEANUP:-:}"' EXIT
	T=$SRV_ROOT/t
	mkdir -p "$T"
	sh "$top_srcdir/tests/pki.sh" "$SRV_ROOT/pki" >/dev/null || return 1
	chmod 755 "$SRV_ROOT/pki"
	CA=$SRV_ROOT/pki/ca.pem
	if [ -n "${LOGIN_TLS:-}" ]; then srv_tls "$SRV_ROOT/pki" || return 1; fi
	DOCDIR=$T/docs
	cp -R "$top_srcdir/tests/docs" "$DOCDIR" || return 1
	chmod -R u+w "$DOCDIR"
	standin dochost dochost.mjs --cert "$SRV_ROOT/pki/server.pem" \
		--key "$SRV_ROOT/pki/server.key" --docs "$DOCDIR" || return 1
	DOCS=$dochost_url
	idp_port=$(srv_free_port) || return 1
	IDP=https://127.0.0.1:$idp_port
	for d in lt ap; do
		srv_config $d "$@" "tls_ca_file = $SRV_ROOT/pki/ca.pem" \
			"fetch_allow_private = 127.0.0.1/32" "client_allow = $DOCS/" >/dev/null || return 1
		# srv_config's IdP is a placeholder: point it at ours.
		sed -i "s|^idp_issuer = .*|idp_issuer = $IDP|" "$SRV_ROOT/conf-$d/template"
		if [ -n "${LOGIN_STORE:-}" ]; then
			sed -i "s|^store = .*|store = $LOGIN_STORE|" "$SRV_ROOT/conf-$d/template"
		fi
		if [ -n "${LOGIN_FLEET:-}" ]; then
			sed -i -e "s|^store = .*|store = postgresql:$LOGIN_FLEET|" \
				-e "s|^key_file = .*|key_file = $SRV_ROOT/conf-lt/keys|" "$SRV_ROOT/conf-$d/template"
		fi
	done
	login_start || return 1
	standin idp idp.mjs --port "$idp_port" --cert "$SRV_ROOT/pki/server.pem" \
		--key "$SRV_ROOT/pki/server.key" \
		--redirect-uri "$LT/callback" --redirect-uri "$AP/callback" \
		--record "$T/idp.jsonl" || return 1
	export NODE_EXTRA_CA_CERTS=$CA
	pkce
}

login_stop() {
	srv_signal lt
	srv_signal ap
	srv_reap lt
	srv_reap ap
}

# The IdP stand-in knows only the first ports' /callback, so a test after
# a restart stops at the redirect to the IdP.
login_start() {
	local d l
	for d in lt ap; do
		for l in "$@"; do
			sed -i "/^${l%% =*} = /d" "$SRV_ROOT/conf-$d/template"
			echo "$l" >>"$SRV_ROOT/conf-$d/template"
		done
	done
	srv_lighttpd lt "$SRV_ROOT/conf-lt/cimd-proxy.conf" || return 1
	srv_apache_fcgid ap "$SRV_ROOT/conf-ap/cimd-proxy.conf" || return 1
	LT=$(srv_scheme)://127.0.0.1:$lt_port
	AP=$(srv_scheme)://127.0.0.1:$ap_port
}

req() {
	local m=$1 u=$2
	shift 2
	: >"$T/h"
	: >"$T/b"
	code=$(curl -s -m 10 --cacert "$CA" -X "$m" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$u")
}

hdr() {
	tr -d '\r' <"$T/h" | grep -i "^$1:" | head -n 1 | sed 's/^[^:]*:[[:space:]]*//'
}

# Percent-encoding and decoding in the shell itself: these run hundreds
# of times, and a node start each costs 90 ms.
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

qparam() {
	local q=${1#*\?} p v
	[ "$q" = "$1" ] && { printf '<absent>'; return; }
	q=${q%%#*}
	local IFS='&'
	for p in $q; do
		if [ "${p%%=*}" = "$2" ]; then
			v=${p#*=}
			v=${v//+/ }
			printf '%b' "${v//%/\\x}"
			return
		fi
	done
	printf '<absent>'
}

pkce() {
	verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
}

browser_cookie() {
	tr -d '\r' <"$T/h" | sed -n 's/^[Ss]et-[Cc]ookie: \(__Host-cimd-browser=[^;]*\).*/\1/p' | head -n 1
}

# The consent form's hidden request token from the last body.
form_request() {
	sed -n 's/.*name="request" value="\([^"]*\)".*/\1/p' "$T/b" | head -n 1
}

idp_follow() {
	local url=$1 i
	: >"$T/idp.jar.$$"
	for i in $(seq 10); do
		back=$(curl -s -m 10 --cacert "$CA" -b "$T/idp.jar.$$" -c "$T/idp.jar.$$" \
			-o /dev/null -w '%{redirect_url}' "$url")
		case $back in
		"$IDP"/*) url=$back ;;
		*) return 0 ;;
		esac
	done
	return 1
}

# authorize_url BASE [name=value]...: an /authorize URL for the harness
# client with the current PKCE pair (see pkce); arguments override or add
# parameters (name= with no value drops one).
authorize_url() {
	local base=$1 a k i url= sep='?'
	local -a keys=(response_type client_id redirect_uri state code_challenge
		code_challenge_method scope)
	local -a vals=(code "$DOCS/harness.json" "$LOGIN_REDIRECT" st-123 "$challenge"
		S256 "$LOGIN_SCOPE")
	shift
	for a in "$@"; do
		k=${a%%=*}
		for ((i = 0; i < ${#keys[@]}; i++)); do
			[ "${keys[i]}" = "$k" ] && break
		done
		keys[i]=$k
		vals[i]=${a#*=}
	done
	for ((i = 0; i < ${#keys[@]}; i++)); do
		[ -n "${vals[i]}" ] || continue
		url+="$sep${keys[i]}=$(urlenc "${vals[i]}")"
		sep='&'
	done
	printf '%s/authorize%s' "$base" "$url"
}

# login BASE [NAME=VALUE]...: a whole curl-driven login up to our code
# (authorize_url's arguments change the request); sets $cookie
# (browser), $code_url (the redirect to the client) and $verifier.
login() {
	local base=$1 tok
	shift
	pkce
	req GET "$(authorize_url "$base" "resource=$base/mcp" login_hint=alice "$@")"
	cookie=$(browser_cookie)
	tok=$(form_request)
	req POST "$base/authorize" -H "Cookie: $cookie" \
		--data-urlencode "request=$tok" -d decision=approve
	idp_follow "$(hdr Location)" || return 1
	req GET "$back" -H "Cookie: $cookie"
	code_url=$(hdr Location)
}

# finish_login BASE [CLIENT_ID [REDIRECT_URI]]: from the consent page in
# $T/b, shown to $cookie (the request had a login_hint): Approve, log in
# at the IdP, come back through /callback (which renews the cookie:
# $cookie follows) and exchange the code with $verifier; $code is then
# /token's status.  Under consent = remember the approval is stored only
# by that exchange.
finish_login() {
	local base=$1 cid=${2:-$DOCS/harness.json} ru=${3:-$LOGIN_REDIRECT} c
	req POST "$base/authorize" -H "Cookie: $cookie" --data-urlencode "request=$(form_request)" -d decision=approve
	idp_follow "$(hdr Location)" || return 1
	req GET "$back" -H "Cookie: $cookie"
	[ -z "$(browser_cookie)" ] || cookie=$(browser_cookie)
	c=$(qparam "$(hdr Location)" code)
	req POST "$base/token" -d grant_type=authorization_code --data-urlencode "code=$c" \
		--data-urlencode "redirect_uri=$ru" --data-urlencode "client_id=$cid" \
		--data-urlencode "code_verifier=$verifier"
}

# store_records DIR [NS]: how many records the Berkeley DB store in DIR
# holds (of namespace byte NS only, as two hex digits: 07 is consent,
# lib/store.h), read by db5.3_dump as the server user from inside the
# live environment, so what the servers wrote but did not flush counts.
store_records() {
	# shellcheck disable=SC2086
	$SRV_AS db5.3_dump -h "$1" records.db | awk -v ns="${2:-}" '
		/^HEADER=END/ { data = 1; key = 1; next }
		/^DATA=END/ { data = 0; next }
		data { if (key && (ns == "" || substr($1, 1, 2) == ns)) n++; key = !key }
		END { print n + 0 }'
}

# sdk_flow NAME BASE: the MCP SDK client, login and refresh.
sdk_flow() {
	local m=$1 base=$2 out
	out=$(cd "$top_srcdir/tests/standins" && timeout 60 node login-client.mjs --mcp-url "$base/mcp" \
		--client-metadata-url "$DOCS/harness.json" --redirect-uri "$LOGIN_REDIRECT" \
		--login-hint bob 2>"$T/sdk.err")
	echo "$out" >"$T/sdk.json"
	is "$(jq -r .ok "$T/sdk.json" 2>&1)" true "$m: SDK client logged in and refreshed"
	[ "$(jq -r .ok "$T/sdk.json" 2>&1)" = true ] || sed 's/^/#   /' "$T/sdk.err" | tail -n 20
	is "$(jq -r .client_id "$T/sdk.json")" "$DOCS/harness.json" "$m: SDK used the CIMD URL as client_id"
	is "$(jq -r .consent_pages "$T/sdk.json")" 1 "$m: SDK flow went through one consent page"
	is "$(jq -r '.authorize_params.resource' "$T/sdk.json")" "$base/mcp" "$m: SDK sent resource = our MCP URL"
	is "$(jq -r '.callback.state_ok' "$T/sdk.json")" true "$m: SDK got its state back"
	is "$(jq -r '.callback.iss' "$T/sdk.json")" "$base" "$m: SDK got iss"
	is "$(jq -r '[.token.jwt, .token.refresh_wrapped, .token.id_token] | @tsv' "$T/sdk.json")" \
		"$(printf 'true\ttrue\tfalse')" "$m: SDK tokens: JWT, wrapped refresh token, no id_token"
	is "$(jq -r '[.refresh.new_access_token, .refresh.refresh_wrapped] | @tsv' "$T/sdk.json")" \
		"$(printf 'true\ttrue')" "$m: SDK refresh: new access token, wrapped refresh token"
}

# browser_flow NAME BASE: headless Chromium clicks through consent and
# the IdP's login form.
browser_flow() {
	local m=$1 base=$2
	if [ ! -x /usr/bin/chromium ]; then
		ok 0 "# SKIP $m: chromium is not installed"
		return
	fi
	if ! chromium_home; then
		ok 0 "# SKIP $m: certutil (libnss3-tools) is not installed, so Chromium cannot trust the test CA"
		return
	fi
	mkdir -p "$top_builddir/tests/artifacts"
	pkce
	(cd "$top_srcdir/tests/standins" && HOME=$T/chromium-home timeout 90 node login-browser.mjs \
		--url "$(authorize_url "$base" state=browser-1)" --redirect-uri "$LOGIN_REDIRECT" \
		--screenshot "$top_builddir/tests/artifacts/consent-$m.png") >"$T/browser.json" 2>"$T/browser.err"
	is "$(jq -r .ok "$T/browser.json" 2>&1)" true "$m: Chromium reached the client's redirect_uri with a code"
	[ "$(jq -r .ok "$T/browser.json" 2>&1)" = true ] || sed 's/^/#   /' "$T/browser.json" "$T/browser.err" | tail -n 20
	is "$(jq -r .consent_title "$T/browser.json")" "Allow this application?" "$m: Chromium showed the consent page"
	check "$m: consent screenshot saved" test -s "$top_builddir/tests/artifacts/consent-$m.png"
	is "$(jq -r '.steps | index("idp login form") != null' "$T/browser.json")" true "$m: logged in on the IdP's form"
	is "$(jq -r '[.state, .iss] | @tsv' "$T/browser.json")" "$(printf 'browser-1\t%s' "$base")" "$m: state and iss came back"
	is "$(jq -r '.cookies[0]' "$T/browser.json")" "__Host-cimd-browser secure=true httpOnly=true sameSite=Lax path=/" \
		"$m: Chromium kept the __Host- cookie on ${base%:*}"
}
