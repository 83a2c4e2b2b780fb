#!/bin/bash
# One load run of an ssobridge binary on PostgreSQL (see README.md, "PostgreSQL load mode"): a
# throwaway cluster on 127.0.0.1 (PG_PORT) with pg_stat_statements, the bridge configured for it
# on core 0 with GOMAXPROCS=1, the load on core 1. Each phase prints its rate and latency
# (p50/p99), the CPU the bridge and PostgreSQL used during it, requests per second per bridge
# core and per CPU-second in all, and per operation: the statements the bridge sent (top-level;
# each is a round trip, BEGIN and COMMIT included), write transactions (commit records in the
# WAL), WAL bytes, CPU, and the statements themselves (pg_stat_statements calls per operation
# and rows per call; "nested" ones run inside another statement, e.g. foreign-key checks, and
# cost no round trip).
#
#   go build -o /tmp/loadtest ./scripts/loadtest
#   CGO_ENABLED=0 go build -trimpath -o /tmp/ssobridge ./cmd/ssobridge
#   scripts/loadtest/pg.sh /tmp/ssobridge [label]
#
# Environment: PORT (bridge, 18130), PG_PORT (18131), DURATION (8s), PG_CPUS (the cores the
# cluster runs on, default 1: with the load tool, so that the bridge has core 0 to itself),
# PG_FSYNC (on), PHASES (default "login-es login-rs refresh-es-16 refresh-es-64 refresh-rs-16
# refresh-rs-64"), LOADTEST (/tmp/loadtest), STATEMENTS (how many statements to list per
# phase, 12), KEEP=1 keeps the work directory (server.log, the cluster's log).
# Nothing here changes run.sh or compare.sh: they run the default SQLite store.
set -eu
bin=$1
label=${2:-pg}
here=$(cd "$(dirname "$0")" && pwd)
tool=${LOADTEST:-/tmp/loadtest}
dur=${DURATION:-8s}
port=${PORT:-18130}
pgport=${PG_PORT:-18131}
pgcpus=${PG_CPUS:-1}
phases=${PHASES:-login-es login-rs refresh-es-16 refresh-es-64 refresh-rs-16 refresh-rs-64}
nstmts=${STATEMENTS:-12}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/ssobridge-pgload.XXXXXX")
mkdir "$work/pg"
if [ "$(id -u)" = 0 ]; then # initdb refuses to run as root
	chmod 711 "$work"
	chown postgres: "$work/pg"
	pg_as() { runuser -u postgres -- "$@"; }
else
	pg_as() { "$@"; }
fi
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pg_as "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -s stop 2>/dev/null || true
	if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
pg_as "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
pg_as taskset -c "$pgcpus" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w -s -o "-c listen_addresses=127.0.0.1 \
	-p $pgport -k $work/pg -c fsync=${PG_FSYNC:-on} -c max_connections=100 \
	-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
	-c pg_stat_statements.track_utility=on -c pg_stat_statements.max=1000" start
psql() { "$pg_bin/psql" -X -q -At -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }
psql -d postgres -c 'CREATE DATABASE ssobridge'
psql -d ssobridge -c 'CREATE EXTENSION pg_stat_statements'
q() { psql -d ssobridge -c "$1"; }
postmaster=$(head -1 "$work/pg/postmaster.pid")
echo "$label: $("$pg_bin/postgres" --version), fsync=${PG_FSYNC:-on}, cluster on cores $pgcpus"

sed "s/18080/$port/g" "$here/loadtest.yaml" >"$work/loadtest.yaml"
cat >>"$work/loadtest.yaml" <<EOF
store: {type: postgres, dsn: "host=127.0.0.1 port=$pgport user=postgres dbname=ssobridge sslmode=disable"}
EOF
cp "$here/refresh.lua" "$work/"
cd "$work"
GOMAXPROCS=1 taskset -c 0 "$bin" serve --config loadtest.yaml >server.log 2>&1 &
pid=$!
issuer=http://127.0.0.1:$port
for _ in $(seq 100); do
	curl -fs "$issuer/.well-known/openid-configuration" >/dev/null && break
	sleep 0.1
done
load() { taskset -c 1 "$@"; }

