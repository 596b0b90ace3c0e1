# Real web servers in front of the installed programs, for the integration
# tests.  Source it after tests/lib.sh, with $STAGE pointing at a staging
# install (make check's tests/stage):
#
#   srv_init                         temp dir + cleanup trap; call first
#   srv_tls PKI-DIR                  servers started from now on speak
#                                    HTTPS only (lighttpd mod_openssl,
#                                    Apache mod_ssl) with PKI-DIR's
#                                    server.pem/server.key (tests/pki.sh),
#                                    and their public_url is https://
#   srv_config NAME [key = value]... write a proxy config, print its path
#   srv_lighttpd NAME CONF           lighttpd: installed snippet (FastCGI)
#                                    on port ${NAME}_port, the same
#                                    endpoints as plain CGI (mod_cgi) on
#                                    ${NAME}_cgi_port
#   srv_lighttpd_proxy NAME UPPORT   lighttpd's own mod_proxy, /mcp to
#                                    127.0.0.1:UPPORT, streaming both
#                                    ways, on ${NAME}_port (the benches'
#                                    anchor for the relay)
#   SRV_EXTRA_CONF=LINES srv_...     LINES added to that server's own
#                                    configuration at top level (lighttpd:
#                                    after the snippet; Apache: before
#                                    the VirtualHost)
#   srv_apache_fcgid NAME CONF       Apache, installed mod_fcgid snippet
#                                    in a <VirtualHost>, on ${NAME}_port
#   srv_apache_cgi NAME CONF         Apache, plain CGI through the
#                                    installed .htaccess, on ${NAME}_port
#   srv_stop NAME                    stop one server, wait until it is gone
#   srv_stop_all                     stop every server (the trap does too)
#   srv_log NAME                     path of that server's error log
#   srv_dump_logs                    every log, as TAP comments
#   srv_sanitizer_check              stop every server, then one TAP check
#                                    that no log holds a sanitizer report
#
# Every server runs as nobody when we are root (doc/test-rig.md 2.0; setpriv,
# not runuser, so the PID is the server's), else as ourselves.  It
# listens on 127.0.0.1 on a port picked at runtime, lives in its own
# directory under $SRV_ROOT and is killed by PID.  The configurations are self-contained: no Debian apache2.conf, no apache2ctl
# (doc/test-rig.md 2.2).

SRV_WAIT_SECONDS=15             # startup budget of one server
SRV_STOP_SECONDS=10             # Apache may take 7 s (doc/test-rig.md 2.2)
SRV_APACHE_MODULES=/usr/lib/apache2/modules
SRV_ENDPOINTS=$(grep -v '^#' "$top_srcdir/cgi-bin/endpoints.list")

SRV_ROOT=
SRV_NAMES=
SRV_TLS=                        # PKI dir while TLS mode is on (srv_tls)

srv_init() {
	SRV_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cimd-integ.XXXXXX") || return 1
	chmod 755 "$SRV_ROOT"
	if [ "$(id -u)" = 0 ]; then
		# setpriv execs (runuser forks), so the PID we keep is the
		# server's own.
		SRV_AS="setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env"
		SRV_USER=nobody
	else
		SRV_AS=
		SRV_USER=$(id -un)
	fi
	trap srv_cleanup EXIT
	trap 'exit 130' INT TERM
}

# srv_tls PKI-DIR: TLS mode for the servers started after it.  The
# server user must be able to read PKI-DIR (tests/pki.sh makes its files
# world-readable).  The certificate names 127.0.0.1, so clients verify it
# against PKI-DIR/ca.pem, never with verification off.
srv_tls() {
	[ -s "$1/server.pem" ] && [ -s "$1/server.key" ] && [ -s "$1/ca.pem" ] || return 1
	SRV_TLS=$1
}

# The scheme the servers speak, and curl's options to reach them.
srv_scheme() {
	if [ -n "$SRV_TLS" ]; then echo https; else echo http; fi
}

srv_curl_tls() {
	[ -n "$SRV_TLS" ] && printf '%s\n' --cacert "$SRV_TLS/ca.pem"
	return 0
}

# srv_free_port: a free port for a server (tests/lib.sh free_port).
srv_free_port() { free_port; }

