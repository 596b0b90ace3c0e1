#!/bin/bash
# Relay benchmark (issue #4): wrk on loopback against
#   A  the installed relay (mcp.fcgi) behind lighttpd (the snippet) and
#      Apache (mod_proxy_fcgi to the relay run as a service),
#   B  the same web server's own reverse proxy (mod_proxy / mod_proxy_http),
#   C  the upstream directly,
# where the upstream is nginx answering a fixed JSON-RPC result, so it is
# never the bottleneck.  Prints req/s, p50 and p99 for each, the A/B
# ratios, the SSE first-event latency through A and B, and the RSS of the
# relay processes.  Figures, not a pass/fail test: run `make bench`.
#
# Needs: wrk, nginx, lighttpd, apache2, node (the IdP stand-in issues the
# bearer token the relay verifies on every request), a staging install in
# $STAGE.  BENCH_SECONDS (default 5) and BENCH_CONNECTIONS (default 16).
set -u
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/servers.sh"

SECONDS_EACH=${BENCH_SECONDS:-5}
WARM_SECONDS=5
CONNS=${BENCH_CONNECTIONS:-16}
SSE_SAMPLES=50
SI=$top_srcdir/tests/standins
AUD=api://cimd-proxy-test
CLIENT=cimd-proxy-test
REDIRECT=http://127.0.0.1:9300/callback
RESULT='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
EVENT='event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}\n\n'

for t in wrk nginx lighttpd apache2 node curl jq openssl python3; do
	command -v "$t" >/dev/null || { echo "relay-bench: $t is not installed" >&2; exit 1; }
done
[ -x "$STAGE/libexec/cimd-proxy/mcp.fcgi" ] || { echo "relay-bench: no staging install in $STAGE" >&2; exit 1; }

srv_init
trap 'for p in ${idp_pid:-} ${nginx_pid:-}; do kill "$p" 2>/dev/null; done; srv_cleanup' EXIT
T=$SRV_ROOT/t
mkdir -p "$T"
sh "$top_srcdir/tests/pki.sh" "$SRV_ROOT/pki" >/dev/null || exit 1
chmod 755 "$SRV_ROOT/pki"
CA=$SRV_ROOT/pki/ca.pem

# --- the upstream: nginx, one fixed answer (SSE when asked for it) ---
NG=$SRV_ROOT/nginx
mkdir -p "$NG/logs" "$NG/tmp"
NGPORT=$(srv_free_port)
cat >"$NG/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NG/tmp;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGPORT;
        location = /mcp {
            if (\$http_accept = "text/event-stream") { rewrite ^ /sse last; }
            default_type application/json;
            return 200 '$RESULT';
        }
        location = /sse {
            default_type text/event-stream;
            return 200 '$EVENT';
        }
    }
}
EOF
nginx -p "$NG" -c "$NG/nginx.conf" 2>"$NG/logs/stderr" &
nginx_pid=$!
UP=http://127.0.0.1:$NGPORT/mcp
for i in $(seq 50); do curl -s -m 1 -o /dev/null "$UP" && break; sleep 0.1; done
curl -s -m 1 -o /dev/null "$UP" || { echo "relay-bench: nginx did not start:" >&2; cat "$NG/logs/stderr" >&2; exit 1; }

# --- the IdP stand-in, for a real token and the relay's JWKS ---
export NODE_EXTRA_CA_CERTS=$CA
timeout 3600 node "$SI/idp.mjs" --cert "$SRV_ROOT/pki/server.pem" --key "$SRV_ROOT/pki/server.key" \
	--redirect-uri "$REDIRECT" --client-id "$CLIENT" --audience "$AUD" >"$T/idp.out" 2>"$T/idp.err" &
idp_pid=$!
for i in $(seq 100); do grep -q '^ready' "$T/idp.out" 2>/dev/null && break; sleep 0.1; done
IDP=$(sed -n 's/^ready \([^ ]*\).*/\1/p' "$T/idp.out")
TOKEN=$(idp_token "$IDP" "$CA" "$CLIENT" "$REDIRECT" alice)
[ -n "$TOKEN" ] || { echo "relay-bench: no token from the IdP stand-in" >&2; exit 1; }

