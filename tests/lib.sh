# Shared helpers for the shell tests: TAP output, temp dirs, processes.
# Source it; call tap_done at the end.

set -u
TAP_N=0
TAP_FAILED=0

ok() {          # ok CONDITION-STATUS DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

check() {       # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; fi
}

is() {          # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  $1"; echo "#   want: $2"; fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

tap_done() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

# standin NAME SCRIPT ARGS...: starts the node stand-in
# tests/standins/SCRIPT (its output in $T/NAME.out and $T/NAME.err),
# waits up to 15 s for its `ready URL` line, sets ${NAME}_url (that URL)
# and ${NAME}_pid.
standin() {
	local name=$1 script=$2 i url
	shift 2
	timeout 900 node "$top_srcdir/tests/standins/$script" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	eval "${name}_pid=$!"
	for i in $(seq 150); do
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

# chromium_home: $T/chromium-home, a HOME for Chromium whose NSS database
# trusts the test CA ($CA) for TLS servers, so no browser test switches a
# certificate check off; made once; fails without certutil.
chromium_home() {
	local db=$T/chromium-home/.pki/nssdb
	[ -f "$db/cert9.db" ] && return 0
	command -v certutil >/dev/null || return 1
	mkdir -p "$db" &&
		certutil -N -d "sql:$db" --empty-password &&
		certutil -A -d "sql:$db" -n cimd-proxy-test-ca -t C,, -i "$CA"
}

# idp_token IDP CA CLIENT REDIRECT USER [FILE]: an access token for USER
# from the IdP stand-in at IDP (its certificate checked against CA): the
# code flow with PKCE as client CLIENT with its registered REDIRECT,
# signed in headlessly through login_hint (the stand-in then redirects
# straight back with the code).  Prints the access token; FILE keeps the
# whole token response (with its ID token), $T/idp-token.USER unless
# given.  Fails, printing nothing, when the IdP gave no access token.
IDP_TOKEN_HOPS=10               # redirects followed within the IdP
idp_token() {
	local idp=$1 ca=$2 client=$3 redirect=$4 user=$5 out=${6:-$T/idp-token.$5}
	local verifier challenge url back i code jar=$T/idp-jar.$5
	verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
	url="$idp/auth?client_id=$client&response_type=code&redirect_uri=$redirect&scope=openid%20mcp%3Atools&state=s1&code_challenge=$challenge&code_challenge_method=S256&login_hint=$user"
	: >"$jar"
	for i in $(seq $IDP_TOKEN_HOPS); do
		back=$(curl -s -m 10 --cacert "$ca" -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' "$url")
		case $back in
		"$idp"/*) url=$back ;;
		*) break ;;
		esac
	done
	code=$(printf %s "$back" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
	curl -s -m 10 --cacert "$ca" "$idp/token" -d grant_type=authorization_code \
		-d "code=$code" -d "redirect_uri=$redirect" -d "client_id=$client" \
		-d "code_verifier=$verifier" >"$out"
	jq -re '.access_token // empty' "$out" 2>/dev/null
}

# A port nobody listens on now, below the kernel's ephemeral range, so
# no outgoing connection (or its TIME_WAIT after a busy benchmark) holds
# it.  Another process may take it before the server binds, so the start
# functions retry with a new one.
free_port() {
	local p i lo=32768 rest
	read -r lo rest </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
	[ "${lo:-0}" -gt 20000 ] 2>/dev/null || lo=32768
	for i in $(seq 50); do
		p=$(( (RANDOM % (lo - 10000)) + 10000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