# srv_config NAME [LINE]...: a working config (public_url is filled in by
# the start functions, which know the port) plus extra lines.  Prints
# its path.  The key file and store belong to the server user.  The
# audience is the IdP stand-in's unless a LINE sets idp_audience.
srv_config() {
	local name=$1 d=$SRV_ROOT/conf-$1 l aud="idp_audience = api://cimd-proxy-test"
	shift
	for l in "$@"; do
		case $l in idp_audience*) aud= ;; esac
	done
	mkdir -p "$d/store"
	"$STAGE/sbin/cimd-proxy-admin" keygen "$d/keys" >/dev/null || return 1
	{
		echo "public_url = http://127.0.0.1:@PORT@"
		echo "idp_issuer = https://127.0.0.1:9/oauth2/default"
		echo "idp_client_id = cimd-proxy-test"
		echo "idp_scopes = openid offline_access mcp:tools"
		[ -z "$aud" ] || echo "$aud"
		echo "gateway_url = http://127.0.0.1:9/mcp"
		echo "key_file = $d/keys"
		echo "store = bdb:$d/store"
		echo "binding = off"
		echo "cors_allow_origin = https://app.example.test"
		for l in "$@"; do echo "$l"; done
	} >"$d/template"
	cp "$d/template" "$d/cimd-proxy.conf"
	srv_own "$d"
	chmod 600 "$d/keys"
	echo "$d/cimd-proxy.conf"
}

# srv_config_port CONF PORT [OUT]: fills the port into a config made by
# srv_config (into OUT, default CONF itself); in TLS mode public_url is
# https.
srv_config_port() {
	sed -e "s|@PORT@|$2|" -e "s|^public_url = http://127.0.0.1:|public_url = $(srv_scheme)://127.0.0.1:|" \
		"$(dirname "$1")/template" >"${3:-$1}"
}

srv_own() {
	[ "$SRV_USER" = nobody ] && chown -R nobody:nogroup "$@"
	return 0
}

# srv_start NAME LOG CMD...: starts CMD in the background as the server
# user and remembers its PID in ${NAME}_pid.
srv_start() {
	local name=$1 log=$2
	shift 2
	# setsid: a Ctrl-C of the test run reaches the trap, not the servers.
	setsid $SRV_AS "$@" >>"$log" 2>&1 </dev/null &
	eval "${name}_pid=$!"
	SRV_NAMES="$SRV_NAMES $name"
}

