#!/bin/sh
# One load run of an ssobridge binary on 127.0.0.1 (see README.md): the server on core 0 with
# GOMAXPROCS=1, the load on core 1. Prints refresh rates and latencies (wrk) for ES256 and RS256
# at c=16 and c=64, 100k refreshes of 100 families (rate, p50/p99, database size after) and the
# server's peak RSS. Run it for each binary to compare, in the same session.
#
#   go build -o /tmp/loadtest ./scripts/loadtest
#   scripts/loadtest/run.sh /tmp/ssobridge-before before
#   scripts/loadtest/run.sh /tmp/ssobridge-after after
set -eu
bin=$1
label=${2:-run}
here=$(cd "$(dirname "$0")" && pwd)
tool=${LOADTEST:-/tmp/loadtest}
dur=${DURATION:-10s}
refreshes=${REFRESHES:-100000}
port=${PORT:-18080}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
sed "s/18080/$port/g" "$here/loadtest.yaml" >"$work/loadtest.yaml"
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
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rawrs() { taskset -c 0 "$tool" -sign -sign-alg RS256 | awk '{print $NF}'; }
for alg in es rs; do
	secret=load-secret-$alg-0123456789abcdef0123
	basic=$(printf 'load-%s:%s' "$alg" "$secret" | base64 -w0)
	for c in 16 64; do
		load "$tool" -issuer $issuer -client load-$alg -secret $secret -n $c >tokens.txt
		printf '%s refresh %s c=%s: ' "$label" "$(echo $alg | tr a-z A-Z)256" $c
		# The server's CPU time (utime+stime) over the window divided by the refreshes served:
		# the figure to hold against the raw signing time on the same core (compare.sh), which
		# does not depend on how fast the load generator's core is that minute.
		# RS256: Go's raw signing rate on the server's core right before and right after the
		# window (the server idle), so that the ratio is read against the host's speed of that
		# minute: on a shared machine it moves by a quarter within minutes.
		r0=0 r1=0
		[ $alg = rs ] && r0=$(rawrs)
		c0=$(cpu)
		TOKENS=tokens.txt BASIC=$basic load wrk -t$c -c$c -d"$dur" --latency -s refresh.lua $issuer >wrk.out
		c1=$(cpu)
		[ $alg = rs ] && r1=$(rawrs)
		awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r0="$r0" -v r1="$r1" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
			/requests in/ {n=$1} /failed/ {f=f" "$0}
			END {us = n ? ticks * 1e6 / hz / n : 0
				printf "%s/s p50 %s p99 %s, server CPU %.0f us/refresh%s", rps, p50, p99, us, f
				if (r0 + r1 > 0) { raw = (r0 + r1) / 2
					printf "; raw RS256 on core 0 %s before, %s after: rate ratio %.3f, CPU ratio %.3f", r0, r1, rps / raw, (us ? 1e6 / raw / us : 0) }
				printf "\n"}' wrk.out
	done
done
printf '%s ' "$label"
load "$tool" -issuer $issuer -client load-es -secret load-secret-es-0123456789abcdef0123 -n 100 -c 100 -refresh "$refreshes"
sleep 3 # the checkpointer truncates an idle WAL within two of its 1 s ticks
printf '%s database after: %s\n' "$label" "$(du -cb loadtest-data/*.db* | tail -1 | cut -f1) bytes ($(ls -l loadtest-data/ | awk '/\.db/ {printf "%s %s; ", $9, $5}'))"
# The split at the end of the run: RssFile is the binary's own pages (text, rodata, pclntab)
# mapped from the page cache, RssAnon the Go heap, stacks, GC metadata and SQLite's caches; the
# major faults are the binary's pages read back from the file after serve dropped them
# (memory.binary_pages: evict).
printf '%s peak RSS: %s (at the end: %s)\n' "$label" "$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)" \
	"$(awk '/RssAnon|RssFile/ {printf "%s %s %s; ", $1, $2, $3}' /proc/$pid/status)major faults $(awk '{print $12}' /proc/$pid/stat)"
