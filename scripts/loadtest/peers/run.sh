#!/bin/sh
# One load run of each peer provider (Dex v2.45.1, oidc-provider 9.13.3) on 127.0.0.1 with the
# same tools as ../run.sh, printing the same lines with the peer's name as the label: refresh
# grants with wrk (rate, p50, p99) at c=16 and c=64 for each signing algorithm the peer has,
# REFRESHES refreshes of 100 families with the Go tool, the store's size after them, the peak
# RSS; then full logins at c=8, discovery and JWKS with wrk, and the peak RSS after those.
# The server runs on core 0 (Dex with GOMAXPROCS=1; node runs JavaScript on one thread), the
# load on core 1. Run setup.sh once first (it builds the peers into PEERS_CACHE).
#
#   go build -o /tmp/loadtest ./scripts/loadtest
#   scripts/loadtest/peers/setup.sh
#   scripts/loadtest/peers/run.sh                 # both; or: run.sh dex, run.sh oidc-provider
#   SSOBRIDGE=/tmp/ssobridge scripts/loadtest/peers/run.sh   # ssobridge first, then both peers
#
# With SSOBRIDGE set (a binary), the target "ssobridge" runs it with ../loadtest.yaml through the
# same steps, so the three print the same set of lines in one run (scripts/loadtest/peers/table.sh
# turns them into one table).
#
# Environment: PORT (18082), DURATION (10s), REFRESHES (100000), PEER_REFRESH_FOR (120s: a peer's
# REFRESHES stop after that; ssobridge's always run whole), LOGINS (10s), WRK_TIMEOUT (10s), LOADTEST
# (/tmp/loadtest), PEERS_CACHE, DEX_STORAGE (sqlite3, or memory), PEER_CONSENT (form: show the
# peers' consent screens; by default the client is first-party and skips them, like ssobridge's
# trusted clients).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ssobridge-peers}
tool=${LOADTEST:-/tmp/loadtest}
dur=${DURATION:-10s}
refreshes=${REFRESHES:-100000}
logins=${LOGINS:-10s}
port=${PORT:-18082}
issuer=http://127.0.0.1:$port
load() { taskset -c 1 "$@"; }
pid=
work=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ -n "$work" ]; then rm -rf "$work"; fi
	pid= work=
}
trap cleanup EXIT

start_dex() {
	sed "s/18082/$port/g" "$here/dex.yaml" >dex.yaml
	if [ "${DEX_STORAGE:-sqlite3}" = memory ]; then
		sed -i 's/^storage: .*/storage: {type: memory}/' dex.yaml
	fi
	if [ "${PEER_CONSENT:-}" = form ]; then
		sed -i 's/skipApprovalScreen: true/skipApprovalScreen: false/' dex.yaml
	fi
	# One user per refresh chain: Dex keeps one refresh token per user and client.
	hash=$(sed -n 's/^ *hash: "\(.*\)"$/\1/p' dex.yaml)
	sed -i '/^staticPasswords:/,$d' dex.yaml
	echo 'staticPasswords:' >>dex.yaml
	for i in $(seq 0 127); do
		printf '  - {email: alice%d@example.com, username: alice%d, userID: 6a1c9a2e-0000-4000-8000-%012d, hash: "%s"}\n' \
			"$i" "$i" "$i" "$hash" >>dex.yaml
	done
	GOMAXPROCS=1 taskset -c 0 "$cache/dex-v2.45.1" serve dex.yaml >server.log 2>&1 &
	pid=$!
}

start_ssobridge() {
	sed "s/18080/$port/g" "$here/../loadtest.yaml" >loadtest.yaml
	GOMAXPROCS=1 taskset -c 0 "$SSOBRIDGE" serve --config loadtest.yaml >server.log 2>&1 &
	pid=$!
}

start_oidc_provider() {
	PORT=$port taskset -c 0 node "$cache/oidc-provider/oidc-provider.mjs" >server.log 2>&1 &
	pid=$!
}

