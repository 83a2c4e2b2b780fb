# shellcheck shell=bash
# Sourced by .ci/run (as root, on a fresh Debian clone): installs PostgreSQL from Debian, starts a
# throwaway cluster for the tests and makes the PostgreSQL suites mandatory.
#
#   - Debian's postgresql package, without the cluster its postinst would create and start
#     (create_main_cluster = false): the tests want a server of their own, not a service.
#   - initdb and pg_ctl as the postgres user (initdb refuses to run as root) in a fresh temporary
#     directory, listening on a unix socket in that directory only (no TCP port, so nothing can
#     collide with another server on the machine), trust authentication for the local superuser.
#   - The server is stopped and its directory removed when .ci/run exits (ci_cleanups).
#
# Exports SSOBRIDGE_TEST_POSTGRES_DSN (a superuser DSN: each test creates and drops its own
# database) and CI=true (a missing PostgreSQL then fails the suites instead of skipping them).
#
# Run by hand (as root or any user) to get a server for local tests:
#   source .ci/install.d/40-postgres.sh; trap - EXIT   # prints the DSN; pg_stop stops it

pg_start_time=$(date +%s)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed and installing it needs root" >&2
    return 1 2>/dev/null || exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/ssobridge-pg.XXXXXX")
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$pg_dir"
  pg_as() { runuser -u postgres -- "$@"; }
else
  pg_as() { "$@"; }
fi
pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
# fsync off: a crash loses a throwaway test cluster, nothing else.
pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -s \
  -o "-c listen_addresses='' -k $pg_dir -c fsync=off -c max_connections=300" start
export SSOBRIDGE_TEST_POSTGRES_DSN="host=$pg_dir user=postgres dbname=postgres sslmode=disable"
export CI=true
pg_stop() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -s stop || true
  else
    "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -s stop || true
  fi
  rm -rf "$pg_dir"
}
if declare -p ci_cleanups >/dev/null 2>&1; then
  ci_cleanups+=(pg_stop) # .ci/run's EXIT trap runs it
else
  trap pg_stop EXIT
fi
"$pg_bin/postgres" --version
echo "PostgreSQL started in $(( $(date +%s) - pg_start_time ))s: SSOBRIDGE_TEST_POSTGRES_DSN=$SSOBRIDGE_TEST_POSTGRES_DSN"
unset pg_start_time
