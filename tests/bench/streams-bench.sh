#!/bin/bash
# Many held MCP streams (issue 13), figures, not a test: make bench-streams
# [STEPS=1000,2000,5000,10000] [TARGETS="lt ap lp"] [UPSTREAM_TLS=1].  For
# each step, a fresh set of that many GET streams (tests/bench/stream-load.c)
# is opened through
#   lt  lighttpd + relay   the installed snippet (2 relay processes), with
#                          server.max-fds / max-connections for the largest
#                          step
#   ap  Apache + relay     event MPM sized as README "Running the relay"
#                          says, mod_proxy_fcgi to the relay service
#   lp  lighttpd mod_proxy the anchor: lighttpd's own proxy, no relay
# to one upstream, tests/bench/sse-upstream.c (epoll; a comment on every
# stream each STREAMS_HEARTBEAT seconds).  With UPSTREAM_TLS=1 the relays
# reach it over https instead, through a TLS front (lighttpd mod_openssl
# with the tests/pki.sh certificate; the relay verifies it with
# tls_ca_file), so the relay's figures show what https adds; the anchor
# stays on plain http.  Per step: streams established,
# seconds to establish them, 200 tool calls 20 at a time while all are
# open (p50/p99), the relay processes' RSS above their idle baseline (in
# all and per stream) and the web server's RSS, and the load average (the
# machine may be shared).  Then the streams are dropped and the next step
# waits two heartbeats for them to be freed.
#
# It raises the open-files limit to the hard one (as root, the hard one to
# OPEN_FILES first): the servers and the relays inherit it.  A step a
# target cannot hold under that limit is run at the most it can hold
# instead and marked "fd limit": lighttpd needs two descriptors a stream
# and stops accepting at 90% of server.max-fds; Apache's one relay
# process needs four a stream (lib/relayd.h).
set -u
STEPS=${1:-1000,2000,5000,10000}
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/servers.sh"
. "$top_srcdir/tests/bench/streams-setup.sh"

OPEN_FILES=65536
WAIT_SECONDS=180                # for one step's streams to open
CALLS=200
CALLS_AT_ONCE=20

for t in curl jq lighttpd apache2 node openssl; do
	command -v "$t" >/dev/null || { echo "streams-bench: $t is not installed" >&2; exit 1; }
done
[ -x "$STAGE/libexec/cimd-proxy/mcp.fcgi" ] || { echo "streams-bench: no staging install in $STAGE" >&2; exit 1; }
[ "$(id -u)" = 0 ] && ulimit -Hn "$OPEN_FILES" 2>/dev/null
streams_fd_limit 0 || { echo "streams-bench: cannot raise the open-files limit" >&2; exit 1; }
TARGETS=${TARGETS:-lt ap lp}
cap_lt=$(streams_max_lighttpd)
cap_lp=$cap_lt
cap_ap=$(streams_max_relay)
[ "$cap_lt" -gt 0 ] || { echo "streams-bench: the open-files limit $(ulimit -n) holds no step" >&2; exit 1; }
# The steps of target M: each at most what M can hold, once.
steps_of() {
	local cap n
	eval "cap=\$cap_$1"
	for n in $(tr ',' ' ' <<<"$STEPS"); do
		[ "$n" -gt "$cap" ] && n=$cap
		echo "$n"
	done | sort -nu
}
MAX=$(for m in $TARGETS; do steps_of "$m"; done | sort -n | tail -1)

srv_init
holder=
trap 'for p in $holder ${up_pid:-} ${idp_pid:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; srv_cleanup' EXIT
T=$SRV_ROOT/t
mkdir -p "$T"
streams_upstream || { echo "streams-bench: sse-upstream did not start" >&2; exit 1; }
streams_token || { echo "streams-bench: no token from the IdP stand-in" >&2; exit 1; }
scheme=http
if [ -n "${UPSTREAM_TLS:-}" ]; then
	scheme="https (a lighttpd TLS front, tls_ca_file)"
	streams_upstream_tls tf "$MAX" || { echo "streams-bench: the https front did not start" >&2; exit 1; }
