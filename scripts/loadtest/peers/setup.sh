#!/bin/sh
# Fetches and builds the peer providers at their pinned versions into a cache directory outside
# the repository (PEERS_CACHE, default ~/.cache/ssobridge-peers); run.sh uses them from there.
# Idempotent: what is already built is kept (delete the directory to rebuild).
#
#   Dex v2.45.1: its source from the Go module proxy (the proxy serves the commit the tag
#     v2.45.1 points at as a pseudo-version: Dex's module path has no /v2, so no v2.x.y tag is a
#     module version), built like Dex's release binary (cgo for SQLite, static).
#   oidc-provider 9.13.3: from the npm registry, with oidc-provider.mjs (this directory) beside it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ssobridge-peers}
mkdir -p "$cache"

# Dex v2.45.1 = commit 11d2eeb52b42e1980e14cb91e69dd9e3faab2076 (2026-03-03).
dex_version=v0.0.0-20260303133905-11d2eeb52b42
if [ ! -x "$cache/dex-v2.45.1" ]; then
	dir=$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "github.com/dexidp/dex@$dex_version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$cache/dex-src"
	cp -r "$dir" "$cache/dex-src"
	chmod -R u+w "$cache/dex-src"
	# The module zip leaves out api/v2 (a module of its own, which the repository's go.mod
	# replaces with ./api/v2): take it from the proxy instead, api/v2 v2.4.0, whose Go files
	# are identical to the tag's api/v2 (only its go.mod/go.sum differ).
	# The static glibc link warns about dlopen/getaddrinfo (unused here): the log keeps that.
	if ! (cd "$cache/dex-src" && go mod edit -dropreplace github.com/dexidp/dex/api/v2 &&
		CGO_ENABLED=1 GOFLAGS=-mod=mod go build -trimpath -o "$cache/dex-v2.45.1.tmp" \
			-ldflags '-w -X main.version=v2.45.1 -extldflags "-static"' ./cmd/dex) >"$cache/dex-build.log" 2>&1; then
		cat "$cache/dex-build.log" >&2
		exit 1
	fi
	mv "$cache/dex-v2.45.1.tmp" "$cache/dex-v2.45.1"
fi
"$cache/dex-v2.45.1" version | head -1

if [ ! -f "$cache/oidc-provider/node_modules/oidc-provider/package.json" ]; then
	mkdir -p "$cache/oidc-provider"
	echo '{"private": true, "type": "module"}' >"$cache/oidc-provider/package.json"
	(cd "$cache/oidc-provider" && npm install --no-audit --no-fund --ignore-scripts --save-exact oidc-provider@9.13.3)
fi
# The provider script lives in the repository; node resolves its imports next to the copy.
cp "$here/oidc-provider.mjs" "$cache/oidc-provider/"
printf 'oidc-provider %s (node %s)\n' \
	"$(node -p "require('$cache/oidc-provider/node_modules/oidc-provider/package.json').version")" "$(node --version)"