# --- A: the relay behind each server ---
conf=$(srv_config bench "tls_ca_file = $CA" "idp_audience = $AUD" "idp_user_claim = uid") || exit 1
sed -i -e "s|^idp_issuer = .*|idp_issuer = $IDP|" -e "s|^gateway_url = .*|gateway_url = $UP|" \
	"$(dirname "$conf")/template"
srv_lighttpd la "$conf" || { echo "relay-bench: lighttpd did not start" >&2; srv_dump_logs; exit 1; }
conf_ap=$(srv_config benchap "tls_ca_file = $CA" "idp_audience = $AUD" "idp_user_claim = uid") || exit 1
sed -i -e "s|^idp_issuer = .*|idp_issuer = $IDP|" -e "s|^gateway_url = .*|gateway_url = $UP|" \
	"$(dirname "$conf_ap")/template"
apache_with() {         # apache_with NAME CONF EXTRA-CONFIG
	local name=$1 conf=$2 extra=$3 d=$SRV_ROOT/$1 port
	srv_prepare "$name"
	mkdir -p "$d/fcgid"
	port=$(srv_free_port) || return 1
	srv_config_port "$conf" "$port"
	{
		srv_apache_base "$d" "$port"
		echo "ServerLimit 4"
		echo "ThreadsPerChild 32"
		echo "MaxRequestWorkers 128"
		echo "MaxSpareThreads 128"
		printf '%s\n' "$extra" | sed "s|@PORT@|$port|g"
	} >"$d/httpd.conf"
	srv_apache_run "$name" "$conf" "$port"
}
# /mcp goes to the relay as a service (mod_proxy_fcgi), started here as
# systemd would; its log joins Apache's.
mkdir -p "$SRV_ROOT/relay-aa"
srv_own "$SRV_ROOT/relay-aa"
srv_start aa_relay "$SRV_ROOT/relay-aa/stderr.log" env CIMD_PROXY_CONF="$conf_ap" \
	"$STAGE/libexec/cimd-proxy/mcp.fcgi" --listen "$SRV_ROOT/relay-aa/relay.sock"
apache_with aa "$conf_ap" "LoadModule fcgid_module $SRV_APACHE_MODULES/mod_fcgid.so
LoadModule proxy_module $SRV_APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $SRV_APACHE_MODULES/mod_proxy_fcgi.so
Define CIMD_PROXY_RELAY_SOCKET $SRV_ROOT/relay-aa/relay.sock
FcgidIPCDir $SRV_ROOT/aa/fcgid
FcgidProcessTableFile $SRV_ROOT/aa/fcgid/shm
FcgidSpawnScoreUpLimit 256
<VirtualHost 127.0.0.1:@PORT@>
    ServerName 127.0.0.1
    Include $STAGE/share/cimd-proxy/apache/cimd-proxy.conf
</VirtualHost>" || { echo "relay-bench: Apache (relay) did not start" >&2; srv_dump_logs; exit 1; }

# --- B: each server's own reverse proxy to the same upstream ---
srv_lighttpd_proxy lb "$NGPORT" || { echo "relay-bench: lighttpd mod_proxy did not start" >&2; exit 1; }
LBPORT=$lb_port
apache_with ab "$conf_ap" "LoadModule proxy_module $SRV_APACHE_MODULES/mod_proxy.so
LoadModule proxy_http_module $SRV_APACHE_MODULES/mod_proxy_http.so
ProxyPass /mcp $UP flushpackets=on" || { echo "relay-bench: Apache mod_proxy did not start" >&2; exit 1; }

cat >"$T/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"ok"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
EOF