# srv_wait NAME PORT: polls until the server answers HTTP, or fails when
# it died or the budget is spent.
srv_wait() {
	local name=$1 port=$2 pid i code
	eval "pid=\$${name}_pid"
	for i in $(seq $((SRV_WAIT_SECONDS * 10))); do
		code=$(curl -s -m 1 $(srv_curl_tls) -o /dev/null -w '%{http_code}' \
			"$(srv_scheme)://127.0.0.1:$port/" 2>/dev/null)
		[ -n "$code" ] && [ "$code" != 000 ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

srv_log() {
	echo "$SRV_ROOT/$1/log/error.log"
}

# srv_prepare NAME: the server's own directory tree.
srv_prepare() {
	local d=$SRV_ROOT/$1
	rm -rf "$d"
	mkdir -p "$d/log" "$d/run" "$d/www" "$d/sock"
	: >"$d/log/error.log"
	srv_own "$d"
}

# lighttpd's TLS settings for one socket (TLS mode).
srv_lighttpd_tls() {
	echo 'ssl.engine = "enable"'
	echo "ssl.pemfile = \"$SRV_TLS/server.pem\""
	echo "ssl.privkey = \"$SRV_TLS/server.key\""
}

# srv_lighttpd NAME CONF: lighttpd 1.4 with the installed snippet, as an
# operator would include it (doc/test-rig.md 2.1), plus a second port where
# mod_cgi runs the same programs as plain CGI under the same paths.
srv_lighttpd() {
	local name=$1 conf=$2 d=$SRV_ROOT/$1 port cport try e libexec
	libexec=$STAGE/libexec/cimd-proxy
	for try in 1 2 3; do
		srv_prepare "$name"
		port=$(srv_free_port) && cport=$(srv_free_port) || return 1
		[ "$port" = "$cport" ] && continue
		# The CGI port is its own origin, so it gets its own public_url.
		srv_config_port "$conf" "$port"
		srv_config_port "$conf" "$cport" "$conf.cgi"
		# The installed snippet puts its sockets in the staging run
		# dir, shared by every test: give this server its own.
		sed "s|$STAGE/run/|$d/sock/|g" "$STAGE/share/cimd-proxy/lighttpd/cimd-proxy.conf" \
			>"$d/cimd-proxy.conf"
		{
			echo "var.base = \"$d\""
			echo 'server.modules = ( "mod_access", "mod_alias", "mod_setenv", "mod_cgi" )'
			echo 'server.bind = "127.0.0.1"'
			echo "server.port = $port"
			echo 'server.document-root = base + "/www"'
			echo 'server.pid-file = base + "/run/lighttpd.pid"'
			echo 'server.upload-dirs = ( base + "/run" )'
			echo 'mimetype.assign = ( ".json" => "application/json" )'
			if [ -n "$SRV_TLS" ]; then
				echo 'server.modules += ( "mod_openssl" )'
				srv_lighttpd_tls
			fi
			echo "include \"$d/cimd-proxy.conf\""
			[ -n "${SRV_EXTRA_CONF:-}" ] && printf '%s\n' "$SRV_EXTRA_CONF"
			echo "\$SERVER[\"socket\"] == \"127.0.0.1:$cport\" {"
			# mod_openssl builds a context per socket only from
			# settings inside that socket's block.
			[ -n "$SRV_TLS" ] && srv_lighttpd_tls
			echo '  fastcgi.server = ()'
			echo "  setenv.set-environment = ( \"CIMD_PROXY_CONF\" => \"$conf.cgi\" )"
			echo '  cgi.assign = ( ".fcgi" => "" )'
			echo '  alias.url = ('
			echo "    \"/.well-known/oauth-protected-resource\" => \"$libexec/protected-resource.fcgi\","
			echo "    \"/.well-known/oauth-authorization-server\" => \"$libexec/authorization-server.fcgi\","
			echo "    \"/sessionbinding/okta-callback\" => \"$libexec/sessionbinding-okta-callback.fcgi\","
			echo "    \"/sessionbinding/callback\" => \"$libexec/sessionbinding-callback.fcgi\","
			for e in register authorize callback token mcp; do
				echo "    \"/$e\" => \"$libexec/$e.fcgi\","
			done
			echo '  )'
			echo '}'
		} >"$d/lighttpd.conf"
		srv_own "$d"
		# No server.errorlog: lighttpd then logs to stderr, where the
		# programs' own lines (FastCGI and CGI) go too.
		srv_start "$name" "$d/log/error.log" env CIMD_PROXY_CONF="$conf" \
			"$(command -v lighttpd)" -D -f "$d/lighttpd.conf"
		if srv_wait "$name" "$port" && srv_wait "$name" "$cport"; then
			eval "${name}_port=$port ${name}_cgi_port=$cport"
			return 0
		fi
		srv_stop "$name"
	done
	return 1
}

# srv_lighttpd_proxy NAME UPPORT: lighttpd 1.4 and its mod_proxy alone,
# /mcp to 127.0.0.1:UPPORT with both bodies streamed as the relay's
# snippet streams them, so a bench compares like with like.
srv_lighttpd_proxy() {
	local name=$1 d=$SRV_ROOT/$1 port
	srv_prepare "$name"
	port=$(srv_free_port) || return 1
	{
		echo 'server.modules = ( "mod_proxy" )'
		echo 'server.bind = "127.0.0.1"'
		echo "server.port = $port"
		echo "server.document-root = \"$d/www\""
		echo "server.pid-file = \"$d/run/lighttpd.pid\""
		echo 'server.stream-response-body = 2'
		echo 'server.stream-request-body = 2'
		echo "proxy.server = ( \"/mcp\" => (( \"host\" => \"127.0.0.1\", \"port\" => $2 )) )"
		[ -n "${SRV_EXTRA_CONF:-}" ] && printf '%s\n' "$SRV_EXTRA_CONF"
	} >"$d/lighttpd.conf"
	srv_own "$d"
	srv_start "$name" "$d/log/error.log" "$(command -v lighttpd)" -D -f "$d/lighttpd.conf"
	srv_wait "$name" "$port" || return 1
	eval "${name}_port=$port"
}

# The part of a self-contained httpd.conf every Apache here shares.
srv_apache_base() {
	local d=$1 port=$2
	cat <<EOF
Define BASE $d
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile \${BASE}/run/httpd.pid
ErrorLog \${BASE}/log/error.log
LogLevel warn
Mutex file:\${BASE}/run default
DefaultRuntimeDir \${BASE}/run
LoadModule mpm_event_module $SRV_APACHE_MODULES/mod_mpm_event.so
LoadModule authz_core_module $SRV_APACHE_MODULES/mod_authz_core.so
LoadModule mime_module $SRV_APACHE_MODULES/mod_mime.so
LoadModule alias_module $SRV_APACHE_MODULES/mod_alias.so
LoadModule env_module $SRV_APACHE_MODULES/mod_env.so
TypesConfig /etc/mime.types
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 4
MaxSpareThreads 16
DocumentRoot \${BASE}/www
<Directory \${BASE}/www>
    Require all granted
</Directory>
EOF
	# TLS on the main server: the VirtualHost of srv_apache_fcgid
	# inherits it.  No session cache: nothing here resumes sessions.
	[ -n "$SRV_TLS" ] && cat <<EOF
LoadModule ssl_module $SRV_APACHE_MODULES/mod_ssl.so
SSLEngine on
SSLCertificateFile $SRV_TLS/server.pem
SSLCertificateKeyFile $SRV_TLS/server.key
SSLSessionCache none
EOF
	[ -n "${SRV_EXTRA_CONF:-}" ] && printf '%s\n' "$SRV_EXTRA_CONF"
	return 0
}

# srv_apache NAME: starts the httpd.conf already written in its dir.
srv_apache_run() {
	local name=$1 conf=$2 port=$3 d=$SRV_ROOT/$1
	srv_own "$d"
	srv_start "$name" "$d/log/stderr.log" env CIMD_PROXY_CONF="$conf" \
		"$(command -v apache2)" -f "$d/httpd.conf" -DFOREGROUND
	if srv_wait "$name" "$port"; then
		eval "${name}_port=$port"
		return 0
	fi
	srv_stop "$name"
	return 1
}

# srv_apache_relay NAME CONF: starts the relay Apache NAME sends /mcp to
# (the installed snippet's mod_proxy_fcgi), as systemd's
# cimd-proxy-relay.service would, on NAME's own socket; its lines go to
# NAME's error log.  Sets SRV_RELAY_CONF to the httpd.conf lines that
# load the modules and point the snippet at the socket.  Call after
# srv_prepare NAME, not in a subshell (the PID is remembered).
srv_apache_relay() {
	local name=$1 conf=$2 d=$SRV_ROOT/$1
	srv_stop "${name}_relay"
	srv_start "${name}_relay" "$d/log/error.log" env CIMD_PROXY_CONF="$conf" \
		"$STAGE/libexec/cimd-proxy/mcp.fcgi" --listen "$d/sock/relay.sock"
	SRV_RELAY_CONF="LoadModule proxy_module $SRV_APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $SRV_APACHE_MODULES/mod_proxy_fcgi.so
Define CIMD_PROXY_RELAY_SOCKET $d/sock/relay.sock"
}

# srv_apache_fcgid NAME CONF [LINES]: the installed snippet inside a
# VirtualHost, as the snippet's own comment tells operators to include
# it; LINES, when given, are server-level directives (MPM sizing).
srv_apache_fcgid() {
	local name=$1 conf=$2 extra=${3:-} d=$SRV_ROOT/$1 port try
	for try in 1 2 3; do
		srv_prepare "$name"
		mkdir -p "$d/fcgid"
		port=$(srv_free_port) || return 1
		srv_config_port "$conf" "$port"
		srv_apache_relay "$name" "$conf"
		{
			srv_apache_base "$d" "$port"
			cat <<EOF
LoadModule fcgid_module $SRV_APACHE_MODULES/mod_fcgid.so
$SRV_RELAY_CONF
FcgidIPCDir \${BASE}/fcgid
FcgidProcessTableFile \${BASE}/fcgid/shm
$extra
<VirtualHost 127.0.0.1:$port>
    ServerName 127.0.0.1
    Include $STAGE/share/cimd-proxy/apache/cimd-proxy.conf
</VirtualHost>
EOF
		} >"$d/httpd.conf"
		srv_apache_run "$name" "$conf" "$port" && return 0
	done
	return 1
}

# srv_apache_cgi NAME CONF: shared hosting.  The programs are copied into
# the document root and the installed htaccess is saved as .htaccess
# with CIMD_PROXY_CONF pointed at CONF: the steps its comment lists.
srv_apache_cgi() {
	local name=$1 conf=$2 d=$SRV_ROOT/$1 port try e
	for try in 1 2 3; do
		srv_prepare "$name"
		mkdir -p "$d/www/cimd-proxy"
		for e in $SRV_ENDPOINTS; do
			cp "$STAGE/libexec/cimd-proxy/$e.fcgi" "$d/www/cimd-proxy/" || return 1
		done
		sed "s|^SetEnv CIMD_PROXY_CONF .*|SetEnv CIMD_PROXY_CONF $conf|" \
			"$STAGE/share/cimd-proxy/apache/htaccess" >"$d/www/.htaccess"
		port=$(srv_free_port) || return 1
		srv_config_port "$conf" "$port"
		{
			srv_apache_base "$d" "$port"
			cat <<EOF
LoadModule cgid_module $SRV_APACHE_MODULES/mod_cgid.so
LoadModule rewrite_module $SRV_APACHE_MODULES/mod_rewrite.so
ScriptSock \${BASE}/run/cgid.sock
<Directory \${BASE}/www>
    AllowOverride All
</Directory>
EOF
		} >"$d/httpd.conf"
		srv_apache_run "$name" "$conf" "$port" && return 0
	done
	return 1
}

# Every descendant of a PID, so children a server leaves behind (fcgid
# and FastCGI processes) are ended by PID too.
srv_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		srv_descendants "$c"
	done
}

# srv_signal NAME: asks one server to stop and notes its descendants.
srv_signal() {
	local name=$1 pid
	eval "pid=\${${name}_pid:-}"
	[ -n "$pid" ] || return 0
	eval "${name}_kids=\"$(srv_descendants "$pid" | tr '\n' ' ')\""
	kill -TERM "$pid" 2>/dev/null
	return 0
}

# srv_reap NAME: waits for a signalled server, then kills it and any
# descendant still alive.
srv_reap() {
	local name=$1 pid kids i p
	eval "pid=\${${name}_pid:-} kids=\${${name}_kids:-}"
	[ -n "$pid" ] || return 0
	for i in $(seq $((SRV_STOP_SECONDS * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in $kids; do
		kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
	done
	# Their exit reports (sanitizers, valgrind) belong in the logs.
	for p in $kids; do
		for i in $(seq $((SRV_STOP_SECONDS * 10))); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	eval "${name}_pid="
	return 0
}

srv_stop() {
	srv_signal "$1"
	srv_reap "$1"
	# An Apache's relay (srv_apache_fcgid) goes with it.
	case $1 in *_relay) ;; *) srv_stop "$1_relay" ;; esac
}

# srv_stop_all: every server at once, so the slow Apache stops overlap.
srv_stop_all() {
	local n
	for n in $SRV_NAMES; do srv_signal "$n"; done
	for n in $SRV_NAMES; do srv_reap "$n"; done
}

srv_dump_logs() {
	local f
	[ -n "$SRV_ROOT" ] || return 0
	for f in "$SRV_ROOT"/*/log/*.log; do
		[ -s "$f" ] || continue
		echo "# --- ${f#"$SRV_ROOT"/}"
		sed 's/^/#   /' "$f"
	done
}

# srv_sanitizer_check: the programs write their ASan/UBSan reports to the
# servers' logs, leak reports only as they exit, so every server is
# stopped first (srv_reap also ends the FastCGI processes lighttpd leaves
# behind).  The lines found are printed as TAP comments.
srv_sanitizer_check() {
	local f n=0 bad=
	srv_stop_all
	for f in "$SRV_ROOT"/*/log/*.log; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		grep -Eq 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$f" || continue
		bad="$bad ${f#"$SRV_ROOT"/}"
		grep -E -A 8 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$f" | head -n 40 | sed 's/^/#   /'
	done
	if [ -z "$bad" ]; then ok 0 "no sanitizer report in the $n server logs"
	else ok 1 "sanitizer reports in:$bad"; fi
}

srv_cleanup() {
	srv_stop_all
	if [ -n "$SRV_ROOT" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$SRV_ROOT"
	fi
}