# cpu PID: user+system clock ticks of a process.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# pgcpu: ticks of the whole cluster: the postmaster, its live children, and the children it
# has reaped (cutime, cstime).
pgcpu() {
	local t c
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")
	for c in $(pgrep -P "$postmaster"); do t=$((t + $(cpu "$c"))); done
	echo "$t"
}
tck=$(getconf CLK_TCK)

snap() {
	b0=$(cpu "$pid") p0=$(pgcpu) t0=$(date +%s.%N)
	lsn0=$(q 'SELECT pg_current_wal_lsn()')
	q 'SELECT pg_stat_statements_reset()' >/dev/null
}
# report OPS WHAT: per-operation figures since snap.
report() {
	local ops=$1 what=$2 b1 p1 t1 lsn1 x stmts wal
	b1=$(cpu "$pid") p1=$(pgcpu) t1=$(date +%s.%N)
	lsn1=$(q 'SELECT pg_current_wal_lsn()')
	# Write transactions: the commit records in the WAL between the two positions (read-only
	# transactions write none).
	x=$(pg_as "$pg_bin/pg_waldump" -p "$work/pg/pg_wal" -s "$lsn0" -e "$lsn1" --stats=record 2>/dev/null |
		awk '$1 == "Transaction/COMMIT" {print $2}')
	q "SELECT sum(calls) FROM pg_stat_statements WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = 'ssobridge')
		AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%pg_current_wal_lsn%'" >stmts.txt
	stmts=$(cat stmts.txt)
	wal=$(q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")
	awk -v l="$label $what" -v n="$ops" -v b="$((b1 - b0))" -v p="$((p1 - p0))" -v t0="$t0" -v t1="$t1" \
		-v tck="$tck" -v s="${stmts:-0}" -v x="${x:-0}" -v w="$wal" 'BEGIN {
		d = t1 - t0; bs = b / tck; ps = p / tck
		printf "%s: %d ops in %.1fs; CPU bridge %.2fs (%.0f%% of its core), PostgreSQL %.2fs; %.0f/s per bridge core, %.0f/s per CPU-second in all\n",
			l, n, d, bs, 100 * bs / d, ps, (bs > 0 ? n / bs : 0), (bs + ps > 0 ? n / (bs + ps) : 0)
		if (n > 0) printf "%s per op: %.2f statements, %.2f write transactions, %.0f WAL bytes, bridge %.0f us CPU, PostgreSQL %.0f us CPU\n",
			l, s / n, x / n, w / n, 1e6 * bs / n, 1e6 * ps / n
	}'
	q "SELECT round(calls::numeric / $ops, 2) || ' (' || round(rows::numeric / greatest(calls, 1), 2) || ' rows)' || CASE WHEN toplevel THEN '  ' ELSE ' (nested) ' END || regexp_replace(left(query, 160), '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'ssobridge')
		AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%pg_current_wal_lsn%'
		ORDER BY calls DESC, query LIMIT $nstmts" | sed "s/^/  /"
}

for ph in $phases; do
	case $ph in
	login-*)
		alg=${ph#login-}
		snap
		out=$(load "$tool" -issuer $issuer -client load-$alg -secret load-secret-$alg-0123456789abcdef0123 -logins "$dur" -c 8 -latency)
		echo "$label $ph c=8: $(echo "$out" | paste -sd ';' | sed 's/;login latency:/,/')"
		report "$(echo "$out" | awk '/full logins:/ {print $3}')" "$ph"
		;;
	refresh-*)
		c=${ph##*-} alg=${ph#refresh-}
		alg=${alg%-*}
		secret=load-secret-$alg-0123456789abcdef0123
		load "$tool" -issuer $issuer -client load-$alg -secret $secret -n "$c" >tokens.txt
		snap
		TOKENS=tokens.txt BASIC=$(printf 'load-%s:%s' "$alg" "$secret" | base64 -w0) \
			load wrk -t"$c" -c"$c" -d"$dur" --latency -s refresh.lua $issuer >wrk.txt
		awk -v l="$label $ph c=$c" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /failed/ {f=f" "$0}
			END {printf "%s: %s/s p50 %s p99 %s%s\n", l, rps, p50, p99, f}' wrk.txt
		report "$(awk '/requests in/ {print $1}' wrk.txt)" "$ph"
		;;
	*) echo "unknown phase $ph" >&2; exit 2 ;;
	esac
done