fi
conf_lt=$(streams_config lt "$MAX") && conf_ap=$(streams_config ap "$MAX") || exit 1
for m in $TARGETS; do
	case $m in
	lt) streams_lighttpd lt "$conf_lt" "$MAX" || { echo "streams-bench: lighttpd did not start" >&2; srv_dump_logs; exit 1; } ;;
	ap) streams_apache ap "$conf_ap" "$MAX" || { echo "streams-bench: Apache did not start" >&2; srv_dump_logs; exit 1; } ;;
	lp) streams_proxy lp "$MAX" || { echo "streams-bench: lighttpd mod_proxy did not start" >&2; exit 1; } ;;
	*) echo "streams-bench: unknown target $m (lt, ap, lp)" >&2; exit 1 ;;
	esac
done

echo "streams benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'): steps $STEPS; targets $TARGETS; $CALLS tool calls $CALLS_AT_ONCE at a time at each step"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -sr); $(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1); $(apache2 -v | sed -n 's/Server version: //p'); open files $(ulimit -n) (raised to the hard limit)"
echo "most streams under that limit: lighttpd $cap_lt ((2 a stream + $STREAMS_SLACK) / 0.9), one relay process $cap_ap ((limit - 64) / 4)"
echo "upstream: sse-upstream (epoll), a comment each ${STREAMS_HEARTBEAT} s; relay heartbeat_seconds = $STREAMS_HEARTBEAT; the relays reach it over $scheme"
printf '%-18s %6s %7s %7s %8s %7s %7s %9s %9s %9s %-16s %s\n' target step opened open-s calls-ok p50-ms p99-ms relay-MB KB/stream server-MB load note
for m in $TARGETS; do
	eval "port=\$${m}_port"
	case $m in
	lt) label="lighttpd + relay" ;;
	ap) label="Apache + relay" ;;
	lp) label="lighttpd mod_proxy" ;;
	esac
	# Warm-up: each relay process verifies the token and reaches the
	# upstream once; then the idle baseline.
	"$LOAD" calls 127.0.0.1 "$port" /mcp "$TOKEN" 40 4 >/dev/null
	"$LOAD" hold 127.0.0.1 "$port" /mcp "$TOKEN" 8 30 0 >/dev/null
	sleep $((2 * STREAMS_HEARTBEAT))
	base=$(streams_rss_kb $(streams_relay_pids "$m"))
	for n in $(steps_of "$m"); do
		note=
		eval "[ \"\$n\" = \"\$cap_$m\" ]" && ! tr ',' '\n' <<<"$STEPS" | grep -qx "$n" && note="fd limit"
		"$LOAD" hold 127.0.0.1 "$port" /mcp "$TOKEN" "$n" "$WAIT_SECONDS" $((WAIT_SECONDS + 600)) >"$T/hold.$m.$n" 2>&1 &
		holder=$!
		for i in $(seq $((WAIT_SECONDS * 10 + 100))); do
			grep -q '^established' "$T/hold.$m.$n" && break
			kill -0 "$holder" 2>/dev/null || break
			sleep 0.1
		done
		read -r opened secs <<<"$(awk '/^established/ {print $2, $6}' "$T/hold.$m.$n")"
		calls=$("$LOAD" calls 127.0.0.1 "$port" /mcp "$TOKEN" $CALLS $CALLS_AT_ONCE)
		read -r ok p50 p99 <<<"$(awk '{gsub(";", ""); print $3, $7, $10}' <<<"$calls")"
		if [ "$m" = lp ]; then
			relay=- per=-
		else
			rss=$(streams_rss_kb $(streams_relay_pids "$m"))
			relay=$(awk -v r="$rss" -v b="$base" 'BEGIN { printf "%.1f", (r - b) / 1024 }')
			per=$(awk -v r="$rss" -v b="$base" -v n="${opened:-0}" 'BEGIN { if (n > 0) printf "%.1f", (r - b) / n; else print "-" }')
		fi
		server=$(awk -v r="$(streams_rss_kb $(streams_server_pids "$m"))" 'BEGIN { printf "%.1f", r / 1024 }')
		printf '%-18s %6s %7s %7s %8s %7s %7s %9s %9s %9s %-16s %s\n' "$label" "$n" "${opened:-0}" "${secs:-"-"}" \
			"$ok/$CALLS" "$p50" "$p99" "$relay" "$per" "$server" "$(cut -d' ' -f1-3 /proc/loadavg)" "$note"
		kill -KILL "$holder" 2>/dev/null
		wait "$holder" 2>/dev/null
		holder=
		sleep $((2 * STREAMS_HEARTBEAT + 2))
	done
done
echo "relay-MB: VmRSS of the relay processes (lighttpd's 2, Apache's 1 service) above their idle baseline after a warm-up; server-MB: the web server's processes"
