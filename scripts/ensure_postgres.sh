#!/usr/bin/env bash
# Make sure a PostgreSQL 15 server's programs are here for the tests that run the run store
# on PostgreSQL (testkit/postgres.py starts a throwaway server with them, as the `postgres`
# user: initdb refuses to run as root).
# 1. Debian's /usr/lib/postgresql/15/bin/initdb, or the one in `pg_config --bindir`;
# 2. otherwise install Debian's `postgresql-15` package with apt (as root, or through sudo).
# The package's own cluster is not used: the tests start their server in a temporary folder.
set -euo pipefail

if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "PostgreSQL: /usr/lib/postgresql/15/bin"
  exit 0
fi
if command -v pg_config >/dev/null 2>&1; then
  bindir="$(pg_config --bindir 2>/dev/null || true)"
  if [ -n "$bindir" ] && [ -x "$bindir/initdb" ]; then
    echo "PostgreSQL: $bindir"
    exit 0
  fi
fi
if bash "$(dirname "$0")/apt_install.sh" postgresql-15; then
  exit 0
fi
echo "The run store's PostgreSQL tests need PostgreSQL 15's server programs: install your" >&2
echo "system's postgresql-15 package (Debian/Ubuntu: apt-get install postgresql-15)." >&2
exit 1
