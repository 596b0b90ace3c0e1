# Shared by tests/bench/streams-bench.sh (make bench-streams) and
# tests/integration/streams-many.test: the many-streams rig.  Source after
# tests/lib.sh and tests/integration/servers.sh, after srv_init, with $T
# (a scratch dir), $top_builddir and $STAGE set.
#
#   streams_fd_limit N              raises the soft open-files limit to the
#                                   hard one; fails when that is below what
#                                   N streams need (servers inherit it)
#   streams_upstream                tests/bench/sse-upstream on loopback:
#                                   sets UP (its /mcp URL), up_pid
#   streams_token                   the IdP stand-in (HTTPS, tests/pki.sh):
#                                   sets IDP, CA, TOKEN (an RS256 access
#                                   token, code flow + PKCE)
#   streams_config NAME N           a relay config for N streams of one user
#   streams_lighttpd NAME CONF N    lighttpd + the installed snippet, with
#                                   server.max-fds / max-connections for N
#                                   (README "Running the relay")
#   streams_apache NAME CONF N      Apache event MPM + the installed snippet
#                                   (mod_proxy_fcgi to the relay service),
#                                   sized for N (README "Running the relay")
#   streams_proxy NAME N [tls]      lighttpd's own mod_proxy to the upstream
#                                   (the anchor; with tls, the https front
#                                   of streams_upstream_tls); sets NAME_port
#   streams_upstream_tls NAME N     an https front (lighttpd mod_openssl,
#                                   the pki.sh certificate) before the
#                                   upstream, after streams_token: sets UP
#                                   to its /mcp URL (UP_PLAIN keeps the
#                                   other)
#   streams_max_lighttpd            the most streams lighttpd can hold under
#                                   the open-files limit, in hundreds
#   streams_max_relay               ... one relay process (CP_RELAYD_*)
#   streams_rss_kb PID...           the VmRSS of those PIDs, summed, in KB
#   streams_relay_pids NAME         the relay processes behind server NAME
#   LOAD (tests/bench/stream-load)  the client

STREAMS_HEARTBEAT=5             # heartbeat_seconds, and the upstream's tick
STREAMS_SLACK=200               # descriptors beyond two a stream
# lighttpd stops accepting at 90% of server.max-fds ("sockets disabled,
# out-of-fds" in its log; measured: 4,600 streams with max-fds 10,200), so
# max-fds is 2 N + STREAMS_SLACK over 0.9.
streams_max_fds() { echo $(((2 * $1 + STREAMS_SLACK) * 10 / 9 + 1)); }
# The inverse, rounded down to a hundred: the highest step that fits.
streams_max_lighttpd() { echo $((((($(ulimit -n) - 1) * 9 / 10 - STREAMS_SLACK) / 2) / 100 * 100)); }
# A relay process holds CP_RELAYD_FDS_PER_STREAM (4) descriptors a stream
# and keeps CP_RELAYD_FD_SLACK (64) (lib/relayd.h).
streams_max_relay() { echo $((($(ulimit -n) - 64) / 4 / 100 * 100)); }
LOAD=$top_builddir/tests/bench/stream-load
UPSTREAM=$top_builddir/tests/bench/sse-upstream
STREAMS_AUD=api://cimd-proxy-test
STREAMS_CLIENT=cimd-proxy-test
STREAMS_REDIRECT=http://127.0.0.1:9300/callback

streams_fd_limit() {
	local need hard
	need=$(streams_max_fds "$1")
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=1048576
	ulimit -n "$hard" 2>/dev/null || return 1
	[ "$hard" -ge "$need" ]
}