run_peer() {
	label=$1
	work=$(mktemp -d)
	cd "$work"
	cp "$here/../refresh.lua" .
	case $label in
	dex) start_dex; algs=rs; peer="-peer dex" ;;
	oidc-provider) start_oidc_provider; algs="es rs"; peer="-peer oidc-provider" ;;
	ssobridge) start_ssobridge; algs="es rs"; peer= ;;
	*) echo "run.sh: unknown target $label (dex, oidc-provider or ssobridge)" >&2; exit 2 ;;
	esac
	for _ in $(seq 100); do
		curl -fs "$issuer/.well-known/openid-configuration" >discovery.json && break
		sleep 0.1
	done
	token_path=$(sed -n 's/.*"token_endpoint": *"http:\/\/[^/]*\([^"]*\)".*/\1/p' discovery.json)
	jwks_path=$(sed -n 's/.*"jwks_uri": *"http:\/\/[^/]*\([^"]*\)".*/\1/p' discovery.json)
	if [ "$label" = dex ]; then
		echo "$label refresh ES256: not supported (Dex's local signer makes RSA keys only; ES256 needs its Vault/OpenBao signer)"
	fi
	for alg in $algs; do
		secret=load-secret-$alg-0123456789abcdef0123
		basic=$(printf 'load-%s:%s' "$alg" "$secret" | base64 -w0)
		for c in 16 64; do
			load "$tool" $peer -issuer "$issuer" -client load-$alg -secret "$secret" -n $c >tokens.txt
			printf '%s refresh %s c=%s: ' "$label" "$(echo $alg | tr a-z A-Z)256" $c
			# wrk gives up on a request after --timeout (its default 2 s, which a slow store
			# exceeds at c=64): 10 s here, and timeouts and other socket errors are printed.
			TOKENS=tokens.txt BASIC=$basic TOKEN_PATH=$token_path load wrk -t$c -c$c -d"$dur" --timeout "${WRK_TIMEOUT:-10s}" \
				--latency -s refresh.lua "$issuer" |
				awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /failed/ {f=f" "$0} /Socket errors/ {f=f" "$0}
					END {printf "%s/s p50 %s p99 %s%s\n", rps, p50, p99, f}'
		done
	done
	alg=$(echo $algs | cut -d' ' -f1)
	# A peer stops after PEER_REFRESH_FOR even if fewer than REFRESHES ran (Dex on SQLite waits on
	# fsync: 100k of its refreshes can take an hour on a slow disk); the line says how many ran.
	limit=0
	if [ -n "$peer" ]; then limit=${PEER_REFRESH_FOR:-120s}; fi
	printf '%s ' "$label"
	load "$tool" $peer -issuer "$issuer" -client load-$alg -secret load-secret-$alg-0123456789abcdef0123 -n 100 -c 100 \
		-refresh "$refreshes" -refresh-for "$limit"
	if [ "$label" = dex ] && [ "${DEX_STORAGE:-sqlite3}" != memory ]; then
		sleep 3
		printf '%s database after: %s\n' "$label" "$(du -cb dex.db* | tail -1 | cut -f1) bytes ($(ls -l | awk '/dex\.db/ {printf "%s %s; ", $9, $5}'))"
	elif [ "$label" = ssobridge ]; then
		sleep 3 # as ../run.sh: the checkpointer truncates an idle WAL within two of its 1 s ticks
		printf '%s database after: %s\n' "$label" "$(du -cb loadtest-data/*.db* | tail -1 | cut -f1) bytes ($(ls -l loadtest-data/ | awk '/\.db/ {printf "%s %s; ", $9, $5}'))"
	else
		echo "$label database after: none (in-memory store)"
	fi
	printf '%s peak RSS: %s (at the end: %s)\n' "$label" "$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)" \
		"$(awk '/RssAnon|RssFile/ {printf "%s %s %s; ", $1, $2, $3}' /proc/$pid/status)"
	for alg in $algs; do
		printf '%s login %s: ' "$label" $alg
		load "$tool" $peer -issuer "$issuer" -client load-$alg -secret load-secret-$alg-0123456789abcdef0123 -logins "$logins" -c 8
	done
	printf '%s discovery: ' "$label"
	load wrk -t2 -c32 -d"$dur" "$issuer/.well-known/openid-configuration" | awk '/Requests\/sec/ {print $2}'
	printf '%s jwks: ' "$label"
	load wrk -t2 -c32 -d"$dur" "$issuer$jwks_path" | awk '/Requests\/sec/ {print $2}'
	printf '%s peak RSS after logins: %s\n' "$label" "$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
	cd /
	cleanup
}

if [ $# = 0 ]; then
	set -- dex oidc-provider
	if [ -n "${SSOBRIDGE:-}" ]; then set -- ssobridge "$@"; fi
fi
for p in "$@"; do
	run_peer "$p"
done
