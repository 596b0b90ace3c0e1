#!/bin/bash
# The two Quick start commands (README "Quick start"), for a Debian 12
# machine, run as root (or as a user who has the packages already):
#
#   ./dev.sh up     install missing packages, build, install into ./_demo,
#                   generate a demo config and key, and serve the proxy
#                   with lighttpd on 127.0.0.1:8080 in the foreground, with
#                   the IdP, document-host and gateway stand-ins when they
#                   are there.  Ctrl-C stops everything.
#                   Knobs (environment; tests/integration/dev-up.test
#                   uses them):
#                   CIMD_DEV_DIR=/abs/dir      state (config, keys, store,
#                                              sockets, logs, PKI) instead
#                                              of ./_demo
#                   CIMD_DEV_INSTALL=/abs/pfx  serve this existing install
#                                              (made with lighttpdsocketdir=
#                                              PFX/run, as make check's
#                                              tests/stage): no packages, npm
#                                              ci, configure, make or install
#                   CIMD_DEV_PORT, CIMD_DEV_IDP_PORT, CIMD_DEV_DOCHOST_PORT,
#                   CIMD_DEV_GATEWAY_PORT, CIMD_DEV_AGENTCORE_PORT
#                                              ports instead of 8080, 9100,
#                                              8443, 9200, 9201
#   ./dev.sh test   install missing packages, then build and run every
#                   test: sanitizer build (make, lint, check), the relay
#                   under ThreadSanitizer, a plain build whose programs
#                   run under valgrind, make distcheck.
#                   The last line is "N passed, N failed, N skipped"; the
#                   exit status is non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE" || exit 1

# doc/test-rig.md section 1, plus the tools the tests and fuzzers use.
PACKAGES="build-essential libfcgi-dev libcurl4-gnutls-dev libgnutls28-dev nettle-dev
	libjson-c-dev libdb-dev db5.3-util autoconf automake libtool pkg-config apache2
	libapache2-mod-fcgid lighttpd spawn-fcgi wrk check gnutls-bin chromium
	nginx-light valgrind clang jq curl libfcgi-bin lighttpd-mod-openssl libnss3-tools
	iproute2 python3 openssl libpq-dev postgresql mandoc debhelper lintian
	prometheus"
JOBS=$(nproc 2>/dev/null || echo 2)
DEMO_PORT=${CIMD_DEV_PORT:-8080}
DEMO_IDP_PORT=${CIMD_DEV_IDP_PORT:-9100}
DEMO_DOCHOST_PORT=${CIMD_DEV_DOCHOST_PORT:-8443}
DEMO_GATEWAY_PORT=${CIMD_DEV_GATEWAY_PORT:-9200}
DEMO_AGENTCORE_PORT=${CIMD_DEV_AGENTCORE_PORT:-9201}
READY_SECONDS=15                # budget for a stand-in to say "ready"

say() { printf 'dev.sh: %s\n' "$*" >&2; }

# Installs what is missing; apt-get update runs once, and only then.
packages() {
	local p missing=
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	command -v node >/dev/null || missing="$missing nodejs"
	command -v npm >/dev/null || missing="$missing npm"
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing Debian packages:$missing (run as root, or install them)"
		return 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null && apt-get install -y -q $missing </dev/null
}

# The stand-ins' node modules, exactly as locked; skipped when they are
# already installed from the current lock file (npm ci would delete them
# under anyone using them).
npm_ci() {
	local d=$HERE/tests/standins
	[ -f "$d/package-lock.json" ] || return 0
	if [ -f "$d/node_modules/.package-lock.json" ] &&
	    ! [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
		return 0
	fi
	say "npm ci in tests/standins"
	(cd "$d" && npm ci --no-audit --no-fund </dev/null)
}

# configure_in DIR ARGS...: a fresh out-of-tree configure.
configure_in() {
	local dir=$1
	shift
	mkdir -p "$dir" && (cd "$dir" && "$HERE/configure" -q "$@")
}

# ---------------------------------------------------------------- test

PASSED=0
FAILED=0
SKIPPED=0

# summaries FILE: adds automake's "# PASS:" etc. lines found in FILE.
summaries() {
	local k n
	while read -r k n; do
		case $k in
		PASS: | XFAIL:) PASSED=$((PASSED + n)) ;;
		FAIL: | ERROR: | XPASS:) FAILED=$((FAILED + n)) ;;
		SKIP:) SKIPPED=$((SKIPPED + n)) ;;
		esac
	done < <(sed -n 's/^# \(PASS\|FAIL\|ERROR\|SKIP\|XFAIL\|XPASS\): *\([0-9]*\)$/\1: \2/p' "$1")
}

