# The world of a CIMD login test: the IdP stand-in (Okta-like, HTTPS,
# recording what it receives), the client-document host (HTTPS), and the
# installed proxy behind lighttpd (FastCGI) and Apache (mod_fcgid), each
# with its own keys and store.  Source after tests/lib.sh and servers.sh.
#
#   login_setup [CONF-LINE]...   start everything; sets IDP, DOCS, LT, AP
#                                (the two proxies' origins) and T (scratch)
#   req METHOD URL [CURL-ARGS]   one request: $code, headers $T/h, body $T/b
#   hdr NAME                     a header of the last response
#   qparam URL NAME              a query parameter of URL, decoded
#   pkce                         new $verifier and its S256 $challenge
#   browser_cookie               the __Host-cimd-browser pair last set
#   idp_follow URL               follows the IdP's redirects (own cookie
#                                jar) until it sends the browser back to
#                                us; sets $back
#
# The proxies' public_url is http://127.0.0.1:<port>.  __Host- cookies
# need Secure, and browsers (Chromium included) treat 127.0.0.1 as a
# secure context, so they keep and send them; curl here gets them passed
# explicitly, which also lets a test send a wrong one on purpose.

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

# standin NAME SCRIPT ARGS...: starts a node stand-in, waits for its
# `ready URL` line, sets ${NAME}_url and ${NAME}_pid.
standin() {
	local name=$1 script=$2 i url
	shift 2
	timeout 600 node "$top_srcdir/tests/standins/$script" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	eval "${name}_pid=$!"
	for i in $(seq 100); do
		url=$(sed -n 's/^ready \([^ ]*\).*/\1/p' "$T/$name.out" 2>/dev/null)
		if [ -n "$url" ]; then
			eval "${name}_url=$url"
			return 0
		fi
		sleep 0.1
	done
	echo "# $name did not start:"; sed 's/^/#   /' "$T/$name.err"
	return 1
}

login_stop_standins() {
	[ -n "${idp_pid:-}" ] && kill "$idp_pid" 2>/dev/null
	[ -n "${dochost_pid:-}" ] && kill "$dochost_pid" 2>/dev/null
	return 0
}

login_setup() {
	local idp_port conf_lt conf_ap d
	srv_init
	trap 'login_stop_standins; srv_cleanup' EXIT
	T=$SRV_ROOT/t
	mkdir -p "$T"
	sh "$top_srcdir/tests/pki.sh" "$SRV_ROOT/pki" >/dev/null || return 1
	chmod 755 "$SRV_ROOT/pki"
	standin dochost dochost.mjs --cert "$SRV_ROOT/pki/server.pem" \
		--key "$SRV_ROOT/pki/server.key" || return 1
	DOCS=$dochost_url
	idp_port=$(srv_free_port) || return 1
	IDP=https://127.0.0.1:$idp_port
	for d in lt ap; do
		eval "conf_$d=\$(srv_config $d \"\$@\" \
			\"tls_ca_file = $SRV_ROOT/pki/ca.pem\" \
			\"fetch_allow_private = 127.0.0.1/32\" \
			\"client_allow = $DOCS/\")" || return 1
		# srv_config's IdP is a placeholder: point it at ours.
		eval "sed -i 's|^idp_issuer = .*|idp_issuer = $IDP|' \"\$(dirname \"\$conf_$d\")/template\""
	done
	srv_lighttpd lt "$conf_lt" || return 1
	srv_apache_fcgid ap "$conf_ap" || return 1
	LT=http://127.0.0.1:$lt_port
	AP=http://127.0.0.1:$ap_port
	standin idp idp.mjs --port "$idp_port" --cert "$SRV_ROOT/pki/server.pem" \
		--key "$SRV_ROOT/pki/server.key" \
		--redirect-uri "$LT/callback" --redirect-uri "$AP/callback" \
		--record "$T/idp.jsonl" || return 1
	export NODE_EXTRA_CA_CERTS=$SRV_ROOT/pki/ca.pem
	CA=$SRV_ROOT/pki/ca.pem
	pkce
}

req() {
	local m=$1 u=$2
	shift 2
	: >"$T/h"
	: >"$T/b"
	code=$(curl -s -m 10 -X "$m" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$u")
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

# login BASE: a whole curl-driven login up to our code; sets $cookie
# (browser), $code_url (the redirect to the client) and $verifier.
login() {
	local base=$1 tok
	pkce
	req GET "$(authorize_url "$base" "resource=$base/mcp" login_hint=alice)"
	cookie=$(browser_cookie)
	tok=$(form_request)
	req POST "$base/authorize" -H "Cookie: $cookie" \
		--data-urlencode "request=$tok" -d decision=approve
	idp_follow "$(hdr Location)" || return 1
	req GET "$back" -H "Cookie: $cookie"
	code_url=$(hdr Location)
}