streams_upstream() {
	local i port
	"$UPSTREAM" "$STREAMS_HEARTBEAT" 3600 >"$T/upstream.out" 2>"$T/upstream.err" &
	up_pid=$!
	for i in $(seq 50); do
		port=$(sed -n 's/^ready //p' "$T/upstream.out" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || return 1
	UP=http://127.0.0.1:$port/mcp
}

streams_token() {
	sh "$top_srcdir/tests/pki.sh" "$SRV_ROOT/pki" >/dev/null || return 1
	chmod 755 "$SRV_ROOT/pki"
	CA=$SRV_ROOT/pki/ca.pem
	export NODE_EXTRA_CA_CERTS=$CA
	standin idp idp.mjs --cert "$SRV_ROOT/pki/server.pem" --key "$SRV_ROOT/pki/server.key" \
		--redirect-uri "$STREAMS_REDIRECT" --client-id "$STREAMS_CLIENT" \
		--audience "$STREAMS_AUD" || return 1
	IDP=$idp_url
	TOKEN=$(idp_token "$IDP" "$CA" "$STREAMS_CLIENT" "$STREAMS_REDIRECT" alice)
	[ -n "$TOKEN" ]
}

# One user holds every stream here, so max_streams_per_user is N and more
# (the 2 lighttpd relay processes may not split them evenly; streams whose
# client left linger until the next heartbeat).
streams_config() {
	local conf
	conf=$(srv_config "$1" "tls_ca_file = $CA" "idp_audience = $STREAMS_AUD" "idp_user_claim = uid" \
		"heartbeat_seconds = $STREAMS_HEARTBEAT" "max_streams_per_user = $((2 * $2 + 100))") || return 1
	sed -i -e "s|^idp_issuer = .*|idp_issuer = $IDP|" -e "s|^gateway_url = .*|gateway_url = $UP|" \
		"$(dirname "$conf")/template"
	echo "$conf"
}

streams_lighttpd() {
	SRV_EXTRA_CONF="server.max-fds = $(streams_max_fds "$3")
server.max-connections = $(($3 + 100))" srv_lighttpd "$1" "$2"
}

# Each open stream holds an Apache worker thread: MaxRequestWorkers is N
# plus room for the tool calls and a margin, in children of 250 threads.
streams_apache() {
	local children=$((($3 + 100 + 249) / 250))
	srv_apache_fcgid "$1" "$2" "ServerLimit $children
ThreadLimit 250
ThreadsPerChild 250
StartServers $children
MaxRequestWorkers $((children * 250))
MinSpareThreads 25
MaxSpareThreads $((children * 250))
ListenBacklog 4096"
}

streams_proxy() {
	local tls=${3:-} up=${UP_PLAIN:-$UP} upport extra
	upport=${up#http://127.0.0.1:}
	extra="server.max-fds = $(streams_max_fds "$2")
server.max-connections = $(($2 + 100))
server.max-read-idle = 3600
server.max-write-idle = 3600"
	if [ -z "$tls" ]; then
		SRV_EXTRA_CONF=$extra srv_lighttpd_proxy "$1" "${upport%/mcp}"
		return
	fi
	# An https front (UPSTREAM_TLS): the pki.sh certificate, and
	# srv_wait asks over https with its CA.
	SRV_TLS=$SRV_ROOT/pki SRV_EXTRA_CONF="$extra
server.modules += ( \"mod_openssl\" )
ssl.engine = \"enable\"
ssl.pemfile = \"$SRV_ROOT/pki/server.pem\"
ssl.privkey = \"$SRV_ROOT/pki/server.key\"" srv_lighttpd_proxy "$1" "${upport%/mcp}"
}

streams_upstream_tls() {
	streams_proxy "$1" "$2" tls || return 1
	UP_PLAIN=$UP
	eval "UP=https://127.0.0.1:\$${1}_port/mcp"
}

streams_rss_kb() {
	local p sum=0 kb
	for p in "$@"; do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}

# The relay processes of server NAME: lighttpd's children running
# mcp.fcgi, or Apache's relay service (NAME_relay).
streams_relay_pids() {
	local name=$1 pid p
	eval "pid=\${${name}_relay_pid:-}"
	if [ -n "$pid" ]; then
		echo "$pid"
		return 0
	fi
	eval "pid=\${${name}_pid:-}"
	for p in $(srv_descendants "$pid"); do
		grep -q 'mcp\.fcgi' "/proc/$p/cmdline" 2>/dev/null && echo "$p"
	done
	return 0
}

# The web server's own processes (its descendants but the relays).
streams_server_pids() {
	local name=$1 pid p
	eval "pid=\${${name}_pid:-}"
	echo "$pid"
	for p in $(srv_descendants "$pid"); do
		grep -q '\.fcgi' "/proc/$p/cmdline" 2>/dev/null || echo "$p"
	done
}