# step NAME LOG CMD...: runs CMD with its output shown and kept in LOG.
# A failing step with no test summary counts as one failure.
step() {
	local name=$1 log=$2 rc t0=$SECONDS
	shift 2
	say "== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	say "== $name: $((SECONDS - t0)) s"
	summaries "$log"
	if [ "$rc" != 0 ]; then
		grep -q '^# TOTAL:' "$log" || FAILED=$((FAILED + 1))
		say "$name failed (exit $rc)"
	fi
	return "$rc"
}

# Valgrind for the programs make check runs directly (unit tests, fuzz
# replays); shell tests run valgrind themselves (valgrind.test).  -q
# leaves a log empty unless valgrind found something.
VG_LOG_FLAGS="-q --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --error-exitcode=97
	--suppressions=$HERE/tests/valgrind.supp"

vg_logs() {
	local f n=0
	for f in "$1"/*.log; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		say "valgrind report in $f:"
		head -n 40 "$f" >&2
	done
	FAILED=$((FAILED + n))
	say "valgrind: $n process(es) with reports"
}

cmd_test() {
	local B=$HERE/_build L=$HERE/_build/logs vg
	# Even a run that cannot start ends with the summary line CI reads.
	packages || { say "installing packages failed"; FAILED=1; final; exit 1; }
	npm_ci || { say "npm ci failed"; FAILED=1; final; exit 1; }
	mkdir -p "$L"
	step autoreconf "$L/autoreconf.log" autoreconf -fi || { final; exit 1; }

	if step "configure (sanitizers)" "$L/san-configure.log" \
		configure_in "$B/sanitize" --enable-werror --enable-sanitizers &&
	   step "make (sanitizers)" "$L/san-make.log" make -C "$B/sanitize" -j"$JOBS" -s; then
		step "make lint" "$L/lint.log" make -C "$B/sanitize" -s lint
		step "make check (sanitizers)" "$L/san-check.log" make -C "$B/sanitize" -j"$JOBS" check
	fi

	# The threaded relay under ThreadSanitizer: relay-tsan.test loads one
	# relay process's threads at once (streams, tool calls, elicitations,
	# a configuration and a key reload) and fails on any report in the
	# server logs.  Not the login suites: only the relay is threaded, and
	# the login programs' getaddrinfo_a threads crash the TSan runtime.
	if step "configure (tsan)" "$L/tsan-configure.log" \
		configure_in "$B/tsan" --enable-werror --enable-tsan &&
	   step "make (tsan)" "$L/tsan-make.log" make -C "$B/tsan" -j"$JOBS" -s; then
		step "make check (tsan, relay)" "$L/tsan-check.log" make -C "$B/tsan" check \
			TESTS="tests/integration/relay-tsan.test"
	fi

	vg=$B/valgrind/vg-logs
	if step "configure (valgrind)" "$L/vg-configure.log" \
		configure_in "$B/valgrind" --enable-werror &&
	   step "make (valgrind)" "$L/vg-make.log" make -C "$B/valgrind" -j"$JOBS" -s; then
		rm -rf "$vg" && mkdir -p "$vg"
		# Only what valgrind can watch (Makefile.am VALGRIND_TESTS): the
		# shell suites ran in the sanitizer build (those needing no
		# stand-ins run again in distcheck's plain build below).  CIMD_TEST_STAGE: the PostgreSQL
		# repeats (and fleet-binding, deb.test) skip in distcheck, having
		# run in the sanitizer stage.
		step "make check (valgrind)" "$L/vg-check.log" env CIMD_TEST_STAGE=valgrind \
			make -C "$B/valgrind" -j"$JOBS" check \
			TESTS="$(make -s -C "$B/valgrind" print-valgrind-tests)" \
			LOG_COMPILER="$(command -v valgrind)" \
			LOG_FLAGS="$(echo $VG_LOG_FLAGS) --log-file=$vg/%p.log"
		vg_logs "$vg"
		step "make distcheck" "$L/distcheck.log" env CIMD_TEST_STAGE=distcheck \
			make -C "$B/valgrind" -j"$JOBS" distcheck \
			DISTCHECK_CONFIGURE_FLAGS=--enable-werror
	fi
	final
	[ "$FAILED" = 0 ]
}

final() {
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
}

# ---------------------------------------------------------------- up

# Every server runs in a session of its own (setsid), so its process
# group holds what it spawned too: lighttpd's FastCGI programs.  Stopping
# signals whole groups, waits STOP_SECONDS for them to empty, then kills
# what is left, so nothing outlives `up` (Ctrl-C reaches only us).
PIDS=
STOP_SECONDS=5
stop_all() {
	local p i
	for p in $PIDS; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
	for i in $(seq $((STOP_SECONDS * 10))); do
		for p in $PIDS; do kill -0 -- "-$p" 2>/dev/null && break; p=; done
		[ -z "$p" ] && break
		sleep 0.1
	done
	for p in $PIDS; do kill -KILL -- "-$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=
}

# standin NAME ARGS...: starts tests/standins/NAME.mjs and waits for its
# "ready" line, whose URLs it leaves in $READY; fails (leaving nothing
# running) if the stand-in does not come up.
standin() {
	local name=$1 pid i line
	shift
	READY=
	setsid node "$HERE/tests/standins/$name.mjs" "$@" >"$D/log/$name.out" 2>"$D/log/$name.err" </dev/null &
	pid=$!
	for i in $(seq $((READY_SECONDS * 10))); do
		line=$(grep -m1 '^ready ' "$D/log/$name.out")
		if [ -n "$line" ]; then
			PIDS="$PIDS $pid"
			READY=${line#ready }
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	say "$name did not start; see $D/log/$name.err"
	return 1
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# up_install B D: packages, node modules, a build in B installed into D.
up_install() {
	packages || return 1
	npm_ci || return 1
	[ -x "$HERE/configure" ] || autoreconf -fi || return 1
	if ! [ -f "$1/Makefile" ]; then
		configure_in "$1" --prefix="$2" || return 1
	fi
	make -C "$1" -j"$JOBS" -s || return 1
	make -C "$1" -s install lighttpdsocketdir="$2/run" >/dev/null
}

cmd_up() {
	local B=$HERE/_build/demo D=${CIMD_DEV_DIR:-$HERE/_demo} I=${CIMD_DEV_INSTALL:-} as= user line
	local si=$HERE/tests/standins standins=no idp= gw= agentcore= docs= i
	case $D in /*) ;; *) say "CIMD_DEV_DIR must be an absolute path"; exit 2 ;; esac
	case ${I:-/} in /*) ;; *) say "CIMD_DEV_INSTALL must be an absolute path"; exit 2 ;; esac
	if [ -z "$I" ]; then
		I=$D
		up_install "$B" "$D" || exit 1
	fi
	[ -x "$I/libexec/cimd-proxy/mcp.fcgi" ] || { say "no installed programs in $I"; exit 1; }
	mkdir -p "$D/etc/cimd-proxy" "$D/var/lib/cimd-proxy" "$D/run" "$D/www" "$D/log"
	port_free "$DEMO_PORT" || { say "127.0.0.1:$DEMO_PORT is in use"; exit 1; }

	# The web server runs as nobody when we are root and nobody can
	# reach the installed programs and the state (not so under a 0700
	# /root).
	user=$(id -un)
	if [ "$(id -u)" = 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    test -x "$I/libexec/cimd-proxy/mcp.fcgi" -a -x "$D"; then
		as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
		user=nobody
	fi
	[ -s "$D/etc/cimd-proxy/keys" ] || "$I/sbin/cimd-proxy-admin" keygen "$D/etc/cimd-proxy/keys" || exit 1

	trap stop_all EXIT
	trap 'exit 130' INT TERM
	if [ -d "$si/node_modules" ] && command -v node >/dev/null; then
		standins=yes
		sh "$HERE/tests/pki.sh" "$D/pki" >/dev/null || exit 1
		export NODE_EXTRA_CA_CERTS=$D/pki/ca.pem
		# A HOME for headless Chromium that trusts the demo CA (README).
		(T=$D CA=$D/pki/ca.pem; . "$HERE/tests/lib.sh"; chromium_home) ||
			say "certutil missing: headless Chromium will not trust the demo CA"
	fi
	if [ $standins = yes ] && [ -f "$si/idp.mjs" ] &&
	    standin idp --port "$DEMO_IDP_PORT" --cert "$D/pki/server.pem" --key "$D/pki/server.key" \
		--redirect-uri "http://127.0.0.1:$DEMO_PORT/callback" \
		--redirect-uri "http://127.0.0.1:$DEMO_PORT/sessionbinding/okta-callback"; then
		idp=$READY
	fi
	if [ $standins = yes ] && [ -f "$si/dochost.mjs" ] &&
	    standin dochost --port "$DEMO_DOCHOST_PORT" --docs "$HERE/tests/docs" \
		--cert "$D/pki/server.pem" --key "$D/pki/server.key"; then
		docs="https://127.0.0.1:$DEMO_DOCHOST_PORT/harness.json"
	fi
	if [ $standins = yes ] && [ -n "$idp" ] && [ -f "$si/gateway.mjs" ] &&
	    standin gateway --port "$DEMO_GATEWAY_PORT" --issuer "$idp" \
		--allowed-audience api://cimd-proxy-test --allowed-clients cimd-proxy-test \
		--agentcore-port "$DEMO_AGENTCORE_PORT" \
		--agentcore-cert "$D/pki/server.pem" --agentcore-key "$D/pki/server.key" \
		--return-url "http://127.0.0.1:$DEMO_PORT/sessionbinding/callback"; then
		gw=${READY%% *}
		agentcore=${READY#* }
	fi
	# The gateway stand-in's test credentials, for SigV4 to its AgentCore.
	export AWS_ACCESS_KEY_ID=AKIDCIMDPROXYTEST AWS_SECRET_ACCESS_KEY=cimd-proxy-test-secret

	{
		echo "# Demo configuration written by ./dev.sh up (rewritten on every run)."
		echo "public_url = http://127.0.0.1:$DEMO_PORT"
		echo "idp_issuer = ${idp:-https://127.0.0.1:$DEMO_IDP_PORT}"
		echo "idp_client_id = cimd-proxy-test"
		echo "idp_scopes = openid offline_access mcp:tools"
		echo "idp_user_claim = uid"
		echo "idp_audience = api://cimd-proxy-test"
		echo "gateway_url = ${gw:-http://127.0.0.1:$DEMO_GATEWAY_PORT/mcp}"
		echo "client_allow = https://127.0.0.1:$DEMO_DOCHOST_PORT/"
		echo "client_allow = https://vscode.dev/oauth/client-metadata.json"
		echo "client_allow = https://claude.ai/oauth/claude-code-client-metadata"
		echo "fetch_allow_private = 127.0.0.0/8"
		echo "key_file = $D/etc/cimd-proxy/keys"
		echo "store = bdb:$D/var/lib/cimd-proxy"
		echo "binding = agentcore"
		echo "agentcore_region = us-east-1"
		echo "agentcore_endpoint = https://127.0.0.1:$DEMO_AGENTCORE_PORT"
		[ -f "$D/pki/ca.pem" ] && echo "tls_ca_file = $D/pki/ca.pem"
		echo "log_level = info"
	} >"$D/etc/cimd-proxy.conf"
	export CIMD_PROXY_CONF=$D/etc/cimd-proxy.conf
	"$I/sbin/cimd-proxy-admin" check-config || exit 1

	# The installed snippet with its sockets in our own run dir (the
	# same file when we installed into $D ourselves).
	sed "s|$I/run/|$D/run/|g" "$I/share/cimd-proxy/lighttpd/cimd-proxy.conf" \
		>"$D/cimd-proxy-lighttpd.conf" || exit 1

	{
		echo "server.modules = ( \"mod_access\" )"
		echo "server.bind = \"127.0.0.1\""
		echo "server.port = $DEMO_PORT"
		echo "server.document-root = \"$D/www\""
		echo "server.pid-file = \"$D/run/lighttpd.pid\""
		echo "server.upload-dirs = ( \"$D/run\" )"
		echo "include \"$D/cimd-proxy-lighttpd.conf\""
	} >"$D/lighttpd.conf"
	[ "$user" = nobody ] && chown -R nobody:nogroup "$D/run" "$D/var" "$D/etc/cimd-proxy"
	chmod 600 "$D/etc/cimd-proxy/keys"
	setsid $as "$(command -v lighttpd)" -D -f "$D/lighttpd.conf" </dev/null &
	PIDS="$PIDS $!"
	for i in $(seq 50); do port_free "$DEMO_PORT" || break; sleep 0.1; done

	cat <<EOF

cimd-proxy is running (lighttpd as $user; logs below).  Ctrl-C stops everything.
  MCP URL:                  http://127.0.0.1:$DEMO_PORT/mcp
  protected-resource meta:  http://127.0.0.1:$DEMO_PORT/.well-known/oauth-protected-resource/mcp
  authorization-server meta: http://127.0.0.1:$DEMO_PORT/.well-known/oauth-authorization-server
  IdP stand-in:             ${idp:-(not started)}
  client document:          ${docs:-(not started)}
  gateway stand-in:         ${gw:-(not started)}
  AgentCore stand-in:       ${agentcore:-(not started)}${agentcore:+ (consent step returns to /sessionbinding/callback)}
  config: $D/etc/cimd-proxy.conf   CA: ${NODE_EXTRA_CA_CERTS:-(none)}

EOF
	wait
}

case ${1:-} in
up) cmd_up ;;
test) cmd_test ;;
*)
	echo "usage: ./dev.sh up | test   (see README, Quick start)" >&2
	exit 2
	;;
esac
