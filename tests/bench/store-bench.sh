#!/bin/bash
# make bench-store: p50/p99 of each store operation with each backend
# (tests/bench/store-bench.c), Berkeley DB in a temporary directory and
# PostgreSQL started by tests/pg.sh; then, with each backend, whole
# logins against the installed proxy behind lighttpd
# (tests/bench/store-bench-login.mjs): p50/p99 of the /token exchange and
# of a whole login, the login rate one host sustains, and the CPU time
# one login costs the web server with the proxy's programs and PostgreSQL
# (the IdP stand-in shares the machine, so the rate is a floor and the CPU
# time says what a host of its own would do).  Figures, not a test.
# BENCH_LOGINS (default 200) and BENCH_CONCURRENCY (default 4).
set -u
bench=$top_builddir/tests/bench/store-bench
tmp=$(mktemp -d /tmp/cimd-bench-XXXXXX)
pgdir=$(mktemp -d /tmp/cimd-pg-XXXXXX)
trap 'bash "$top_srcdir/tests/pg.sh" destroy "$pgdir"; rm -rf "$tmp"' EXIT
pg=
grep -q '^#define HAVE_LIBPQ 1' "$top_builddir/config.h" && pg=1

"$bench" "bdb:$tmp/store" || exit 1
if [ -n "$pg" ]; then
	base=$(bash "$top_srcdir/tests/pg.sh" start "$pgdir") || exit 1
	"$bench" "postgresql:$base user=cimd_proxy" || exit 1
	# Over TCP with a password, as a fleet host reaches its database.
	"$bench" "postgresql:host=127.0.0.1 port=$(cat "$pgdir/port") dbname=cimd user=cimd_proxy password=cimd-test-password sslmode=disable" || exit 1
else
	echo "postgresql: not in this build (configure found no libpq)"
fi

# --- whole logins, one host (lighttpd), each backend ------------------------
# login_bench STORE-LINE: the servers of the login tests with that store
# (Berkeley DB when empty), then the login loop against lighttpd; prints
# its JSON line.  In a subshell: login_setup's exit trap stops them.
login_bench() (
	. "$top_srcdir/tests/lib.sh"
	. "$top_srcdir/tests/integration/servers.sh"
	. "$top_srcdir/tests/integration/login-setup.sh"
	# login_prereqs speaks TAP; here a missing tool is one line.
	skip_all() { echo "{\"skipped\": \"$1\"}"; exit 0; }
	login_prereqs
	local out proxy0 proxy1 pg0=0 pg1=0 post=
	LOGIN_STORE=$1 login_setup >/dev/null || { echo '{"error": "cannot start the servers"}'; exit 1; }
	[ -z "$1" ] || post=$(head -n 1 "$pgdir/data/postmaster.pid")
	proxy0=$(cpu_ms "$lt_pid" $(srv_descendants "$lt_pid"))
	[ -z "$post" ] || pg0=$(cpu_ms $(srv_descendants "$post"))
	out=$(node "$top_srcdir/tests/bench/store-bench-login.mjs" --base "$LT" \
		--client-id "$DOCS/harness.json" --redirect-uri "$LOGIN_REDIRECT" \
		--logins "${BENCH_LOGINS:-200}" --concurrency "${BENCH_CONCURRENCY:-4}") ||
		grep -h ' error: ' "$(srv_log lt)" | tail -n 3 | sed 's/^/server log: /' >&2
	proxy1=$(cpu_ms "$lt_pid" $(srv_descendants "$lt_pid"))
	[ -z "$post" ] || pg1=$(cpu_ms $(srv_descendants "$post"))
	jq -c --argjson p $((proxy1 - proxy0)) --argjson q $((pg1 - pg0)) \
		'. + {proxy_cpu_ms: (if .logins > 0 then ($p / .logins * 10 | round / 10) else null end),
		      pg_cpu_ms: (if .logins > 0 then ($q / .logins * 10 | round / 10) else null end)}' <<<"$out" 2>/dev/null ||
		echo "$out"
)
# cpu_ms PID...: the CPU time (user + system) the processes used so far,
# in ms; the web server and its FastCGI processes live through the run,
# so the difference of two readings is what the logins cost them.
cpu_ms() {
	local p t=0 f
	for p; do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) }
		set -- $f
		t=$((t + ${12} + ${13}))
	done
	echo $((t * 1000 / $(getconf CLK_TCK)))
}
# row NAME JSON: the table's row; a run with errors still has figures,
# and its first error is printed under the table.
row() {
	jq -r --arg n "$1" 'if .skipped then "| \($n) | not measured: \(.skipped) |||||"
		elif .logins then "| \($n) | \(.token_p50_ms) ms / \(.token_p99_ms) ms | \(.login_p50_ms) ms / \(.login_p99_ms) ms | \(.rate)/s (\(.logins) logins, \(.errors) errors) | \(.proxy_cpu_ms) ms | \(if .pg_cpu_ms > 0 then "\(.pg_cpu_ms) ms" else "-" end) |"
		else "| \($n) | failed: \(.error // .first_error) |||||" end' <<<"$2" 2>/dev/null ||
		echo "| $1 | failed: $2 |||||"
	[ "$(jq -r '.errors // 0' <<<"$2" 2>/dev/null)" = 0 ] || errs+="$1: $(jq -r .first_error <<<"$2")"$'\n'
}
errs=
echo
echo "logins against lighttpd, ${BENCH_CONCURRENCY:-4} clients, ${BENCH_LOGINS:-200} logins each backend:"
echo "| store | /token p50 / p99 | whole login p50 / p99 | login rate | CPU per login: lighttpd + proxy | PostgreSQL |"
echo "|---|---|---|---|---|---|"
row "Berkeley DB" "$(login_bench "")"
[ -z "$pg" ] || row "PostgreSQL (socket)" "$(login_bench "postgresql:$base user=cimd_proxy")"
[ -z "$errs" ] || printf 'first error of each run with errors:\n%s' "$errs"