# run URL: wrk once; prints "req/s p50-ms p99-ms".
ms() {          # wrk latency ("850.00us", "1.20ms", "2.00s") -> ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
		else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
run() {
	local out rps p50 p99
	out=$(wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s "$T/post.lua" "$1" 2>&1)
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "relay-bench: $1 answered non-2xx: $(grep Non-2xx <<<"$out")" >&2
	fi
	echo "${rps:-0} $(ms "${p50:-0}") $(ms "${p99:-0}")"
}
# sse URL: median time from sending a GET to reading the first SSE event's
# data: line, over SSE_SAMPLES GETs (time to the first byte would be the
# relay's early response headers, not the event).
sse() {
	python3 - "$1" "$TOKEN" "$SSE_SAMPLES" <<'PY'
import http.client, statistics, sys, time, urllib.parse
url, token, n = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
times = []
for _ in range(n):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    t0 = time.perf_counter()
    c.request('GET', url.path, headers={'Accept': 'text/event-stream',
                                        'Authorization': 'Bearer ' + token})
    r = c.getresponse()
    line = b''
    while r.status == 200:
        line = r.fp.readline()      # raw lines: chunk sizes, then the event
        if not line or line.startswith(b'data:'):
            break
    if line.startswith(b'data:'):
        times.append((time.perf_counter() - t0) * 1000)
    c.close()
print('%.2f' % statistics.median(times) if times else 'n/a')
PY
}

LA=http://127.0.0.1:$la_port/mcp
AA=http://127.0.0.1:$aa_port/mcp
LBU=http://127.0.0.1:$LBPORT/mcp
AB=http://127.0.0.1:$ab_port/mcp
# Warm-up before measuring: each relay process verifies the token once
# and opens its upstream connections, at twice the measured concurrency
# so that every pooled relay thread has one.
for u in "$LA" "$AA" "$LBU" "$AB"; do
	wrk -t2 -c$((CONNS * 2)) -d"$WARM_SECONDS"s -s "$T/post.lua" "$u" >/dev/null 2>&1
done
read -r c_rps c_p50 c_p99 <<<"$(run "$UP")"
read -r la_rps la_p50 la_p99 <<<"$(run "$LA")"
read -r lb_rps lb_p50 lb_p99 <<<"$(run "$LBU")"
read -r aa_rps aa_p50 aa_p99 <<<"$(run "$AA")"
read -r ab_rps ab_p50 ab_p99 <<<"$(run "$AB")"
la_sse=$(sse "$LA"); lb_sse=$(sse "$LBU"); aa_sse=$(sse "$AA"); ab_sse=$(sse "$AB")
rss() {         # rss PARENT-PID: "count avg-KB max-KB" of its mcp.fcgi descendants
	local p kids=
	for p in $(srv_descendants "$1"); do
		ps -o args= -p "$p" 2>/dev/null | grep -q 'mcp\.fcgi' && kids="$kids $p"
	done
	[ -n "$kids" ] || { echo "0 0 0"; return; }
	ps -o rss= -p "${kids# }" | awk '{n++; s += $1; if ($1 > m) m = $1} END {printf "%d %d %d", n, s / n, m}'
}
read -r la_n la_avg la_max <<<"$(rss "$la_pid")"
read -r aa_n aa_avg aa_max <<<"$(ps -o rss= -p "$aa_relay_pid" | awk '{printf "1 %d %d", $1, $1}')"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "relay benchmark: wrk -t2 -c$CONNS -d${SECONDS_EACH}s, POST tools/call with a verified RS256 bearer; upstream nginx"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -sr); $(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1); $(apache2 -v | sed -n 's/Server version: //p')"
printf '%-34s %10s %9s %9s %12s\n' target req/s p50-ms p99-ms sse-first-ms
printf '%-34s %10s %9s %9s %12s\n' "C upstream (nginx) direct" "$c_rps" "$c_p50" "$c_p99" "-"
printf '%-34s %10s %9s %9s %12s\n' "A lighttpd + relay (mcp.fcgi)" "$la_rps" "$la_p50" "$la_p99" "$la_sse"
printf '%-34s %10s %9s %9s %12s\n' "B lighttpd mod_proxy" "$lb_rps" "$lb_p50" "$lb_p99" "$lb_sse"
printf '%-34s %10s %9s %9s %12s\n' "A Apache + relay (proxy_fcgi)" "$aa_rps" "$aa_p50" "$aa_p99" "$aa_sse"
printf '%-34s %10s %9s %9s %12s\n' "B Apache mod_proxy_http" "$ab_rps" "$ab_p50" "$ab_p99" "$ab_sse"
echo "A/B lighttpd: throughput $(ratio "$la_rps" "$lb_rps") (target >= 0.9), p99 $(ratio "$la_p99" "$lb_p99") (target <= 1.2)"
echo "A/B Apache:   throughput $(ratio "$aa_rps" "$ab_rps") (target >= 0.9), p99 $(ratio "$aa_p99" "$ab_p99") (target <= 1.2)"
echo "relay RSS: lighttpd $la_n processes, avg $la_avg KB, max $la_max KB; Apache $aa_n processes, avg $aa_avg KB, max $aa_max KB"
