# shellcheck shell=bash
# Sourced by .ci/run (as root, on a fresh Debian clone): installs the JavaScript relying parties
# that e2e/rp drives through the real login page (openid-client and oidc-client-ts, pinned exactly
# in e2e/rp/node/package.json and package-lock.json), then makes that suite mandatory.
#
# Node 20+ and npm come with the machine; Debian's packages are the fallback. `npm ci` installs
# exactly the lockfile (no lifecycle scripts run: none of these packages needs one) into
# e2e/rp/node/node_modules, which is ignored by git.
#
# Exports SSOBRIDGE_REQUIRE_RP=1 (missing software then fails the suite instead of skipping it).

rp_node_start=$(date +%s)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
rp_node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$rp_node_major" -lt 20 ]; then
  echo "e2e/rp needs node 20 or later, found $(node --version)" >&2
  exit 1
fi
(cd e2e/rp/node && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
export SSOBRIDGE_REQUIRE_RP=1
echo "node $(node --version), npm $(npm --version): $(cd e2e/rp/node && npm ls --depth=0 2>/dev/null | tail -n +2 | sed 's/^[^a-z@]*//' | paste -sd' ')"
echo "rp node packages installed in $(( $(date +%s) - rp_node_start ))s"
unset rp_node_start rp_node_major
