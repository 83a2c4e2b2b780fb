#!/bin/bash
# Issue 14's figures for two commits, in one run (see README.md): static builds of BASE (the
# "before") and of the working tree's HEAD ("after"), raw signing rates, the refresh run
# (run.sh) and the login run (full logins ES256 and RS256 at c=8, discovery and JWKS with wrk,
# peak RSS) for each, interleaved over ROUNDS rounds, then the HTTP floor. Server on core 0 with
# GOMAXPROCS=1, load on core 1, everything on 127.0.0.1. Run it on a quiet machine.
#
#   scripts/loadtest/compare.sh 3c66fdc              # DURATION (8s), REFRESHES (100000), ROUNDS (2)
set -u
base=${1:?usage: compare.sh <base commit>}
root=$(git rev-parse --show-toplevel)
here=$root/scripts/loadtest
dur=${DURATION:-8s}
rounds=${ROUNDS:-2}
port=${PORT:-18092}
out=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$out/before-src" 2>/dev/null; rm -rf "$out"' EXIT
echo "HEAD $(git -C "$root" log -1 --format=%h), base $base, $(date -u +%H:%M)"
git -C "$root" worktree add -q --detach "$out/before-src" "$base"
(cd "$out/before-src" && CGO_ENABLED=1 go build -trimpath -o "$out/ssobridge-before" ./cmd/ssobridge)
(cd "$root" && CGO_ENABLED=1 go build -trimpath -o "$out/ssobridge-after" ./cmd/ssobridge &&
	go build -o "$out/loadtest" ./scripts/loadtest && CGO_ENABLED=0 go build -o "$out/floor" ./scripts/loadtest/floor)
# Raw signing on both cores: the server runs on core 0, and the two cores of a shared machine can
# differ by a quarter in the same minute; the RS256 ratio is taken against core 0's rate.
sign() {
	echo "== raw signing, one core"
	for core in 0 1; do printf 'core %s: ' $core; taskset -c $core "$out/loadtest" -sign | tr '\n' ' '; echo; done
}
# The refresh floor: plain net/http parsing the form and making one RS256 signature per request
# (floor -sign), driven by the same wrk script: the most a token endpoint that signs once per
# refresh reaches on core 0, read next to the raw rate and the refresh runs.
signfloor() {
	echo "== refresh floor: plain net/http + one RS256 signature"
	GOMAXPROCS=1 taskset -c 0 "$out/floor" -sign -addr "127.0.0.1:$((port + 2))" & sp=$!
	sleep 0.3
	for c in 16 64; do
		for i in $(seq "$c"); do echo "chain$i"; done >"$out/floor-tokens.txt"
		t0=$(awk '{print $14+$15}' "/proc/$sp/stat")
		TOKENS=$out/floor-tokens.txt BASIC=eDp5 taskset -c 1 wrk -t"$c" -c"$c" -d"$dur" -s "$here/refresh.lua" \
			"http://127.0.0.1:$((port + 2))" >"$out/floor-wrk.txt"
		t1=$(awk '{print $14+$15}' "/proc/$sp/stat")
		awk -v c="$c" -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '/Requests\/sec/ {rps=$2} /requests in/ {n=$1}
			END {printf "refresh floor RS256 c=%s: %s/s, server CPU %.0f us/request\n", c, rps, ticks*1e6/hz/n}' "$out/floor-wrk.txt"
	done
	kill $sp; wait $sp 2>/dev/null
}
sign
signfloor
for round in $(seq "$rounds"); do
	for b in before after; do
		echo "== $b (round $round)"
		LOADTEST=$out/loadtest DURATION=$dur bash "$here/run.sh" "$out/ssobridge-$b" "$b"
	done
done
signfloor
sign
for round in $(seq "$rounds"); do
	for b in before after; do
		d=$(mktemp -d)
		sed "s/18080/$port/g" "$here/loadtest.yaml" >"$d/lt.yaml"
		(cd "$d" && GOMAXPROCS=1 taskset -c 0 "$out/ssobridge-$b" serve --config lt.yaml >server.log 2>&1) &
		sleep 0.2
		pid=$(pgrep -n -f "ssobridge-$b serve --config lt.yaml")
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
		for alg in es rs; do
			printf '%s login %s: ' "$b" $alg
			taskset -c 1 "$out/loadtest" -issuer "http://127.0.0.1:$port" -client load-$alg \
				-secret load-secret-$alg-0123456789abcdef0123 -logins "$dur" -c 8
		done
		for p in /.well-known/openid-configuration /keys; do
			printf '%s %s: ' "$b" "$p"
			taskset -c 1 wrk -t2 -c32 -d"$dur" "http://127.0.0.1:$port$p" | awk '/Requests\/sec/ {print $2}'
		done
		printf '%s peak RSS after logins: ' "$b"; awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status"
		kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$d"
	done
done
sign
echo "== HTTP floor: plain net/http, 1.5 KB"
GOMAXPROCS=1 taskset -c 0 "$out/floor" -addr "127.0.0.1:$((port + 1))" & fp=$!
sleep 0.3
printf 'floor: '; taskset -c 1 wrk -t2 -c32 -d"$dur" "http://127.0.0.1:$((port + 1))/" | awk '/Requests\/sec/ {print $2}'
kill $fp
