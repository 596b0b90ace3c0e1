#!/bin/bash
# make bench-store: p50/p99 of each store operation with each backend
# (tests/bench/store-bench.c), Berkeley DB in a temporary directory and
# PostgreSQL started by tests/pg.sh.  Figures, not a test.
set -u
bench=$top_builddir/tests/bench/store-bench
tmp=$(mktemp -d /tmp/cimd-bench-XXXXXX)
pgdir=$(mktemp -d /tmp/cimd-pg-XXXXXX)
trap 'bash "$top_srcdir/tests/pg.sh" destroy "$pgdir"; rm -rf "$tmp"' EXIT

"$bench" "bdb:$tmp/store" || exit 1
if grep -q '^#define HAVE_LIBPQ 1' "$top_builddir/config.h"; then
	base=$(bash "$top_srcdir/tests/pg.sh" start "$pgdir") || exit 1
	"$bench" "postgresql:$base user=cimd_proxy" || exit 1
	# Over TCP with a password, as a fleet host reaches its database.
	"$bench" "postgresql:host=127.0.0.1 port=$(cat "$pgdir/port") dbname=cimd user=cimd_proxy password=cimd-test-password sslmode=disable" || exit 1
else
	echo "postgresql: not in this build (configure found no libpq)"
fi
